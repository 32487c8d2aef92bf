package verifier

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
)

// installTestPlugin builds plugin/testdata/testplugin (a real executable)
// and installs it as name in a new plugin directory.
func installTestPlugin(t *testing.T, name string) *plugin.Manager {
	t.Helper()
	dir := t.TempDir()
	pdir := filepath.Join(dir, name)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "build", "-o", filepath.Join(pdir, plugin.ExecutableName(name)), "github.com/signet-dev/signet/plugin/testdata/testplugin").CombinedOutput()
	if err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	return &plugin.Manager{Dir: dir}
}

// TestVerificationPlugin (PIPE-2, PIPE-8, VPLG-1..7, LVL-5, TC-23, ATTR-8):
// a signature naming a verification plugin is verified with it: the plugin
// decides the trusted identity and revocation, processes the critical
// attributes signet does not know, and its failures follow the level. The
// Verification Plugin and Minimum Version attributes are always processed:
// a plugin that is too old, or no plugin at all, fails the signature.
func TestVerificationPlugin(t *testing.T) {
	const name = "com.example.verifier" // the test plugin's "verifier" mode: both verifier capabilities, version 1.2.3
	m := installTestPlugin(t, name)
	f := newFixture(t)
	sign := func(minVersion string) []byte {
		return f.sign(t, signature.MediaTypeJWS, nil, func(r *signature.SignRequest) {
			r.ExtendedSignedAttributes = []signature.Attribute{
				{Key: signature.HeaderVerificationPlugin, Critical: true, Value: name},
				{Key: signature.HeaderVerificationPluginMinVersion, Critical: true, Value: minVersion},
				{Key: "com.example.policy", Critical: true, Value: "only-the-plugin-knows"},
			}
		})
	}
	env := sign("1.0.0")
	// Identities that do not match the leaf: the plugin decides identity.
	other := []string{"x509.subject: C=US, ST=WA, O=someone-else"}
	run := func(stmt *trustpolicy.Statement, env []byte, cfg map[string]string) *Result {
		v := &Verifier{Store: f.store, Plugins: m, PluginConfig: cfg}
		r, err := v.Verify(t.Context(), Input{Statement: stmt, MediaType: signature.MediaTypeJWS, Envelope: env, CheckTarget: checkTarget})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	strictOther := statement("strict", nil, []string{"ca:acme"}, other)
	if r := run(strictOther, env, nil); !r.Verified || status(r, trustpolicy.Revocation).Status != StatusPassed {
		t.Fatalf("plugin approves: %+v", r.Checks)
	}
	r := run(strictOther, env, map[string]string{"mode": "fail"})
	if c := status(r, trustpolicy.Authenticity); r.Verified || !strings.Contains(c.Reason, "identity is not trusted") {
		t.Errorf("plugin refuses identity at strict: %+v", r.Checks)
	}
	if r := run(statement("audit", nil, []string{"ca:acme"}, other), env, map[string]string{"mode": "fail"}); !r.Verified || len(r.Warnings()) != 2 {
		t.Errorf("plugin refusals at audit are warnings: %+v", r.Checks)
	}
	if r := run(strictOther, env, map[string]string{"mode": "unprocessed"}); r.Verified || status(r, trustpolicy.Integrity).Status != StatusFailed {
		t.Errorf("unprocessed critical attribute (VPLG-7): %+v", r.Checks)
	}
	// The trust store is still signet's (VPLG-4).
	f.store["ca:none"] = nil
	if r := run(statement("strict", nil, []string{"ca:none"}, other), env, nil); r.Verified {
		t.Errorf("a plugin replaced the trust store check: %+v", r.Checks)
	}
	// Too old a plugin fails even at audit (VPLG-2, TC-23).
	if r := run(statement("audit", nil, []string{"ca:acme"}, other), sign("2.0.0"), nil); r.Verified || !strings.Contains(status(r, trustpolicy.Integrity).Reason, "2.0.0") {
		t.Errorf("min version 2.0.0 with plugin 1.2.3: %+v", r.Checks)
	}
	// ATTR-8: without the plugin the signature fails, even at audit (signet
	// does not carry the plugin's logic).
	for _, pm := range []VerificationPlugins{nil, installTestPlugin(t, "com.example.other")} {
		v := &Verifier{Store: f.store, Plugins: pm}
		r, err := v.Verify(t.Context(), Input{Statement: statement("audit", nil, []string{"ca:acme"}, other), MediaType: signature.MediaTypeJWS, Envelope: env, CheckTarget: checkTarget})
		if err != nil {
			t.Fatal(err)
		}
		if r.Verified || !strings.Contains(r.Err.Error(), name) {
			t.Errorf("plugin %s absent (plugins %v): %+v", name, pm, r.Checks)
		}
	}
	// Revocation skipped: only the identity capability is asked.
	skipRev := statement("strict", map[trustpolicy.ValidationType]trustpolicy.Action{"revocation": "skip"}, []string{"ca:acme"}, other)
	if r := run(skipRev, env, nil); !r.Verified || status(r, trustpolicy.Revocation).Status != StatusSkipped {
		t.Errorf("revocation skip: %+v", r.Checks)
	}
}
