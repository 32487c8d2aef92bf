package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/internal/testregistry"
)

// TestExtensionsCLI drives every signet/v1 member through the CLI on an OCI
// layout (docs/policy-extensions.md): verify's verdict in text and JSON,
// exit codes 1 with a Hint for each unmet requirement, sign --bind-tag,
// sign --countersign (and --signature), and list showing
// counter-signatures under their signature.
func TestExtensionsCLI(t *testing.T) {
	c := newCLI(t)
	c.env = map[string]string{"SIGNET_CONFIG": c.cfg, "SIGNET_CACHE": t.TempDir()}
	for _, k := range []struct{ name, store string }{{"alice", "release"}, {"bob", "release"}, {"sec", "security"}} {
		kf := c.addChainKey(k.name, "ec-256")
		c.must("cert", "add", "--type", "ca", "--store", k.store, kf.rootFile)
	}
	policy := `{"version":"signet/v1","trustPolicies":[{"name":"release","registryScopes":["example.com/team/*"],
		"signatureVerification":{"level":"strict"},"trustStores":["ca:release"],"trustedIdentities":["*"],
		"minSignatures":2,"counterSignatures":[{"name":"security","trustStores":["ca:security"],"trustedIdentities":["*"]}],
		"tagBinding":{"maxAge":"1h"}}]}`
	c.must("policy", "import", writeFile(t, t.TempDir(), "p.json", []byte(policy)))
	layout, _ := newLayout(t)
	tag := layout + ":v1"
	verify := func(extra ...string) result {
		return c.run(append([]string{"verify", "--oci-layout", "--scope", "example.com/team/app"}, append(extra, tag)...)...)
	}

	r := c.must("sign", "--oci-layout", "--key", "alice", "--bind-tag", tag)
	if strings.Contains(r.stderr, signWarning) {
		t.Errorf("--bind-tag warns about signing a tag:\n%s", r)
	}
	r = verify()
	checkFailure(t, r, exitNotTrusted, "1 of the required 2 signatures by distinct trusted signing keys verified", "more trusted signers must sign")
	if !strings.Contains(r.stdout, "minSignatures: 1 of 2 distinct trusted signing keys (not met)") || !strings.Contains(r.stdout, `[binds tag "v1"]: counted`) {
		t.Errorf("text verdict:\n%s", r)
	}
	r = verify("-o", "json")
	var out struct {
		Verdict      string
		Requirements struct {
			MinSignatures struct{ Required, Counted int }
		}
		Signatures []struct {
			Counted  bool
			KeyID    string
			BindsTag string
		}
	}
	jsonOut(t, r, &out)
	if out.Verdict != "notTrusted" || out.Requirements.MinSignatures.Required != 2 || out.Requirements.MinSignatures.Counted != 1 ||
		len(out.Signatures) != 1 || !out.Signatures[0].Counted || !strings.HasPrefix(out.Signatures[0].KeyID, "sha256:") || out.Signatures[0].BindsTag != "v1" {
		t.Errorf("JSON verdict: %+v\n%s", out, r.stdout)
	}

	c.must("sign", "--oci-layout", "--key", "bob", tag)
	checkFailure(t, verify(), exitNotTrusted, `no accepted signature is counter-signed by "security"`, "signet sign --countersign REF")

	// --signature picks one signature; the sec key counter-signs it.
	var sigs struct {
		Signatures []struct {
			Digest            string
			CounterSignatures []json.RawMessage
		}
	}
	jsonOut(t, c.must("list", "--oci-layout", "-o", "json", tag), &sigs)
	if len(sigs.Signatures) != 2 {
		t.Fatalf("list: %+v", sigs)
	}
	r = c.must("sign", "--oci-layout", "--key", "sec", "--countersign", "--scope", "example.com/team/app", "--signature", sigs.Signatures[1].Digest, tag)
	if !strings.Contains(r.stdout, "Successfully counter-signed signature "+sigs.Signatures[1].Digest) || strings.Count(r.stdout, "Successfully counter-signed") != 1 {
		t.Errorf("countersign --signature:\n%s", r)
	}
	r = verify()
	if r.code != 0 || !strings.Contains(r.stdout, "minSignatures: 2 of 2 distinct trusted signing keys (met)") ||
		!strings.Contains(r.stdout, `counter-signer "security": met by`) || !strings.Contains(r.stdout, `tag binding: "v1" bound by`) ||
		!strings.Contains(r.stdout, "counter-signature sha256:") {
		t.Fatalf("verify after counter-signing:\n%s", r)
	}
	r = c.must("list", "--oci-layout", tag)
	if !strings.Contains(r.stdout, "counter-signatures") {
		t.Errorf("list does not show the counter-signature:\n%s", r)
	}
	jsonOut(t, c.must("list", "--oci-layout", "-o", "json", tag), &sigs)
	if n := len(sigs.Signatures[0].CounterSignatures) + len(sigs.Signatures[1].CounterSignatures); n != 1 {
		t.Errorf("list -o json: %d counter-signatures", n)
	}

	// Re-point the tag to an image with no binding.
	store, err := oci.NewWithContext(context.Background(), layout)
	if err != nil {
		t.Fatal(err)
	}
	other := testregistry.PushImage(t, store, "other", "")
	otherRef := layout + "@" + other.Digest.String()
	c.must("sign", "--oci-layout", "--key", "alice", otherRef)
	c.must("sign", "--oci-layout", "--key", "bob", otherRef)
	c.must("sign", "--oci-layout", "--key", "sec", "--countersign", "--scope", "example.com/team/app", otherRef)
	// A fresh handle: the first one's index.json predates the signatures.
	if store, err = oci.NewWithContext(context.Background(), layout); err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(context.Background(), other, "v1"); err != nil {
		t.Fatal(err)
	}
	r = verify()
	checkFailure(t, r, exitNotTrusted, `binds tag "v1"`, "verify by digest, or have the publisher bind the tag")
	if !strings.Contains(r.stdout, `tag binding: "v1" not met: no trusted signature of`) {
		t.Errorf("text verdict of a re-pointed tag:\n%s", r)
	}
	// By digest, the same image is trusted: tagBinding applies to tags.
	c.must("verify", "--oci-layout", "--scope", "example.com/team/app", otherRef)

	// Flag misuse is exit 2.
	for _, args := range [][]string{
		{"sign", "--oci-layout", "--bind-tag", layout + "@sha256:" + strings.Repeat("0", 64)},
		{"sign", "--oci-layout", "--countersign", tag},
		{"sign", "--oci-layout", "--signature", "sha256:" + strings.Repeat("0", 64), tag},
		{"sign", "--oci-layout", "--countersign", "--bind-tag", "--scope", "example.com/a", tag},
		{"sign", "--oci-layout", "--countersign", "--scope", "example.com/team/*", tag},
		{"verify", "--oci-layout", "--scope", "example.com/team/*", tag},
	} {
		if r := c.run(args...); r.code != exitUsage {
			t.Errorf("%v: want exit 2:\n%s", args, r)
		}
	}
}

// TestTagBindingCLI: a frozen tag (binding older than maxAge) and a tag
// rolled back to an older bound digest are each refused with exit 1, a
// verdict naming both times (text and JSON) and a Hint; the rollback state
// lives in {CACHE}/tagbinding.
func TestTagBindingCLI(t *testing.T) {
	c := newCLI(t)
	cache := t.TempDir()
	c.env = map[string]string{"SIGNET_CONFIG": c.cfg, "SIGNET_CACHE": cache}
	kf := c.addChainKey("alice", "ec-256")
	c.must("cert", "add", "--type", "ca", "--store", "release", kf.rootFile)
	c.must("policy", "init", "--name", "tb", "--scope", "example.com/app", "--trust-store", "ca:release", "--trusted-identity", "*", "--tag-max-age", "1h")
	layout, first := newLayout(t)
	tag := layout + ":v1"
	base := time.Now().Truncate(time.Second)
	at := func(d time.Duration) { c.now = func() time.Time { return base.Add(d) } }
	verify := func(extra ...string) result {
		return c.run(append([]string{"verify", "--oci-layout", "--scope", "example.com/app"}, append(extra, tag)...)...)
	}

	at(-30 * time.Minute)
	c.must("sign", "--oci-layout", "--key", "alice", "--bind-tag", tag)
	at(0)
	c.must("verify", "--oci-layout", "--scope", "example.com/app", tag)
	if entries, _ := os.ReadDir(filepath.Join(cache, "tagbinding")); len(entries) != 1 {
		t.Errorf("tag binding state: %d entries in %s", len(entries), cache)
	}

	// Freeze: the same binding 2 hours later.
	at(2 * time.Hour)
	r := verify()
	checkFailure(t, r, exitNotTrusted, "older than maxAge 1h", "the publisher must bind the tag again")
	if !strings.Contains(r.stdout, `tag binding: "v1" not met:`) {
		t.Errorf("text verdict of a frozen tag:\n%s", r)
	}

	// A newer image bound to v1 and verified, then v1 rolled back.
	store, err := oci.NewWithContext(context.Background(), layout)
	if err != nil {
		t.Fatal(err)
	}
	newer := testregistry.PushImage(t, store, "newer", "v1")
	at(-10 * time.Minute)
	c.must("sign", "--oci-layout", "--key", "alice", "--bind-tag", tag)
	at(0)
	c.must("verify", "--oci-layout", "--scope", "example.com/app", tag)
	if store, err = oci.NewWithContext(context.Background(), layout); err != nil {
		t.Fatal(err)
	}
	old, err := store.Resolve(context.Background(), first.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(context.Background(), old, "v1"); err != nil {
		t.Fatal(err)
	}
	r = verify()
	oldTime, newTime := base.Add(-30*time.Minute).UTC().Format(time.RFC3339), base.Add(-10*time.Minute).UTC().Format(time.RFC3339)
	checkFailure(t, r, exitNotTrusted, "rollback", "older image under this tag")
	for _, want := range []string{oldTime, newTime, newer.Digest.String()} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("rollback error lacks %s:\n%s", want, r)
		}
	}
	r = verify("-o", "json")
	var out struct {
		Verdict, Reason string
		Requirements    struct {
			TagBinding struct {
				Met         bool
				BindingTime time.Time
				Previous    struct {
					Digest string
					Time   time.Time
				}
			}
		}
	}
	jsonOut(t, r, &out)
	tb := out.Requirements.TagBinding
	if r.code != exitNotTrusted || out.Verdict != "notTrusted" || tb.Met || !tb.BindingTime.Equal(base.Add(-30*time.Minute)) ||
		tb.Previous.Digest != newer.Digest.String() || !tb.Previous.Time.Equal(base.Add(-10*time.Minute)) || !strings.Contains(out.Reason, "rollback") {
		t.Errorf("JSON verdict of a rollback: %+v\n%s", out, r.stdout)
	}
	// By digest, nothing changes.
	c.must("verify", "--oci-layout", "--scope", "example.com/app", layout+"@"+first.String())
}

// TestExtensionFailedSignatureHint: under minSignatures, when no signature
// verifies at all, the error and hint are the failed check's (an untrusted
// signer), not "more signers must sign".
func TestExtensionFailedSignatureHint(t *testing.T) {
	c := newCLI(t)
	c.addChainKey("alice", "ec-256") // its root is in no store
	other := c.addChainKey("other", "ec-256")
	c.must("cert", "add", "--type", "ca", "--store", "release", other.rootFile)
	c.must("policy", "init", "--name", "k2", "--scope", "example.com/app", "--trust-store", "ca:release", "--trusted-identity", "*", "--min-signatures", "2")
	layout, dg := newLayout(t)
	ref := layout + "@" + dg.String()
	c.must("sign", "--oci-layout", "--key", "alice", ref)
	r := c.run("verify", "--oci-layout", "--scope", "example.com/app", ref)
	checkFailure(t, r, exitNotTrusted, "authenticity", "signer is not trusted")
}
