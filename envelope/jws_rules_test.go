package envelope_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// jwsFixture crafts JWS envelopes signed by a real test chain.
type jwsFixture struct {
	s   *envtest.Signer
	alg signature.Algorithm
	now time.Time
}

func newJWSFixture(t *testing.T, ks signature.KeySpec) *jwsFixture {
	s, _ := envtest.NewSigner(t, ks)
	return &jwsFixture{s: s, alg: ks.Algorithm(), now: envtest.Now()}
}

func (f *jwsFixture) header() map[string]any { return envtest.ProtectedJWS(f.alg, f.now) }

func (f *jwsFixture) unprotected() map[string]any {
	return map[string]any{"x5c": envtest.X5C(f.s.Chain)}
}

// build signs hdr (a map, or raw JSON bytes) over the standard payload.
func (f *jwsFixture) build(t *testing.T, hdr any) []byte {
	t.Helper()
	raw, ok := hdr.([]byte)
	if !ok {
		raw = envtest.MustJSON(t, hdr)
	}
	return envtest.JWS(t, f.s.Key, f.alg, envtest.B64(raw), envtest.B64(envtest.Payload()), f.unprotected())
}

func TestJWSFixtureIsValid(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecRSA2048)
	if _, err := envelope.Open(jws.Format{}, f.build(t, f.header())); err != nil {
		t.Fatalf("hand-built envelope rejected: %v", err)
	}
}

// TestJWSTC01 covers TC-01 (integrity side): crit and expiry faults.
func TestJWSTC01(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecRSA2048)
	tests := []struct {
		name string
		edit func(h map[string]any)
		rule string
	}{
		{name: "a crit lacks signingScheme", edit: func(h map[string]any) {
			h["com.example.x"] = "v"
			h["crit"] = []string{"com.example.x"}
		}, rule: "JWS-5"},
		{name: "b expiry present but not critical", edit: func(h map[string]any) {
			h[signature.HeaderExpiry] = f.now.Add(time.Hour).Format(time.RFC3339)
		}, rule: "JWS-5"},
		{name: "c expiry equals signing time", edit: func(h map[string]any) {
			h[signature.HeaderExpiry] = f.now.Format(time.RFC3339)
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderExpiry}
		}, rule: "ATTR-5"},
		{name: "c expiry before signing time", edit: func(h map[string]any) {
			h[signature.HeaderExpiry] = f.now.Add(-time.Second).Format(time.RFC3339)
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderExpiry}
		}, rule: "ATTR-5"},
		{name: "d crit lists signingTime", edit: func(h map[string]any) {
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderSigningTime}
		}, rule: "JWS-5"},
		{name: "crit lists an absent expiry", edit: func(h map[string]any) {
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderExpiry}
		}, rule: "JWS-5"},
		{name: "crit lists a registered header", edit: func(h map[string]any) {
			h["crit"] = []string{signature.HeaderSigningScheme, "alg"}
		}, rule: "JWS-5"},
		{name: "crit missing", edit: func(h map[string]any) { delete(h, "crit") }, rule: "JWS-4"},
		{name: "crit empty", edit: func(h map[string]any) { h["crit"] = []string{} }, rule: "JWS-4"},
		{name: "crit not an array", edit: func(h map[string]any) { h["crit"] = signature.HeaderSigningScheme }, rule: "JWS-4"},
		{name: "crit with a non-string", edit: func(h map[string]any) { h["crit"] = []any{signature.HeaderSigningScheme, 1} }, rule: "JWS-4"},
		{name: "SA scheme without authenticSigningTime critical", edit: func(h map[string]any) {
			h[signature.HeaderSigningScheme] = string(signature.SchemeX509SigningAuthority)
			delete(h, signature.HeaderSigningTime)
			h[signature.HeaderAuthenticSigningTime] = f.now.Format(time.RFC3339)
		}, rule: "JWS-5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := f.header()
			tc.edit(h)
			_, err := envelope.Open(jws.Format{}, f.build(t, h))
			wantEnvErr(t, err, tc.rule)
		})
	}
}

// TestJWSTC02 covers TC-02 (ALG-2, JWS-4): an alg other than the one bound
// to the leaf key, even with a cryptographically valid signature.
func TestJWSTC02(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecRSA2048)
	t.Run("PS384 with an RSA-2048 leaf", func(t *testing.T) {
		h := f.header()
		h["alg"] = "PS384"
		protected := envtest.B64(envtest.MustJSON(t, h))
		raw := envtest.JWS(t, f.s.Key, signature.AlgorithmPS384, protected, envtest.B64(envtest.Payload()), f.unprotected())
		if _, err := (jws.Format{}).Decode(raw); err != nil {
			t.Fatalf("the signature itself should verify under PS384: %v", err)
		}
		_, err := envelope.Open(jws.Format{}, raw)
		wantEnvErr(t, err, "ALG-2")
	})
	for _, alg := range []string{"none", "HS256", "RS256", "EdDSA", "ps256", ""} {
		t.Run("alg "+alg, func(t *testing.T) {
			h := f.header()
			h["alg"] = alg
			_, err := envelope.Open(jws.Format{}, f.build(t, h))
			wantEnvErr(t, err, "JWS-4")
		})
	}
	t.Run("alg missing", func(t *testing.T) {
		h := f.header()
		delete(h, "alg")
		_, err := envelope.Open(jws.Format{}, f.build(t, h))
		wantEnvErr(t, err, "JWS-4")
	})
}

// TestJWSTC03 covers TC-03: encoding faults.
func TestJWSTC03(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecEC256)
	payload := envtest.B64(envtest.Payload())
	t.Run("a protected with = padding", func(t *testing.T) {
		hdr := envtest.MustJSON(t, f.header())
		for len(hdr)%3 == 0 { // make sure padding is needed
			hdr = append(hdr, ' ')
		}
		protected := base64.URLEncoding.EncodeToString(hdr)
		if !strings.HasSuffix(protected, "=") {
			t.Fatal("test setup: no padding")
		}
		_, err := envelope.Open(jws.Format{}, envtest.JWS(t, f.s.Key, f.alg, protected, payload, f.unprotected()))
		wantEnvErr(t, err, "JWS-2")
	})
	t.Run("b x5c in unpadded base64url", func(t *testing.T) {
		var x5c []string
		for _, c := range f.s.Chain {
			x5c = append(x5c, base64.RawURLEncoding.EncodeToString(c.Raw))
		}
		if x5c[0] == base64.StdEncoding.EncodeToString(f.s.Chain[0].Raw) {
			t.Fatal("test setup: encodings coincide")
		}
		raw := envtest.JWS(t, f.s.Key, f.alg, envtest.B64(envtest.MustJSON(t, f.header())), payload, map[string]any{"x5c": x5c})
		_, err := envelope.Open(jws.Format{}, raw)
		wantEnvErr(t, err, "JWS-6")
	})
	t.Run("c ECDSA signature in DER", func(t *testing.T) {
		protected := envtest.B64(envtest.MustJSON(t, f.header()))
		sum := crypto.SHA256.New()
		sum.Write([]byte(protected + "." + payload))
		r, s, err := ecdsa.Sign(rand.Reader, f.s.Key.(*ecdsa.PrivateKey), sum.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
		der, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
		if err != nil {
			t.Fatal(err)
		}
		raw := envtest.JWSWithSignature(t, protected, payload, f.unprotected(), envtest.B64(der))
		_, err = envelope.Open(jws.Format{}, raw)
		wantEnvErr(t, err, "JWS-7")
	})
}

// TestJWSDecodeRules covers the remaining JWS-1..9 and ATTR-1/5 rules.
func TestJWSDecodeRules(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecEC256)
	good := f.build(t, f.header())
	protected := envtest.B64(envtest.MustJSON(t, f.header()))
	payload := envtest.B64(envtest.Payload())
	sign := func(t *testing.T, protected, payload string, header any) []byte {
		return envtest.JWS(t, f.s.Key, f.alg, protected, payload, header)
	}
	tests := []struct {
		name string
		raw  func(t *testing.T) []byte
		rule string // "" = accepted
	}{
		{name: "JWS-1 compact serialization", raw: func(t *testing.T) []byte {
			var m map[string]any
			mustUnmarshal(t, good, &m)
			return []byte(m["protected"].(string) + "." + m["payload"].(string) + "." + m["signature"].(string))
		}, rule: "JWS-1"},
		{name: "JWS-1 general serialization", raw: func(t *testing.T) []byte {
			var m map[string]any
			mustUnmarshal(t, good, &m)
			m["signatures"] = []any{map[string]any{"protected": m["protected"], "signature": m["signature"]}}
			return envtest.MustJSON(t, m)
		}, rule: "JWS-1"},
		{name: "JWS-1 missing signature", raw: func(t *testing.T) []byte {
			var m map[string]any
			mustUnmarshal(t, good, &m)
			delete(m, "signature")
			return envtest.MustJSON(t, m)
		}, rule: "JWS-1"},
		{name: "JWS-1 missing header", raw: func(t *testing.T) []byte {
			var m map[string]any
			mustUnmarshal(t, good, &m)
			delete(m, "header")
			return envtest.MustJSON(t, m)
		}, rule: "JWS-1"},
		{name: "JWS-1 duplicate top-level member", raw: func(t *testing.T) []byte {
			return []byte(strings.Replace(string(good), `{"header"`, `{"payload":"e30","header"`, 1))
		}, rule: "JWS-1"},
		{name: "JWS-1 unknown top-level and header members are ignored", raw: func(t *testing.T) []byte {
			h := f.unprotected()
			h["kid"] = "k1"
			raw := sign(t, protected, payload, h)
			return []byte(strings.Replace(string(raw), `{`, `{"extra":[1,2],`, 1))
		}},
		{name: "JWS-1 not JSON", raw: func(*testing.T) []byte { return []byte("\x00\x01") }, rule: "JWS-1"},
		{name: "JWS-2 payload with padding", raw: func(t *testing.T) []byte {
			p := envtest.Payload()
			for len(p)%3 == 0 {
				p = append(p, ' ')
			}
			return sign(t, protected, base64.URLEncoding.EncodeToString(p), f.unprotected())
		}, rule: "JWS-2"},
		{name: "JWS-2 payload in standard base64", raw: func(t *testing.T) []byte {
			return sign(t, protected, base64.RawStdEncoding.EncodeToString([]byte(`{"a":"??>>??"}`)), f.unprotected())
		}, rule: "JWS-2"},
		{name: "JWS-2 line break in protected", raw: func(t *testing.T) []byte {
			return sign(t, protected[:10]+"\n"+protected[10:], payload, f.unprotected())
		}, rule: "JWS-2"},
		{name: "JWS-2 empty payload", raw: func(t *testing.T) []byte { return sign(t, protected, "", f.unprotected()) }, rule: "JWS-2"},
		{name: "JWS-2 empty signature", raw: func(t *testing.T) []byte {
			return envtest.JWSWithSignature(t, protected, payload, f.unprotected(), "")
		}, rule: "JWS-2"},
		{name: "JWS-4 protected header not an object", raw: func(t *testing.T) []byte {
			return sign(t, envtest.B64([]byte(`["alg"]`)), payload, f.unprotected())
		}, rule: "JWS-4"},
		{name: "JWS-4 duplicate protected member", raw: func(t *testing.T) []byte {
			hdr := string(envtest.MustJSON(t, f.header()))
			hdr = strings.Replace(hdr, `{`, `{"alg":"none",`, 1)
			return sign(t, envtest.B64([]byte(hdr)), payload, f.unprotected())
		}, rule: "JWS-4"},
		{name: "JWS-4 missing cty", raw: func(t *testing.T) []byte {
			h := f.header()
			delete(h, "cty")
			return f.build(t, h)
		}, rule: "JWS-4"},
		{name: "§2.3 wrong cty", raw: func(t *testing.T) []byte {
			h := f.header()
			h["cty"] = "application/json"
			return f.build(t, h)
		}, rule: "§2.3"},
		{name: "JWS-4 signing time not RFC 3339", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderSigningTime] = f.now.Format(time.RFC1123)
			return f.build(t, h)
		}, rule: "JWS-4"},
		{name: "JWS-4 signing time as a number", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderSigningTime] = f.now.Unix()
			return f.build(t, h)
		}, rule: "JWS-4"},
		{name: "JWS-9 offsets and fractions are accepted", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderSigningTime] = f.now.In(time.FixedZone("", -(7*3600 + 30*60))).Add(250 * time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
			h[signature.HeaderExpiry] = f.now.Add(time.Hour).In(time.FixedZone("", 8*3600)).Format(time.RFC3339)
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderExpiry}
			return f.build(t, h)
		}},
		{name: "ATTR-1 missing scheme", raw: func(t *testing.T) []byte {
			h := f.header()
			delete(h, signature.HeaderSigningScheme)
			return f.build(t, h)
		}, rule: "ATTR-1"},
		{name: "ATTR-1 unknown scheme", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderSigningScheme] = "notary.x509.other"
			return f.build(t, h)
		}, rule: "ATTR-1"},
		{name: "ATTR-5 x509 without signing time", raw: func(t *testing.T) []byte {
			h := f.header()
			delete(h, signature.HeaderSigningTime)
			return f.build(t, h)
		}, rule: "ATTR-5"},
		{name: "ATTR-5 x509 with authentic signing time", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderAuthenticSigningTime] = f.now.Format(time.RFC3339)
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderAuthenticSigningTime}
			return f.build(t, h)
		}, rule: "ATTR-5"},
		{name: "ATTR-5 SA scheme with signing time", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderSigningScheme] = string(signature.SchemeX509SigningAuthority)
			h[signature.HeaderAuthenticSigningTime] = f.now.Format(time.RFC3339)
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderAuthenticSigningTime}
			return f.build(t, h)
		}, rule: "ATTR-5"},
		{name: "ATTR-5 SA scheme without authentic signing time", raw: func(t *testing.T) []byte {
			h := f.header()
			h[signature.HeaderSigningScheme] = string(signature.SchemeX509SigningAuthority)
			delete(h, signature.HeaderSigningTime)
			return f.build(t, h)
		}, rule: "ATTR-5"},
		{name: "JWS-6 x5c missing", raw: func(t *testing.T) []byte {
			return sign(t, protected, payload, map[string]any{})
		}, rule: "JWS-6"},
		{name: "JWS-6 x5c empty", raw: func(t *testing.T) []byte {
			return sign(t, protected, payload, map[string]any{"x5c": []string{}})
		}, rule: "JWS-6"},
		{name: "JWS-6 x5c entry with a line break", raw: func(t *testing.T) []byte {
			x5c := envtest.X5C(f.s.Chain)
			x5c[1] = x5c[1][:64] + "\r\n" + x5c[1][64:]
			return sign(t, protected, payload, map[string]any{"x5c": x5c})
		}, rule: "JWS-6"},
		{name: "JWS-6 x5c entry not a certificate", raw: func(t *testing.T) []byte {
			x5c := envtest.X5C(f.s.Chain)
			x5c[2] = base64.StdEncoding.EncodeToString([]byte("not a certificate"))
			return sign(t, protected, payload, map[string]any{"x5c": x5c})
		}, rule: "JWS-6"},
		{name: "JWS-6 timestamp in base64url", raw: func(t *testing.T) []byte {
			h := f.unprotected()
			h[signature.HeaderTimestampSignature] = base64.RawURLEncoding.EncodeToString([]byte{0xfb, 0xff, 0x01})
			return sign(t, protected, payload, h)
		}, rule: "JWS-6"},
		{name: "JWS-6 signing agent not a string", raw: func(t *testing.T) []byte {
			h := f.unprotected()
			h[signature.HeaderSigningAgent] = 7
			return sign(t, protected, payload, h)
		}, rule: "JWS-6"},
		{name: "JWS-7 signature by another key", raw: func(t *testing.T) []byte {
			other := testpki.Key(t, "ec-256", true)
			return envtest.JWS(t, other, f.alg, protected, payload, f.unprotected())
		}, rule: "JWS-7"},
		{name: "JWS-7 ECDSA signature too short", raw: func(t *testing.T) []byte {
			var m map[string]any
			mustUnmarshal(t, good, &m)
			sig, _ := base64.RawURLEncoding.DecodeString(m["signature"].(string))
			return envtest.JWSWithSignature(t, protected, payload, f.unprotected(), envtest.B64(sig[1:]))
		}, rule: "JWS-7"},
		{name: "JWS-8 payload not a JSON object", raw: func(t *testing.T) []byte {
			return sign(t, protected, envtest.B64([]byte(`"targetArtifact"`)), f.unprotected())
		}, rule: "JWS-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := envelope.Open(jws.Format{}, tc.raw(t))
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			wantEnvErr(t, err, tc.rule)
		})
	}
}

// TestJWSPSSSaltLength: JWS verification accepts any PSS salt length
// (JWS-7 [REF]); COSE does not (COSE-5), see TestCOSEPSSSaltLength.
func TestJWSPSSSaltLength(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecRSA2048)
	protected := envtest.B64(envtest.MustJSON(t, f.header()))
	payload := envtest.B64(envtest.Payload())
	h := crypto.SHA256.New()
	h.Write([]byte(protected + "." + payload))
	sig, err := rsa.SignPSS(rand.Reader, f.s.Key.(*rsa.PrivateKey), crypto.SHA256, h.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envelope.Open(jws.Format{}, envtest.JWSWithSignature(t, protected, payload, f.unprotected(), envtest.B64(sig))); err != nil {
		t.Fatalf("maximum salt length rejected: %v", err)
	}
}

// TestJWSExtendedAttributes: extended attributes come back with their
// criticality; unknown critical ones are returned for the verifier to
// reject (ATTR-3, TC-22 integrity side), not refused here.
func TestJWSExtendedAttributes(t *testing.T) {
	f := newJWSFixture(t, signature.KeySpecEC256)
	h := f.header()
	h["com.example.policy"] = "strict"
	h["com.example.count"] = json.Number("12345678901234567890")
	h["com.example.obj"] = map[string]any{"k": []any{true, nil}}
	h["crit"] = []string{signature.HeaderSigningScheme, "com.example.policy"}
	c, err := envelope.Open(jws.Format{}, f.build(t, h))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]signature.Attribute{}
	for _, a := range c.Signed.ExtendedAttributes {
		got[a.Key] = a
	}
	if len(got) != 3 || !got["com.example.policy"].Critical || got["com.example.count"].Critical || got["com.example.obj"].Critical {
		t.Fatalf("attributes %+v", c.Signed.ExtendedAttributes)
	}
	if v := got["com.example.policy"].Value; v != "strict" {
		t.Errorf("value %v", v)
	}
	if v := got["com.example.count"].Value; v == nil || toString(v) != "12345678901234567890" {
		t.Errorf("large number not kept exactly: %v", v)
	}
}

func toString(v any) string {
	if s, ok := v.(interface{ String() string }); ok {
		return s.String()
	}
	return ""
}
