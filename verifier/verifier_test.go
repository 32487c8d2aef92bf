package verifier

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
)

// memStore is a truststore.Store over a map "type:name" -> certificates.
type memStore map[string][]*x509.Certificate

func (m memStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := m[string(t)+":"+name]
	if !ok {
		return nil, fmt.Errorf("trust store %s:%s does not exist", t, name)
	}
	return certs, nil
}

var subject = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("artifact"), Size: 8}

type fixture struct {
	chain *testpki.Chain
	store memStore
}

func newFixture(t *testing.T) *fixture {
	c := testpki.NewChain(t, "ec-256")
	return &fixture{chain: c, store: memStore{"ca:acme": {c.Root.Cert}}}
}

type signOpt func(*signature.SignRequest)

func (f *fixture) sign(t *testing.T, format string, leaf *testpki.Issued, opts ...signOpt) []byte {
	t.Helper()
	if leaf == nil {
		leaf = f.chain.Leaf
	}
	payload, err := signature.NewPayload(subject, map[string]string{"team": "blue"})
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte(fmt.Sprintf(`{"targetArtifact":{"mediaType":%q,"digest":%q,"size":%d,"annotations":{"team":"blue"}}}`,
		payload.TargetArtifact.MediaType, payload.TargetArtifact.Digest, payload.TargetArtifact.Size))
	req := &signature.SignRequest{
		Payload:     raw,
		Signer:      mustLocal(t, leaf.Key, []*x509.Certificate{leaf.Cert, f.chain.Intermediate.Cert, f.chain.Root.Cert}),
		SigningTime: time.Now().Truncate(time.Second),
	}
	for _, o := range opts {
		o(req)
	}
	fm, err := envelope.ForMediaType(format)
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(context.Background(), fm, req)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustLocal(t *testing.T, key crypto.Signer, chain []*x509.Certificate) *signer.Local {
	t.Helper()
	l, err := signer.NewLocal(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func statement(level string, override map[trustpolicy.ValidationType]trustpolicy.Action, stores, ids []string) *trustpolicy.Statement {
	return &trustpolicy.Statement{
		Name:                  "p",
		SignatureVerification: trustpolicy.SignatureVerification{Level: level, Override: override},
		TrustStores:           stores,
		TrustedIdentities:     ids,
	}
}

func strict() *trustpolicy.Statement {
	return statement("strict", nil, []string{"ca:acme"}, []string{"*"})
}

func checkTarget(_ context.Context, got ocispec.Descriptor, _ *signature.Content) error {
	if got.Digest != subject.Digest || got.Size != subject.Size || got.MediaType != subject.MediaType {
		return errors.New("content descriptor mismatch")
	}
	return nil
}

func status(r *Result, typ trustpolicy.ValidationType) Check {
	for _, c := range r.Checks {
		if c.Type == typ {
			return c
		}
	}
	return Check{}
}

func verify(t *testing.T, f *fixture, stmt *trustpolicy.Statement, mt string, env []byte, now time.Time, md map[string]string) *Result {
	t.Helper()
	v := &Verifier{Store: f.store, Now: func() time.Time { return now }}
	r, err := v.Verify(context.Background(), Input{Statement: stmt, MediaType: mt, Envelope: env, CheckTarget: checkTarget, UserMetadata: md})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Checks) != 7 {
		t.Fatalf("want 7 checks, got %+v", r.Checks)
	}
	return r
}

var formats = []string{signature.MediaTypeJWS, signature.MediaTypeCOSE}

func TestVerifyPasses(t *testing.T) {
	f := newFixture(t)
	for _, mt := range formats {
		t.Run(mt, func(t *testing.T) {
			r := verify(t, f, strict(), mt, f.sign(t, mt, nil), time.Now(), map[string]string{"team": "blue"})
			if !r.Verified || r.Err != nil {
				t.Fatalf("not verified: %v %+v", r.Err, r.Checks)
			}
			for _, typ := range []trustpolicy.ValidationType{trustpolicy.Integrity, trustpolicy.Authenticity, trustpolicy.Expiry, trustpolicy.AuthenticTimestamp, CheckTargetArtifact, CheckUserMetadata} {
				if c := status(r, typ); c.Status != StatusPassed {
					t.Errorf("%s: %+v", typ, c)
				}
			}
			// Revocation is reported as not checked, never as passed (issue 3, item 6).
			if c := status(r, trustpolicy.Revocation); c.Status != StatusNotChecked || !strings.Contains(c.Reason, "not checked") {
				t.Errorf("revocation: %+v", c)
			}
			if r.Payload == nil || r.Payload.TargetArtifact.Digest != subject.Digest {
				t.Errorf("payload %+v", r.Payload)
			}
		})
	}
}

// TestExpiry is TC-05 (ATTR-7, LVL-2): expired at strict fails; permissive
// and an expiry=log override pass with a warning; expiry == now is expired.
// PIPE-10: a logged failure is reported (a warning, the check failed) but
// the signature verifies; an enforced one stops it.
func TestExpiry(t *testing.T) {
	f := newFixture(t)
	now := time.Now().Truncate(time.Second)
	env := f.sign(t, signature.MediaTypeJWS, nil, func(r *signature.SignRequest) {
		r.SigningTime = now.Add(-time.Minute)
		r.Expiry = now.Add(-time.Second)
	})
	atExpiry := f.sign(t, signature.MediaTypeCOSE, nil, func(r *signature.SignRequest) {
		r.SigningTime = now.Add(-time.Minute)
		r.Expiry = now
	})
	tests := []struct {
		name     string
		stmt     *trustpolicy.Statement
		env      []byte
		mt       string
		verified bool
	}{
		{"strict", strict(), env, signature.MediaTypeJWS, false},
		{"permissive", statement("permissive", nil, []string{"ca:acme"}, []string{"*"}), env, signature.MediaTypeJWS, true},
		{"strict with expiry log", statement("strict", map[trustpolicy.ValidationType]trustpolicy.Action{"expiry": "log"}, []string{"ca:acme"}, []string{"*"}), env, signature.MediaTypeJWS, true},
		{"expiry equal to now", strict(), atExpiry, signature.MediaTypeCOSE, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(t, f, tc.stmt, tc.mt, tc.env, now, nil)
			if r.Verified != tc.verified {
				t.Fatalf("verified=%v, want %v: %+v", r.Verified, tc.verified, r.Checks)
			}
			c := status(r, trustpolicy.Expiry)
			if c.Status != StatusFailed || !strings.Contains(c.Reason, "expired") {
				t.Errorf("expiry check %+v", c)
			}
			if tc.verified && len(r.Warnings()) != 1 {
				t.Errorf("want one warning, got %+v", r.Warnings())
			}
			if !tc.verified {
				var ce *CheckError
				if !errors.As(r.Err, &ce) || ce.Type != trustpolicy.Expiry || !errors.Is(r.Err, ErrVerification) {
					t.Errorf("err %v", r.Err)
				}
				if c := status(r, trustpolicy.AuthenticTimestamp); c.Status != StatusNotEvaluated {
					t.Errorf("checks after the enforced failure must not run: %+v", c)
				}
			}
		})
	}
}

// TestAuthenticity: untrusted root, identity mismatch, and the audit level
// that only logs them (PIPE-3, PIPE-4, LVL table).
func TestAuthenticity(t *testing.T) {
	f := newFixture(t)
	other := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("other root"), IsCA: true}, nil)
	f.store["ca:other"] = []*x509.Certificate{other.Cert}
	f.store["tsa:acme"] = []*x509.Certificate{other.Cert}
	env := f.sign(t, signature.MediaTypeCOSE, nil)
	tests := []struct {
		name     string
		stmt     *trustpolicy.Statement
		verified bool
		reason   string
	}{
		{"root in another store", statement("strict", nil, []string{"ca:other"}, []string{"*"}), false, "does not chain"},
		{"tsa store only", statement("strict", nil, []string{"tsa:acme"}, []string{"*"}), false, "lists no ca trust store"},
		{"identity mismatch", statement("strict", nil, []string{"ca:acme"}, []string{"x509.subject: C=US, ST=WA, O=acme, CN=someone"}), false, "someone"},
		{"identity match", statement("strict", nil, []string{"ca:acme"}, []string{"x509.subject: C=US, S=WA, O=acme, OU=eng"}), true, ""},
		{"audit logs an untrusted root", statement("audit", nil, []string{"ca:other"}, []string{"*"}), true, "does not chain"},
		{"permissive enforces it", statement("permissive", nil, []string{"ca:other"}, []string{"*"}), false, "does not chain"},
		{"override authenticity log", statement("strict", map[trustpolicy.ValidationType]trustpolicy.Action{"authenticity": "log"}, []string{"ca:other"}, []string{"*"}), true, "does not chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(t, f, tc.stmt, signature.MediaTypeCOSE, env, time.Now(), nil)
			if r.Verified != tc.verified {
				t.Fatalf("verified=%v, want %v: %+v", r.Verified, tc.verified, r.Checks)
			}
			c := status(r, trustpolicy.Authenticity)
			if tc.reason == "" {
				if c.Status != StatusPassed {
					t.Errorf("authenticity %+v", c)
				}
				return
			}
			if c.Status != StatusFailed || !strings.Contains(c.Reason, tc.reason) {
				t.Errorf("authenticity %+v, want reason containing %q", c, tc.reason)
			}
		})
	}
}

// TestCertificateValidity: an expired leaf without a timestamp fails
// authenticTimestamp at strict and only warns at permissive (§6.5 PIPE-6).
func TestCertificateValidity(t *testing.T) {
	f := newFixture(t)
	env := f.sign(t, signature.MediaTypeJWS, nil)
	later := f.chain.Leaf.Cert.NotAfter.Add(time.Hour)
	r := verify(t, f, strict(), signature.MediaTypeJWS, env, later, nil)
	if r.Verified {
		t.Fatal("verified after the leaf expired")
	}
	if c := status(r, trustpolicy.AuthenticTimestamp); c.Status != StatusFailed || !strings.Contains(c.Reason, "after certificate") {
		t.Errorf("authenticTimestamp %+v", c)
	}
	r = verify(t, f, statement("permissive", nil, []string{"ca:acme"}, []string{"*"}), signature.MediaTypeJWS, env, later, nil)
	if !r.Verified || len(r.Warnings()) != 1 || r.Warnings()[0].Type != trustpolicy.AuthenticTimestamp {
		t.Errorf("permissive: %v %+v", r.Verified, r.Checks)
	}
	// With a tsa store listed, timestamp verification is required (TSV) and
	// a signature without a token fails (TSA-4).
	f.store["tsa:ts"] = []*x509.Certificate{f.chain.Root.Cert}
	r = verify(t, f, statement("strict", nil, []string{"ca:acme", "tsa:ts"}, []string{"*"}), signature.MediaTypeJWS, env, time.Now(), nil)
	if c := status(r, trustpolicy.AuthenticTimestamp); r.Verified || !strings.Contains(c.Reason, "no timestamp countersignature") {
		t.Errorf("tsa without token: %+v", r.Checks)
	}
	// afterCertExpiry with a valid chain does not need the token (TC-17).
	st := statement("strict", nil, []string{"ca:acme", "tsa:ts"}, []string{"*"})
	st.SignatureVerification.VerifyTimestamp = "afterCertExpiry"
	if r = verify(t, f, st, signature.MediaTypeJWS, env, time.Now(), nil); !r.Verified {
		t.Errorf("afterCertExpiry with a valid chain: %+v", r.Checks)
	}
}

// TestCertificateValidityWholeChain (CERT-11): without an authentic
// timestamp every certificate of the chain, leaf to root, must be valid at
// the verification time: a chain not yet valid, or an intermediate that
// expired under a still valid leaf, fails authenticTimestamp.
func TestCertificateValidityWholeChain(t *testing.T) {
	now := time.Now()
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true, NotAfter: now.Add(48 * time.Hour)}, nil)
	inter := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("short intermediate"), IsCA: true, NotAfter: now.Add(2 * time.Hour)}, root)
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer"), KeyType: "ec-256", NotAfter: now.Add(24 * time.Hour)}, inter)
	f := &fixture{chain: &testpki.Chain{Root: root, Intermediate: inter, Leaf: leaf}, store: memStore{"ca:acme": {root.Cert}}}
	env := f.sign(t, signature.MediaTypeJWS, nil)
	tests := []struct {
		name   string
		at     time.Time
		reason string // "" means verified
	}{
		{name: "all valid", at: now},
		{name: "not yet valid", at: leaf.Cert.NotBefore.Add(-time.Minute), reason: "is before certificate"},
		{name: "intermediate expired, leaf valid", at: now.Add(3 * time.Hour), reason: `after certificate "CN=short intermediate`},
		{name: "whole chain expired", at: now.Add(49 * time.Hour), reason: "after certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(t, f, strict(), signature.MediaTypeJWS, env, tc.at, nil)
			c := status(r, trustpolicy.AuthenticTimestamp)
			if tc.reason == "" {
				if !r.Verified {
					t.Fatalf("not verified: %+v", r.Checks)
				}
				return
			}
			if r.Verified || c.Status != StatusFailed || !strings.Contains(c.Reason, tc.reason) {
				t.Errorf("authenticTimestamp %+v, want a failure saying %q", c, tc.reason)
			}
		})
	}
}

// TestAlwaysEnforced: integrity, payload target and user metadata fail even
// at audit (LVL-3, VER-6, PAY-8).
func TestAlwaysEnforced(t *testing.T) {
	f := newFixture(t)
	audit := statement("audit", nil, []string{"ca:acme"}, []string{"*"})
	env := f.sign(t, signature.MediaTypeJWS, nil)
	tampered := []byte(strings.Replace(string(env), `"signature":"`, `"signature":"A`, 1))
	tests := []struct {
		name  string
		env   []byte
		md    map[string]string
		check trustpolicy.ValidationType
	}{
		{"tampered envelope", tampered, nil, trustpolicy.Integrity},
		{"truncated envelope", env[:len(env)/2], nil, trustpolicy.Integrity},
		{"missing metadata", env, map[string]string{"team": "red"}, CheckUserMetadata},
		{"absent metadata key", env, map[string]string{"owner": "x"}, CheckUserMetadata},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(t, f, audit, signature.MediaTypeJWS, tc.env, time.Now(), tc.md)
			if r.Verified {
				t.Fatalf("verified at audit: %+v", r.Checks)
			}
			if c, ok := r.FailedCheck(); !ok || c.Type != tc.check {
				t.Errorf("failed check %+v, want %s", c, tc.check)
			}
		})
	}
	t.Run("other artifact", func(t *testing.T) {
		v := &Verifier{Store: f.store}
		r, err := v.Verify(context.Background(), Input{Statement: audit, MediaType: signature.MediaTypeJWS, Envelope: env,
			CheckTarget: func(context.Context, ocispec.Descriptor, *signature.Content) error {
				return errors.New("not this artifact")
			}})
		if err != nil {
			t.Fatal(err)
		}
		if c, ok := r.FailedCheck(); r.Verified || !ok || c.Type != CheckTargetArtifact {
			t.Errorf("%+v", r.Checks)
		}
	})
	t.Run("wrong media type", func(t *testing.T) {
		r := verify(t, f, audit, signature.MediaTypeCOSE, env, time.Now(), nil)
		if r.Verified || status(r, trustpolicy.Integrity).Status != StatusFailed {
			t.Errorf("%+v", r.Checks)
		}
	})
}

// TestUnknownCriticalAttribute is TC-22 (ATTR-3): the spec fails it; the
// reference accepts it (docs/divergences.md).
func TestUnknownCriticalAttribute(t *testing.T) {
	f := newFixture(t)
	for _, mt := range formats {
		crit := f.sign(t, mt, nil, func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: "com.example.policy", Critical: true, Value: "x"}}
		})
		r := verify(t, f, strict(), mt, crit, time.Now(), nil)
		if c := status(r, trustpolicy.Integrity); r.Verified || !strings.Contains(c.Reason, "com.example.policy") {
			t.Errorf("%s: %+v", mt, r.Checks)
		}
		nonCrit := f.sign(t, mt, nil, func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: "com.example.note", Value: "x"}}
		})
		if r := verify(t, f, strict(), mt, nonCrit, time.Now(), nil); !r.Verified {
			t.Errorf("%s: non-critical extended attribute refused: %+v", mt, r.Checks)
		}
		plug := f.sign(t, mt, nil, func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{{Key: signature.HeaderVerificationPlugin, Critical: true, Value: "com.example.p"}}
		})
		r = verify(t, f, statement("audit", nil, []string{"ca:acme"}, []string{"*"}), mt, plug, time.Now(), nil)
		if c := status(r, trustpolicy.Integrity); r.Verified || !strings.Contains(c.Reason, "com.example.p") {
			t.Errorf("%s: verification plugin: %+v", mt, r.Checks)
		}
	}
}

// TestSigningAuthority is TC-09 (TS-7): a signingAuthority signature is
// authenticated only by signingAuthority stores.
func TestSigningAuthority(t *testing.T) {
	f := newFixture(t)
	env := f.sign(t, signature.MediaTypeJWS, nil, func(r *signature.SignRequest) {
		r.SigningScheme = signature.SchemeX509SigningAuthority
	})
	if r := verify(t, f, strict(), signature.MediaTypeJWS, env, time.Now(), nil); r.Verified {
		t.Error("SA signature verified against a ca store")
	}
	if r := verify(t, f, statement("audit", nil, []string{"ca:acme"}, []string{"*"}), signature.MediaTypeJWS, env, time.Now(), nil); !r.Verified {
		t.Errorf("audit: %+v", r.Checks)
	}
	f.store["signingAuthority:sa"] = []*x509.Certificate{f.chain.Root.Cert}
	if r := verify(t, f, statement("strict", nil, []string{"signingAuthority:sa"}, []string{"*"}), signature.MediaTypeJWS, env, time.Now(), nil); !r.Verified {
		t.Errorf("signingAuthority store: %+v", r.Checks)
	}
	// And a notary.x509 signature is not authenticated by it.
	x509env := f.sign(t, signature.MediaTypeJWS, nil)
	if r := verify(t, f, statement("strict", nil, []string{"signingAuthority:sa"}, []string{"*"}), signature.MediaTypeJWS, x509env, time.Now(), nil); r.Verified {
		t.Error("x509 signature verified against a signingAuthority store")
	}
}

// TestSkip is LVL-1: a skip statement evaluates nothing.
func TestSkip(t *testing.T) {
	f := newFixture(t)
	r := verify(t, f, statement("skip", nil, nil, nil), signature.MediaTypeJWS, []byte("garbage"), time.Now(), nil)
	if !r.Verified {
		t.Fatal("skip did not verify")
	}
	for _, c := range r.Checks {
		if c.Status != StatusSkipped {
			t.Errorf("%+v", c)
		}
	}
}

// TestRevocationSkip: a revocation=skip override reports skipped.
func TestRevocationSkip(t *testing.T) {
	f := newFixture(t)
	env := f.sign(t, signature.MediaTypeJWS, nil)
	st := statement("strict", map[trustpolicy.ValidationType]trustpolicy.Action{"revocation": "skip"}, []string{"ca:acme"}, []string{"*"})
	r := verify(t, f, st, signature.MediaTypeJWS, env, time.Now(), nil)
	if c := status(r, trustpolicy.Revocation); !r.Verified || c.Status != StatusSkipped {
		t.Errorf("%+v", r.Checks)
	}
}

func TestVerifyNeedsStatement(t *testing.T) {
	v := &Verifier{Store: memStore{}}
	if _, err := v.Verify(context.Background(), Input{}); err == nil {
		t.Error("no error without a statement")
	}
}
