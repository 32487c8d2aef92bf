package envelope_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/signature"
)

// TestOneSigningScheme (ATTR-4): an envelope carries exactly one signing
// scheme. A second signingScheme in the protected header, with either
// value, is refused in both formats; a valid envelope opens with the one
// scheme it names.
func TestOneSigningScheme(t *testing.T) {
	jf := newJWSFixture(t, signature.KeySpecEC256)
	cf := newCOSEFixture(t, signature.KeySpecEC256)
	for _, second := range []signature.SigningScheme{signature.SchemeX509, signature.SchemeX509SigningAuthority} {
		t.Run("jws/second scheme "+string(second), func(t *testing.T) {
			hdr := string(envtest.MustJSON(t, jf.header()))
			hdr = strings.Replace(hdr, "{", `{"`+signature.HeaderSigningScheme+`":"`+string(second)+`",`, 1)
			_, err := envelope.Open(jws.Format{}, jf.build(t, []byte(hdr)))
			wantEnvErr(t, err, "JWS-4")
		})
		t.Run("cose/second scheme "+string(second), func(t *testing.T) {
			p := appendPair(t, envtest.MustCBOR(t, cf.protected()), signature.HeaderSigningScheme, string(second))
			_, err := envelope.Open(cose.Format{}, cf.build(t, p, cf.unprotected(), true))
			wantEnvErr(t, err, "COSE-6")
		})
	}
	for _, f := range formats {
		t.Run(f.MediaType()+"/one scheme", func(t *testing.T) {
			s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
			raw, err := envelope.Sign(t.Context(), f, envtest.Request(s))
			if err != nil {
				t.Fatal(err)
			}
			c, err := envelope.Open(f, raw)
			if err != nil || c.Signed.SigningScheme != signature.SchemeX509 {
				t.Fatalf("scheme %q, err %v", c.Signed.SigningScheme, err)
			}
		})
	}
}

// TestSigningTimeNotCritical (ATTR-2): only claims the verifier must
// process are critical. signet marks signingScheme, expiry and
// authenticSigningTime critical and never the informational signingTime of
// a notary.x509 signature, nor an extended attribute its signer marked
// informational.
func TestSigningTimeNotCritical(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	req := envtest.Request(s)
	req.ExtendedSignedAttributes = []signature.Attribute{
		{Key: "com.example.info", Value: "informational"},
		{Key: "com.example.must", Critical: true, Value: "processed"},
	}
	for _, f := range formats {
		t.Run(f.MediaType(), func(t *testing.T) {
			raw, err := envelope.Sign(t.Context(), f, req)
			if err != nil {
				t.Fatal(err)
			}
			// Open must refuse the unknown critical attribute only in the
			// verifier (ATTR-3); the envelope reports criticality as signed.
			c, err := envelope.Open(f, raw)
			if err != nil {
				t.Fatal(err)
			}
			crit := map[string]bool{}
			for _, a := range c.Signed.ExtendedAttributes {
				crit[a.Key] = a.Critical
			}
			if crit["com.example.info"] || !crit["com.example.must"] {
				t.Errorf("extended attribute criticality %v", crit)
			}
			if f.MediaType() == signature.MediaTypeJWS {
				var env struct{ Protected string }
				if err := json.Unmarshal(raw, &env); err != nil {
					t.Fatal(err)
				}
				hdr, _ := base64.RawURLEncoding.DecodeString(env.Protected)
				var h struct{ Crit []string }
				if err := json.Unmarshal(hdr, &h); err != nil {
					t.Fatal(err)
				}
				for _, k := range h.Crit {
					if k == signature.HeaderSigningTime || k == "com.example.info" {
						t.Errorf("crit lists the informational %s: %v", k, h.Crit)
					}
				}
			}
		})
	}
}

// TestPayloadParsedAfterSignature (PAY-6): the payload is parsed only after
// the signature verifies. A payload replaced by bytes that are not JSON,
// under the original signature, is a signature failure (JWS-7, COSE-5), not
// a payload parse error; signed and well formed, the same bytes are a
// payload error.
func TestPayloadParsedAfterSignature(t *testing.T) {
	garbage := []byte("not json {")
	t.Run("jws", func(t *testing.T) {
		f := newJWSFixture(t, signature.KeySpecEC256)
		protected := envtest.B64(envtest.MustJSON(t, f.header()))
		good := f.build(t, f.header())
		var m struct{ Signature string }
		mustUnmarshal(t, good, &m)
		_, err := envelope.Open(jws.Format{}, envtest.JWSWithSignature(t, protected, envtest.B64(garbage), f.unprotected(), m.Signature))
		wantEnvErr(t, err, "JWS-7")
		_, err = envelope.Open(jws.Format{}, envtest.JWS(t, f.s.Key, f.alg, protected, envtest.B64(garbage), f.unprotected()))
		wantEnvErr(t, err, "JWS-8")
	})
	t.Run("cose", func(t *testing.T) {
		f := newCOSEFixture(t, signature.KeySpecEC256)
		p, u := envtest.MustCBOR(t, f.protected()), envtest.MustCBOR(t, f.unprotected())
		tbs := envtest.MustCBOR(t, []any{"Signature1", p, []byte{}, envtest.Payload()})
		sig, err := signature.SignMessage(f.alg, f.s.Key, tbs)
		if err != nil {
			t.Fatal(err)
		}
		_, err = envelope.Open(cose.Format{}, envtest.COSEWithSignature(t, p, u, garbage, sig, true))
		wantEnvErr(t, err, "COSE-5")
		// Signed, the garbage payload opens (COSE does not parse it); the
		// verifier's payload step refuses it after the signature verified.
		c, err := envelope.Open(cose.Format{}, envtest.COSE(t, f.s.Key, f.alg, p, u, garbage, true))
		if err != nil {
			t.Fatalf("a signed non-JSON payload failed before payload parsing: %v", err)
		}
		if _, err := signature.ParsePayload(c.Payload); err == nil {
			t.Fatal("ParsePayload accepted a non-JSON payload")
		}
	})
}
