package envelope_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"reflect"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// craft builds a well-formed envelope in format f whose x5c/x5chain is
// chain, signed by key under alg; only the chain can make Open fail.
func craft(t *testing.T, f envelope.Format, key crypto.Signer, alg signature.Algorithm, chain []*x509.Certificate) []byte {
	t.Helper()
	now := envtest.Now()
	if f.MediaType() == signature.MediaTypeJWS {
		return envtest.JWS(t, key, alg, envtest.B64(envtest.MustJSON(t, envtest.ProtectedJWS(alg, now))),
			envtest.B64(envtest.Payload()), map[string]any{"x5c": envtest.X5C(chain)})
	}
	return envtest.COSE(t, key, alg, envtest.MustCBOR(t, envtest.ProtectedCOSE(alg, now)),
		envtest.MustCBOR(t, envtest.UnprotectedCOSE(chain)), envtest.Payload(), true)
}

func algOf(t *testing.T, c *x509.Certificate) signature.Algorithm {
	ks, err := signature.KeySpecFromCertificate(c)
	if err != nil {
		return signature.AlgorithmPS256 // RSA-1024 and the like: sign anyway
	}
	return ks.Algorithm()
}

// TestChainRulesInEnvelopes covers TC-06, TC-07 and TC-08 on the integrity
// side: each faulty chain makes Open fail with the chain rule, and Sign
// refuses to use it (SIGN-3). TC-06 is UATTR-1: the envelope's chain is
// ordered leaf → intermediates → root, root included; a reversed,
// root-less or padded chain is refused.
func TestChainRulesInEnvelopes(t *testing.T) {
	ch := testpki.NewChain(t, "rsa-2048")
	unrelated := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("unrelated"), IsCA: true}, nil)
	leafWith := func(t *testing.T, c testpki.Cert) (*testpki.Issued, []*x509.Certificate) {
		if c.Subject.CommonName == "" {
			c.Subject = testpki.Name("signer")
		}
		l := testpki.Issue(t, c, ch.Intermediate)
		return l, []*x509.Certificate{l.Cert, ch.Intermediate.Cert, ch.Root.Cert}
	}
	type variant struct {
		key   crypto.Signer
		chain []*x509.Certificate
	}
	tests := []struct {
		name string
		make func(t *testing.T) variant
		rule string // "" = valid
	}{
		{name: "valid three-certificate chain", make: func(*testing.T) variant {
			return variant{ch.Leaf.Key, ch.Certs()}
		}},
		{name: "TC-06a [L, R] while L is issued by I", make: func(*testing.T) variant {
			return variant{ch.Leaf.Key, []*x509.Certificate{ch.Leaf.Cert, ch.Root.Cert}}
		}, rule: "CERT-1"},
		{name: "TC-06b [R, I, L] reversed", make: func(*testing.T) variant {
			return variant{ch.Root.Key, []*x509.Certificate{ch.Root.Cert, ch.Intermediate.Cert, ch.Leaf.Cert}}
		}, rule: "CERT-3"},
		{name: "TC-06c [L, I] without root", make: func(*testing.T) variant {
			return variant{ch.Leaf.Key, []*x509.Certificate{ch.Leaf.Cert, ch.Intermediate.Cert}}
		}, rule: "CERT-2"},
		{name: "TC-06d [L, I, R, X] with unrelated X", make: func(*testing.T) variant {
			return variant{ch.Leaf.Key, append(ch.Certs(), unrelated.Cert)}
		}, rule: "CERT-3"},
		{name: "TC-07 leaf keyUsage also keyEncipherment", make: func(t *testing.T) variant {
			l, c := leafWith(t, testpki.Cert{Modify: func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageKeyEncipherment }})
			return variant{l.Key, c}
		}, rule: "CERT-5"},
		{name: "TC-07 leaf keyUsage not critical", make: func(t *testing.T) variant {
			l, c := leafWith(t, testpki.Cert{Modify: func(c *x509.Certificate) {
				// BIT STRING with only digitalSignature set.
				c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Value: []byte{0x03, 0x02, 0x07, 0x80}}}
			}})
			return variant{l.Key, c}
		}, rule: "CERT-5"},
		{name: "TC-07 leaf EKU serverAuth", make: func(t *testing.T) variant {
			l, c := leafWith(t, testpki.Cert{Modify: func(c *x509.Certificate) {
				c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
			}})
			return variant{l.Key, c}
		}, rule: "CERT-6"},
		{name: "TC-07 leaf EKU anyExtendedKeyUsage", make: func(t *testing.T) variant {
			l, c := leafWith(t, testpki.Cert{Modify: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }})
			return variant{l.Key, c}
		}, rule: "CERT-6"},
		{name: "TC-07 leaf basicConstraints cA=true", make: func(t *testing.T) variant {
			l, c := leafWith(t, testpki.Cert{Modify: func(c *x509.Certificate) { c.IsCA = true }})
			return variant{l.Key, c}
		}, rule: "CERT-5"},
		{name: "TC-07 leaf RSA-1024", make: func(t *testing.T) variant {
			l, c := leafWith(t, testpki.Cert{KeyType: "rsa-1024"})
			return variant{l.Key, c}
		}, rule: "ALG-3"},
		{name: "TC-07 intermediate signed with sha1WithRSAEncryption", make: func(t *testing.T) variant {
			root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true, KeyType: "rsa-2048"}, nil)
			inter := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("intermediate"), IsCA: true, SigAlg: x509.SHA1WithRSA}, root)
			leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer")}, inter)
			return variant{leaf.Key, []*x509.Certificate{leaf.Cert, inter.Cert, root.Cert}}
		}, rule: "CERT-8"},
		{name: "TC-08 single self-signed leaf", make: func(t *testing.T) variant {
			s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), Modify: func(c *x509.Certificate) {
				c.BasicConstraintsValid = false
			}}, nil)
			return variant{s.Key, []*x509.Certificate{s.Cert}}
		}},
		{name: "TC-08 single self-signed certificate with cA=true", make: func(t *testing.T) variant {
			s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), Modify: func(c *x509.Certificate) { c.IsCA = true }}, nil)
			return variant{s.Key, []*x509.Certificate{s.Cert}}
		}, rule: "CERT-5"},
	}
	for _, f := range formats {
		for _, tc := range tests {
			t.Run(f.MediaType()+"/"+tc.name, func(t *testing.T) {
				v := tc.make(t)
				_, err := envelope.Open(f, craft(t, f, v.key, algOf(t, v.chain[0]), v.chain))
				if tc.rule == "" {
					if err != nil {
						t.Fatalf("want accepted, got %v", err)
					}
				} else {
					wantEnvErr(t, err, tc.rule)
				}

				ks, kerr := signature.KeySpecFromCertificate(v.chain[0])
				if kerr != nil {
					return // no signer can claim this key
				}
				req := envtest.Request(&envtest.Signer{Key: v.key, Chain: v.chain, Spec: ks})
				_, err = envelope.Sign(context.Background(), f, req)
				if tc.rule == "" && err != nil {
					t.Fatalf("Sign: %v", err)
				}
				if tc.rule != "" && err == nil {
					t.Fatal("Sign accepted the faulty chain")
				}
			})
		}
	}
}

// signedEqual compares everything an envelope's signature protects (plus
// the chain, which Open validates).
func signedEqual(a, b *signature.Content) bool {
	if !bytes.Equal(a.Payload, b.Payload) || a.PayloadContentType != b.PayloadContentType ||
		a.Algorithm != b.Algorithm || !bytes.Equal(a.Signature, b.Signature) ||
		!reflect.DeepEqual(a.Signed, b.Signed) || len(a.CertificateChain) != len(b.CertificateChain) {
		return false
	}
	for i := range a.CertificateChain {
		if !a.CertificateChain[i].Equal(b.CertificateChain[i]) {
			return false
		}
	}
	return true
}

// TestTampering flips every bit of valid envelopes, one at a time: each
// result must either fail to open or carry exactly the same signed content
// (only unprotected attributes such as the signing agent may change).
func TestTampering(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	for _, f := range formats {
		t.Run(f.MediaType(), func(t *testing.T) {
			req := envtest.Request(s)
			req.Expiry = req.SigningTime.Add(time.Hour)
			raw, err := envelope.Sign(context.Background(), f, req)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := envelope.Open(f, raw)
			if err != nil {
				t.Fatal(err)
			}
			accepted := 0
			buf := make([]byte, len(raw))
			for i := range raw {
				for _, bit := range []byte{0x01, 0x80} {
					copy(buf, raw)
					buf[i] ^= bit
					c, err := envelope.Open(f, buf)
					if err != nil {
						continue
					}
					accepted++
					if !signedEqual(orig, c) {
						t.Fatalf("flipping bit %#x of byte %d changed signed content and still opened", bit, i)
					}
				}
			}
			t.Logf("%d of %d single-bit flips still open (unprotected bytes)", accepted, 2*len(raw))
		})
	}
}

// TestTamperingTargeted: a flipped byte in the payload, the signature or
// the protected header fails in both formats.
func TestTamperingTargeted(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecRSA2048)
	for _, f := range formats {
		raw, err := envelope.Sign(context.Background(), f, envtest.Request(s))
		if err != nil {
			t.Fatal(err)
		}
		c, err := envelope.Open(f, raw)
		if err != nil {
			t.Fatal(err)
		}
		targets := map[string][]byte{"payload": c.Payload, "signature": c.Signature}
		if f.MediaType() == signature.MediaTypeJWS {
			// In JWS the parts appear base64url-encoded.
			targets = map[string][]byte{
				"payload":   []byte(envtest.B64(c.Payload)),
				"signature": []byte(envtest.B64(c.Signature)),
				"protected": []byte(`"protected":"`),
			}
		} else {
			targets["protected"] = []byte("io.cncf.notary.signingScheme")
		}
		for name, part := range targets {
			t.Run(f.MediaType()+"/"+name, func(t *testing.T) {
				at := bytes.Index(raw, part)
				if at < 0 {
					t.Fatalf("test setup: %s not found", name)
				}
				at += len(part) / 2
				if name == "protected" && f.MediaType() == signature.MediaTypeJWS {
					at = bytes.Index(raw, part) + len(part) + 5
				}
				bad := append([]byte{}, raw...)
				if bad[at] == 'A' {
					bad[at] = 'B'
				} else {
					bad[at] = 'A'
				}
				_, err := envelope.Open(f, bad)
				wantEnvErr(t, err, "")
			})
		}
	}
}
