package envelope_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/signature"
)

// validSeeds signs one envelope per algorithm in format f, with expiry,
// an extended attribute and both schemes represented.
func validSeeds(f *testing.F, format envelope.Format) [][]byte {
	var out [][]byte
	for i, ks := range signature.KeySpecs {
		s, _ := envtest.NewSigner(f, ks)
		req := envtest.Request(s)
		req.Expiry = req.SigningTime.Add(time.Hour)
		req.ExtendedSignedAttributes = []signature.Attribute{{Key: "com.example.x", Value: "v", Critical: i%2 == 0}}
		if i%3 == 0 {
			req.SigningScheme = signature.SchemeX509SigningAuthority
		}
		raw, err := envelope.Sign(context.Background(), format, req)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// Fuzzing tip: inputs are envelopes of several KiB whose every execution
// verifies signatures, so minimizing a new input can take tens of seconds;
// run with -fuzzminimizetime=1s, e.g.
//
//	go test ./envelope -run '^$' -fuzz '^FuzzCOSEOpen$' -fuzztime 30s -fuzzminimizetime 1s

// checkOpen is the fuzz property: Open never panics, fails only with an
// EnvelopeError, and whatever it accepts is internally consistent.
func checkOpen(t *testing.T, format envelope.Format, data []byte) {
	c, err := envelope.Open(format, data)
	if err != nil {
		var ee *signature.EnvelopeError
		if !errors.As(err, &ee) {
			t.Fatalf("error is not an EnvelopeError: %T %v", err, err)
		}
		return
	}
	ks, err := signature.KeySpecFromCertificate(c.CertificateChain[0])
	if err != nil || ks.Algorithm() != c.Algorithm {
		t.Fatalf("accepted envelope with algorithm %s for leaf %v (%v)", c.Algorithm, ks, err)
	}
	if c.Signed.SigningTime.IsZero() || len(c.Payload) == 0 || len(c.Signature) == 0 ||
		c.PayloadContentType != signature.MediaTypePayloadV1 {
		t.Fatalf("accepted inconsistent content %+v", c)
	}
	if !c.Signed.Expiry.IsZero() && !c.Signed.Expiry.After(c.Signed.SigningTime) {
		t.Fatal("accepted expiry not after signing time")
	}
}

func FuzzJWSOpen(f *testing.F) {
	valid := validSeeds(f, jws.Format{})
	for _, raw := range valid {
		f.Add(raw)
	}
	s, _ := envtest.NewSigner(f, signature.KeySpecEC256)
	now := envtest.Now()
	payload := envtest.B64(envtest.Payload())
	x5c := map[string]any{"x5c": envtest.X5C(s.Chain)}
	hdr := func(edit func(map[string]any)) string {
		h := envtest.ProtectedJWS(signature.AlgorithmES256, now)
		edit(h)
		return envtest.B64(envtest.MustJSON(f, h))
	}
	// Malformed cases, each validly signed.
	for _, protected := range []string{
		hdr(func(h map[string]any) { h["crit"] = []string{"x"}; h["x"] = 1 }),
		hdr(func(h map[string]any) { h["alg"] = "none" }),
		hdr(func(h map[string]any) {
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderSigningTime}
		}),
		hdr(func(h map[string]any) {
			h[signature.HeaderExpiry] = now.Format(time.RFC3339)
			h["crit"] = []string{signature.HeaderSigningScheme, signature.HeaderExpiry}
		}),
		hdr(func(h map[string]any) { h[signature.HeaderSigningScheme] = "notary.x509.signingAuthority" }),
		base64.URLEncoding.EncodeToString(envtest.MustJSON(f, envtest.ProtectedJWS(signature.AlgorithmES256, now))) + "==",
	} {
		f.Add(envtest.JWS(f, s.Key, signature.AlgorithmES256, protected, payload, x5c))
	}
	good := string(valid[3])
	f.Add([]byte(strings.Replace(good, `{`, `{"signatures":[],`, 1)))
	f.Add([]byte(good[:len(good)/2]))
	f.Add([]byte(`{"payload":"","protected":"","header":{"x5c":[]},"signature":""}`))
	f.Add([]byte(`eyJhbGciOiJub25lIn0.e30.`))
	f.Fuzz(func(t *testing.T, data []byte) { checkOpen(t, jws.Format{}, data) })
}

func FuzzCOSEOpen(f *testing.F) {
	valid := validSeeds(f, cose.Format{})
	for _, raw := range valid {
		f.Add(raw)
	}
	s, _ := envtest.NewSigner(f, signature.KeySpecEC256)
	now := envtest.Now()
	u := envtest.MustCBOR(f, envtest.UnprotectedCOSE(s.Chain))
	prot := func(edit func(map[any]any)) []byte {
		p := envtest.ProtectedCOSE(signature.AlgorithmES256, now)
		edit(p)
		return envtest.MustCBOR(f, p)
	}
	// Malformed cases, each validly signed.
	for _, p := range [][]byte{
		prot(func(p map[any]any) { p[signature.HeaderSigningTime] = now.Unix() }),
		prot(func(p map[any]any) {
			p[signature.HeaderSigningTime] = cbor.Tag{Number: 0, Content: now.Format(time.RFC3339)}
		}),
		prot(func(p map[any]any) { p[int64(2)] = []any{int64(1)} }),
		prot(func(p map[any]any) { p[int64(3)] = uint64(50) }),
		prot(func(p map[any]any) { p[int64(1)] = int64(-8) }),
		prot(func(p map[any]any) { p[int64(33)] = []any{s.Chain[0].Raw} }),
	} {
		f.Add(envtest.COSE(f, s.Key, signature.AlgorithmES256, p, u, envtest.Payload(), true))
	}
	p := envtest.MustCBOR(f, envtest.ProtectedCOSE(signature.AlgorithmES256, now))
	f.Add(envtest.COSE(f, s.Key, signature.AlgorithmES256, p, u, envtest.Payload(), false))
	dup := append([]byte{p[0] + 1}, p[1:]...)
	dup = append(dup, envtest.MustCBOR(f, int64(3))...)
	dup = append(dup, envtest.MustCBOR(f, "text/plain")...)
	f.Add(envtest.COSE(f, s.Key, signature.AlgorithmES256, dup, u, envtest.Payload(), true))
	f.Add(envtest.COSE(f, s.Key, signature.AlgorithmES256, append(append([]byte{0xbf}, p[1:]...), 0xff), u, envtest.Payload(), true))
	f.Add(valid[4][:len(valid[4])/2])
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) { checkOpen(t, cose.Format{}, data) })
}
