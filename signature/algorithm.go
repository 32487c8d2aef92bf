package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// KeyType is the type of a signing key.
type KeyType int

// Key types the specification allows.
const (
	KeyTypeRSA KeyType = 1 + iota
	KeyTypeEC
)

// KeySpec is a key type and size (digest §3.1). Size is the RSA modulus in
// bits or the EC curve size in bits (521 for P-521).
type KeySpec struct {
	Type KeyType
	Size int
}

// The six key specs of §3.1, in the order of the table.
var (
	KeySpecRSA2048 = KeySpec{KeyTypeRSA, 2048}
	KeySpecRSA3072 = KeySpec{KeyTypeRSA, 3072}
	KeySpecRSA4096 = KeySpec{KeyTypeRSA, 4096}
	KeySpecEC256   = KeySpec{KeyTypeEC, 256}
	KeySpecEC384   = KeySpec{KeyTypeEC, 384}
	KeySpecEC521   = KeySpec{KeyTypeEC, 521}
)

// Algorithm is a signature algorithm of §3.1.
type Algorithm int

// The six signature algorithms (ALG-1). The zero value is invalid.
const (
	AlgorithmPS256 Algorithm = 1 + iota // RSASSA-PSS with SHA-256
	AlgorithmPS384                      // RSASSA-PSS with SHA-384
	AlgorithmPS512                      // RSASSA-PSS with SHA-512
	AlgorithmES256                      // ECDSA on P-256 with SHA-256
	AlgorithmES384                      // ECDSA on P-384 with SHA-384
	AlgorithmES512                      // ECDSA on P-521 with SHA-512
)

// Algorithms lists every supported algorithm.
var Algorithms = []Algorithm{AlgorithmPS256, AlgorithmPS384, AlgorithmPS512, AlgorithmES256, AlgorithmES384, AlgorithmES512}

// KeySpecs lists every supported key spec.
var KeySpecs = []KeySpec{KeySpecRSA2048, KeySpecRSA3072, KeySpecRSA4096, KeySpecEC256, KeySpecEC384, KeySpecEC521}

// KeySpecFromPublicKey derives the key spec of a public key. Key sizes are
// exact (ALG-3): any key outside the six specs is an error.
func KeySpecFromPublicKey(pub crypto.PublicKey) (KeySpec, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch n := k.N.BitLen(); n {
		case 2048, 3072, 4096:
			return KeySpec{KeyTypeRSA, n}, nil
		default:
			return KeySpec{}, fmt.Errorf("%w: RSA key of %d bits (use 2048, 3072 or 4096)", ErrUnsupportedKey, n)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return KeySpecEC256, nil
		case elliptic.P384():
			return KeySpecEC384, nil
		case elliptic.P521():
			return KeySpecEC521, nil
		default:
			return KeySpec{}, fmt.Errorf("%w: EC curve %s (use P-256, P-384 or P-521)", ErrUnsupportedKey, k.Curve.Params().Name)
		}
	default:
		return KeySpec{}, fmt.Errorf("%w: key type %T (use RSA or ECDSA)", ErrUnsupportedKey, pub)
	}
}

// KeySpecFromCertificate derives the key spec of a certificate's public key.
func KeySpecFromCertificate(cert *x509.Certificate) (KeySpec, error) {
	return KeySpecFromPublicKey(cert.PublicKey)
}

// Algorithm returns the signature algorithm bound to the key spec (ALG-2),
// or 0 for an unsupported spec.
func (k KeySpec) Algorithm() Algorithm {
	switch k {
	case KeySpecRSA2048:
		return AlgorithmPS256
	case KeySpecRSA3072:
		return AlgorithmPS384
	case KeySpecRSA4096:
		return AlgorithmPS512
	case KeySpecEC256:
		return AlgorithmES256
	case KeySpecEC384:
		return AlgorithmES384
	case KeySpecEC521:
		return AlgorithmES512
	}
	return 0
}

// String returns the plugin protocol name of the key spec, e.g. "RSA-2048".
func (k KeySpec) String() string {
	switch k.Type {
	case KeyTypeRSA:
		return fmt.Sprintf("RSA-%d", k.Size)
	case KeyTypeEC:
		return fmt.Sprintf("EC-%d", k.Size)
	}
	return fmt.Sprintf("unknown-%d", k.Size)
}

// ParseKeySpec parses a plugin protocol key spec name such as "EC-384".
func ParseKeySpec(name string) (KeySpec, error) {
	for _, k := range KeySpecs {
		if k.String() == name {
			return k, nil
		}
	}
	return KeySpec{}, fmt.Errorf("%w: key spec %q", ErrUnsupportedKey, name)
}

// Hash returns the hash function of the algorithm.
func (a Algorithm) Hash() crypto.Hash {
	switch a {
	case AlgorithmPS256, AlgorithmES256:
		return crypto.SHA256
	case AlgorithmPS384, AlgorithmES384:
		return crypto.SHA384
	case AlgorithmPS512, AlgorithmES512:
		return crypto.SHA512
	}
	return 0
}

// DigestAlgorithm returns the OCI digest algorithm that matches the hash
// (PAY-4: the blob digest follows the key).
func (a Algorithm) DigestAlgorithm() digest.Algorithm {
	switch a.Hash() {
	case crypto.SHA256:
		return digest.SHA256
	case crypto.SHA384:
		return digest.SHA384
	case crypto.SHA512:
		return digest.SHA512
	}
	return ""
}

// KeySpec returns the key spec bound to the algorithm.
func (a Algorithm) KeySpec() KeySpec {
	for _, k := range KeySpecs {
		if k.Algorithm() == a {
			return k
		}
	}
	return KeySpec{}
}

// IsRSA reports whether the algorithm is RSASSA-PSS.
func (a Algorithm) IsRSA() bool { return a >= AlgorithmPS256 && a <= AlgorithmPS512 }

// IsECDSA reports whether the algorithm is ECDSA.
func (a Algorithm) IsECDSA() bool { return a >= AlgorithmES256 && a <= AlgorithmES512 }

// JWSName returns the JWS "alg" value, e.g. "PS256".
func (a Algorithm) JWSName() string {
	switch a {
	case AlgorithmPS256:
		return "PS256"
	case AlgorithmPS384:
		return "PS384"
	case AlgorithmPS512:
		return "PS512"
	case AlgorithmES256:
		return "ES256"
	case AlgorithmES384:
		return "ES384"
	case AlgorithmES512:
		return "ES512"
	}
	return ""
}

// String returns the plugin protocol name, e.g. "RSASSA-PSS-SHA-256".
func (a Algorithm) String() string {
	switch a {
	case AlgorithmPS256:
		return "RSASSA-PSS-SHA-256"
	case AlgorithmPS384:
		return "RSASSA-PSS-SHA-384"
	case AlgorithmPS512:
		return "RSASSA-PSS-SHA-512"
	case AlgorithmES256:
		return "ECDSA-SHA-256"
	case AlgorithmES384:
		return "ECDSA-SHA-384"
	case AlgorithmES512:
		return "ECDSA-SHA-512"
	}
	return "unknown"
}

// ParseAlgorithm parses a plugin protocol algorithm name.
func ParseAlgorithm(name string) (Algorithm, error) {
	for _, a := range Algorithms {
		if a.String() == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("%w: signing algorithm %q", ErrUnsupportedAlgorithm, name)
}
