package signet

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// extWorld is one place artifacts live (an OCI layout or a registry), with
// signing keys and a trust store.
type extWorld struct {
	t     *testing.T
	open  func() Target // a fresh handle, as a new process would have
	scope string
	store memStore
	keys  map[string]*signer.Local
	certs map[string]*x509.Certificate // leaf per key name
}

// extTargets are the places of the extension tests: an OCI layout,
// go-containerregistry with and without the referrers API, and CNCF
// distribution v3 (referrers tag schema).
func extTargets(t *testing.T) map[string]func(t *testing.T) (func() Target, string) {
	remote := func(reg *testregistry.Registry) (func() Target, string) {
		ref := reg.Ref("ext/app")
		return func() Target {
			repo, _, err := registry.NewRepository(ref, registry.RemoteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return repo
		}, ref
	}
	return map[string]func(t *testing.T) (func() Target, string){
		"oci-layout": func(t *testing.T) (func() Target, string) {
			dir := t.TempDir()
			return func() Target {
				s, err := oci.NewWithContext(context.Background(), dir)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, "example.com/ext/app"
		},
		"ggcr-referrers-api": func(t *testing.T) (func() Target, string) {
			return remote(testregistry.New(t, testregistry.Options{Referrers: true}))
		},
		"ggcr-no-referrers-api": func(t *testing.T) (func() Target, string) {
			return remote(testregistry.New(t, testregistry.Options{}))
		},
		"distribution-v3": func(t *testing.T) (func() Target, string) {
			return remote(testregistry.Distribution(t, testregistry.DistributionOptions{}))
		},
	}
}

func newExtWorld(t *testing.T, open func() Target, scope string) *extWorld {
	return &extWorld{t: t, open: open, scope: scope, store: memStore{}, keys: map[string]*signer.Local{}, certs: map[string]*x509.Certificate{}}
}

// key makes a root → leaf chain whose leaf subject has organisation org,
// trusts the root in store "ca:"+store, and registers the signer as name.
func (w *extWorld) key(name, org, store string) {
	w.t.Helper()
	// Valid for a month either side: the tag binding tests sign and
	// verify at times in the past.
	nb, na := time.Now().Add(-30*24*time.Hour), time.Now().Add(30*24*time.Hour)
	root := testpki.Issue(w.t, testpki.Cert{Subject: testpki.Name(name + " root"), IsCA: true, KeyType: "ec-256", NotBefore: nb, NotAfter: na}, nil)
	subj := testpki.Name(name)
	subj.Organization = []string{org}
	leaf := testpki.Issue(w.t, testpki.Cert{Subject: subj, KeyType: "ec-256", Key: testpki.Key(w.t, "ec-256", true), NotBefore: nb, NotAfter: na}, root)
	s, err := signer.NewLocal(leaf.Key, []*x509.Certificate{leaf.Cert, root.Cert})
	if err != nil {
		w.t.Fatal(err)
	}
	w.keys[name] = s
	w.certs[name] = leaf.Cert
	w.store["ca:"+store] = append(w.store["ca:"+store], root.Cert)
}

// image pushes a fresh image tagged tag.
func (w *extWorld) image(name, tag string) ocispec.Descriptor {
	w.t.Helper()
	return testregistry.PushImage(w.t, w.open().(testregistry.Pusher), name, tag)
}

func (w *extWorld) retag(d ocispec.Descriptor, tag string) {
	w.t.Helper()
	if err := w.open().(testregistry.Pusher).Tag(context.Background(), d, tag); err != nil {
		w.t.Fatal(err)
	}
}

// sign signs reference with key at time at (zero: now).
func (w *extWorld) sign(key, reference string, at time.Time, bind bool) *Signed {
	w.t.Helper()
	so := SignOptions{Signer: w.keys[key]}
	if !at.IsZero() {
		so.Now = func() time.Time { return at }
	}
	s, err := SignOCI(context.Background(), w.open(), reference, SignOCIOptions{SignOptions: so, BindTag: bind})
	if err != nil {
		w.t.Fatalf("sign %s with %s: %v", reference, key, err)
	}
	return s
}

func (w *extWorld) policy(stmt string) *trustpolicy.Document {
	w.t.Helper()
	doc := fmt.Sprintf(`{"version":"signet/v1","trustPolicies":[%s]}`, strings.ReplaceAll(stmt, "SCOPE", w.scope))
	d, err := trustpolicy.ParseOCI(strings.NewReader(doc))
	if err != nil {
		w.t.Fatal(err)
	}
	return d
}

func (w *extWorld) verify(policy *trustpolicy.Document, reference string, now time.Time, state TagBindingState) (*Outcome, error) {
	w.t.Helper()
	v := &verifier.Verifier{Store: w.store}
	if !now.IsZero() {
		v.Now = func() time.Time { return now }
	}
	return VerifyOCI(context.Background(), w.open(), reference, VerifyOCIOptions{Policy: policy, Verifier: v, Scope: w.scope, TagBindings: state})
}

const acmeID = `"x509.subject: C=US, ST=WA, O=acme"`

// TestMinSignatures covers k-of-n (docs/policy-extensions.md §2) on every
// target: VER-4/VER-5 stop at the first good signature in "1.0"; with
// minSignatures signet counts distinct trusted keys, one key signing twice
// counts once, and a signer outside trustedIdentities does not count even
// at audit.
func TestMinSignatures(t *testing.T) {
	for name, mk := range extTargets(t) {
		t.Run(name, func(t *testing.T) {
			open, scope := mk(t)
			w := newExtWorld(t, open, scope)
			w.key("alice", "acme", "release")
			w.key("bob", "acme", "release")
			w.key("mallory", "evil", "release")
			d := w.image("app", "v1")
			ref := d.Digest.String()
			k2 := w.policy(`{"name":"k2","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":[` + acmeID + `],"minSignatures":2}`)

			w.sign("alice", ref, time.Time{}, false)
			out, err := w.verify(k2, ref, time.Time{}, nil)
			if !errors.Is(err, ErrNotTrusted) || !errors.Is(err, ErrTooFewSignatures) || out.Verdict != VerdictNotTrusted {
				t.Fatalf("one signature of two: %v %+v", err, out)
			}
			if m := out.Requirements.MinSignatures; m == nil || m.Required != 2 || m.Counted != 1 || m.Met {
				t.Fatalf("requirements %+v", out.Requirements)
			}
			if !strings.Contains(out.Reason, "1 of the required 2 signatures by distinct trusted signing keys verified") {
				t.Errorf("reason %q", out.Reason)
			}

			w.sign("alice", ref, time.Time{}, false) // the same key again
			out, err = w.verify(k2, ref, time.Time{}, nil)
			if !errors.Is(err, ErrTooFewSignatures) || len(out.Signatures) != 2 || out.Requirements.MinSignatures.Counted != 1 {
				t.Fatalf("one key twice: %v %+v", err, out)
			}
			dup := 0
			for _, s := range out.Signatures {
				if !s.Counted && strings.Contains(s.NotCounted, "the same signing key as signature") {
					dup++
				}
				if !s.Verified || s.KeyID == "" {
					t.Errorf("signature %+v", s)
				}
			}
			if dup != 1 {
				t.Errorf("want one signature not counted as a duplicate key: %+v", out.Signatures)
			}

			w.sign("mallory", ref, time.Time{}, false)
			audit := w.policy(`{"name":"k2","registryScopes":["SCOPE"],"signatureVerification":{"level":"audit"},"trustStores":["ca:release"],"trustedIdentities":[` + acmeID + `],"minSignatures":2}`)
			out, err = w.verify(audit, ref, time.Time{}, nil)
			if !errors.Is(err, ErrTooFewSignatures) {
				t.Fatalf("an untrusted identity counted at audit: %v %+v", err, out)
			}
			for _, s := range out.Signatures {
				if strings.Contains(s.Signer, "O=evil") && (s.Counted || !strings.Contains(s.NotCounted, "not a trusted identity")) {
					t.Errorf("mallory's signature: %+v", s)
				}
			}

			w.sign("bob", ref, time.Time{}, false)
			out, err = w.verify(k2, ref, time.Time{}, nil)
			if err != nil || out.Verdict != VerdictTrusted || !out.Requirements.MinSignatures.Met || out.Requirements.MinSignatures.Counted != 2 {
				t.Fatalf("two keys: %v %+v", err, out)
			}

			// In a "1.0" document the first good signature is enough
			// (VER-4, VER-5).
			one, _ := trustpolicy.ParseOCI(strings.NewReader(`{"version":"1.0","trustPolicies":[{"name":"one","registryScopes":["` + w.scope + `"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":[` + acmeID + `]}]}`))
			// The listing order is the registry's: evaluation stops at the
			// first signature that verifies, whichever it is.
			out, err = w.verify(one, ref, time.Time{}, nil)
			if err != nil || out.Requirements != nil {
				t.Fatalf("1.0 policy: %v %+v", err, out)
			}
			for i, s := range out.Signatures {
				if s.Verified != (i == len(out.Signatures)-1) || s.Counted || s.KeyID != "" {
					t.Fatalf("1.0 policy: signature %d of %d: %+v", i+1, len(out.Signatures), s)
				}
			}
		})
	}
}

// TestCounterSignatures covers docs/policy-extensions.md §3 on every
// target: a counter-signature from the entry's store and identity
// satisfies it; one from another store or identity does not; the
// counter-signature's payload must name the signature manifest (VER-6).
func TestCounterSignatures(t *testing.T) {
	for name, mk := range extTargets(t) {
		t.Run(name, func(t *testing.T) {
			open, scope := mk(t)
			w := newExtWorld(t, open, scope)
			w.key("alice", "acme", "release")
			w.key("sec", "acme security", "security")
			w.key("intruder", "acme security", "other")      // right identity, wrong store
			w.key("impostor", "acme insecurity", "security") // right store, wrong identity
			d := w.image("app", "v1")
			ref := d.Digest.String()
			policy := w.policy(`{"name":"cs","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":[` + acmeID + `],
				"counterSignatures":[{"name":"security","trustStores":["ca:security"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=acme security"]}]}`)
			sig := w.sign("alice", ref, time.Time{}, false)

			out, err := w.verify(policy, ref, time.Time{}, nil)
			if !errors.Is(err, ErrCounterSignatureMissing) || out.Requirements.CounterSignatures[0].Met {
				t.Fatalf("without counter-signature: %v %+v", err, out)
			}
			if !strings.Contains(out.Reason, `no accepted signature is counter-signed by "security"`) {
				t.Errorf("reason %q", out.Reason)
			}

			cso := SignOCIOptions{SignOptions: SignOptions{Signer: w.keys["intruder"]}}
			v := &verifier.Verifier{Store: w.store}
			// CounterSignOCI finds the accepted signature itself.
			cs, err := CounterSignOCI(context.Background(), w.open(), ref, CounterSignOCIOptions{Sign: cso, Policy: policy, Verifier: v, Scope: w.scope})
			if err != nil || len(cs) != 1 || cs[0].On.Digest != sig.Manifest.Digest {
				t.Fatalf("counter-sign: %v %+v", err, cs)
			}
			cso.Signer = w.keys["impostor"]
			if _, err := CounterSignOCI(context.Background(), w.open(), ref, CounterSignOCIOptions{Sign: cso, Policy: policy, Verifier: v, Scope: w.scope, Signature: sig.Manifest.Digest.String()}); err != nil {
				t.Fatal(err)
			}
			out, err = w.verify(policy, ref, time.Time{}, nil)
			if !errors.Is(err, ErrCounterSignatureMissing) {
				t.Fatalf("counter-signatures from the wrong store and identity: %v %+v", err, out)
			}
			got := out.Signatures[0].CounterSignatures
			if len(got) != 2 {
				t.Fatalf("counter-signatures evaluated: %+v", got)
			}
			for _, c := range got {
				if len(c.Satisfies) != 0 || !strings.Contains(c.NotCounted, "satisfies no counterSignatures entry: security:") {
					t.Errorf("counter-signature %+v", c)
				}
			}

			cso.Signer = w.keys["sec"]
			if _, err := CounterSignOCI(context.Background(), w.open(), ref, CounterSignOCIOptions{Sign: cso, Policy: policy, Verifier: v, Scope: w.scope}); err != nil {
				t.Fatal(err)
			}
			out, err = w.verify(policy, ref, time.Time{}, nil)
			if err != nil || out.Verdict != VerdictTrusted {
				t.Fatalf("counter-signed by security: %v %+v", err, out)
			}
			r := out.Requirements.CounterSignatures[0]
			if !r.Met || r.On != sig.Manifest.Digest.String() || !strings.Contains(r.Signer, "O=acme security") {
				t.Errorf("requirement %+v", r)
			}

			// --signature must name an accepted signature of the artifact.
			if _, err := CounterSignOCI(context.Background(), w.open(), ref, CounterSignOCIOptions{Sign: cso, Policy: policy, Verifier: v, Scope: w.scope, Signature: d.Digest.String()}); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("--signature of a non-signature: %v", err)
			}
			// A counter-signature copied onto another signature does not
			// count: its payload names the first signature (VER-6).
			d2 := w.image("app2", "v2")
			sig2 := w.sign("alice", d2.Digest.String(), time.Time{}, false)
			copyCounterSignature(t, w, sig.Manifest, sig2.Manifest)
			out, err = w.verify(policy, d2.Digest.String(), time.Time{}, nil)
			if !errors.Is(err, ErrCounterSignatureMissing) {
				t.Fatalf("copied counter-signature: %v %+v", err, out)
			}
			if c := out.Signatures[0].CounterSignatures; len(c) != 1 || !strings.Contains(c[0].NotCounted, "not for the signature") {
				t.Errorf("copied counter-signature: %+v", c)
			}
		})
	}
}

// copyCounterSignature pushes, as a referrer of to, the envelope of a
// counter-signature of from (a replay).
func copyCounterSignature(t *testing.T, w *extWorld, from, to ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	tg := w.open()
	cds, _, err := registry.ListSignatures(ctx, tg, from, 0)
	if err != nil || len(cds) == 0 {
		t.Fatalf("list counter-signatures: %v", err)
	}
	for _, cd := range cds {
		sig, err := registry.FetchSignature(ctx, tg, cd, from)
		if err != nil {
			t.Fatal(err)
		}
		res, _ := (&verifier.Verifier{Store: w.store}).Verify(ctx, verifier.Input{Statement: &trustpolicy.Statement{Name: "x", SignatureVerification: trustpolicy.SignatureVerification{Level: "audit"}, TrustStores: []string{"ca:security"}, TrustedIdentities: []string{"*"}}, MediaType: sig.MediaType, Envelope: sig.Envelope})
		if res == nil || res.Content == nil || res.Content.CertificateChain[0].Subject.CommonName != "sec" {
			continue
		}
		if _, err := registry.PushSignatureAnnotated(ctx, tg, ocispec.Descriptor{MediaType: to.MediaType, Digest: to.Digest, Size: to.Size}, sig.MediaType, sig.Envelope, res.Content.CertificateChain, time.Now(), registry.FormConfig, nil); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("no counter-signature by sec to copy")
}

// memTagState is a TagBindingState in memory, for tests that do not test
// the file state itself.
type memTagState struct {
	mu sync.Mutex
	m  map[string]TagBindingRecord
}

func (s *memTagState) Accept(_ context.Context, repo, tag string, b TagBindingRecord) (*TagBindingRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]TagBindingRecord{}
	}
	k := repo + "\x00" + tag
	prev, ok := s.m[k]
	if !ok {
		s.m[k] = b
		return nil, nil
	}
	if b.Time.Before(prev.Time) && b.Digest != prev.Digest {
		return &prev, ErrTagRollback
	}
	if b.Time.After(prev.Time) {
		s.m[k] = b
	}
	return &prev, nil
}

// TestTagBinding covers docs/policy-extensions.md §4 on every target
// (VER-1: a tag is resolved once; by digest nothing changes): a bound tag
// verifies; a tag re-pointed to an unbound digest, a binding older than
// maxAge (freeze) and a tag rolled back to an older bound digest are each
// refused with a clear verdict.
func TestTagBinding(t *testing.T) {
	for name, mk := range extTargets(t) {
		t.Run(name, func(t *testing.T) {
			open, scope := mk(t)
			w := newExtWorld(t, open, scope)
			w.key("alice", "acme", "release")
			state := &FileTagBindings{Dir: t.TempDir()}
			policy := w.policy(`{"name":"tb","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":[` + acmeID + `],"tagBinding":{"maxAge":"24h"}}`)
			t0 := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
			old := w.image("old", "v1")
			w.sign("alice", "v1", t0, true)
			unbound := w.image("unbound", "")
			w.sign("alice", unbound.Digest.String(), t0, false)

			out, err := w.verify(policy, "v1", t0.Add(time.Hour), state)
			if err != nil || out.Verdict != VerdictTrusted || !out.Requirements.TagBinding.Met || out.Requirements.TagBinding.BoundBy == "" {
				t.Fatalf("bound tag: %v %+v", err, out)
			}

			// Freeze: the same binding a day later.
			out, err = w.verify(policy, "v1", t0.Add(25*time.Hour), state)
			if !errors.Is(err, ErrTagBindingExpired) || !strings.Contains(out.Reason, "older than maxAge 24h") || !strings.Contains(out.Reason, "frozen") {
				t.Fatalf("frozen tag: %v %+v", err, out)
			}
			// Verifying by digest is unchanged.
			if _, err := w.verify(policy, old.Digest.String(), t0.Add(25*time.Hour), state); err != nil {
				t.Fatalf("by digest: %v", err)
			}

			// Re-pointed to an unbound (but signed) digest.
			w.retag(unbound, "v1")
			out, err = w.verify(policy, "v1", t0.Add(time.Hour), state)
			if !errors.Is(err, ErrTagNotBound) || !strings.Contains(out.Reason, `binds tag "v1"`) {
				t.Fatalf("re-pointed tag: %v %+v", err, out)
			}

			// A newer image bound to v1, accepted; then v1 rolled back.
			t1 := t0.Add(2 * time.Hour)
			newer := w.image("newer", "v1")
			w.sign("alice", "v1", t1, true)
			if out, err := w.verify(policy, "v1", t1.Add(time.Hour), state); err != nil {
				t.Fatalf("newer binding: %v %+v", err, out)
			}
			w.retag(old, "v1")
			out, err = w.verify(policy, "v1", t1.Add(time.Hour), state)
			if !errors.Is(err, ErrTagRollback) {
				t.Fatalf("rollback: %v %+v", err, out)
			}
			tb := out.Requirements.TagBinding
			if tb.Previous == nil || tb.Previous.Digest != newer.Digest.String() || !tb.Previous.Time.Equal(t1) || !tb.BindingTime.Equal(t0) {
				t.Errorf("rollback verdict %+v", tb)
			}
			for _, want := range []string{t0.UTC().Format(time.RFC3339), t1.UTC().Format(time.RFC3339), newer.Digest.String(), "rollback"} {
				if !strings.Contains(out.Reason, want) {
					t.Errorf("reason %q lacks %q", out.Reason, want)
				}
			}
			// Re-signing the old digest later makes it current again.
			w.sign("alice", "v1", t1.Add(time.Hour), true)
			if out, err := w.verify(policy, "v1", t1.Add(2*time.Hour), state); err != nil {
				t.Fatalf("re-bound old digest: %v %+v", err, out)
			}
			// A binding dated in the future (a signer's wrong clock) is
			// ignored: recorded, it would make every later binding a
			// rollback.
			future := w.image("future", "v1")
			w.sign("alice", "v1", t1.Add(3*time.Hour), true)
			out, err = w.verify(policy, "v1", t1.Add(2*time.Hour), state)
			if !errors.Is(err, ErrTagNotBound) || !strings.Contains(out.Reason, "dated more than 5m0s in the future were ignored") ||
				!strings.Contains(out.Signatures[0].TagBindingIgnored, "in the future: ignored") {
				t.Fatalf("future binding: %v %+v", err, out)
			}
			w.retag(old, "v1")
			if out, err := w.verify(policy, "v1", t1.Add(2*time.Hour), state); err != nil {
				t.Fatalf("after a future binding was refused: %v %+v", err, out)
			}
			_ = future
			// Without state, a tag under tagBinding cannot be verified.
			if _, err := w.verify(policy, "v1", t1.Add(2*time.Hour), nil); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("no state: %v", err)
			}
		})
	}
}

// TestExtensionsTogether: minSignatures, counterSignatures and tagBinding
// in one statement, selected through a prefix scope (SEL-2 extended), on
// every target.
func TestExtensionsTogether(t *testing.T) {
	for name, mk := range extTargets(t) {
		t.Run(name, func(t *testing.T) {
			open, scope := mk(t)
			w := newExtWorld(t, open, scope)
			w.key("alice", "acme", "release")
			w.key("bob", "acme", "release")
			w.key("sec", "acme security", "security")
			prefix := path.Dir(scope) + "/*"
			policy, err := trustpolicy.ParseOCI(strings.NewReader(`{"version":"signet/v1","trustPolicies":[
				{"name":"all","registryScopes":["` + prefix + `"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":[` + acmeID + `],
				 "minSignatures":2,"counterSignatures":[{"name":"security","trustStores":["ca:security"],"trustedIdentities":["*"]}],"tagBinding":{"maxAge":"1h"}},
				{"name":"rest","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":["*"]}]}`))
			if err != nil {
				t.Fatal(err)
			}
			w.image("app", "v1")
			now := time.Now().Truncate(time.Second)
			state := &FileTagBindings{Dir: t.TempDir()}
			w.sign("alice", "v1", now, true)
			steps := []struct {
				name string
				do   func()
				want error
			}{
				{"one signer", func() {}, ErrTooFewSignatures},
				{"two signers, no counter-signature", func() { w.sign("bob", "v1", now, false) }, ErrCounterSignatureMissing},
				{"counter-signed", func() {
					_, err := CounterSignOCI(context.Background(), w.open(), "v1", CounterSignOCIOptions{Sign: SignOCIOptions{SignOptions: SignOptions{Signer: w.keys["sec"]}}, Policy: policy, Verifier: &verifier.Verifier{Store: w.store}, Scope: w.scope})
					if err != nil {
						t.Fatal(err)
					}
				}, nil},
			}
			for _, st := range steps {
				st.do()
				out, err := w.verify(policy, "v1", now.Add(time.Minute), state)
				if st.want == nil && err != nil || st.want != nil && !errors.Is(err, st.want) {
					t.Fatalf("%s: %v %+v", st.name, err, out)
				}
				if st.want == nil {
					r := out.Requirements
					if out.Policy.Name != "all" || !r.MinSignatures.Met || !r.CounterSignatures[0].Met || !r.TagBinding.Met {
						t.Fatalf("%s: %+v", st.name, r)
					}
				}
			}
			// A repository outside the prefix falls to the global
			// statement (no extensions).
			w.scope = path.Dir(path.Dir(scope)) + "/other"
			if out, err := w.verify(policy, "v1", now.Add(time.Minute), nil); err != nil || out.Policy.Name != "rest" || out.Requirements != nil {
				t.Fatalf("global statement: %v %+v", err, out)
			}
		})
	}
}

// TestMinSignaturesLimit: VER-4's signature limit also bounds k-of-n; a
// verdict cut short says so, and the error wraps ErrSignatureLimit.
func TestMinSignaturesLimit(t *testing.T) {
	dir := t.TempDir()
	w := newExtWorld(t, func() Target {
		s, err := oci.NewWithContext(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, "example.com/app")
	w.key("alice", "acme", "release")
	w.key("bob", "acme", "release")
	d := w.image("app", "v1")
	w.sign("alice", d.Digest.String(), time.Time{}, false)
	w.sign("bob", d.Digest.String(), time.Time{}, false)
	policy := w.policy(`{"name":"k2","registryScopes":["SCOPE"],"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":["*"],"minSignatures":2}`)
	out, err := VerifyOCI(context.Background(), w.open(), d.Digest.String(), VerifyOCIOptions{Policy: policy, Verifier: &verifier.Verifier{Store: w.store}, Scope: w.scope, MaxSignatures: 1})
	if !errors.Is(err, ErrTooFewSignatures) || !errors.Is(err, ErrSignatureLimit) || !strings.Contains(out.Reason, "evaluation stopped at the limit of 1 signatures") {
		t.Fatalf("limit 1 of 2: %v %+v", err, out)
	}
	if out, err := VerifyOCI(context.Background(), w.open(), d.Digest.String(), VerifyOCIOptions{Policy: policy, Verifier: &verifier.Verifier{Store: w.store}, Scope: w.scope, MaxSignatures: 2}); err != nil {
		t.Fatalf("limit 2: %v %+v", err, out)
	}
}
