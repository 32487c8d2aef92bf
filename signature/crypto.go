package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
)

// VerifyMessage checks sig over message with pub under alg. ECDSA
// signatures are fixed-width r||s (JWS-7, COSE-5); RSASSA-PSS accepts any
// salt length when anySalt is true (JWS) and only the hash length otherwise
// (COSE).
func VerifyMessage(alg Algorithm, pub crypto.PublicKey, message, sig []byte, anySalt bool) error {
	h := alg.Hash()
	if h == 0 {
		return ErrUnsupportedAlgorithm
	}
	hasher := h.New()
	hasher.Write(message)
	sum := hasher.Sum(nil)
	switch {
	case alg.IsRSA():
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: algorithm %s needs an RSA key, got %T", ErrInvalidSignature, alg, pub)
		}
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
		if anySalt {
			opts.SaltLength = rsa.PSSSaltLengthAuto
		}
		if err := rsa.VerifyPSS(k, h, sum, sig, opts); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidSignature, err)
		}
		return nil
	case alg.IsECDSA():
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: algorithm %s needs an EC key, got %T", ErrInvalidSignature, alg, pub)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("%w: ECDSA signature is %d bytes, want %d (r||s)", ErrInvalidSignature, len(sig), 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(k, sum, r, s) {
			return ErrInvalidSignature
		}
		return nil
	}
	return ErrUnsupportedAlgorithm
}

// SignMessage signs message with key under alg, producing the primitive
// signature format of VerifyMessage. It is the core of local signers.
func SignMessage(alg Algorithm, key crypto.Signer, message []byte) ([]byte, error) {
	h := alg.Hash()
	if h == 0 {
		return nil, ErrUnsupportedAlgorithm
	}
	hasher := h.New()
	hasher.Write(message)
	sum := hasher.Sum(nil)
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if !alg.IsRSA() {
			return nil, fmt.Errorf("%w: RSA key cannot sign with %s", ErrUnsupportedAlgorithm, alg)
		}
		return rsa.SignPSS(rand.Reader, k, h, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case *ecdsa.PrivateKey:
		if !alg.IsECDSA() {
			return nil, fmt.Errorf("%w: EC key cannot sign with %s", ErrUnsupportedAlgorithm, alg)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, sum)
		if err != nil {
			return nil, err
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out, nil
	default:
		// Opaque signers (HSMs): RSA keys must honour PSSOptions.
		if alg.IsRSA() {
			return key.Sign(rand.Reader, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
		}
		return nil, fmt.Errorf("%w: signer type %T", ErrUnsupportedKey, key)
	}
}
