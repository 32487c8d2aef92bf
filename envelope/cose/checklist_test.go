package cose_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/signature"
)

type produced struct {
	name string
	raw  []byte
	req  *signature.SignRequest
	s    *envtest.Signer
}

func produce(t *testing.T) []produced {
	t.Helper()
	var out []produced
	for i, ks := range signature.KeySpecs {
		s, _ := envtest.NewSigner(t, ks)
		req := envtest.Request(s)
		if i%2 == 0 {
			req.Expiry = req.SigningTime.Add(24 * time.Hour)
		}
		if i%3 == 0 {
			req.SigningScheme = signature.SchemeX509SigningAuthority
		}
		raw, err := envelope.Sign(context.Background(), cose.Format{}, req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, produced{name: ks.String(), raw: raw, req: req, s: s})
	}
	return out
}

// strict decodes with the checks COSE-6 demands of a producer's output.
var strict, _ = cbor.DecOptions{
	DupMapKey:   cbor.DupMapKeyEnforcedAPF,
	IndefLength: cbor.IndefLengthForbidden,
	IntDec:      cbor.IntDecConvertSignedOrFail,
}.DecMode()

// elements splits a COSE_Sign1_Tagged envelope into its four raw elements.
func elements(t *testing.T, raw []byte) [4]cbor.RawMessage {
	t.Helper()
	var tag cbor.RawTag
	if err := strict.Unmarshal(raw, &tag); err != nil || tag.Number != 18 {
		t.Fatalf("not tag 18: %v", err)
	}
	var arr []cbor.RawMessage
	if err := strict.Unmarshal(tag.Content, &arr); err != nil || len(arr) != 4 {
		t.Fatalf("content is not a 4-element array: %v", err)
	}
	return [4]cbor.RawMessage{arr[0], arr[1], arr[2], arr[3]}
}

func bstr(t *testing.T, raw cbor.RawMessage) []byte {
	t.Helper()
	if len(raw) == 0 || raw[0]>>5 != 2 {
		t.Fatalf("not a bstr: % x", raw[:min(len(raw), 4)])
	}
	var b []byte
	if err := strict.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func protectedOf(t *testing.T, raw []byte) map[any]cbor.RawMessage {
	t.Helper()
	var m map[any]cbor.RawMessage
	if err := strict.Unmarshal(bstr(t, elements(t, raw)[0]), &m); err != nil {
		t.Fatalf("protected header: %v", err)
	}
	return m
}

func textOf(t *testing.T, raw cbor.RawMessage) string {
	t.Helper()
	if len(raw) == 0 || raw[0]>>5 != 3 {
		t.Fatalf("not a tstr: % x", raw)
	}
	var s string
	if err := strict.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCOSEChecklist is the producer-side COSE byte-level checklist of
// digest §2.2, one subtest per item, over envelopes of every algorithm.
func TestCOSEChecklist(t *testing.T) {
	envs := produce(t)
	each := func(t *testing.T, check func(t *testing.T, p produced)) {
		for _, p := range envs {
			t.Run(p.name, func(t *testing.T) { check(t, p) })
		}
	}
	t.Run("COSE-1 byte 0 is 0xD2 (tag 18) and byte 1 is 0x84", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			if p.raw[0] != 0xd2 || p.raw[1] != 0x84 {
				t.Fatalf("starts % x", p.raw[:2])
			}
		})
	})
	t.Run("COSE-2/6 protected is a bstr map with 1, 2, 3 and signingScheme, no duplicates, definite lengths", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			m := protectedOf(t, p.raw) // strict decoding rejects duplicates and indefinite lengths
			for _, k := range []any{int64(1), int64(2), int64(3), "io.cncf.notary.signingScheme"} {
				if _, ok := m[k]; !ok {
					t.Errorf("missing label %v", k)
				}
			}
		})
	})
	t.Run("COSE-2 alg matches the leaf key and content type is the payload media type", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			m := protectedOf(t, p.raw)
			var alg int64
			if err := strict.Unmarshal(m[int64(1)], &alg); err != nil || m[int64(1)][0]>>5 > 1 {
				t.Fatalf("alg is not an int: % x", m[int64(1)])
			}
			want := map[signature.KeySpec]int64{
				signature.KeySpecRSA2048: -37, signature.KeySpecRSA3072: -38, signature.KeySpecRSA4096: -39,
				signature.KeySpecEC256: -7, signature.KeySpecEC384: -35, signature.KeySpecEC521: -36,
			}[p.s.Spec]
			if alg != want {
				t.Errorf("alg %d, want %d", alg, want)
			}
			if cty := textOf(t, m[int64(3)]); cty != "application/vnd.cncf.notary.payload.v1+json" {
				t.Errorf("content type %q", cty)
			}
		})
	})
	t.Run("COSE-2 crit holds signingScheme, expiry iff present, authenticSigningTime iff SA, no labels 0-8; ATTR-2 not the informational signingTime", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			m := protectedOf(t, p.raw)
			var crit []any
			if err := strict.Unmarshal(m[int64(2)], &crit); err != nil || m[int64(2)][0]>>5 != 4 {
				t.Fatalf("crit is not an array: %v", err)
			}
			set := map[any]bool{}
			for _, e := range crit {
				if n, ok := e.(int64); ok && n >= 0 && n <= 8 {
					t.Errorf("crit lists %d", n)
				}
				set[e] = true
			}
			if set["io.cncf.notary.signingTime"] {
				t.Errorf("crit lists the informational signingTime: %v", crit)
			}
			_, hasExpiry := m["io.cncf.notary.expiry"]
			sa := textOf(t, m["io.cncf.notary.signingScheme"]) == "notary.x509.signingAuthority"
			if !set["io.cncf.notary.signingScheme"] || set["io.cncf.notary.expiry"] != hasExpiry ||
				set["io.cncf.notary.authenticSigningTime"] != sa || hasExpiry != !p.req.Expiry.IsZero() {
				t.Fatalf("crit %v", crit)
			}
			_, st := m["io.cncf.notary.signingTime"]
			_, ast := m["io.cncf.notary.authenticSigningTime"]
			if st == sa || ast != sa {
				t.Errorf("time headers do not follow the scheme: signingTime %v authenticSigningTime %v", st, ast)
			}
		})
	})
	t.Run("COSE-2 times are 0xC1 followed by an integer", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			m := protectedOf(t, p.raw)
			n := 0
			for _, k := range []string{"io.cncf.notary.signingTime", "io.cncf.notary.authenticSigningTime", "io.cncf.notary.expiry"} {
				v, ok := m[k]
				if !ok {
					continue
				}
				n++
				if v[0] != 0xc1 || v[1]>>5 > 1 {
					t.Errorf("%s encoded as % x", k, v)
				}
				var secs int64
				if err := strict.Unmarshal(v[1:], &secs); err != nil {
					t.Fatal(err)
				}
				want := p.req.SigningTime
				if k == "io.cncf.notary.expiry" {
					want = p.req.Expiry
				}
				if secs != want.Unix() {
					t.Errorf("%s = %d, want %d", k, secs, want.Unix())
				}
			}
			if n == 0 {
				t.Fatal("no time headers")
			}
		})
	})
	t.Run("COSE-4 unprotected label 33 is an array of DER certificates, leaf first", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			var u map[any]cbor.RawMessage
			if err := strict.Unmarshal(elements(t, p.raw)[1], &u); err != nil {
				t.Fatal(err)
			}
			x5 := u[int64(33)]
			if len(x5) == 0 || x5[0]>>5 != 4 {
				t.Fatalf("x5chain is not an array: % x", x5[:min(len(x5), 2)])
			}
			var chain []cbor.RawMessage
			if err := strict.Unmarshal(x5, &chain); err != nil {
				t.Fatal(err)
			}
			if len(chain) != len(p.s.Chain) {
				t.Fatalf("%d certificates", len(chain))
			}
			for i, c := range chain {
				cert, err := x509.ParseCertificate(bstr(t, c))
				if err != nil || !cert.Equal(p.s.Chain[i]) {
					t.Fatalf("x5chain[%d] (%v)", i, err)
				}
			}
			if textOf(t, u["io.cncf.notary.signingAgent"]) != p.req.SigningAgent {
				t.Error("signing agent")
			}
			if _, ok := u[int64(2)]; ok {
				t.Error("crit in the unprotected bucket")
			}
		})
	})
	t.Run("COSE-1 payload is the embedded payload bytes and the signature is non-empty", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			e := elements(t, p.raw)
			if !bytes.Equal(bstr(t, e[2]), p.req.Payload) {
				t.Error("payload differs from the request")
			}
			if len(bstr(t, e[3])) == 0 {
				t.Error("empty signature")
			}
		})
	})
	t.Run("COSE-5 signature verifies over Sig_structure with the leaf key; PSS salt = hash; ECDSA r||s", func(t *testing.T) {
		each(t, func(t *testing.T, p produced) {
			e := elements(t, p.raw)
			em, _ := cbor.CoreDetEncOptions().EncMode()
			tbs, err := em.Marshal([]any{"Signature1", bstr(t, e[0]), []byte{}, bstr(t, e[2])})
			if err != nil {
				t.Fatal(err)
			}
			sig := bstr(t, e[3])
			alg := p.s.Spec.Algorithm()
			h := alg.Hash().New()
			h.Write(tbs)
			digest := h.Sum(nil)
			switch pub := p.s.Chain[0].PublicKey.(type) {
			case *rsa.PublicKey:
				if err := rsa.VerifyPSS(pub, alg.Hash(), digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
					t.Fatal(err)
				}
			case *ecdsa.PublicKey:
				size := (pub.Curve.Params().BitSize + 7) / 8
				if len(sig) != 2*size {
					t.Fatalf("ECDSA signature is %d bytes, want %d", len(sig), 2*size)
				}
				if !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
					t.Fatal("ECDSA signature does not verify")
				}
			}
		})
	})
}

// TestCOSEEncodeRejects: Encode refuses requests it cannot encode.
func TestCOSEEncodeRejects(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	tests := []struct {
		name   string
		mutate func(r *signature.SignRequest)
	}{
		{name: "empty payload", mutate: func(r *signature.SignRequest) { r.Payload = nil }},
		{name: "extended attribute named signingScheme", mutate: func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: signature.HeaderSigningScheme, Value: "x"}}
		}},
		{name: "unencodable attribute value", mutate: func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: "com.example.ch", Value: make(chan int)}}
		}},
		{name: "unknown scheme", mutate: func(r *signature.SignRequest) { r.SigningScheme = "x" }},
		{name: "no signer", mutate: func(r *signature.SignRequest) { r.Signer = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := envtest.Request(s)
			tc.mutate(req)
			if raw, err := (cose.Format{}).Encode(context.Background(), req); err == nil {
				t.Fatalf("encoded % x", raw)
			}
		})
	}
}
