package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/signet-dev/signet/trustpolicy"
)

// extPolicy is a signet/v1 OCI document using every extension member
// (docs/policy-extensions.md).
const extPolicy = `{
    "version": "signet/v1",
    "trustPolicies": [
        {
            "name": "releases",
            "registryScopes": ["registry.example.com/releases/*", "registry.example.com/tools"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:release-keys"],
            "trustedIdentities": ["*"],
            "minSignatures": 2,
            "counterSignatures": [{"name": "security", "trustStores": ["ca:security"], "trustedIdentities": ["*"]}],
            "tagBinding": {"maxAge": "7d"}
        }
    ]
}
`

// TestPolicyExtensionImportShow: import accepts a signet/v1 document and
// show prints it unchanged on stdout and marks each extension member on
// stderr; the same members in a "1.0" document are refused with exit 2
// (TP-1, TP-13).
func TestPolicyExtensionImportShow(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.must("policy", "import", writeFile(t, dir, "ext.json", []byte(extPolicy)))
	r := c.must("policy", "show")
	if r.stdout != extPolicy {
		t.Errorf("show printed %q, want the file", r.stdout)
	}
	for _, want := range []string{
		"Note: this is a signet/v1 trust policy with signet extensions; notation refuses it",
		"[signet/v1] version = signet/v1",
		`[signet/v1] statement "releases": registryScopes[0] = registry.example.com/releases/*: prefix scope: every repository under registry.example.com/releases/`,
		`[signet/v1] statement "releases": minSignatures = 2`,
		`[signet/v1] statement "releases": counterSignatures[0] = security`,
		`[signet/v1] statement "releases": tagBinding = maxAge 7d`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("show's stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "registry.example.com/tools") {
		t.Errorf("an exact scope is marked as an extension:\n%s", r.stderr)
	}

	old := strings.Replace(extPolicy, `"signet/v1"`, `"1.0"`, 1)
	r = c.run("policy", "import", "--force", writeFile(t, dir, "old.json", []byte(old)))
	checkFailure(t, r, exitUsage, "is not a valid OCI trust policy", "")
	for _, want := range []string{"minSignatures is not allowed", "counterSignatures is not allowed", "tagBinding is not allowed", `prefix scope "registry.example.com/releases/*" is a signet extension`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("import of a 1.0 document with extensions: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// A plain 1.0 document shows no marks.
	c.ociPolicy(scoped(statement("plain", "strict", []string{"ca:a"}, []string{"*"}), "example.com/app"))
	if r := c.must("policy", "show"); strings.Contains(r.stderr, "signet/v1") {
		t.Errorf("a 1.0 document is marked:\n%s", r.stderr)
	}
}

// TestPolicyInitExtension: init writes a signet/v1 document exactly when
// an extension is asked for.
func TestPolicyInitExtension(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		version string
		check   func(t *testing.T, s *trustpolicy.Statement)
	}{
		{name: "exact scope stays 1.0", args: []string{"--scope", "example.com/app"}, version: "1.0"},
		{name: "prefix scope", args: []string{"--scope", "example.com/team/*"}, version: "signet/v1"},
		{name: "min signatures", args: []string{"--scope", "example.com/app", "--min-signatures", "3"}, version: "signet/v1",
			check: func(t *testing.T, s *trustpolicy.Statement) {
				if s.MinSignatures != 3 {
					t.Errorf("minSignatures = %d", s.MinSignatures)
				}
			}},
		{name: "tag max age", args: []string{"--scope", "example.com/app", "--tag-max-age", "7d"}, version: "signet/v1",
			check: func(t *testing.T, s *trustpolicy.Statement) {
				if s.TagBinding == nil || s.TagBinding.MaxAge != "7d" {
					t.Errorf("tagBinding = %+v", s.TagBinding)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			c.must(append([]string{"policy", "init", "--name", "p", "--trust-store", "ca:a", "--trusted-identity", "*"}, tc.args...)...)
			doc, err := trustpolicy.ParseOCI(bytes.NewReader(readFile(t, c.path("trustpolicy.oci.json"))))
			if err != nil {
				t.Fatal(err)
			}
			if doc.Version != tc.version {
				t.Errorf("version %q, want %q", doc.Version, tc.version)
			}
			if tc.check != nil {
				tc.check(t, &doc.TrustPolicies[0])
			}
		})
	}
	c := newCLI(t)
	r := c.run("policy", "init", "--name", "p", "--scope", "example.com/app", "--trust-store", "ca:a", "--trusted-identity", "*", "--tag-max-age", "soon")
	checkFailure(t, r, exitUsage, `maxAge "soon" is not a duration`, "")
	if _, err := os.Stat(c.path("trustpolicy.oci.json")); err == nil {
		t.Error("a refused init wrote a policy")
	}
}
