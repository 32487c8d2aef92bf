package envelope_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// wantEnvErr asserts that err is a *signature.EnvelopeError for rule (any
// rule when rule is empty) and that the message names it.
func wantEnvErr(t *testing.T, err error, rule string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an envelope error (%s), got nil", rule)
	}
	var ee *signature.EnvelopeError
	if !errors.As(err, &ee) {
		t.Fatalf("want *signature.EnvelopeError, got %T: %v", err, err)
	}
	if rule != "" && ee.Rule != rule {
		t.Fatalf("want rule %s, got %q: %v", rule, ee.Rule, err)
	}
	if rule != "" && !strings.Contains(err.Error(), rule) {
		t.Errorf("message does not name %s: %v", rule, err)
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestForMediaType(t *testing.T) {
	tests := []struct {
		name, mediaType, want string
	}{
		{name: "jws", mediaType: "application/jose+json", want: signature.MediaTypeJWS},
		{name: "cose", mediaType: "application/cose", want: signature.MediaTypeCOSE},
		{name: "octet-stream", mediaType: "application/octet-stream"},
		{name: "jws with parameters", mediaType: "application/jose+json; charset=utf-8"},
		{name: "upper case", mediaType: "APPLICATION/COSE"},
		{name: "empty", mediaType: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := envelope.ForMediaType(tc.mediaType)
			if tc.want == "" {
				if !errors.Is(err, envelope.ErrUnsupportedFormat) {
					t.Fatalf("want ErrUnsupportedFormat, got %v, %v", f, err)
				}
				return
			}
			if err != nil || f.MediaType() != tc.want {
				t.Fatalf("got %v, %v; want %s", f, err, tc.want)
			}
		})
	}
}

func TestForSignatureFile(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{name: "jws", file: "blob.tar.jws.sig", want: signature.MediaTypeJWS},
		{name: "cose", file: "blob.cose.sig", want: signature.MediaTypeCOSE},
		{name: "directories are ignored", file: "/tmp/x.cose/blob.jws.sig", want: signature.MediaTypeJWS},
		{name: "case-insensitive", file: "BLOB.JWS.SIG", want: signature.MediaTypeJWS},
		{name: "TC-24d plain .sig", file: "blob.sig"},
		{name: "no .sig", file: "blob.jws"},
		{name: "unknown kind", file: "blob.pgp.sig"},
		{name: "sig not last", file: "blob.jws.sig.bak"},
		{name: "empty", file: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := envelope.ForSignatureFile(tc.file)
			if tc.want == "" {
				if !errors.Is(err, envelope.ErrUnsupportedFormat) {
					t.Fatalf("want ErrUnsupportedFormat, got %v, %v", f, err)
				}
				return
			}
			if err != nil || f.MediaType() != tc.want {
				t.Fatalf("got %v, %v; want %s", f, err, tc.want)
			}
		})
	}
}

// badSigner wraps a signer and corrupts or replaces its behaviour.
type badSigner struct {
	*envtest.Signer
	spec    *signature.KeySpec
	signErr error
	corrupt bool
}

func (b *badSigner) Sign(ctx context.Context, m []byte) ([]byte, error) {
	if b.signErr != nil {
		return nil, b.signErr
	}
	sig, err := b.Signer.Sign(ctx, m)
	if b.corrupt && err == nil {
		sig[len(sig)/2] ^= 0xff
	}
	return sig, err
}

func (b *badSigner) KeySpec(ctx context.Context) (signature.KeySpec, error) {
	if b.spec != nil {
		return *b.spec, nil
	}
	return b.Signer.KeySpec(ctx)
}

// TestSignChecks covers the request checks of Sign (ATTR-1, ATTR-5, ATTR-6,
// SIGN-3, ALG-2, SIGN-6) in both formats.
func TestSignChecks(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	ec384 := signature.KeySpecEC384
	expired := testpki.NewChain(t, "ec-256")
	expiredLeaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer"), KeyType: "ec-256",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, expired.Intermediate)
	tests := []struct {
		name   string
		mutate func(r *signature.SignRequest)
		want   string // substring of the error
	}{
		{name: "nil signer", mutate: func(r *signature.SignRequest) { r.Signer = nil }, want: "no signer"},
		{name: "empty payload", mutate: func(r *signature.SignRequest) { r.Payload = nil }, want: "payload is empty"},
		{name: "other content type", mutate: func(r *signature.SignRequest) { r.PayloadContentType = "application/json" }, want: "content type"},
		{name: "ATTR-1 unknown scheme", mutate: func(r *signature.SignRequest) { r.SigningScheme = "notary.x509.v2" }, want: "ATTR-1"},
		{name: "zero signing time", mutate: func(r *signature.SignRequest) { r.SigningTime = time.Time{} }, want: "signing time is not set"},
		{name: "ATTR-6 fractional signing time", mutate: func(r *signature.SignRequest) { r.SigningTime = r.SigningTime.Add(time.Millisecond) }, want: "ATTR-6"},
		{name: "ATTR-6 fractional expiry", mutate: func(r *signature.SignRequest) { r.Expiry = r.SigningTime.Add(time.Hour + time.Millisecond) }, want: "ATTR-6"},
		{name: "ATTR-5 expiry equal to signing time", mutate: func(r *signature.SignRequest) { r.Expiry = r.SigningTime }, want: "ATTR-5"},
		{name: "ATTR-5 expiry before signing time", mutate: func(r *signature.SignRequest) { r.Expiry = r.SigningTime.Add(-time.Second) }, want: "ATTR-5"},
		{name: "reserved attribute name", mutate: func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: signature.HeaderExpiry, Critical: true, Value: "x"}}
		}, want: "reserved"},
		{name: "repeated attribute", mutate: func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: "a.b", Value: "1"}, {Key: "a.b", Value: "2"}}
		}, want: "repeated"},
		{name: "non-critical verification plugin", mutate: func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: signature.HeaderVerificationPlugin, Value: "p"}}
		}, want: "must be critical"},
		{name: "ALG-2 key spec differs from the leaf key", mutate: func(r *signature.SignRequest) {
			r.Signer = &badSigner{Signer: s, spec: &ec384}
		}, want: "does not match"},
		{name: "SIGN-3 leaf expired at signing time", mutate: func(r *signature.SignRequest) {
			r.Signer = &envtest.Signer{Key: expiredLeaf.Key, Chain: []*x509.Certificate{expiredLeaf.Cert, expired.Intermediate.Cert, expired.Root.Cert}, Spec: signature.KeySpecEC256}
		}, want: "CERT-10"},
		{name: "signer fails", mutate: func(r *signature.SignRequest) {
			r.Signer = &badSigner{Signer: s, signErr: errors.New("hsm offline")}
		}, want: "hsm offline"},
		{name: "SIGN-6 signer returns a bad signature", mutate: func(r *signature.SignRequest) {
			r.Signer = &badSigner{Signer: s, corrupt: true}
		}, want: "generated signature failed verification"},
	}
	for _, f := range formats {
		for _, tc := range tests {
			t.Run(f.MediaType()+"/"+tc.name, func(t *testing.T) {
				req := envtest.Request(s)
				tc.mutate(req)
				before := fmt.Sprintf("%+v", *req)
				raw, err := envelope.Sign(context.Background(), f, req)
				if err == nil {
					t.Fatalf("want error containing %q, got an envelope of %d bytes", tc.want, len(raw))
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want error containing %q, got %v", tc.want, err)
				}
				if after := fmt.Sprintf("%+v", *req); after != before {
					t.Errorf("Sign modified the request:\n%s\n%s", before, after)
				}
			})
		}
	}
}

// TestSignFillsDefaults: an empty content type and scheme become the
// payload media type and notary.x509, and req is left untouched.
func TestSignFillsDefaults(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	for _, f := range formats {
		t.Run(f.MediaType(), func(t *testing.T) {
			req := envtest.Request(s)
			raw, err := envelope.Sign(context.Background(), f, req)
			if err != nil {
				t.Fatal(err)
			}
			if req.SigningScheme != "" || req.PayloadContentType != "" {
				t.Errorf("request modified: %+v", req)
			}
			c, err := envelope.Open(f, raw)
			if err != nil {
				t.Fatal(err)
			}
			if c.Signed.SigningScheme != signature.SchemeX509 || c.PayloadContentType != signature.MediaTypePayloadV1 {
				t.Errorf("defaults not applied: %+v", c.Signed)
			}
			if s.Calls == 0 {
				t.Error("signer never called")
			}
		})
	}
}

// TestOpenBounds: empty, oversized and truncated input give clear errors,
// never a panic.
func TestOpenBounds(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	for _, f := range formats {
		t.Run(f.MediaType(), func(t *testing.T) {
			_, err := envelope.Open(f, nil)
			wantEnvErr(t, err, "")
			if !strings.Contains(err.Error(), "empty") {
				t.Errorf("empty input: %v", err)
			}
			_, err = envelope.Open(f, make([]byte, envelope.MaxEnvelopeBytes+1))
			wantEnvErr(t, err, "")
			if !strings.Contains(err.Error(), "over the limit") {
				t.Errorf("oversized input: %v", err)
			}
			if _, err := f.Decode(make([]byte, envelope.MaxEnvelopeBytes+1)); err == nil || !strings.Contains(err.Error(), "over the limit") {
				t.Errorf("Decode does not bound its input: %v", err)
			}
			raw, err := envelope.Sign(context.Background(), f, envtest.Request(s))
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(raw); n++ {
				if _, err := envelope.Open(f, raw[:n]); err == nil {
					t.Fatalf("truncated to %d of %d bytes: opened", n, len(raw))
				} else {
					var ee *signature.EnvelopeError
					if !errors.As(err, &ee) {
						t.Fatalf("truncated to %d bytes: not an EnvelopeError: %v", n, err)
					}
				}
			}
			if _, err := envelope.Open(f, append(raw, ' ', 'x')); err == nil {
				t.Error("trailing data accepted")
			}
			if _, err := envelope.Open(nil, raw); err == nil {
				t.Error("nil format accepted")
			}
		})
	}
}

// TestOpenWrongFormat: each format rejects the other's envelopes.
func TestOpenWrongFormat(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC256)
	j, err := envelope.Sign(context.Background(), jws.Format{}, envtest.Request(s))
	if err != nil {
		t.Fatal(err)
	}
	c, err := envelope.Sign(context.Background(), cose.Format{}, envtest.Request(s))
	if err != nil {
		t.Fatal(err)
	}
	_, err = envelope.Open(cose.Format{}, j)
	wantEnvErr(t, err, "COSE-1")
	_, err = envelope.Open(jws.Format{}, c)
	wantEnvErr(t, err, "JWS-1")
}
