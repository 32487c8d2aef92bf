package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// blobWorld is a configuration directory with a default test key "demo"
// (trusted in ca:demo), a blob trust policy whose global statement "demo"
// and named statement "named" trust it at level strict, and a file signed
// with -m team=blue.
type blobWorld struct {
	c         *cli
	dir       string // holds the blob and its signature
	blob, sig string
}

func newBlobWorld(t *testing.T) *blobWorld {
	t.Helper()
	c := newCLI(t)
	c.must("cert", "generate-test", "--default", "demo")
	c.blobPolicy(
		global(statement("demo", "strict", []string{"ca:demo"}, []string{testIdentity("demo")})),
		statement("named", "strict", []string{"ca:demo"}, []string{"*"}),
	)
	dir := t.TempDir()
	blob := writeFile(t, dir, "release.tar", []byte("release 1.0\n"))
	c.must("blob", "sign", "-m", "team=blue", "--signature-directory", dir, blob)
	return &blobWorld{c: c, dir: dir, blob: blob, sig: blob + ".jws.sig"}
}

// clone copies w's configuration directory for a test that changes it; the
// blob and signature are shared (read-only).
func (w *blobWorld) clone(t *testing.T) *cli {
	t.Helper()
	c := newCLI(t)
	copyDir(t, w.c.cfg, c.cfg)
	return c
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkFailure asserts the documented shape of a failure (docs/exit-codes.md):
// the exit code, exactly one "Error: " line containing wantErr, and a
// "Hint: " line after it containing wantHint (no Hint line when wantHint
// is "", and any Hint line when wantHint is "*").
func checkFailure(t *testing.T, r result, wantCode int, wantErr, wantHint string) {
	t.Helper()
	if r.code != wantCode {
		t.Fatalf("exit code %d, want %d\n%s", r.code, wantCode, r)
	}
	var errLines, hintLines int
	errAt, hintAt := -1, -1
	for i, l := range strings.Split(r.stderr, "\n") {
		switch {
		case strings.HasPrefix(l, "Error: "):
			errLines++
			errAt = i
		case strings.HasPrefix(l, "Hint: "):
			hintLines++
			hintAt = i
		}
	}
	if errLines != 1 {
		t.Errorf("want exactly one Error: line, got %d\n%s", errLines, r)
	}
	if !strings.Contains(r.stderr[strings.Index(r.stderr, "Error: "):], wantErr) {
		t.Errorf("error does not contain %q\n%s", wantErr, r)
	}
	switch {
	case wantHint == "" && hintLines != 0:
		t.Errorf("want no Hint: line\n%s", r)
	case wantHint != "" && (hintLines != 1 || hintAt < errAt || wantHint != "*" && !strings.Contains(r.hintLine(), wantHint)):
		t.Errorf("want one Hint: line after the error containing %q\n%s", wantHint, r)
	}
}

// TestExitCodes pins one failure of every class of docs/exit-codes.md: its
// code, its Error line and its Hint line.
func TestExitCodes(t *testing.T) {
	w := newBlobWorld(t)
	layout, dg := newLayout(t)
	missing := filepath.Join(t.TempDir(), "missing")
	tampered := writeFile(t, w.dir, "tampered.tar", []byte("release 1.1\n"))

	tests := []struct {
		name string
		// setup edits a clone of the world's configuration; nil runs in
		// the world itself (which no case changes).
		setup    func(t *testing.T, c *cli)
		args     []string
		code     int
		wantErr  string
		wantHint string
	}{
		// 2: bad usage.
		{name: "unknown command", args: []string{"frobnicate"}, code: exitUsage, wantErr: `unknown command "frobnicate"`},
		{name: "unknown subcommand flag", args: []string{"blob", "verify", "--frobnicate", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "unknown flag: --frobnicate", wantHint: "signet blob verify --help"},
		{name: "unknown shorthand flag", args: []string{"version", "-Z"}, code: exitUsage, wantErr: "unknown shorthand flag: 'Z'", wantHint: "signet version --help"},
		{name: "blob verify without the file", args: []string{"blob", "verify", "--signature", w.sig}, code: exitUsage, wantErr: "requires one file (got 0 arguments)", wantHint: "signet blob verify --help"},
		{name: "blob verify with two files", args: []string{"blob", "verify", "--signature", w.sig, w.blob, w.blob}, code: exitUsage, wantErr: "requires one file (got 2 arguments)", wantHint: "--help"},
		{name: "blob verify without --signature", args: []string{"blob", "verify", w.blob}, code: exitUsage, wantErr: `"signature" not set`},
		{name: "sign without a reference", args: []string{"sign", "--oci-layout"}, code: exitUsage, wantErr: "requires at least one artifact reference", wantHint: "signet sign --help"},
		{name: "cert add without a file", args: []string{"cert", "add", "--type", "ca", "--store", "x"}, code: exitUsage, wantErr: "at least one certificate file"},
		{name: "key delete without a name", args: []string{"key", "delete"}, code: exitUsage, wantErr: "at least one key name"},
		{name: "bad -o value", args: []string{"blob", "verify", "-o", "yaml", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: `unsupported output format "yaml"`},
		{name: "bad -o value on version", args: []string{"version", "-o", "xml"}, code: exitUsage, wantErr: `unsupported output format "xml"`},
		{name: "-m without = at verify", args: []string{"blob", "verify", "-m", "team", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: `user metadata "team": want key=value`},
		{name: "-m without = at sign", args: []string{"blob", "sign", "-m", "team", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: `user metadata "team": want key=value`},
		{name: "-m with an empty value", args: []string{"blob", "verify", "-m", "team=", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: `user metadata "team=": want key=value`},
		{name: "-m given twice", args: []string{"blob", "sign", "-m", "a=1", "-m", "a=2", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: `key "a" given twice`},
		// PAY-7: keys with the reserved prefix are refused at signing.
		{name: "reserved metadata key at blob sign", args: []string{"blob", "sign", "-m", "io.cncf.notary.x=1", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: `"io.cncf.notary.x" has the reserved prefix`},
		{name: "reserved metadata key at sign", args: []string{"sign", "--oci-layout", "-m", "io.cncf.notary.x=1", layout + "@" + dg.String()}, code: exitUsage, wantErr: `"io.cncf.notary.x" has the reserved prefix`},
		// BTP-4 [REF]: a blank name is a usage error, not "not found".
		{name: "empty --policy-name", args: []string{"blob", "verify", "--policy-name", "", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "--policy-name cannot be empty"},
		{name: "blank --policy-name", args: []string{"blob", "verify", "--policy-name", "  ", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "--policy-name cannot be empty"},
		{name: "one-space --policy-name", args: []string{"blob", "verify", "--policy-name", " ", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "--policy-name cannot be empty"},
		{name: "tab --policy-name", args: []string{"blob", "verify", "--policy-name", "\t", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "--policy-name cannot be empty"},
		{name: "--policy-name= with nothing", args: []string{"blob", "verify", "--policy-name=", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "--policy-name cannot be empty"},
		// TS-6: a trust store the selected statement names that is
		// missing or empty is invalid configuration, even when another
		// store trusts the signer, and even without a signature.
		{
			name: "missing trust store next to the signer's (blob)",
			setup: func(t *testing.T, c *cli) {
				c.blobPolicy(global(statement("demo", "strict", []string{"ca:missing", "ca:demo"}, []string{"*"})))
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage,
			wantErr: filepath.Join("truststore", "x509", "ca", "missing"), wantHint: "signet cert add --type ca --store missing FILE",
		},
		{
			name: "missing tsa trust store (blob)",
			setup: func(t *testing.T, c *cli) {
				c.blobPolicy(global(statement("demo", "strict", []string{"ca:demo", "tsa:stamps"}, []string{"*"})))
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage,
			wantErr: `trust store "tsa:stamps": trust store does not exist`, wantHint: "signet cert add --type tsa --store stamps FILE",
		},
		{
			name: "empty trust store (blob)",
			setup: func(t *testing.T, c *cli) {
				if err := os.MkdirAll(filepath.Join(c.cfg, "truststore", "x509", "ca", "empty"), 0o700); err != nil {
					t.Fatal(err)
				}
				c.blobPolicy(global(statement("demo", "strict", []string{"ca:demo", "ca:empty"}, []string{"*"})))
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage,
			wantErr: `trust store "ca:empty": no x509 certificates were found`, wantHint: "signet cert add --type ca --store empty FILE",
		},
		{
			name: "missing trust store of an unsigned OCI artifact",
			setup: func(t *testing.T, c *cli) {
				c.ociPolicy(scoped(statement("x", "strict", []string{"ca:missing"}, []string{"*"}), "*"))
			},
			args: []string{"verify", "--oci-layout", "--scope", "example.com/app", layout + "@" + dg.String()}, code: exitUsage,
			wantErr: `trust policy statement "x": trust store "ca:missing": trust store does not exist`, wantHint: `remove "ca:missing" from the trustStores of trust policy statement "x"`,
		},
		{
			name: "trust store file that is not a certificate",
			setup: func(t *testing.T, c *cli) {
				writeFile(t, filepath.Join(c.cfg, "truststore", "x509", "ca", "demo"), "notes.txt", []byte("not a certificate"))
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage,
			wantErr: filepath.Join("ca", "demo", "notes.txt") + `": invalid certificate`, wantHint: `replace or remove the file "notes.txt"`,
		},
		{name: "negative --expiry", args: []string{"blob", "sign", "-e", "-1h", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: "positive whole number of seconds"},
		{name: "--expiry not in whole seconds", args: []string{"blob", "sign", "-e", "1500ms", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: "positive whole number of seconds"},
		{name: "malformed --media-type at sign", args: []string{"blob", "sign", "--media-type", "text/plain;;", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: `media type "text/plain;;"`},
		{name: "malformed --media-type at verify", args: []string{"blob", "verify", "--media-type", "text/plain;;", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: `media type "text/plain;;"`},
		{name: "signature file exists", args: []string{"blob", "sign", "--signature-directory", w.dir, w.blob}, code: exitUsage, wantErr: "already exists: use --force"},
		{name: "directory as the blob", args: []string{"blob", "verify", "--signature", w.sig, w.dir}, code: exitUsage, wantErr: "is not a regular file"},
		{name: "unknown key name", args: []string{"blob", "sign", "--key", "nope", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: `signing key not found: "nope"`, wantHint: "signet key add"},
		// BLOB-2: the envelope type comes from the file name.
		{name: "signature file name without .jws.sig", args: []string{"blob", "verify", "--signature", w.blob, w.blob}, code: exitUsage, wantErr: "release.tar"},
		{name: "garbage cert file to cert add", args: []string{"cert", "add", "--type", "ca", "--store", "junk", w.blob}, code: exitUsage, wantErr: `trust store "ca:junk"`},
		{name: "unknown trust store type", args: []string{"cert", "add", "--type", "root", "--store", "x", w.blob}, code: exitUsage, wantErr: `unsupported trust store type "root"`},
		{name: "verify without --scope", args: []string{"verify", "--oci-layout", layout + "@" + dg.String()}, code: exitUsage, wantErr: "--scope is required"},
		{name: "verify --scope without --oci-layout", args: []string{"verify", "--scope", "example.com/app", layout + "@" + dg.String()}, code: exitUsage, wantErr: "--scope is only for --oci-layout"},
		{name: "layout path as a registry reference", args: []string{"verify", layout + "@" + dg.String()}, code: exitUsage, wantErr: "invalid reference", wantHint: "--oci-layout"},
		{name: "registry reference without tag or digest", args: []string{"verify", "localhost:5000/app"}, code: exitUsage, wantErr: "names no tag or digest"},
		{name: "unreachable registry", args: []string{"list", "127.0.0.1:1/app@" + dg.String()}, code: exitIO, wantErr: "127.0.0.1:1"},
		{name: "malformed layout reference", args: []string{"list", "--oci-layout", layout}, code: exitUsage, wantErr: "invalid OCI layout reference"},
		{name: "missing OCI policy", args: []string{"verify", "--oci-layout", "--scope", "example.com/app", layout + "@" + dg.String()}, code: exitUsage, wantErr: "trust policy is not present", wantHint: "signet policy init"},
		{
			name:  "missing blob policy",
			setup: func(t *testing.T, c *cli) { os.Remove(c.path("trustpolicy.blob.json")) },
			args:  []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "trust policy is not present", wantHint: "signet blob policy init",
		},
		{
			name: "invalid blob policy file",
			setup: func(t *testing.T, c *cli) {
				writeFile(t, c.cfg, "trustpolicy.blob.json", []byte(`{"version":"1.0","trustPolicies":[{"name":"x","globalPolicy":true,"signatureVerification":{"level":"strict"}}]}`))
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: `trust policy statement "x"`, wantHint: "'signet blob policy show' prints it",
		},
		{
			name:  "malformed blob policy JSON",
			setup: func(t *testing.T, c *cli) { writeFile(t, c.cfg, "trustpolicy.blob.json", []byte(`{"version":`)) },
			args:  []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitUsage, wantErr: "malformed JSON", wantHint: "signet blob policy import --force",
		},
		{
			name: "invalid OCI policy file",
			setup: func(t *testing.T, c *cli) {
				c.ociPolicy(scoped(statement("x", "skip", nil, nil), "*")) // TP-12
			},
			args: []string{"verify", "--oci-layout", "--scope", "example.com/app", layout + "@" + dg.String()}, code: exitUsage, wantErr: `trust policy statement "x"`, wantHint: "'signet policy show' prints it",
		},
		{
			name:  "malformed signingkeys.json",
			setup: func(t *testing.T, c *cli) { writeFile(t, c.cfg, "signingkeys.json", []byte(`[`)) },
			args:  []string{"blob", "sign", "--signature-directory", t.TempDir(), w.blob}, code: exitUsage, wantErr: "signingkeys.json",
		},

		// 3: I/O failures.
		{name: "missing blob file at verify", args: []string{"blob", "verify", "--signature", w.sig, missing}, code: exitIO, wantErr: "no such file or directory"},
		{name: "missing blob file at sign", args: []string{"blob", "sign", "--signature-directory", t.TempDir(), missing}, code: exitIO, wantErr: "no such file or directory"},
		{name: "missing signature file", args: []string{"blob", "verify", "--signature", missing + ".jws.sig", w.blob}, code: exitIO, wantErr: "signature file"},
		{name: "missing signature file at inspect", args: []string{"blob", "inspect", missing + ".cose.sig"}, code: exitIO, wantErr: "signature file"},
		{name: "signature directory does not exist", args: []string{"blob", "sign", "--signature-directory", filepath.Join(missing, "dir"), w.blob}, code: exitIO, wantErr: "write signature"},
		{name: "missing cert file to cert add", args: []string{"cert", "add", "--type", "ca", "--store", "x", missing}, code: exitIO, wantErr: "no such file or directory"},
		{name: "missing policy file to import", args: []string{"policy", "import", missing}, code: exitIO, wantErr: "no such file or directory"},
		{
			name: "layout dir does not exist at verify",
			setup: func(t *testing.T, c *cli) {
				c.ociPolicy(scoped(statement("x", "strict", []string{"ca:demo"}, []string{"*"}), "*"))
			},
			args: []string{"verify", "--oci-layout", "--scope", "example.com/app", missing + "@" + dg.String()}, code: exitIO, wantErr: "is not an OCI image layout",
		},
		{name: "layout dir does not exist at sign", args: []string{"sign", "--oci-layout", missing + "@" + dg.String()}, code: exitIO, wantErr: "is not an OCI image layout"},
		{name: "layout dir does not exist at list", args: []string{"list", "--oci-layout", missing + ":v1"}, code: exitIO, wantErr: "is not an OCI image layout"},
		{name: "layout dir does not exist at inspect", args: []string{"inspect", "--oci-layout", missing + ":v1"}, code: exitIO, wantErr: "is not an OCI image layout"},
		{name: "tag not in layout", args: []string{"list", "--oci-layout", layout + ":v2"}, code: exitIO, wantErr: "v2"},

		// 1: verification ran and the artifact is not trusted.
		{name: "tampered blob", args: []string{"blob", "verify", "--signature", w.sig, tampered}, code: exitNotTrusted, wantErr: `(policy "demo", targetArtifact check)`, wantHint: "the signature belongs to other content"},
		// TC-24 (c), BVER-3.
		{name: "wrong --media-type", args: []string{"blob", "verify", "--media-type", "text/plain", "--signature", w.sig, w.blob}, code: exitNotTrusted, wantErr: `not "text/plain"`, wantHint: "--media-type"},
		// TC-24 (e), PAY-8.
		{name: "missing -m metadata", args: []string{"blob", "verify", "-m", "build=42", "--signature", w.sig, w.blob}, code: exitNotTrusted, wantErr: `(policy "demo", userMetadata check)`, wantHint: "--user-metadata"},
		{name: "different -m metadata value", args: []string{"blob", "verify", "-m", "team=red", "--signature", w.sig, w.blob}, code: exitNotTrusted, wantErr: "lacks team=red", wantHint: "--user-metadata"},
		// BTP-4: an unknown name is "not trusted", not a usage error.
		{name: "unknown --policy-name", args: []string{"blob", "verify", "--policy-name", "nope", "--signature", w.sig, w.blob}, code: exitNotTrusted, wantErr: `no statement is named "nope"`},
		// TC-24 (f).
		{
			name: "no global blob policy",
			setup: func(t *testing.T, c *cli) {
				c.blobPolicy(statement("named", "strict", []string{"ca:demo"}, []string{"*"}))
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitNotTrusted, wantErr: "no statement is the global policy",
		},
		{
			name: "untrusted signer",
			setup: func(t *testing.T, c *cli) {
				c.blobPolicy(global(statement("other", "strict", []string{"ca:other"}, []string{"*"})))
				c.must("cert", "add", "--type", "ca", "--store", "other", c.addChainKey("other", "ec-256").rootFile)
			},
			args: []string{"blob", "verify", "--signature", w.sig, w.blob}, code: exitNotTrusted, wantErr: `(policy "other", authenticity check)`, wantHint: "signet cert add --type ca",
		},
		{
			name: "no applicable OCI statement",
			setup: func(t *testing.T, c *cli) {
				c.ociPolicy(scoped(statement("x", "strict", []string{"ca:demo"}, []string{"*"}), "example.com/app"))
			},
			args: []string{"verify", "--oci-layout", "--scope", "example.com/other", layout + "@" + dg.String()}, code: exitNotTrusted, wantErr: `"example.com/other"`,
		},
		{
			name: "unsigned OCI artifact",
			setup: func(t *testing.T, c *cli) {
				c.ociPolicy(scoped(statement("x", "strict", []string{"ca:demo"}, []string{"*"}), "*"))
			},
			args: []string{"verify", "--oci-layout", "--scope", "example.com/app", layout + "@" + dg.String()}, code: exitNotTrusted, wantErr: "no signature is associated", wantHint: "sign the artifact first",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := w.c
			if tt.setup != nil {
				c = w.clone(t)
				tt.setup(t, c)
			}
			checkFailure(t, c.run(tt.args...), tt.code, tt.wantErr, tt.wantHint)
		})
	}
	// The world itself still verifies: no case above changed it (the
	// refused re-sign left the signature as it was).
	w.c.must("blob", "verify", "-m", "team=blue", "--signature", w.sig, w.blob)
}

// TestUnknownSubcommand: a mistyped subcommand is a usage error at every
// level, not a help page with exit 0; a bare group prints its help.
func TestUnknownSubcommand(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		name       string
		args       []string
		want, hint string
	}{
		{name: "root", args: []string{"verfy"}, want: `unknown command "verfy" for "signet"`},
		{name: "blob", args: []string{"blob", "verfy", "x"}, want: `unknown command "verfy" for "signet blob"`, hint: "run 'signet blob --help'"},
		{name: "blob policy", args: []string{"blob", "policy", "shwo"}, want: `unknown command "shwo" for "signet blob policy"`, hint: "run 'signet blob policy --help'"},
		{name: "cert alias", args: []string{"cert", "lst"}, want: `unknown command "lst" for "signet certificate"`, hint: "run 'signet certificate --help'"},
		{name: "key", args: []string{"key", "remove", "a"}, want: `unknown command "remove" for "signet key"`, hint: "run 'signet key --help'"},
		{name: "completion", args: []string{"completion", "tcsh"}, want: `unknown command "tcsh" for "signet completion"`, hint: "run 'signet completion --help'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFailure(t, c.run(tt.args...), exitUsage, tt.want, tt.hint)
		})
	}
	for _, group := range [][]string{{"blob"}, {"key"}, {"cert"}, {"policy"}, {"blob", "policy"}, {"completion"}} {
		r := c.must(group...)
		if !strings.Contains(r.stdout, "Available Commands:") {
			t.Errorf("signet %v printed no help:\n%s", group, r)
		}
	}
}

// TestHelp: -h/--help prints the command's usage on stdout and exits 0.
func TestHelp(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"--help"}, want: []string{"blob", "verify", "certificate", "completion"}},
		{args: []string{"blob", "verify", "-h"}, want: []string{"--signature", "--policy-name", "--media-type", "--user-metadata", "-o, --output", "-d, --debug", "-v, --verbose"}},
		{args: []string{"sign", "--help"}, want: []string{"--oci-layout", "--signature-manifest", "-e, --expiry", "-k, --key"}},
		{args: []string{"verify", "--help"}, want: []string{"--scope", "--max-signatures", "Exit codes: 0 trusted, 1 not trusted, 2 bad usage or configuration, 3 I/O"}},
		{args: []string{"cert", "generate-test", "--help"}, want: []string{"-b, --bits", "--key-type"}},
		{args: []string{"key", "update", "--help"}, want: []string{"set-default", "--default"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := c.must(tt.args...)
			if !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
				t.Errorf("help:\n%s", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("help lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestRedactPIN: a PKCS#11 URI's pin-value never reaches the error line.
func TestRedactPIN(t *testing.T) {
	var b strings.Builder
	reportError(&b, errors.New(`plugin "io.signet.pkcs11", key "pkcs11:token=t;object=k?pin-value=1234&module-path=/x.so": not found`))
	if strings.Contains(b.String(), "1234") || !strings.Contains(b.String(), "pin-value=REDACTED&module-path") {
		t.Errorf("%s", b.String())
	}
}
