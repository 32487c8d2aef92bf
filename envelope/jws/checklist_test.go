package jws_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/signature"
)

// produced is one envelope under inspection with what was asked of it.
type produced struct {
	name string
	raw  []byte
	req  *signature.SignRequest
	s    *envtest.Signer
}

// produce signs envelopes covering every algorithm, both schemes, with and
// without expiry.
func produce(t *testing.T) []produced {
	t.Helper()
	var out []produced
	for i, ks := range signature.KeySpecs {
		s, _ := envtest.NewSigner(t, ks)
		req := envtest.Request(s)
		req.SigningTime = req.SigningTime.In(time.FixedZone("", 8*3600))
		if i%2 == 0 {
			req.Expiry = req.SigningTime.Add(24 * time.Hour)
		}
		if i%3 == 0 {
			req.SigningScheme = signature.SchemeX509SigningAuthority
		}
		raw, err := envelope.Sign(context.Background(), jws.Format{}, req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, produced{name: ks.String(), raw: raw, req: req, s: s})
	}
	return out
}

func parts(t *testing.T, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func str(t *testing.T, m map[string]json.RawMessage, k string) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(m[k], &s); err != nil {
		t.Fatalf("%s: %v", k, err)
	}
	return s
}

func protectedOf(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(str(t, parts(t, raw), "protected"))
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("protected header is not a JSON object: %v", err)
	}
	return h
}

func critOf(t *testing.T, h map[string]any) map[string]bool {
	t.Helper()
	list, ok := h["crit"].([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("crit is not a non-empty array: %v", h["crit"])
	}
	out := map[string]bool{}
	for _, e := range list {
		out[e.(string)] = true
	}
	return out
}

// TestJWSChecklist is the producer-side JWS byte-level checklist of digest
// §2.1, one subtest per item, over envelopes of every algorithm.
func TestJWSChecklist(t *testing.T) {
	envs := produce(t)
	each := func(t *testing.T, check func(t *testing.T, p produced)) {
		for _, p := range envs {
			t.Run(p.name, func(t *testing.T) { check(t, p) })
		}
	}
	t.Run("JWS-1 top-level keys are exactly payload, protected, header, signature", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			var keys []string
			for k := range parts(t, p.raw) {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if strings.Join(keys, ",") != "header,payload,protected,signature" {
				t.Fatalf("keys %v", keys)
			}
		})
	})
	t.Run("JWS-2 payload, protected and signature hold no =, +, / or whitespace", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			m := parts(t, p.raw)
			for _, k := range []string{"payload", "protected", "signature"} {
				if s := str(t, m, k); s == "" || strings.ContainsAny(s, "=+/ \t\r\n") {
					t.Errorf("%s = %q", k, s)
				}
			}
		})
	})
	t.Run("JWS-4 alg is one of six and matches the leaf key", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			h := protectedOf(t, p.raw)
			want := map[signature.KeySpec]string{
				signature.KeySpecRSA2048: "PS256", signature.KeySpecRSA3072: "PS384", signature.KeySpecRSA4096: "PS512",
				signature.KeySpecEC256: "ES256", signature.KeySpecEC384: "ES384", signature.KeySpecEC521: "ES512",
			}[p.s.Spec]
			if h["alg"] != want {
				t.Fatalf("alg %v, want %s", h["alg"], want)
			}
		})
	})
	t.Run("JWS-4 cty is the payload media type", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			if h := protectedOf(t, p.raw); h["cty"] != "application/vnd.cncf.notary.payload.v1+json" {
				t.Fatalf("cty %v", h["cty"])
			}
		})
	})
	t.Run("JWS-4 crit holds signingScheme, expiry iff present, authenticSigningTime iff SA; ATTR-2 not the informational signingTime", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			h := protectedOf(t, p.raw)
			crit := critOf(t, h)
			_, hasExpiry := h["io.cncf.notary.expiry"]
			sa := h["io.cncf.notary.signingScheme"] == "notary.x509.signingAuthority"
			if !crit["io.cncf.notary.signingScheme"] || crit["io.cncf.notary.expiry"] != hasExpiry ||
				crit["io.cncf.notary.authenticSigningTime"] != sa || hasExpiry != !p.req.Expiry.IsZero() {
				t.Fatalf("crit %v for header %v", crit, h)
			}
			for k := range crit {
				if k == "alg" || k == "cty" || k == "crit" || k == "io.cncf.notary.signingTime" {
					t.Errorf("crit lists %s", k)
				}
			}
		})
	})
	t.Run("ATTR-5 scheme selects the time header", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			h := protectedOf(t, p.raw)
			_, st := h["io.cncf.notary.signingTime"]
			_, ast := h["io.cncf.notary.authenticSigningTime"]
			switch h["io.cncf.notary.signingScheme"] {
			case "notary.x509":
				if !st || ast || p.req.SigningScheme == signature.SchemeX509SigningAuthority {
					t.Fatalf("header %v", h)
				}
			case "notary.x509.signingAuthority":
				if st || !ast || p.req.SigningScheme != signature.SchemeX509SigningAuthority {
					t.Fatalf("header %v", h)
				}
			default:
				t.Fatalf("scheme %v", h["io.cncf.notary.signingScheme"])
			}
		})
	})
	t.Run("JWS-9 times are RFC 3339 whole seconds with the signer's offset; expiry after signing time", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			h := protectedOf(t, p.raw)
			var signing, expiry time.Time
			for _, k := range []string{"io.cncf.notary.signingTime", "io.cncf.notary.authenticSigningTime", "io.cncf.notary.expiry"} {
				v, ok := h[k].(string)
				if !ok {
					continue
				}
				tm, err := time.Parse(time.RFC3339, v)
				if err != nil || strings.Contains(v, ".") || !strings.HasSuffix(v, "+08:00") {
					t.Fatalf("%s = %q (%v)", k, v, err)
				}
				if k == "io.cncf.notary.expiry" {
					expiry = tm
				} else {
					signing = tm
				}
			}
			if !signing.Equal(p.req.SigningTime) || (!expiry.IsZero() && !expiry.After(signing)) {
				t.Fatalf("signing %s expiry %s", signing, expiry)
			}
		})
	})
	t.Run("JWS-6 x5c is standard base64 DER, leaf first", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			var h struct {
				X5c []string `json:"x5c"`
			}
			if err := json.Unmarshal(parts(t, p.raw)["header"], &h); err != nil || len(h.X5c) == 0 {
				t.Fatalf("x5c %v (%v)", h.X5c, err)
			}
			for i, s := range h.X5c {
				der, err := base64.StdEncoding.Strict().DecodeString(s)
				if err != nil {
					t.Fatalf("x5c[%d]: %v", i, err)
				}
				c, err := x509.ParseCertificate(der)
				if err != nil || !c.Equal(p.s.Chain[i]) {
					t.Fatalf("x5c[%d] is not chain[%d] (%v)", i, i, err)
				}
			}
		})
	})
	t.Run("JWS-3/7 signature verifies over ASCII(protected.payload); PSS salt = hash length; ECDSA r||s", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			m := parts(t, p.raw)
			sig, err := base64.RawURLEncoding.DecodeString(str(t, m, "signature"))
			if err != nil {
				t.Fatal(err)
			}
			alg := p.s.Spec.Algorithm()
			h := alg.Hash().New()
			h.Write([]byte(str(t, m, "protected") + "." + str(t, m, "payload")))
			digest := h.Sum(nil)
			switch pub := p.s.Chain[0].PublicKey.(type) {
			case *rsa.PublicKey:
				opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.Hash()}
				if err := rsa.VerifyPSS(pub, alg.Hash(), digest, sig, opts); err != nil {
					t.Fatal(err)
				}
			case *ecdsa.PublicKey:
				size := (pub.Curve.Params().BitSize + 7) / 8
				if len(sig) != 2*size {
					t.Fatalf("ECDSA signature is %d bytes, want %d", len(sig), 2*size)
				}
				r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
				if !ecdsa.Verify(pub, digest, r, s) {
					t.Fatal("ECDSA signature does not verify")
				}
			default:
				t.Fatalf("key %T", pub)
			}
		})
	})
	t.Run("UATTR-2 no timestamp unless one is added; signing agent as given", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			var h map[string]any
			if err := json.Unmarshal(parts(t, p.raw)["header"], &h); err != nil {
				t.Fatal(err)
			}
			if _, ok := h["io.cncf.notary.timestampSignature"]; ok {
				t.Error("unexpected timestamp")
			}
			if h["io.cncf.notary.signingAgent"] != p.req.SigningAgent {
				t.Errorf("signing agent %v", h["io.cncf.notary.signingAgent"])
			}
		})
	})
	t.Run("JWS-8 payload is a JSON object with targetArtifact and sorted keys", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			b, err := base64.RawURLEncoding.DecodeString(str(t, parts(t, p.raw), "payload"))
			if err != nil {
				t.Fatal(err)
			}
			pl, err := signature.ParsePayload(b)
			if err != nil {
				t.Fatal(err)
			}
			if pl.TargetArtifact.Size != 16724 || pl.TargetArtifact.Digest == "" || pl.TargetArtifact.MediaType == "" {
				t.Fatalf("targetArtifact %+v", pl.TargetArtifact)
			}
			want := `{"targetArtifact":{"annotations":{"io.wabbit-networks.buildId":"123"},"digest":"sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333","mediaType":"application/vnd.oci.image.manifest.v1+json","size":16724}}`
			if string(b) != want {
				t.Fatalf("payload not canonical:\n%s", b)
			}
		})
	})
	t.Run("protected header keys are sorted", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			b, _ := base64.RawURLEncoding.DecodeString(str(t, parts(t, p.raw), "protected"))
			dec := json.NewDecoder(strings.NewReader(string(b)))
			var keys []string
			dec.Token()
			for dec.More() {
				k, _ := dec.Token()
				keys = append(keys, k.(string))
				var skip json.RawMessage
				dec.Decode(&skip)
			}
			if !sort.StringsAreSorted(keys) {
				t.Fatalf("keys %v", keys)
			}
		})
	})
}

// TestJWSEncodeRejects: Encode refuses requests it cannot encode.
func TestJWSEncodeRejects(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	tests := []struct {
		name   string
		mutate func(r *signature.SignRequest)
	}{
		{name: "payload not a JSON object", mutate: func(r *signature.SignRequest) { r.Payload = []byte(`[1]`) }},
		{name: "payload with duplicate keys", mutate: func(r *signature.SignRequest) { r.Payload = []byte(`{"a":1,"a":2}`) }},
		{name: "extended attribute named alg", mutate: func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: "alg", Value: "none"}}
		}},
		{name: "extended attribute named signingTime", mutate: func(r *signature.SignRequest) {
			r.SigningScheme = signature.SchemeX509SigningAuthority
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: signature.HeaderSigningTime, Value: "x"}}
		}},
		{name: "unknown scheme", mutate: func(r *signature.SignRequest) { r.SigningScheme = "x" }},
		{name: "no signer", mutate: func(r *signature.SignRequest) { r.Signer = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := envtest.Request(s)
			tc.mutate(req)
			if raw, err := (jws.Format{}).Encode(context.Background(), req); err == nil {
				t.Fatalf("encoded %s", raw)
			}
		})
	}
}
