package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
)

// testIdentity is the subject `signet cert generate-test NAME` gives its
// certificate (notation's profile), as a trusted identity.
func testIdentity(name string) string {
	return "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=" + name
}

// cli runs signet in-process against its own configuration directory.
type cli struct {
	t   *testing.T
	cfg string
	// now, when set, is the clock handed to every command (Env.Now).
	now func() time.Time
	// env, when set, is the whole environment instead of SIGNET_CONFIG=cfg.
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, cfg: filepath.Join(t.TempDir(), "config")}
}

// result is one command run.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("signet %s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// errorLine returns the stderr line starting with "Error: ", or "".
func (r result) errorLine() string { return r.line("Error: ") }

// hintLine returns the stderr line starting with "Hint: ", or "".
func (r result) hintLine() string { return r.line("Hint: ") }

func (r result) line(prefix string) string {
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// run runs signet with args and returns what it printed and its exit code.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	return c.runStdin(nil, args...)
}

func (c *cli) runStdin(stdin []byte, args ...string) result {
	c.t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{
		Stdin:  bytes.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string {
			if c.env != nil {
				return c.env[k]
			}
			if k == "SIGNET_CONFIG" {
				return c.cfg
			}
			return ""
		},
		Now: c.now,
	}
	code := Main(context.Background(), args, env)
	return result{args: args, stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// must runs args and fails the test unless signet exits 0.
func (c *cli) must(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("want exit 0:\n%s", r)
	}
	return r
}

// path returns a path under the configuration directory.
func (c *cli) path(elem ...string) string {
	return filepath.Join(append([]string{c.cfg}, elem...)...)
}

// jsonOut decodes r's stdout into v.
func jsonOut(t *testing.T, r result, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r)
	}
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyFiles is a key registered with `signet key add` from a testpki chain.
type keyFiles struct {
	name, keyFile, certFile, rootFile string
	chain                             *testpki.Chain
}

// addChainKey issues a root → intermediate → leaf chain with a fresh leaf
// key of type kt, writes the key and chain files, and registers them with
// `signet key add NAME`. The root is not added to any trust store.
func (c *cli) addChainKey(name string, kt testpki.KeyType, extra ...string) keyFiles {
	c.t.Helper()
	root := testpki.Issue(c.t, testpki.Cert{Subject: testpki.Name(name + " root"), IsCA: true}, nil)
	inter := testpki.Issue(c.t, testpki.Cert{Subject: testpki.Name(name + " intermediate"), IsCA: true}, root)
	leaf := testpki.Issue(c.t, testpki.Cert{Subject: testpki.Name(name), KeyType: kt, Key: testpki.Key(c.t, kt, true)}, inter)
	dir := c.t.TempDir()
	k := keyFiles{
		name:     name,
		keyFile:  writeFile(c.t, dir, name+".key", testpki.KeyPEM(c.t, leaf.Key)),
		certFile: writeFile(c.t, dir, name+".crt", testpki.CertsPEM(leaf.Cert, inter.Cert, root.Cert)),
		rootFile: writeFile(c.t, dir, name+"-root.crt", testpki.CertsPEM(root.Cert)),
		chain:    &testpki.Chain{Root: root, Intermediate: inter, Leaf: leaf},
	}
	c.must(append([]string{"key", "add", "--key-file", k.keyFile, "--cert-file", k.certFile, name}, extra...)...)
	return k
}

// blobPolicy writes a blob trust policy document with the given statements
// straight into the configuration directory.
func (c *cli) blobPolicy(stmts ...map[string]any) {
	c.t.Helper()
	c.writePolicy("trustpolicy.blob.json", stmts)
}

// ociPolicy writes an OCI trust policy document (trustpolicy.oci.json).
func (c *cli) ociPolicy(stmts ...map[string]any) {
	c.t.Helper()
	c.writePolicy("trustpolicy.oci.json", stmts)
}

func (c *cli) writePolicy(name string, stmts []map[string]any) {
	c.t.Helper()
	doc, err := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": stmts})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.MkdirAll(c.cfg, 0o700); err != nil {
		c.t.Fatal(err)
	}
	writeFile(c.t, c.cfg, name, doc)
}

// statement builds a trust policy statement.
func statement(name, level string, stores, identities []string) map[string]any {
	s := map[string]any{"name": name, "signatureVerification": map[string]any{"level": level}}
	if stores != nil {
		s["trustStores"] = stores
	}
	if identities != nil {
		s["trustedIdentities"] = identities
	}
	return s
}

// global marks a blob statement as the global one.
func global(s map[string]any) map[string]any {
	s["globalPolicy"] = true
	return s
}

// scoped gives an OCI statement its registry scopes.
func scoped(s map[string]any, scopes ...string) map[string]any {
	s["registryScopes"] = scopes
	return s
}

// newLayout writes an OCI image layout holding one small image tagged v1
// and returns the layout directory and the image manifest's digest.
func newLayout(t *testing.T) (string, digest.Digest) {
	t.Helper()
	dir, d := testregistry.NewLayout(t, t.Name(), "v1")
	return dir, d.Digest
}

// signatureManifest reads one signature manifest of the layout.
func signatureManifest(t *testing.T, dir string, d digest.Digest) ocispec.Manifest {
	t.Helper()
	b := readFile(t, filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()))
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
