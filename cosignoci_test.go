package signet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testcosign"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// keyStore is memStore plus publickey stores.
type keyStore struct {
	memStore
	keys map[string][]truststore.PublicKey
}

func (k keyStore) GetPublicKeys(_ context.Context, name string) ([]truststore.PublicKey, error) {
	keys, ok := k.keys[name]
	if !ok {
		return nil, errors.New("no such store")
	}
	return keys, nil
}

func trustedKey(t *testing.T, k *testcosign.Key, store string) truststore.PublicKey {
	t.Helper()
	keys, err := truststore.ParsePublicKeys(k.PEM(t))
	if err != nil {
		t.Fatal(err)
	}
	keys[0].Store, keys[0].File = store, "cosign.pub"
	return keys[0]
}

// TestVerifyCosign: cosign signatures in both forms verify under a
// statement naming a publickey store, on an OCI layout and on registries
// with and without the referrers API; a key in no named store, an unsigned
// image and a bundle re-attached to another image are refused; a statement
// without publickey stores does not look at them; under minSignatures 2 a
// Notary Project and a cosign signature count as two keys.
func TestVerifyCosign(t *testing.T) {
	for name, mk := range extTargets(t) {
		t.Run(name, func(t *testing.T) {
			open, scope := mk(t)
			w := newExtWorld(t, open, scope)
			w.key("acme", "acme", "acme")
			vendor, stranger := testcosign.NewKey(t), testcosign.NewKey(t)
			ks := keyStore{memStore: w.store, keys: map[string][]truststore.PublicKey{"vendor": {trustedKey(t, vendor, "vendor")}}}
			verify := func(policy *trustpolicy.Document, ref string) (*Outcome, error) {
				return VerifyOCI(context.Background(), w.open(), ref, VerifyOCIOptions{Policy: policy, Verifier: &verifier.Verifier{Store: ks}, Scope: w.scope})
			}
			pusher := func() testregistry.Pusher { return w.open().(testregistry.Pusher) }
			cosignOnly := w.policy(`{"name":"c","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["publickey:vendor"],"trustedIdentities":["*"]}`)

			bundled := w.image("bundled", "")
			testcosign.PushBundle(t, pusher(), bundled, vendor.Bundle(t, bundled.Digest.String()))
			legacy := w.image("legacy", "")
			vendor.PushLegacy(t, pusher(), legacy, w.scope, nil)
			strange := w.image("strange", "")
			testcosign.PushBundle(t, pusher(), strange, stranger.Bundle(t, strange.Digest.String()))
			unsigned := w.image("unsigned", "")
			moved := w.image("moved", "")
			testcosign.PushBundle(t, pusher(), moved, vendor.Bundle(t, bundled.Digest.String()))

			der := trustedKey(t, vendor, "vendor").DER
			sum := sha256.Sum256(der)
			for _, tc := range []struct {
				ref, format string
			}{{bundled.Digest.String(), verifier.FormatCosignBundle}, {legacy.Digest.String(), verifier.FormatCosignSimpleSigning}} {
				out, err := verify(cosignOnly, tc.ref)
				if err != nil || out.Verdict != VerdictTrusted {
					t.Fatalf("%s: %v %+v", tc.format, err, out)
				}
				s, _ := out.Trusted()
				if s.Format != tc.format || s.Key == nil || s.Key.SHA256Fingerprint != hex.EncodeToString(sum[:]) || s.Key.Store != "publickey:vendor" {
					t.Fatalf("%s: signature outcome %+v", tc.format, s)
				}
			}
			refused := []struct {
				name, ref, check string
			}{
				{name: "key in no named store", ref: strange.Digest.String(), check: string(trustpolicy.Integrity)},
				{name: "bundle re-attached to another image", ref: moved.Digest.String(), check: string(verifier.CheckTargetArtifact)},
				{name: "unsigned image", ref: unsigned.Digest.String()},
			}
			for _, tc := range refused {
				out, err := verify(cosignOnly, tc.ref)
				if !errors.Is(err, ErrNotTrusted) || out.Verdict != VerdictNotTrusted {
					t.Fatalf("%s: %v %+v", tc.name, err, out)
				}
				if tc.check == "" {
					continue
				}
				if c, ok := out.Signatures[0].Result().FailedCheck(); !ok || string(c.Type) != tc.check {
					t.Fatalf("%s: failed check %+v, want %s", tc.name, c, tc.check)
				}
			}
			// A statement without publickey stores ignores cosign signatures.
			notaryOnly := w.policy(`{"name":"n","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}`)
			if out, err := verify(notaryOnly, bundled.Digest.String()); !errors.Is(err, ErrNoSignature) {
				t.Fatalf("notary-only statement: %v %+v", err, out)
			}
			// Both kinds under one statement, and minSignatures 2.
			both := w.image("both", "")
			w.sign("acme", both.Digest.String(), time.Time{}, false)
			mixed := `{"name":"m","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme","publickey:vendor"],"trustedIdentities":["*"]MIN}`
			if out, err := verify(w.policy(strings.Replace(mixed, "MIN", "", 1)), both.Digest.String()); err != nil || out.Verdict != VerdictTrusted {
				t.Fatalf("mixed, Notary only: %v %+v", err, out)
			}
			two := w.policy(strings.Replace(mixed, "MIN", `,"minSignatures":2`, 1))
			if out, err := verify(two, both.Digest.String()); !errors.Is(err, ErrTooFewSignatures) {
				t.Fatalf("minSignatures 2 with one signature: %v %+v", err, out)
			}
			testcosign.PushBundle(t, pusher(), both, vendor.Bundle(t, both.Digest.String()))
			out, err := verify(two, both.Digest.String())
			if err != nil || out.Verdict != VerdictTrusted || out.Requirements.MinSignatures.Counted != 2 {
				t.Fatalf("minSignatures 2 with a Notary and a cosign signature: %v %+v", err, out)
			}
			// A cosign signature by an untrusted key does not count.
			half := w.image("half", "")
			w.sign("acme", half.Digest.String(), time.Time{}, false)
			testcosign.PushBundle(t, pusher(), half, stranger.Bundle(t, half.Digest.String()))
			if out, err := verify(two, half.Digest.String()); !errors.Is(err, ErrTooFewSignatures) {
				t.Fatalf("minSignatures 2 with an untrusted cosign key: %v %+v", err, out)
			}
		})
	}
}

// TestCosignTransparencyLog: the statement's transparencyLog on an OCI
// layout: verify (the default) checks an entry when there is one and
// accepts its absence; require refuses a signature without one; an entry
// that does not verify against rekorTrustStores fails under verify and
// require, and is not looked at under skip. Entries are checked offline.
func TestCosignTransparencyLog(t *testing.T) {
	store, _ := layout(t)
	vendor := testcosign.NewKey(t)
	rekor, otherLog := testcosign.NewRekor(t), testcosign.NewRekor(t)
	rekorKeys, err := truststore.ParsePublicKeys(rekor.PEM(t))
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, _ := truststore.ParsePublicKeys(otherLog.PEM(t))
	ks := keyStore{memStore: memStore{}, keys: map[string][]truststore.PublicKey{
		"vendor": {trustedKey(t, vendor, "vendor")}, "rekor": rekorKeys, "other-log": otherKeys,
	}}
	logged := addImage(t, store, "logged")
	vendor.PushLegacy(t, store, logged, "example.com/app", rekor)
	unlogged := addImage(t, store, "unlogged")
	vendor.PushLegacy(t, store, unlogged, "example.com/app", nil)

	policy := func(extra string) *trustpolicy.Document {
		doc := `{"version":"signet/v1","trustPolicies":[{"name":"c","registryScopes":["example.com/app"],"signatureVerification":{"level":"strict"},"trustStores":["publickey:vendor"],"trustedIdentities":["*"]` + extra + `}]}`
		d, err := trustpolicy.ParseOCI(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name, extra, ref string
		trusted          bool
		status           verifier.Status
	}{
		{name: "verify: entry checked", extra: `,"rekorTrustStores":["publickey:rekor"]`, ref: logged.Digest.String(), trusted: true, status: verifier.StatusPassed},
		{name: "verify: no entry accepted", extra: `,"rekorTrustStores":["publickey:rekor"]`, ref: unlogged.Digest.String(), trusted: true, status: verifier.StatusNotChecked},
		{name: "verify: no rekor stores", ref: logged.Digest.String(), trusted: true, status: verifier.StatusNotChecked},
		{name: "verify: entry of an unknown log", extra: `,"rekorTrustStores":["publickey:other-log"]`, ref: logged.Digest.String(), status: verifier.StatusFailed},
		{name: "require: entry checked", extra: `,"transparencyLog":"require","rekorTrustStores":["publickey:rekor"]`, ref: logged.Digest.String(), trusted: true, status: verifier.StatusPassed},
		{name: "require: no entry", extra: `,"transparencyLog":"require","rekorTrustStores":["publickey:rekor"]`, ref: unlogged.Digest.String(), status: verifier.StatusFailed},
		{name: "skip: unknown log not looked at", extra: `,"transparencyLog":"skip","rekorTrustStores":["publickey:other-log"]`, ref: logged.Digest.String(), trusted: true, status: verifier.StatusSkipped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := VerifyOCI(context.Background(), store, tc.ref, VerifyOCIOptions{Policy: policy(tc.extra), Verifier: &verifier.Verifier{Store: ks}, Scope: "example.com/app"})
			if (err == nil) != tc.trusted || (out.Verdict == VerdictTrusted) != tc.trusted {
				t.Fatalf("want trusted=%v: %v %+v", tc.trusted, err, out)
			}
			var got verifier.Status
			for _, c := range out.Signatures[0].Checks {
				if c.Type == verifier.CheckTransparencyLog {
					got = c.Status
				}
			}
			if got != tc.status {
				t.Fatalf("transparencyLog check %q, want %q: %+v", got, tc.status, out.Signatures[0].Checks)
			}
			if tc.status == verifier.StatusPassed {
				tl := out.Signatures[0].TransparencyLog
				if tl == nil || tl.LogID != rekor.LogID() || tl.IntegratedTime == nil {
					t.Fatalf("transparencyLog = %+v", tl)
				}
			}
		})
	}
}
