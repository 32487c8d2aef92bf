// Package testpki generates certificate chains for tests at test time, so no
// committed fixture ever expires (STYLE B2.13).
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
)

// KeyType names a key to generate: "rsa-2048", "rsa-3072", "rsa-4096",
// "ec-256", "ec-384", "ec-521"; anything else (e.g. "rsa-1024", "ec-224")
// is generated too, for negative tests.
type KeyType string

var keyCache sync.Map // KeyType -> crypto.Signer; RSA generation is slow

// Key returns a key of the given type. Keys are cached per process unless
// fresh is set: tests that need distinct keys pass fresh=true.
func Key(t testing.TB, kt KeyType, fresh bool) crypto.Signer {
	t.Helper()
	if !fresh {
		if k, ok := keyCache.Load(kt); ok {
			return k.(crypto.Signer)
		}
	}
	k, err := GenerateKey(kt)
	if err != nil {
		t.Fatal(err)
	}
	if !fresh {
		keyCache.Store(kt, k)
	}
	return k
}

// GenerateKey makes a new key of type kt.
func GenerateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case "rsa-1024":
		return rsa.GenerateKey(rand.Reader, 1024)
	case "rsa-2048":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "rsa-3072":
		return rsa.GenerateKey(rand.Reader, 3072)
	case "rsa-4096":
		return rsa.GenerateKey(rand.Reader, 4096)
	case "ec-224":
		return ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	case "ec-256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ec-384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ec-521":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	}
	panic("testpki: unknown key type " + string(kt))
}

// Template options for one certificate. Zero values give the profile of
// digest §11 fixtures: a CA gets BC cA=true critical and KU keyCertSign
// critical; a leaf gets KU digitalSignature critical and EKU codeSigning.
type Cert struct {
	Subject   pkix.Name
	Key       crypto.Signer // generated as rsa-2048... via KeyType if nil
	KeyType   KeyType       // default "ec-256" for CAs, "rsa-2048" for leaves
	IsCA      bool
	NotBefore time.Time // default now-1h
	NotAfter  time.Time // default now+24h
	// Modify, when set, edits the template before signing (for faults).
	Modify func(*x509.Certificate)
	// SigAlg overrides the issuer's signature algorithm (e.g. SHA1WithRSA).
	SigAlg x509.SignatureAlgorithm
}

// Issued is a certificate with its key.
type Issued struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano() + serial.n)
}

// Issue creates c signed by issuer, or self-signed when issuer is nil.
func Issue(t testing.TB, c Cert, issuer *Issued) *Issued {
	t.Helper()
	is, err := IssueErr(c, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// IssueErr is Issue without a testing.TB, for fuzz seeds and benchmarks.
func IssueErr(c Cert, issuer *Issued) (*Issued, error) {
	key := c.Key
	if key == nil {
		kt := c.KeyType
		if kt == "" {
			kt = "rsa-2048"
			if c.IsCA {
				kt = "ec-256"
			}
		}
		var err error
		if k, ok := keyCache.Load(kt); ok {
			key = k.(crypto.Signer)
		} else if key, err = GenerateKey(kt); err != nil {
			return nil, err
		} else {
			keyCache.Store(kt, key)
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               c.Subject,
		NotBefore:             c.NotBefore,
		NotAfter:              c.NotAfter,
		BasicConstraintsValid: true,
		IsCA:                  c.IsCA,
		SignatureAlgorithm:    c.SigAlg,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = now.Add(24 * time.Hour)
	}
	if c.IsCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}
	if c.Modify != nil {
		c.Modify(tmpl)
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.Cert, issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// Name builds a subject with C=US, ST=WA, L=Seattle, O=acme and the given CN.
func Name(cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Locality: []string{"Seattle"},
		Organization: []string{"acme"}, OrganizationalUnit: []string{"eng"}, CommonName: cn}
}

// Chain is a root, an intermediate and a leaf, with Certs() leaf first.
type Chain struct {
	Root, Intermediate, Leaf *Issued
}

// Certs returns the chain leaf → intermediate → root.
func (c *Chain) Certs() []*x509.Certificate {
	return []*x509.Certificate{c.Leaf.Cert, c.Intermediate.Cert, c.Root.Cert}
}

// NewChain issues root R, intermediate I and a code-signing leaf L with the
// leaf key type kt (subject C=US, ST=WA, L=Seattle, O=acme, OU=eng, CN=signer).
func NewChain(t testing.TB, kt KeyType) *Chain {
	t.Helper()
	root := Issue(t, Cert{Subject: Name("root"), IsCA: true}, nil)
	inter := Issue(t, Cert{Subject: Name("intermediate"), IsCA: true, KeyType: "ec-384"}, root)
	leaf := Issue(t, Cert{Subject: Name("signer"), KeyType: kt}, inter)
	return &Chain{Root: root, Intermediate: inter, Leaf: leaf}
}

// CertsPEM encodes certificates as concatenated PEM blocks.
func CertsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a key as PKCS#8 PEM.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
