package timestamp

import (
	"context"
	"crypto"
	"crypto/x509"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

// BenchmarkVerify measures ParseToken + Verify of a real openssl token, the
// verifier's cost per timestamped signature (before revocation).
func BenchmarkVerify(b *testing.B) {
	for _, kt := range []testpki.KeyType{"ec-256", "rsa-3072"} {
		b.Run(string(kt), func(b *testing.B) {
			opensslBin(b)
			pki := newTSAPKI(b, pkiOptions{LeafKey: kt})
			sig := randomSig(b, 256)
			raw := opensslReplyToken(b, pki, tsaConfig{}, sig, crypto.SHA256)
			roots := []*x509.Certificate{pki.Root.Cert}
			b.ReportAllocs()
			for b.Loop() {
				tok, err := ParseToken(raw)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := tok.Verify(sig, roots, VerifyOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTimestampOpenSSL measures a whole client round trip to the
// loopback openssl TSA (one openssl process per request).
func BenchmarkTimestampOpenSSL(b *testing.B) {
	opensslBin(b)
	pki := newTSAPKI(b, pkiOptions{LeafKey: "ec-256"})
	srv := serveTSA(b, newOpenSSLTSA(b, pki, tsaConfig{}), nil, nil)
	ts := &HTTPTimestamper{URL: srv.URL}
	req := &Request{Signature: randomSig(b, 256), Hash: crypto.SHA256}
	for b.Loop() {
		if _, err := ts.Timestamp(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}
