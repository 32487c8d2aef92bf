package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dev/signet/trustpolicy"
)

// TestPolicyInit: `policy init` and `blob policy init` write valid
// one-statement documents, refuse to replace one without --force, and
// refuse the statements the specification forbids.
func TestPolicyInit(t *testing.T) {
	id := testIdentity("demo")
	tests := []struct {
		name string
		// legacy: the configuration already holds trustpolicy.json only.
		legacy bool
		args   []string
		// file is the policy file written, relative to the config dir.
		file  string
		check func(t *testing.T, data []byte)
	}{
		{
			name: "OCI",
			args: []string{"policy", "init", "--name", "prod", "--scope", "example.com/app", "--scope", "example.com/lib", "--trust-store", "ca:demo", "--trusted-identity", id, "--level", "permissive"},
			file: "trustpolicy.oci.json",
			check: func(t *testing.T, data []byte) {
				doc, err := trustpolicy.ParseOCI(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				s := doc.TrustPolicies[0]
				if len(doc.TrustPolicies) != 1 || s.Name != "prod" || !slices.Equal(s.RegistryScopes, []string{"example.com/app", "example.com/lib"}) ||
					s.SignatureVerification.Level != "permissive" || !slices.Equal(s.TrustStores, []string{"ca:demo"}) || !slices.Equal(s.TrustedIdentities, []string{id}) {
					t.Errorf("written policy = %+v", doc)
				}
			},
		},
		{
			// docs/configuration.md: init writes to whichever file exists,
			// so a directory shared with notation v1.3.2 keeps working.
			name:   "OCI with only the legacy trustpolicy.json",
			legacy: true,
			args:   []string{"policy", "init", "--name", "prod", "--scope", "*", "--trust-store", "ca:demo", "--trusted-identity", "*"},
			file:   "trustpolicy.json",
			check: func(t *testing.T, data []byte) {
				doc, err := trustpolicy.ParseOCI(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if s := doc.TrustPolicies[0]; s.Name != "prod" || !slices.Equal(s.RegistryScopes, []string{"*"}) || s.SignatureVerification.Level != "strict" {
					t.Errorf("written policy = %+v", doc)
				}
			},
		},
		{
			name: "blob, global",
			args: []string{"blob", "policy", "init", "--name", "releases", "--global", "--trust-store", "ca:demo", "--trusted-identity", id},
			file: "trustpolicy.blob.json",
			check: func(t *testing.T, data []byte) {
				doc, err := trustpolicy.ParseBlob(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				s, err := doc.Select("")
				if err != nil || s.Name != "releases" || s.SignatureVerification.Level != "strict" {
					t.Errorf("global statement = %+v, %v", s, err)
				}
			},
		},
		{
			name: "blob, named at skip",
			args: []string{"blob", "policy", "init", "--name", "dev", "--level", "skip"},
			file: "trustpolicy.blob.json",
			check: func(t *testing.T, data []byte) {
				doc, err := trustpolicy.ParseBlob(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if s, err := doc.Select("dev"); err != nil || !s.IsSkip() || s.GlobalPolicy {
					t.Errorf("statement = %+v, %v", s, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			force := append(append([]string{}, tt.args...), "--force")
			first := tt.args
			if tt.legacy {
				c.ociPolicy(scoped(statement("old", "strict", []string{"ca:old"}, []string{"*"}), "example.com/old"))
				legacy := readFile(t, c.path("trustpolicy.oci.json"))
				if err := os.Rename(c.path("trustpolicy.oci.json"), c.path("trustpolicy.json")); err != nil {
					t.Fatal(err)
				}
				// Without --force the legacy file is not replaced.
				checkFailure(t, c.run(tt.args...), exitUsage, "trustpolicy.json already exists", "")
				if got := readFile(t, c.path("trustpolicy.json")); !bytes.Equal(got, legacy) {
					t.Fatal("refused init changed trustpolicy.json")
				}
				first = force
			}
			r := c.must(first...)
			if !strings.Contains(r.stdout, c.path(tt.file)) {
				t.Errorf("stdout does not name %s:\n%s", tt.file, r)
			}
			data := readFile(t, c.path(tt.file))
			tt.check(t, data)
			if tt.legacy {
				if _, err := os.Lstat(c.path("trustpolicy.oci.json")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("trustpolicy.oci.json was created next to the legacy file: %v", err)
				}
			}

			// show prints the file as it is.
			show := []string{"policy", "show"}
			if tt.args[0] == "blob" {
				show = []string{"blob", "policy", "show"}
			}
			if r := c.must(show...); r.stdout != string(data) && r.stdout != string(data)+"\n" {
				t.Errorf("show printed\n%s\nwant\n%s", r.stdout, data)
			}

			// A second init needs --force; without it nothing changes.
			checkFailure(t, c.run(tt.args...), exitUsage, "already exists: use --force", "")
			if got := readFile(t, c.path(tt.file)); !bytes.Equal(got, data) {
				t.Error("refused init changed the file")
			}
			c.must(force...)
		})
	}
}

// TestPolicyInitRefused: init builds only valid documents; a refused init
// writes nothing.
func TestPolicyInitRefused(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		file    string
		wantErr string
	}{
		// BTP-3.
		{name: "global blob statement at skip", args: []string{"blob", "policy", "init", "--name", "g", "--global", "--level", "skip"}, file: "trustpolicy.blob.json", wantErr: "level skip cannot be used by the global policy"},
		// TP-12.
		{name: "global OCI scope at skip", args: []string{"policy", "init", "--name", "g", "--scope", "*", "--level", "skip"}, file: "trustpolicy.oci.json", wantErr: `level skip cannot be used with the global scope "*"`},
		// TP-11, TP-9.
		{name: "strict without trust stores", args: []string{"blob", "policy", "init", "--name", "g", "--trusted-identity", "*"}, file: "trustpolicy.blob.json", wantErr: "trust stores are missing"},
		{name: "skip with trust stores", args: []string{"blob", "policy", "init", "--name", "g", "--level", "skip", "--trust-store", "ca:x"}, file: "trustpolicy.blob.json", wantErr: "skip"},
		{name: "unknown level", args: []string{"policy", "init", "--name", "g", "--scope", "example.com/app", "--level", "lenient", "--trust-store", "ca:x", "--trusted-identity", "*"}, file: "trustpolicy.oci.json", wantErr: `level "lenient" is not supported`},
		// TP-6/TP-7: no tags in scopes.
		{name: "scope with a tag", args: []string{"policy", "init", "--name", "g", "--scope", "example.com/app:v1", "--trust-store", "ca:x", "--trusted-identity", "*"}, file: "trustpolicy.oci.json", wantErr: "example.com/app:v1"},
		{name: "OCI init without --scope", args: []string{"policy", "init", "--name", "g", "--trust-store", "ca:x", "--trusted-identity", "*"}, file: "trustpolicy.oci.json", wantErr: `"scope" not set`},
		{name: "init without --name", args: []string{"blob", "policy", "init", "--trust-store", "ca:x", "--trusted-identity", "*"}, file: "trustpolicy.blob.json", wantErr: `"name" not set`},
		// ID-3.
		{name: "identity without ST", args: []string{"blob", "policy", "init", "--name", "g", "--trust-store", "ca:x", "--trusted-identity", "x509.subject: C=US, O=acme"}, file: "trustpolicy.blob.json", wantErr: "lacks ST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			checkFailure(t, c.run(tt.args...), exitUsage, tt.wantErr, "")
			if _, err := os.Lstat(c.path(tt.file)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists after a refused init: %v", tt.file, err)
			}
		})
	}
}

// invalidPolicy violates several rules at once; import must name each.
const invalidPolicy = `{
  "version": "1.0",
  "trustPolicies": [
    {"name": "a", "registryScopes": ["example.com/app"], "globalPolicy": true,
     "signatureVerification": {"level": "strict", "override": {"integrity": "log"}},
     "trustStores": ["ca:demo"], "trustedIdentities": ["*", "x509.subject: C=US, ST=WA, O=acme"]},
    {"name": "a", "registryScopes": ["example.com/app"], "globalPolicy": true,
     "signatureVerification": {"level": "strict"},
     "trustStores": ["nostore"], "trustedIdentities": ["*"]}
  ]
}`

// TestPolicyImport: import validates first, reports every violation, and
// writes nothing when the file is invalid (TP-*, BTP-*, §5.8).
func TestPolicyImport(t *testing.T) {
	tests := []struct {
		name   string
		prefix []string
		file   string
		// existing: a valid policy is installed before the import.
		existing bool
		// violations are substrings that must each appear in the error.
		violations []string
	}{
		{
			name: "OCI, none installed", prefix: []string{"policy"}, file: "trustpolicy.oci.json",
			violations: []string{`name is used by more than one statement`, `integrity validation cannot be overridden`, `the wildcard "*" cannot be combined`, `entry "nostore"`, `scope "example.com/app" is also listed`},
		},
		{
			name: "OCI over an installed one", prefix: []string{"policy"}, file: "trustpolicy.oci.json", existing: true,
			violations: []string{`name is used by more than one statement`, `integrity validation cannot be overridden`, `the wildcard "*" cannot be combined`, `entry "nostore"`, `scope "example.com/app" is also listed`},
		},
		{
			name: "blob, none installed", prefix: []string{"blob", "policy"}, file: "trustpolicy.blob.json",
			violations: []string{`name is used by more than one statement`, `integrity validation cannot be overridden`, `the wildcard "*" cannot be combined`, `entry "nostore"`, "only one statement may be the global policy"},
		},
		{
			name: "blob over an installed one", prefix: []string{"blob", "policy"}, file: "trustpolicy.blob.json", existing: true,
			violations: []string{`name is used by more than one statement`, `integrity validation cannot be overridden`, `the wildcard "*" cannot be combined`, `entry "nostore"`, "only one statement may be the global policy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			valid := writeFile(t, t.TempDir(), "valid.json", []byte(`{"version":"1.0","trustPolicies":[{"name":"ok","registryScopes":["example.com/app"],"globalPolicy":true,"signatureVerification":{"level":"audit"},"trustStores":["ca:demo"],"trustedIdentities":["*"]}]}`))
			var before []byte
			if tt.existing {
				c.must(append(tt.prefix, "import", valid)...)
				before = readFile(t, c.path(tt.file))
			}
			bad := writeFile(t, t.TempDir(), "bad.json", []byte(invalidPolicy))
			for _, force := range []bool{false, true} {
				args := append(append([]string{}, tt.prefix...), "import", bad)
				if force {
					args = append(args, "--force")
				}
				r := c.run(args...)
				checkFailure(t, r, exitUsage, "bad.json is not a valid", "")
				for _, v := range tt.violations {
					if !strings.Contains(r.stderr, v) {
						t.Errorf("error does not report %s:\n%s", v, r.stderr)
					}
				}
				// One violation per line (docs/cli.md).
				if n := strings.Count(strings.TrimSpace(r.stderr), "\n") + 1; n < len(tt.violations) {
					t.Errorf("%d lines for %d violations:\n%s", n, len(tt.violations), r.stderr)
				}
				got, err := os.ReadFile(c.path(tt.file))
				switch {
				case tt.existing && !bytes.Equal(got, before):
					t.Errorf("invalid import (force=%v) changed the installed policy", force)
				case !tt.existing && !errors.Is(err, fs.ErrNotExist):
					t.Errorf("invalid import (force=%v) wrote %s: %v", force, tt.file, err)
				}
			}
			// A valid import over an existing one needs --force.
			if tt.existing {
				checkFailure(t, c.run(append(tt.prefix, "import", valid)...), exitUsage, "already exists: use --force", "")
				c.must(append(tt.prefix, "import", "--force", valid)...)
			} else {
				c.must(append(tt.prefix, "import", valid)...)
			}
			if got := readFile(t, c.path(tt.file)); !bytes.Equal(got, readFile(t, valid)) {
				t.Errorf("imported policy is not the file:\n%s", got)
			}
		})
	}
}

// TestPolicyShow: show prints an invalid file as it is, then fails with 2
// and its errors; a missing file is 2 with a hint.
func TestPolicyShow(t *testing.T) {
	tests := []struct {
		name    string
		prefix  []string
		file    string
		content string // "" means no file
		code    int
		wantErr string
		hint    string
	}{
		{name: "OCI invalid", prefix: []string{"policy"}, file: "trustpolicy.oci.json", content: invalidPolicy, code: exitUsage, wantErr: "is not a valid OCI trust policy"},
		{name: "blob invalid", prefix: []string{"blob", "policy"}, file: "trustpolicy.blob.json", content: invalidPolicy, code: exitUsage, wantErr: "is not a valid blob trust policy"},
		{name: "OCI malformed JSON", prefix: []string{"policy"}, file: "trustpolicy.oci.json", content: `{"version": "1.0", `, code: exitUsage, wantErr: "malformed JSON"},
		{name: "legacy OCI invalid", prefix: []string{"policy"}, file: "trustpolicy.json", content: `{"version":"1.0","trustPolicies":[]}`, code: exitUsage, wantErr: "trustpolicy.json is not a valid OCI trust policy"},
		{name: "OCI missing", prefix: []string{"policy"}, file: "trustpolicy.oci.json", code: exitUsage, wantErr: "the OCI trust policy is not present", hint: "policy init"},
		{name: "blob missing", prefix: []string{"blob", "policy"}, file: "trustpolicy.blob.json", code: exitUsage, wantErr: "the blob trust policy is not present", hint: "policy init"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			if tt.content != "" {
				if err := os.MkdirAll(c.cfg, 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, c.cfg, tt.file, []byte(tt.content))
			}
			r := c.run(append(tt.prefix, "show")...)
			checkFailure(t, r, tt.code, tt.wantErr, tt.hint)
			if tt.content != "" && strings.TrimSuffix(r.stdout, "\n") != strings.TrimSuffix(tt.content, "\n") {
				t.Errorf("show printed %q, want the file %q", r.stdout, tt.content)
			}
		})
	}
}

// TestPolicyImportLegacy: with only notation v1.3.2's trustpolicy.json
// present, import --force replaces that file and creates no
// trustpolicy.oci.json (docs/cli.md), and verify reads it.
func TestPolicyImportLegacy(t *testing.T) {
	c := newCLI(t)
	c.ociPolicy(scoped(statement("old", "strict", []string{"ca:old"}, []string{"*"}), "example.com/old"))
	if err := os.Rename(c.path("trustpolicy.oci.json"), c.path("trustpolicy.json")); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, t.TempDir(), "p.json", []byte(`{"version":"1.0","trustPolicies":[{"name":"new","registryScopes":["example.com/app"],"signatureVerification":{"level":"skip"}}]}`))
	checkFailure(t, c.run("policy", "import", p), exitUsage, "trustpolicy.json already exists", "")
	c.must("policy", "import", "--force", p)
	if got := readFile(t, c.path("trustpolicy.json")); !bytes.Equal(got, readFile(t, p)) {
		t.Errorf("trustpolicy.json = %s", got)
	}
	if _, err := os.Lstat(c.path("trustpolicy.oci.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("trustpolicy.oci.json: %v", err)
	}
	layout, _ := newLayout(t)
	r := c.must("verify", "--oci-layout", "--scope", "example.com/app", layout+":v1")
	if !strings.Contains(r.stdout, `Trust policy "new" is configured to skip`) {
		t.Errorf("verify did not use the imported legacy file:\n%s", r)
	}
}
