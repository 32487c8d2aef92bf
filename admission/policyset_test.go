package admission_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/admission"
	"github.com/signet-dev/signet/internal/testpki"
)

// projectConfigMap lays dir out as the kubelet projects a ConfigMap or
// Secret volume: the files in a timestamped "..TS" directory, "..data" a
// symlink to it, and each top-level name a symlink through "..data".
// Calling it again swaps "..data" atomically, as the kubelet does.
func projectConfigMap(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	ts := filepath.Join(dir, "..ts-"+strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "_"))
	tops := map[string]bool{}
	for rel, data := range files {
		p := filepath.Join(ts, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tops[strings.SplitN(rel, "/", 2)[0]] = true
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	for _, de := range entries {
		if n := de.Name(); !strings.HasPrefix(n, "..") && !tops[n] {
			os.Remove(filepath.Join(dir, n)) // the kubelet drops names no longer projected
		}
	}
	for top := range tops {
		link := filepath.Join(dir, top)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join("..data", top), link); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPolicySetFromConfigMapReloads: a set mounted as a ConfigMap
// (symlinks) loads, and a change of its files applies without a restart,
// dropping the verdicts cached under the old files.
func TestPolicySetFromConfigMapReloads(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	trusting := map[string][]byte{
		"trustpolicy.oci.json":             []byte(strings.Replace(trustAll, "%s", "mounted", 1)),
		"truststore/x509/ca/acme/root.pem": testpki.CertsPEM(e.chain.Root.Cert),
	}
	projectConfigMap(t, dir, trusting)
	v := newVerifier(t, e, func(o *admission.VerifierOptions) {
		o.PolicySets = map[string]string{"mounted": dir}
		o.ReloadInterval = 20 * time.Millisecond
	})
	ctx := context.Background()
	if r := v.VerifyImage(ctx, "mounted", e.signed); !r.Allowed || r.Statement != "mounted" {
		t.Fatalf("mounted set: %+v", r)
	}
	// The ConfigMap now trusts another root: the signed image is refused.
	projectConfigMap(t, dir, map[string][]byte{
		"trustpolicy.oci.json":             trusting["trustpolicy.oci.json"],
		"truststore/x509/ca/acme/root.pem": testpki.CertsPEM(e.other.Root.Cert),
	})
	if !waitFor(5*time.Second, func() bool { return !v.VerifyImage(ctx, "mounted", e.signed).Allowed }) {
		t.Fatal("the changed trust store was not applied")
	}
	if r := v.VerifyImage(ctx, "mounted", e.signed); r.Check != "authenticity" || r.Cached && r.Allowed {
		t.Fatalf("after reload: %+v", r)
	}
	// A broken policy fails closed, naming the mounted file.
	projectConfigMap(t, dir, map[string][]byte{"trustpolicy.oci.json": []byte("{")})
	if !waitFor(5*time.Second, func() bool { return v.VerifyImage(ctx, "mounted", e.signed).Check == admission.CheckPolicy }) {
		t.Fatal("the broken policy was not noticed")
	}
	if r := v.VerifyImage(ctx, "mounted", e.signed); r.Allowed || !strings.Contains(r.Reason, filepath.Join(dir, "trustpolicy.oci.json")) {
		t.Fatalf("broken policy: %+v", r)
	}
	// And repaired, it applies again.
	projectConfigMap(t, dir, trusting)
	if !waitFor(5*time.Second, func() bool { return v.VerifyImage(ctx, "mounted", e.signed).Allowed }) {
		t.Fatal("the repaired policy was not applied")
	}
}

// TestPolicySetRefused: links out of the set's directory and missing trust
// stores are refused when the webhook starts.
func TestPolicySetRefused(t *testing.T) {
	e := newTestEnv(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "trustpolicy.oci.json"), []byte(strings.Replace(trustAll, "%s", "x", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	linked := t.TempDir()
	if err := os.Symlink(filepath.Join(outside, "trustpolicy.oci.json"), filepath.Join(linked, "trustpolicy.oci.json")); err != nil {
		t.Fatal(err)
	}
	noStore := e.policyDir(t, strings.Replace(trustAll, "%s", "x", 1), nil)
	for _, tc := range []struct{ name, dir, want string }{
		{"link outside", linked, "links outside"},
		{"missing trust store", noStore, "trust store ca:acme"},
		{"no policy", t.TempDir(), "trust policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := admission.NewVerifier(admission.VerifierOptions{DefaultSet: e.dirs["default"], PolicySets: map[string]string{"bad": tc.dir}, SnapshotDir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `policy set "bad"`) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}
