package signature_test

import (
	"crypto/x509"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// reparse returns an independent copy of c, so that a test can tamper with
// it without touching the shared original.
func reparse(t *testing.T, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	out, err := x509.ParseCertificate(c.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// tamper returns c with one bit of its signature flipped (Raw updated to
// match, as a parsed tampered certificate would have).
func tamper(t *testing.T, c *x509.Certificate) *x509.Certificate {
	t.Helper()
	out := reparse(t, c)
	out.Signature = append([]byte(nil), out.Signature...)
	out.Signature[len(out.Signature)/2] ^= 1
	out.Raw = append(append([]byte(nil), out.Raw...), 0) // a different certificate
	return out
}

// CERT-1, CERT-2: a remembered success never vouches for a different
// certificate or a different issuer key, and asking twice gives the same
// answer as asking once.
func TestCheckCertificateSignature(t *testing.T) {
	chain := testpki.NewChain(t, "rsa-3072")
	other := testpki.NewChain(t, "ec-256")
	for _, tc := range []struct {
		name      string
		issuer, c *x509.Certificate
		ok        bool
	}{
		{"leaf by intermediate", chain.Intermediate.Cert, chain.Leaf.Cert, true},
		{"intermediate by root", chain.Root.Cert, chain.Intermediate.Cert, true},
		{"root self-signed", chain.Root.Cert, chain.Root.Cert, true},
		{"leaf by the root, not its issuer", chain.Root.Cert, chain.Leaf.Cert, false},
		{"leaf by a certificate with another key", other.Leaf.Cert, chain.Leaf.Cert, false},
		{"leaf not self-signed", chain.Leaf.Cert, chain.Leaf.Cert, false},
		{"tampered leaf after the good one", chain.Intermediate.Cert, tamper(t, chain.Leaf.Cert), false},
		{"tampered root after the good one", chain.Root.Cert, tamper(t, chain.Root.Cert), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 2 { // the second call may be answered from memory
				err := signature.CheckCertificateSignature(tc.issuer, tc.c)
				if (err == nil) != tc.ok {
					t.Fatalf("call %d: err = %v, want ok = %v", i+1, err, tc.ok)
				}
			}
		})
	}
}

// BenchmarkCheckCertificateSignature: a remembered check against a fresh
// RSA-3072 one.
func BenchmarkCheckCertificateSignature(b *testing.B) {
	chain := testpki.NewChain(b, "rsa-3072")
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if err := signature.CheckCertificateSignature(chain.Root.Cert, chain.Intermediate.Cert); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crypto/x509", func(b *testing.B) {
		c := chain.Intermediate.Cert
		for b.Loop() {
			if err := chain.Root.Cert.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				b.Fatal(err)
			}
		}
	})
}
