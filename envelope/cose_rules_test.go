package envelope_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// coseFixture crafts COSE envelopes signed by a real test chain.
type coseFixture struct {
	s   *envtest.Signer
	alg signature.Algorithm
	now time.Time
}

func newCOSEFixture(t *testing.T, ks signature.KeySpec) *coseFixture {
	s, _ := envtest.NewSigner(t, ks)
	return &coseFixture{s: s, alg: ks.Algorithm(), now: envtest.Now()}
}

func (f *coseFixture) protected() map[any]any   { return envtest.ProtectedCOSE(f.alg, f.now) }
func (f *coseFixture) unprotected() map[any]any { return envtest.UnprotectedCOSE(f.s.Chain) }

// build signs the protected map p (a map, or its raw CBOR encoding) with
// the unprotected map u (likewise) over the standard payload.
func (f *coseFixture) build(t *testing.T, p, u any, tagged bool) []byte {
	t.Helper()
	return envtest.COSE(t, f.s.Key, f.alg, encodeMap(t, p), encodeMap(t, u), envtest.Payload(), tagged)
}

func encodeMap(t *testing.T, m any) []byte {
	t.Helper()
	if b, ok := m.([]byte); ok {
		return b
	}
	return envtest.MustCBOR(t, m)
}

// appendPair adds key → value to an encoded definite-length map of fewer
// than 23 pairs, without checking for duplicates.
func appendPair(t *testing.T, m []byte, key, value any) []byte {
	t.Helper()
	if m[0]&0xe0 != 0xa0 || m[0]&0x1f >= 23 {
		t.Fatal("test setup: not a small map")
	}
	out := append([]byte{m[0] + 1}, m[1:]...)
	out = append(out, envtest.MustCBOR(t, key)...)
	return append(out, envtest.MustCBOR(t, value)...)
}

func TestCOSEFixtureIsValid(t *testing.T) {
	f := newCOSEFixture(t, signature.KeySpecRSA2048)
	if _, err := envelope.Open(cose.Format{}, f.build(t, f.protected(), f.unprotected(), true)); err != nil {
		t.Fatalf("hand-built envelope rejected: %v", err)
	}
}

// TestCOSETC04 covers TC-04 (integrity side) and the x5chain divergence.
func TestCOSETC04(t *testing.T) {
	f := newCOSEFixture(t, signature.KeySpecRSA2048)
	tests := []struct {
		name   string
		raw    func(t *testing.T) []byte
		rule   string
		accept bool
	}{
		{name: "a untagged COSE_Sign1", raw: func(t *testing.T) []byte {
			return f.build(t, f.protected(), f.unprotected(), false)
		}, rule: "COSE-1"},
		{name: "b signing time as an untagged integer", raw: func(t *testing.T) []byte {
			p := f.protected()
			p[signature.HeaderSigningTime] = f.now.Unix()
			return f.build(t, p, f.unprotected(), true)
		}, rule: "COSE-3"},
		{name: "c signing time as a tag 0 date string", raw: func(t *testing.T) []byte {
			p := f.protected()
			p[signature.HeaderSigningTime] = cbor.Tag{Number: 0, Content: f.now.UTC().Format(time.RFC3339)}
			return f.build(t, p, f.unprotected(), true)
		}, rule: "COSE-3"},
		{name: "d crit in the unprotected map", raw: func(t *testing.T) []byte {
			u := f.unprotected()
			u[int64(2)] = []any{signature.HeaderSigningAgent}
			return f.build(t, f.protected(), u, true)
		}, rule: "COSE-6"},
		{name: "e duplicate key in the protected map", raw: func(t *testing.T) []byte {
			p := appendPair(t, envtest.MustCBOR(t, f.protected()), int64(3), "application/json")
			return f.build(t, p, f.unprotected(), true)
		}, rule: "COSE-6"},
		{name: "divergence: x5chain only in the protected bucket is accepted (spec; reference rejects)", raw: func(t *testing.T) []byte {
			p := f.protected()
			u := f.unprotected()
			p[int64(33)] = u[int64(33)]
			delete(u, int64(33))
			return f.build(t, p, u, true)
		}, accept: true},
		{name: "divergence: x5chain as a single bstr is accepted (RFC 9360; reference rejects)", raw: func(t *testing.T) []byte {
			s := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), KeyType: "rsa-2048", Modify: func(c *x509.Certificate) { c.BasicConstraintsValid = false }}, nil)
			p := f.protected()
			u := map[any]any{int64(33): s.Cert.Raw}
			return envtest.COSE(t, s.Key, f.alg, envtest.MustCBOR(t, p), envtest.MustCBOR(t, u), envtest.Payload(), true)
		}, accept: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := envelope.Open(cose.Format{}, tc.raw(t))
			if tc.accept {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			wantEnvErr(t, err, tc.rule)
		})
	}
}

// TestCOSEDecodeRules covers the remaining COSE-1..6, ALG-2 and ATTR-1/5
// rules.
func TestCOSEDecodeRules(t *testing.T) {
	f := newCOSEFixture(t, signature.KeySpecEC256)
	good := f.build(t, f.protected(), f.unprotected(), true)
	edit := func(e func(p, u map[any]any)) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			p, u := f.protected(), f.unprotected()
			e(p, u)
			return f.build(t, p, u, true)
		}
	}
	tests := []struct {
		name   string
		raw    func(t *testing.T) []byte
		rule   string // "" = any rule
		accept bool
	}{
		{name: "COSE-1 tag 18 around a map", raw: func(t *testing.T) []byte { return []byte{0xd2, 0xa0} }, rule: "COSE-1"},
		{name: "COSE-1 tag 18 in a non-minimal encoding", raw: func(t *testing.T) []byte {
			return append([]byte{0xd8, 0x12}, good[1:]...)
		}, rule: "COSE-1"},
		{name: "COSE-1 tag 98 (COSE_Sign)", raw: func(t *testing.T) []byte {
			return append([]byte{0xd8, 0x62}, good[1:]...)
		}, rule: "COSE-1"},
		{name: "COSE-1 detached payload", raw: func(t *testing.T) []byte {
			p := envtest.MustCBOR(t, f.protected())
			return envtest.MustCBOR(t, cbor.Tag{Number: 18, Content: []any{p, cbor.RawMessage(envtest.MustCBOR(t, f.unprotected())), nil, []byte{1, 2}}})
		}, rule: "COSE-1"},
		{name: "COSE-6 trailing bytes", raw: func(t *testing.T) []byte { return append(append([]byte{}, good...), 0x00) }, rule: "COSE-6"},
		{name: "COSE-6 indefinite-length protected map", raw: func(t *testing.T) []byte {
			p := envtest.MustCBOR(t, f.protected())
			ind := append([]byte{0xbf}, p[1:]...)
			return f.build(t, append(ind, 0xff), f.unprotected(), true)
		}, rule: "COSE-6"},
		{name: "COSE-6 indefinite-length unprotected map", raw: func(t *testing.T) []byte {
			u := envtest.MustCBOR(t, f.unprotected())
			ind := append([]byte{0xbf}, u[1:]...)
			return f.build(t, f.protected(), append(ind, 0xff), true)
		}, rule: "COSE-6"},
		{name: "COSE-6 duplicate key in the unprotected map", raw: func(t *testing.T) []byte {
			u := appendPair(t, envtest.MustCBOR(t, f.unprotected()), signature.HeaderSigningAgent, "again")
			return f.build(t, f.protected(), u, true)
		}, rule: "COSE-6"},
		{name: "COSE-6 label in both buckets", raw: edit(func(p, u map[any]any) { p[signature.HeaderSigningAgent] = "x" }), rule: "COSE-6"},
		{name: "COSE-2 empty protected header", raw: func(t *testing.T) []byte {
			return envtest.COSE(t, f.s.Key, f.alg, []byte{}, envtest.MustCBOR(t, f.unprotected()), envtest.Payload(), true)
		}, rule: "COSE-2"},
		{name: "COSE-2 alg missing", raw: edit(func(p, u map[any]any) { delete(p, int64(1)) }), rule: "COSE-2"},
		{name: "COSE-2 alg as text", raw: edit(func(p, u map[any]any) { p[int64(1)] = "ES256" }), rule: "COSE-2"},
		{name: "COSE-2 alg EdDSA", raw: edit(func(p, u map[any]any) { p[int64(1)] = int64(-8) }), rule: "COSE-2"},
		{name: "COSE-2 alg HMAC 256/256", raw: edit(func(p, u map[any]any) { p[int64(1)] = int64(5) }), rule: "COSE-2"},
		{name: "COSE-2 content type as uint", raw: edit(func(p, u map[any]any) { p[int64(3)] = uint64(50) }), rule: "COSE-2"},
		{name: "COSE-2 content type missing", raw: edit(func(p, u map[any]any) { delete(p, int64(3)) }), rule: "COSE-2"},
		{name: "§2.3 content type other than the payload type", raw: edit(func(p, u map[any]any) { p[int64(3)] = "application/json" }), rule: "§2.3"},
		{name: "COSE-2 crit missing", raw: edit(func(p, u map[any]any) { delete(p, int64(2)) }), rule: "COSE-2"},
		{name: "COSE-2 crit empty", raw: edit(func(p, u map[any]any) { p[int64(2)] = []any{} })},
		{name: "COSE-2 crit lacks signingScheme", raw: edit(func(p, u map[any]any) {
			p["com.example.x"] = "v"
			p[int64(2)] = []any{"com.example.x"}
		}), rule: "COSE-2"},
		{name: "COSE-2 crit lists label 1", raw: edit(func(p, u map[any]any) {
			p[int64(2)] = []any{signature.HeaderSigningScheme, int64(1)}
		}), rule: "COSE-2"},
		{name: "COSE-2 crit lists an unknown integer label", raw: edit(func(p, u map[any]any) {
			p[int64(16)] = "application/x"
			p[int64(2)] = []any{signature.HeaderSigningScheme, int64(16)}
		}), rule: "COSE-2"},
		{name: "COSE-2 crit lists an absent header", raw: edit(func(p, u map[any]any) {
			p[int64(2)] = []any{signature.HeaderSigningScheme, "com.example.absent"}
		})},
		{name: "COSE-2 expiry not critical", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderExpiry] = cbor.Tag{Number: 1, Content: f.now.Add(time.Hour).Unix()}
		}), rule: "COSE-2"},
		{name: "COSE-2 SA scheme without authenticSigningTime critical", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderSigningScheme] = string(signature.SchemeX509SigningAuthority)
			p[signature.HeaderAuthenticSigningTime] = p[signature.HeaderSigningTime]
			delete(p, signature.HeaderSigningTime)
		}), rule: "COSE-2"},
		{name: "SA scheme accepted", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderSigningScheme] = string(signature.SchemeX509SigningAuthority)
			p[signature.HeaderAuthenticSigningTime] = p[signature.HeaderSigningTime]
			delete(p, signature.HeaderSigningTime)
			p[int64(2)] = []any{signature.HeaderSigningScheme, signature.HeaderAuthenticSigningTime}
		}), accept: true},
		{name: "ATTR-5 expiry equals signing time", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderExpiry] = p[signature.HeaderSigningTime]
			p[int64(2)] = []any{signature.HeaderSigningScheme, signature.HeaderExpiry}
		}), rule: "ATTR-5"},
		{name: "ATTR-5 x509 without signing time (COSE-3)", raw: edit(func(p, u map[any]any) { delete(p, signature.HeaderSigningTime) }), rule: "ATTR-5"},
		{name: "ATTR-5 x509 with authentic signing time", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderAuthenticSigningTime] = p[signature.HeaderSigningTime]
			p[int64(2)] = []any{signature.HeaderSigningScheme, signature.HeaderAuthenticSigningTime}
		}), rule: "ATTR-5"},
		{name: "ATTR-5 SA scheme with signing time", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderSigningScheme] = string(signature.SchemeX509SigningAuthority)
			p[signature.HeaderAuthenticSigningTime] = p[signature.HeaderSigningTime]
			p[int64(2)] = []any{signature.HeaderSigningScheme, signature.HeaderAuthenticSigningTime}
		}), rule: "ATTR-5"},
		{name: "ATTR-1 unknown scheme", raw: edit(func(p, u map[any]any) { p[signature.HeaderSigningScheme] = "notary.other" }), rule: "ATTR-1"},
		{name: "ATTR-1 scheme not text", raw: edit(func(p, u map[any]any) { p[signature.HeaderSigningScheme] = []byte("notary.x509") }), rule: "ATTR-1"},
		{name: "COSE-3 tag 1 around text (go-cose refuses it first)", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderSigningTime] = cbor.Tag{Number: 1, Content: "1700000000"}
		})},
		{name: "COSE-3 tag 1 around a fractional float is tolerated", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderSigningTime] = cbor.Tag{Number: 1, Content: float64(f.now.Unix()) + 0.5}
		}), accept: true},
		{name: "COSE-3 tag 1 around NaN", raw: edit(func(p, u map[any]any) {
			p[signature.HeaderSigningTime] = cbor.Tag{Number: 1, Content: float64(0) / zero()}
		}), rule: "COSE-3"},
		{name: "COSE-4 x5chain missing", raw: edit(func(p, u map[any]any) { delete(u, int64(33)) }), rule: "COSE-4"},
		{name: "COSE-4 x5chain empty", raw: edit(func(p, u map[any]any) { u[int64(33)] = []any{} }), rule: "COSE-4"},
		{name: "COSE-4 x5chain entry not a bstr", raw: edit(func(p, u map[any]any) { u[int64(33)] = []any{"MIIB"} }), rule: "COSE-4"},
		{name: "COSE-4 x5chain entry not a certificate", raw: edit(func(p, u map[any]any) {
			u[int64(33)] = append([]any{}, append(u[int64(33)].([]any), []byte("junk"))...)
		}), rule: "COSE-4"},
		{name: "COSE-4 timestamp signature as text", raw: edit(func(p, u map[any]any) { u[signature.HeaderTimestampSignature] = "MIIB" }), rule: "COSE-4"},
		{name: "COSE-4 signing agent as bytes", raw: edit(func(p, u map[any]any) { u[signature.HeaderSigningAgent] = []byte("a") }), rule: "COSE-4"},
		{name: "unknown unprotected labels are ignored", raw: edit(func(p, u map[any]any) { u[int64(4)] = []byte("kid"); u["com.example"] = int64(1) }), accept: true},
		{name: "COSE-5 signature by another key", raw: func(t *testing.T) []byte {
			return envtest.COSE(t, testpki.Key(t, "ec-256", true), f.alg, envtest.MustCBOR(t, f.protected()), envtest.MustCBOR(t, f.unprotected()), envtest.Payload(), true)
		}, rule: "COSE-5"},
		{name: "COSE-5 ECDSA signature in DER", raw: func(t *testing.T) []byte {
			p := envtest.MustCBOR(t, f.protected())
			tbs := envtest.MustCBOR(t, []any{"Signature1", p, []byte{}, envtest.Payload()})
			h := crypto.SHA256.New()
			h.Write(tbs)
			r, s, err := ecdsa.Sign(rand.Reader, f.s.Key.(*ecdsa.PrivateKey), h.Sum(nil))
			if err != nil {
				t.Fatal(err)
			}
			der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
			return envtest.COSEWithSignature(t, p, envtest.MustCBOR(t, f.unprotected()), envtest.Payload(), der, true)
		}, rule: "COSE-5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := envelope.Open(cose.Format{}, tc.raw(t))
			if tc.accept {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			wantEnvErr(t, err, tc.rule)
		})
	}
}

func zero() float64 { return 0 }

// TestCOSETC02: an alg other than the one bound to the leaf key fails even
// though the signature verifies (ALG-2).
func TestCOSETC02(t *testing.T) {
	f := newCOSEFixture(t, signature.KeySpecRSA2048)
	p := f.protected()
	p[int64(1)] = envtest.COSEAlg(signature.AlgorithmPS384)
	raw := envtest.COSE(t, f.s.Key, signature.AlgorithmPS384, envtest.MustCBOR(t, p), envtest.MustCBOR(t, f.unprotected()), envtest.Payload(), true)
	if _, err := (cose.Format{}).Decode(raw); err != nil {
		t.Fatalf("the signature itself should verify under PS384: %v", err)
	}
	_, err := envelope.Open(cose.Format{}, raw)
	wantEnvErr(t, err, "ALG-2")
}

// TestCOSEPSSSaltLength: COSE requires salt length = hash length (COSE-5).
func TestCOSEPSSSaltLength(t *testing.T) {
	f := newCOSEFixture(t, signature.KeySpecRSA2048)
	p := envtest.MustCBOR(t, f.protected())
	u := envtest.MustCBOR(t, f.unprotected())
	tbs := envtest.MustCBOR(t, []any{"Signature1", p, []byte{}, envtest.Payload()})
	h := crypto.SHA256.New()
	h.Write(tbs)
	for _, salt := range []int{rsa.PSSSaltLengthAuto, 20} {
		sig, err := rsa.SignPSS(rand.Reader, f.s.Key.(*rsa.PrivateKey), crypto.SHA256, h.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		_, err = envelope.Open(cose.Format{}, envtest.COSEWithSignature(t, p, u, envtest.Payload(), sig, true))
		wantEnvErr(t, err, "COSE-5")
	}
}

// TestCOSEExtendedAttributes: extended attributes come back with their
// criticality; unknown critical ones are returned for the verifier to
// reject (ATTR-3, TC-22 integrity side). Map values get string keys so
// they can be passed on as JSON.
func TestCOSEExtendedAttributes(t *testing.T) {
	f := newCOSEFixture(t, signature.KeySpecEC256)
	p := f.protected()
	p["com.example.policy"] = "strict"
	p["com.example.obj"] = map[string]any{"k": []any{true, int64(-3)}}
	p["com.example.intmap"] = map[any]any{int64(1): "one"}
	p[int64(16)] = "application/x" // a non-critical registered label is ignored
	p[int64(2)] = []any{signature.HeaderSigningScheme, "com.example.policy"}
	c, err := envelope.Open(cose.Format{}, f.build(t, p, f.unprotected(), true))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]signature.Attribute{}
	for _, a := range c.Signed.ExtendedAttributes {
		got[a.Key] = a
	}
	if len(got) != 3 || !got["com.example.policy"].Critical || got["com.example.obj"].Critical {
		t.Fatalf("attributes %+v", c.Signed.ExtendedAttributes)
	}
	if _, ok := got["com.example.obj"].Value.(map[string]any); !ok {
		t.Errorf("map value decoded as %T", got["com.example.obj"].Value)
	}
	if _, ok := got["com.example.intmap"].Value.(map[any]any); !ok {
		t.Errorf("int-keyed map decoded as %T", got["com.example.intmap"].Value)
	}
}
