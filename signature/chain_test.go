package signature_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidTimeStamping     = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidCodeSigning      = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
)

// kuExt encodes a keyUsage extension by hand so tests can choose its
// criticality (crypto/x509 always marks keyUsage critical).
func kuExt(t *testing.T, ku x509.KeyUsage, critical bool) pkix.Extension {
	t.Helper()
	var b [2]byte
	n := 0
	for i := 0; i < 9; i++ {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
			n = i + 1
		}
	}
	v, err := asn1.Marshal(asn1.BitString{Bytes: b[:(n+7)/8], BitLength: n})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidKeyUsage, Critical: critical, Value: v}
}

func ekuExt(t *testing.T, critical bool, oids ...asn1.ObjectIdentifier) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(oids)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: critical, Value: v}
}

func bcExt(t *testing.T, isCA, critical bool) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{isCA})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidBasicConstraints, Critical: critical, Value: v}
}

// chainWith issues R → I → L with optional faults on each certificate.
func chainWith(t *testing.T, root, inter, leaf testpki.Cert) (r, i, l *testpki.Issued) {
	t.Helper()
	if root.Subject.CommonName == "" {
		root.Subject = testpki.Name("root")
	}
	if inter.Subject.CommonName == "" {
		inter.Subject = testpki.Name("intermediate")
	}
	if leaf.Subject.CommonName == "" {
		leaf.Subject = testpki.Name("signer")
	}
	root.IsCA, inter.IsCA = true, true
	r = testpki.Issue(t, root, nil)
	i = testpki.Issue(t, inter, r)
	l = testpki.Issue(t, leaf, i)
	return r, i, l
}

func certs(is ...*testpki.Issued) []*x509.Certificate {
	out := make([]*x509.Certificate, len(is))
	for i, c := range is {
		out[i] = c.Cert
	}
	return out
}

func TestValidateCodeSigningChainValid(t *testing.T) {
	for _, kt := range []testpki.KeyType{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"} {
		t.Run(string(kt), func(t *testing.T) {
			ch := testpki.NewChain(t, kt)
			if err := signature.ValidateCodeSigningChain(ch.Certs(), time.Now()); err != nil {
				t.Fatalf("valid chain rejected: %v", err)
			}
			if err := signature.ValidateCodeSigningChain(ch.Certs(), time.Time{}); err != nil {
				t.Fatalf("valid chain rejected without time: %v", err)
			}
		})
	}
}

// TestValidateCodeSigningChainRules covers TC-06, TC-07, TC-08 and the CA
// profile: each case must fail with the named rule, or pass when rule is
// empty.
func TestValidateCodeSigningChainRules(t *testing.T) {
	ch := testpki.NewChain(t, "rsa-2048")
	unrelated := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("unrelated"), IsCA: true}, nil)
	noBC := func(c *x509.Certificate) { c.BasicConstraintsValid = false; c.IsCA = false }

	tests := []struct {
		name  string
		chain func(t *testing.T) []*x509.Certificate
		rule  string // "" means the chain is valid
		index int
	}{
		{
			name:  "TC-06a leaf and root while the leaf is issued by the intermediate",
			chain: func(*testing.T) []*x509.Certificate { return certs(ch.Leaf, ch.Root) },
			rule:  "CERT-1",
		},
		{
			name:  "TC-06b reversed order",
			chain: func(*testing.T) []*x509.Certificate { return certs(ch.Root, ch.Intermediate, ch.Leaf) },
			rule:  "CERT-3",
		},
		{
			name:  "TC-06c no root",
			chain: func(*testing.T) []*x509.Certificate { return certs(ch.Leaf, ch.Intermediate) },
			rule:  "CERT-2", index: 1,
		},
		{
			name:  "TC-06d unrelated certificate after the root",
			chain: func(*testing.T) []*x509.Certificate { return certs(ch.Leaf, ch.Intermediate, ch.Root, unrelated) },
			rule:  "CERT-3", index: 2,
		},
		{
			name: "TC-07 leaf keyUsage also keyEncipherment",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.KeyUsage |= x509.KeyUsageKeyEncipherment
				}})
				return certs(l, i, r)
			},
			rule: "CERT-5",
		},
		{
			name: "TC-07 leaf keyUsage not critical",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtraExtensions = []pkix.Extension{kuExt(t, x509.KeyUsageDigitalSignature, false)}
				}})
				return certs(l, i, r)
			},
			rule: "CERT-5",
		},
		{
			name: "leaf without keyUsage",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) { c.KeyUsage = 0 }})
				return certs(l, i, r)
			},
			rule: "CERT-5",
		},
		{
			name: "leaf keyUsage without digitalSignature",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.KeyUsage = x509.KeyUsageContentCommitment
				}})
				return certs(l, i, r)
			},
			rule: "CERT-5",
		},
		{
			name: "TC-07 leaf EKU serverAuth",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageServerAuth}
				}})
				return certs(l, i, r)
			},
			rule: "CERT-6",
		},
		{
			name: "TC-07 leaf EKU anyExtendedKeyUsage",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
				}})
				return certs(l, i, r)
			},
			rule: "CERT-6",
		},
		{
			name: "leaf EKU OCSPSigning (reference rule)",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
				}})
				return certs(l, i, r)
			},
			rule: "CERT-6",
		},
		{
			name: "leaf EKU timeStamping",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
				}})
				return certs(l, i, r)
			},
			rule: "CERT-6",
		},
		{
			name: "leaf without EKU is allowed",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) { c.ExtKeyUsage = nil }})
				return certs(l, i, r)
			},
		},
		{
			name: "leaf with an unknown EKU and a critical EKU extension is allowed",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtraExtensions = []pkix.Extension{ekuExt(t, true, oidCodeSigning, asn1.ObjectIdentifier{1, 2, 3, 4})}
				}})
				return certs(l, i, r)
			},
		},
		{
			name: "TC-07 leaf basicConstraints cA=true",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) { c.IsCA = true }})
				return certs(l, i, r)
			},
			rule: "CERT-5",
		},
		{
			name: "leaf without basicConstraints is allowed",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{Modify: noBC})
				return certs(l, i, r)
			},
		},
		{
			name: "TC-07 leaf RSA-1024 key",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{KeyType: "rsa-1024"})
				return certs(l, i, r)
			},
			rule: "CERT-7",
		},
		{
			name: "leaf P-224 key",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{KeyType: "ec-224"})
				return certs(l, i, r)
			},
			rule: "CERT-7",
		},
		{
			name: "TC-07 intermediate signed with sha1WithRSAEncryption",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{KeyType: "rsa-2048"}, testpki.Cert{SigAlg: x509.SHA1WithRSA}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-8", index: 1,
		},
		{
			name: "leaf signed with ecdsa-with-SHA1",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, testpki.Cert{SigAlg: x509.ECDSAWithSHA1})
				return certs(l, i, r)
			},
			rule: "CERT-8",
		},
		{
			name: "intermediate without basicConstraints",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: noBC}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-4", index: 1,
		},
		{
			name: "intermediate basicConstraints not critical",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtraExtensions = []pkix.Extension{bcExt(t, true, false)}
				}}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-4", index: 1,
		},
		{
			name: "intermediate basicConstraints cA=false",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtraExtensions = []pkix.Extension{bcExt(t, false, true)}
				}}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-4", index: 1,
		},
		{
			name: "intermediate keyUsage without keyCertSign",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign
				}}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-4", index: 1,
		},
		{
			name: "intermediate keyUsage not critical",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtraExtensions = []pkix.Extension{kuExt(t, x509.KeyUsageCertSign, false)}
				}}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-4", index: 1,
		},
		{
			name: "root without keyUsage",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{Modify: func(c *x509.Certificate) { c.KeyUsage = 0 }}, testpki.Cert{}, testpki.Cert{})
				return certs(l, i, r)
			},
			rule: "CERT-4", index: 2,
		},
		{
			name: "pathLenConstraint 0 on the intermediate above the leaf is enough",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.MaxPathLen, c.MaxPathLenZero = 0, true
				}}, testpki.Cert{})
				return certs(l, i, r)
			},
		},
		{
			name: "pathLenConstraint 0 on a CA with one CA below it",
			chain: func(t *testing.T) []*x509.Certificate {
				r := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
				i1 := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("i1"), IsCA: true, Modify: func(c *x509.Certificate) {
					c.MaxPathLen, c.MaxPathLenZero = 0, true
				}}, r)
				i2 := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("i2"), IsCA: true}, i1)
				l := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer")}, i2)
				return certs(l, i2, i1, r)
			},
			rule: "CERT-4", index: 2,
		},
		{
			name: "pathLenConstraint 1 on a CA with one CA below it",
			chain: func(t *testing.T) []*x509.Certificate {
				r := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true, Modify: func(c *x509.Certificate) { c.MaxPathLen = 1 }}, nil)
				i1 := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("i1"), IsCA: true}, r)
				l := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer")}, i1)
				return certs(l, i1, r)
			},
		},
		{
			name: "CERT-9 unknown critical extension and name constraints are ignored",
			chain: func(t *testing.T) []*x509.Certificate {
				r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.PermittedDNSDomains = []string{"example.com"}
				}}, testpki.Cert{Modify: func(c *x509.Certificate) {
					c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5}, Critical: true, Value: []byte{0x05, 0x00}}}
				}})
				return certs(l, i, r)
			},
		},
		{
			name: "intermediate issued by a different key with the root's name",
			chain: func(t *testing.T) []*x509.Certificate {
				impostor := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true, KeyType: "ec-384"}, nil)
				i := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("intermediate"), IsCA: true}, impostor)
				l := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer")}, i)
				return certs(l, i, ch.Root)
			},
			rule: "CERT-1", index: 1,
		},
		{
			name: "TC-08 single self-signed leaf",
			chain: func(t *testing.T) []*x509.Certificate {
				s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), Modify: noBC}, nil)
				return certs(s)
			},
		},
		{
			name: "TC-08 single self-signed certificate with cA=true is held to leaf rules",
			chain: func(t *testing.T) []*x509.Certificate {
				s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), Modify: func(c *x509.Certificate) { c.IsCA = true }}, nil)
				return certs(s)
			},
			rule: "CERT-5",
		},
		{
			name:  "single certificate that is not self-signed",
			chain: func(*testing.T) []*x509.Certificate { return certs(ch.Leaf) },
			rule:  "CERT-2",
		},
		{
			name: "self-signed leaf before a root",
			chain: func(t *testing.T) []*x509.Certificate {
				s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), Modify: noBC}, nil)
				return []*x509.Certificate{s.Cert, ch.Root.Cert}
			},
			rule: "CERT-3",
		},
		{
			name:  "empty chain",
			chain: func(*testing.T) []*x509.Certificate { return nil },
			rule:  "CERT-1", index: -1,
		},
		{
			name:  "nil certificate",
			chain: func(*testing.T) []*x509.Certificate { return []*x509.Certificate{ch.Leaf.Cert, nil, ch.Root.Cert} },
			rule:  "CERT-1", index: 1,
		},
		{
			name: "chain over the length limit",
			chain: func(*testing.T) []*x509.Certificate {
				c := make([]*x509.Certificate, signature.MaxChainLength+1)
				for i := range c {
					c[i] = ch.Root.Cert
				}
				return c
			},
			rule: "CERT-1", index: -1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain := tc.chain(t)
			err := signature.ValidateCodeSigningChain(chain, time.Now())
			checkChainErr(t, err, tc.rule, tc.index, chain)
		})
	}
}

func checkChainErr(t *testing.T, err error, rule string, index int, chain []*x509.Certificate) {
	t.Helper()
	if rule == "" {
		if err != nil {
			t.Fatalf("want valid, got %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("want %s failure, got nil", rule)
	}
	if !errors.Is(err, signature.ErrInvalidChain) {
		t.Errorf("error does not wrap ErrInvalidChain: %v", err)
	}
	var ce *signature.ChainError
	if !errors.As(err, &ce) {
		t.Fatalf("error is not a *ChainError: %v", err)
	}
	if ce.Rule != rule || ce.Index != index {
		t.Errorf("got rule %s at index %d, want %s at %d: %v", ce.Rule, ce.Index, rule, index, err)
	}
	if !strings.Contains(err.Error(), rule) {
		t.Errorf("message does not name the rule: %v", err)
	}
	if index >= 0 && chain[index] != nil && !strings.Contains(err.Error(), chain[index].Subject.String()) {
		t.Errorf("message does not name subject %q: %v", chain[index].Subject, err)
	}
}

// TestValidateCodeSigningChainWeakAlgorithms pins CERT-8 for every weak
// algorithm crypto/x509 knows, including MD5, which it cannot create: the
// parsed certificate's algorithm is overridden.
func TestValidateCodeSigningChainWeakAlgorithms(t *testing.T) {
	for _, alg := range []x509.SignatureAlgorithm{x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1} {
		t.Run(alg.String(), func(t *testing.T) {
			ch := testpki.NewChain(t, "ec-256")
			root := *ch.Root.Cert
			root.SignatureAlgorithm = alg
			chain := []*x509.Certificate{ch.Leaf.Cert, ch.Intermediate.Cert, &root}
			checkChainErr(t, signature.ValidateCodeSigningChain(chain, time.Time{}), "CERT-8", 2, chain)
		})
	}
	t.Run("SHA-1 self-signed single certificate", func(t *testing.T) {
		s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), KeyType: "rsa-2048", SigAlg: x509.SHA1WithRSA}, nil)
		chain := certs(s)
		checkChainErr(t, signature.ValidateCodeSigningChain(chain, time.Time{}), "CERT-8", 0, chain)
	})
}

// TestValidateCodeSigningChainTime covers CERT-10 and the zero-time skip.
func TestValidateCodeSigningChainTime(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)},
		testpki.Cert{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(48 * time.Hour)})
	chain := certs(l, i, r) // root: now-1h .. now+24h (testpki default)
	tests := []struct {
		name string
		at   time.Time
		rule string
		idx  int
	}{
		{name: "expired intermediate", at: now, rule: "CERT-10", idx: 1},
		{name: "before the leaf's notBefore", at: now.Add(-72 * time.Hour), rule: "CERT-10", idx: 0},
		{name: "root not yet valid", at: now.Add(-30 * time.Hour), rule: "CERT-10", idx: 2},
		{name: "zero time skips validity", at: time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkChainErr(t, signature.ValidateCodeSigningChain(chain, tc.at), tc.rule, tc.idx, chain)
		})
	}

	nb, na := now.Add(-time.Hour), now.Add(time.Hour)
	same := testpki.Cert{NotBefore: nb, NotAfter: na}
	r, i, l = chainWith(t, same, same, same)
	bounded := certs(l, i, r)
	for _, tc := range []struct {
		name string
		at   time.Time
		rule string
	}{
		{name: "at notBefore is valid", at: nb},
		{name: "at notAfter is valid", at: na},
		{name: "one second before notBefore", at: nb.Add(-time.Second), rule: "CERT-10"},
		{name: "one second after notAfter", at: na.Add(time.Second), rule: "CERT-10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkChainErr(t, signature.ValidateCodeSigningChain(bounded, tc.at), tc.rule, 0, bounded)
		})
	}

	t.Run("no validity nesting: the leaf may outlive its issuer", func(t *testing.T) {
		r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{NotAfter: now.Add(2 * time.Hour)}, testpki.Cert{NotAfter: now.Add(1000 * time.Hour)})
		chain := certs(l, i, r)
		checkChainErr(t, signature.ValidateCodeSigningChain(chain, now), "", 0, chain)
	})
}

func TestValidateTimestampingChain(t *testing.T) {
	tsaLeaf := func(mod func(*x509.Certificate)) testpki.Cert {
		return testpki.Cert{Subject: testpki.Name("tsa"), Modify: func(c *x509.Certificate) {
			c.ExtKeyUsage = nil
			c.ExtraExtensions = []pkix.Extension{ekuExt(t, true, oidTimeStamping)}
			if mod != nil {
				mod(c)
			}
		}}
	}
	tests := []struct {
		name string
		leaf testpki.Cert
		rule string
	}{
		{name: "valid", leaf: tsaLeaf(nil)},
		{name: "EKU not critical", leaf: tsaLeaf(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{ekuExt(t, false, oidTimeStamping)}
		}), rule: "TSACERT-3"},
		{name: "EKU with codeSigning too", leaf: tsaLeaf(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{ekuExt(t, true, oidTimeStamping, oidCodeSigning)}
		}), rule: "TSACERT-3"},
		{name: "EKU with an unknown purpose too", leaf: tsaLeaf(func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{ekuExt(t, true, oidTimeStamping, asn1.ObjectIdentifier{1, 2, 3})}
		}), rule: "TSACERT-3"},
		{name: "EKU absent", leaf: testpki.Cert{Subject: testpki.Name("tsa"), Modify: func(c *x509.Certificate) { c.ExtKeyUsage = nil }}, rule: "TSACERT-3"},
		{name: "code-signing leaf", leaf: testpki.Cert{Subject: testpki.Name("tsa")}, rule: "TSACERT-3"},
		{name: "keyUsage not critical is tolerated", leaf: tsaLeaf(func(c *x509.Certificate) {
			c.ExtraExtensions = append(c.ExtraExtensions, kuExt(t, x509.KeyUsageDigitalSignature, false))
		})},
		{name: "keyUsage with keyEncipherment", leaf: tsaLeaf(func(c *x509.Certificate) {
			c.KeyUsage |= x509.KeyUsageKeyEncipherment
		}), rule: "TSACERT-3"},
		{name: "RSA-1024 key", leaf: func() testpki.Cert { c := tsaLeaf(nil); c.KeyType = "rsa-1024"; return c }(), rule: "TSACERT-3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, tc.leaf)
			chain := certs(l, i, r)
			checkChainErr(t, signature.ValidateTimestampingChain(chain, time.Now()), tc.rule, 0, chain)
		})
	}
	t.Run("TSA leaf is not a code-signing leaf", func(t *testing.T) {
		r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, tsaLeaf(nil))
		chain := certs(l, i, r)
		checkChainErr(t, signature.ValidateCodeSigningChain(chain, time.Now()), "CERT-6", 0, chain)
	})
	t.Run("structure rules apply", func(t *testing.T) {
		r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, tsaLeaf(nil))
		chain := certs(l, i)
		checkChainErr(t, signature.ValidateTimestampingChain(chain, time.Time{}), "TSACERT-1", 1, chain)
		chain = certs(l, r)
		checkChainErr(t, signature.ValidateTimestampingChain(chain, time.Time{}), "TSACERT-1", 0, chain)
	})
	t.Run("CA keyUsage not critical is tolerated", func(t *testing.T) {
		r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{Modify: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{kuExt(t, x509.KeyUsageCertSign, false)}
		}}, tsaLeaf(nil))
		chain := certs(l, i, r)
		checkChainErr(t, signature.ValidateTimestampingChain(chain, time.Time{}), "", 0, chain)
	})
	t.Run("validity at genTime", func(t *testing.T) {
		r, i, l := chainWith(t, testpki.Cert{}, testpki.Cert{}, tsaLeaf(nil))
		chain := certs(l, i, r)
		checkChainErr(t, signature.ValidateTimestampingChain(chain, time.Now().Add(-10*time.Hour)), "TSACERT-1", 0, chain)
	})
}

// FuzzValidateCodeSigningChain feeds concatenated DER certificates to both
// chain validators: they must never panic, and a chain they accept must
// have a leaf with an allowed key.
func FuzzValidateCodeSigningChain(f *testing.F) {
	for _, kt := range []testpki.KeyType{"rsa-2048", "ec-256", "ec-521"} {
		ch := testpki.NewChain(f, kt)
		var der []byte
		for _, c := range ch.Certs() {
			der = append(der, c.Raw...)
		}
		f.Add(der)
		f.Add(ch.Leaf.Cert.Raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := x509.ParseCertificates(data)
		if err != nil {
			return
		}
		for _, validate := range []func([]*x509.Certificate, time.Time) error{signature.ValidateCodeSigningChain, signature.ValidateTimestampingChain} {
			for _, at := range []time.Time{{}, time.Now()} {
				err := validate(certs, at)
				if err == nil {
					if _, kerr := signature.KeySpecFromCertificate(certs[0]); kerr != nil {
						t.Fatalf("accepted a leaf with key %T", certs[0].PublicKey)
					}
					continue
				}
				if !errors.Is(err, signature.ErrInvalidChain) {
					t.Fatalf("error does not wrap ErrInvalidChain: %v", err)
				}
			}
		}
	})
}
