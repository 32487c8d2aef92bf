package verifier

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testtsa"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
	"github.com/signet-dev/signet/trustpolicy"
)

// timestamped signs with a leaf that expires in an hour and countersigns
// the signature with a token from a real TSA (openssl ts).
func timestamped(t *testing.T, f *fixture, tsa *testtsa.TSA, mt string) (env []byte, leafExpiry time.Time) {
	t.Helper()
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("short-lived"), KeyType: "ec-256", NotAfter: time.Now().Add(time.Hour)}, f.chain.Intermediate)
	env = f.sign(t, mt, leaf)
	fm, _ := envelope.ForMediaType(mt)
	c, err := envelope.Open(fm, env)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := (&timestamp.HTTPTimestamper{URL: tsa.URL}).Timestamp(context.Background(), &timestamp.Request{Signature: c.Signature, Hash: c.Algorithm.Hash()})
	if err != nil {
		t.Fatal(err)
	}
	env, err = envelope.AddTimestamp(fm, env, tok.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return env, leaf.Cert.NotAfter
}

// TestTimestampAfterExpiry is TC-15: a signature whose leaf has expired
// verifies when its timestamp, from a TSA the policy trusts, lies inside
// the chain's validity; without a tsa store it fails at strict and warns at
// permissive.
func TestTimestampAfterExpiry(t *testing.T) {
	tsa := testtsa.Start(t)
	f := newFixture(t)
	f.store["tsa:ts"] = []*x509.Certificate{tsa.Root}
	other := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("other tsa root"), IsCA: true}, nil)
	f.store["tsa:other"] = []*x509.Certificate{other.Cert}
	for _, mt := range formats {
		t.Run(mt, func(t *testing.T) {
			env, expiry := timestamped(t, f, tsa, mt)
			later := expiry.Add(time.Hour)
			withTSA := statement("strict", nil, []string{"ca:acme", "tsa:ts"}, []string{"*"})
			r := verify(t, f, withTSA, mt, env, later, nil)
			if !r.Verified || r.Timestamp == nil {
				t.Fatalf("timestamped signature after leaf expiry: %+v", r.Checks)
			}
			if got := r.Timestamp.GenTime; got.Before(time.Now().Add(-time.Minute)) || got.After(time.Now().Add(time.Minute)) {
				t.Errorf("timestamp %s is not now", got)
			}
			r = verify(t, f, strict(), mt, env, later, nil)
			if c := status(r, trustpolicy.AuthenticTimestamp); r.Verified || !strings.Contains(c.Reason, "after certificate") {
				t.Errorf("without a tsa store: %+v", r.Checks)
			}
			if r = verify(t, f, statement("permissive", nil, []string{"ca:acme"}, []string{"*"}), mt, env, later, nil); !r.Verified || len(r.Warnings()) != 1 {
				t.Errorf("permissive without a tsa store: %+v", r.Checks)
			}
			// A token from a TSA the policy does not trust (TC-18).
			r = verify(t, f, statement("strict", nil, []string{"ca:acme", "tsa:other"}, []string{"*"}), mt, env, time.Now(), nil)
			if c := status(r, trustpolicy.AuthenticTimestamp); r.Verified || !strings.Contains(c.Reason, "timestamp") {
				t.Errorf("untrusted TSA: %+v", r.Checks)
			}
		})
	}
}

// TestTimestampCorrupt is TC-17: a corrupt token is ignored with
// afterCertExpiry while the chain is valid, and fails with always.
func TestTimestampCorrupt(t *testing.T) {
	tsa := testtsa.Start(t)
	f := newFixture(t)
	f.store["tsa:ts"] = []*x509.Certificate{tsa.Root}
	fm, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	env, err := envelope.AddTimestamp(fm, f.sign(t, signature.MediaTypeJWS, nil), []byte("not a token"))
	if err != nil {
		t.Fatal(err)
	}
	after := statement("strict", nil, []string{"ca:acme", "tsa:ts"}, []string{"*"})
	after.SignatureVerification.VerifyTimestamp = "afterCertExpiry"
	if r := verify(t, f, after, signature.MediaTypeJWS, env, time.Now(), nil); !r.Verified {
		t.Errorf("afterCertExpiry: %+v", r.Checks)
	}
	r := verify(t, f, statement("strict", nil, []string{"ca:acme", "tsa:ts"}, []string{"*"}), signature.MediaTypeJWS, env, time.Now(), nil)
	if c := status(r, trustpolicy.AuthenticTimestamp); r.Verified || !strings.Contains(c.Reason, "timestamp countersignature") {
		t.Errorf("always: %+v", r.Checks)
	}
}

// TestTimestampSubchecks (LVL-4): once timestamp verification is triggered
// (a tsa store and verifyTimestamp always), the token's existence,
// integrity and authenticity are each enforced inside authenticTimestamp:
// any of them failing is an authenticTimestamp failure, whose action, not
// the sub-check's, decides: strict fails, permissive and audit and an
// authenticTimestamp=log override pass with a warning. A good token passes
// at every level.
func TestTimestampSubchecks(t *testing.T) {
	tsa := testtsa.Start(t)
	f := newFixture(t)
	other := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("other tsa root"), IsCA: true}, nil)
	f.store["tsa:ts"] = []*x509.Certificate{tsa.Root}
	f.store["tsa:other"] = []*x509.Certificate{other.Cert}
	fm, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	good, _ := timestamped(t, f, tsa, signature.MediaTypeJWS)
	corrupt, err := envelope.AddTimestamp(fm, f.sign(t, signature.MediaTypeJWS, nil), []byte("not a token"))
	if err != nil {
		t.Fatal(err)
	}
	subchecks := []struct {
		name   string
		env    []byte
		tsa    string
		reason string // "" means the timestamp verifies
	}{
		{name: "good token", env: good, tsa: "tsa:ts"},
		{name: "no token (existence)", env: f.sign(t, signature.MediaTypeJWS, nil), tsa: "tsa:ts", reason: "no timestamp countersignature"},
		{name: "corrupt token (integrity)", env: corrupt, tsa: "tsa:ts", reason: "timestamp countersignature"},
		{name: "token from an untrusted TSA (authenticity)", env: good, tsa: "tsa:other", reason: "timestamp countersignature"},
	}
	levels := []struct {
		name     string
		level    string
		override map[trustpolicy.ValidationType]trustpolicy.Action
		action   trustpolicy.Action
	}{
		{name: "strict", level: "strict", action: trustpolicy.ActionEnforce},
		{name: "permissive", level: "permissive", action: trustpolicy.ActionLog},
		{name: "audit", level: "audit", action: trustpolicy.ActionLog},
		{name: "strict with authenticTimestamp=log", level: "strict", override: map[trustpolicy.ValidationType]trustpolicy.Action{trustpolicy.AuthenticTimestamp: trustpolicy.ActionLog}, action: trustpolicy.ActionLog},
	}
	for _, sc := range subchecks {
		for _, lv := range levels {
			t.Run(sc.name+"/"+lv.name, func(t *testing.T) {
				r := verify(t, f, statement(lv.level, lv.override, []string{"ca:acme", sc.tsa}, []string{"*"}), signature.MediaTypeJWS, sc.env, time.Now(), nil)
				c := status(r, trustpolicy.AuthenticTimestamp)
				if c.Action != lv.action {
					t.Errorf("authenticTimestamp action %s, want %s", c.Action, lv.action)
				}
				if sc.reason == "" {
					if !r.Verified || c.Status != StatusPassed {
						t.Fatalf("%+v", r.Checks)
					}
					return
				}
				if c.Status != StatusFailed || !strings.Contains(c.Reason, sc.reason) {
					t.Fatalf("authenticTimestamp %+v, want a failure saying %q", c, sc.reason)
				}
				for _, other := range r.Checks {
					if other.Type != trustpolicy.AuthenticTimestamp && other.Status == StatusFailed {
						t.Errorf("the timestamp failure shows as a %s failure: %+v", other.Type, other)
					}
				}
				wantVerified := lv.action == trustpolicy.ActionLog
				if r.Verified != wantVerified {
					t.Errorf("verified=%v, want %v", r.Verified, wantVerified)
				}
				if wantVerified && (len(r.Warnings()) != 1 || r.Warnings()[0].Type != trustpolicy.AuthenticTimestamp) {
					t.Errorf("want one authenticTimestamp warning, got %+v", r.Warnings())
				}
			})
		}
	}
}
