package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/signature"
)

// signetBin is the signet command built once for the package.
var signetBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "signet-interop")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signetBin = filepath.Join(dir, "signet")
	build := exec.Command("go", "build", "-o", signetBin, "github.com/signet-dev/signet/cmd/signet")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build signet:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// world is one notation configuration directory shared by both tools:
// notation finds it as $XDG_CONFIG_HOME/notation, signet as $SIGNET_CONFIG.
type world struct {
	t        *testing.T
	xdg      string
	notation string // notation binary for this world
	// cache is XDG_CACHE_HOME of both tools (notation's CRL cache and
	// signet's): "" means <xdg>/cache. Tests that must not see an earlier
	// run's cached CRLs set a fresh one.
	cache string
}

// cacheHome is the tools' XDG_CACHE_HOME.
func (w *world) cacheHome() string {
	if w.cache != "" {
		return w.cache
	}
	return filepath.Join(w.xdg, "cache")
}

func newWorld(t *testing.T, notationBin string) *world {
	t.Helper()
	return &world{t: t, xdg: t.TempDir(), notation: notationBin}
}

// Config is the configuration directory.
func (w *world) Config() string { return filepath.Join(w.xdg, "notation") }

// result is one command run.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func toResult(stdout, stderr string, err error) result {
	r := result{stdout: stdout, stderr: stderr}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
		r.stderr += "\n" + err.Error()
	}
	return r
}

// Notation runs the world's notation.
func (w *world) Notation(args ...string) result {
	w.t.Helper()
	env := []string{"XDG_CONFIG_HOME=" + w.xdg, "XDG_CACHE_HOME=" + w.cacheHome(), "NOTATION_EXPERIMENTAL=1"}
	return toResult(peer.Run(w.t, w.notation, env, args...))
}

// Signet runs signet on the same configuration directory.
func (w *world) Signet(args ...string) result {
	w.t.Helper()
	env := []string{"SIGNET_CONFIG=" + w.Config(), "XDG_CACHE_HOME=" + w.cacheHome()}
	return toResult(peer.Run(w.t, signetBin, env, args...))
}

// must fails the test unless r succeeded.
func must(t *testing.T, r result, what string) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s failed: %s", what, r)
	}
	return r
}

// writeFile writes data under dir and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// addKey makes a root → leaf chain with a leaf of key type kt, registers the
// key with `signet key add` (so notation must read signet's
// signingkeys.json), and trusts the root in store ca/<name> with `notation
// cert add` (so signet must read notation's trust store).
func (w *world) addKey(name string, kt testpki.KeyType) *testpki.Issued {
	w.t.Helper()
	root := testpki.Issue(w.t, testpki.Cert{Subject: testpki.Name(name + " root"), IsCA: true, KeyType: "ec-384"}, nil)
	leaf := testpki.Issue(w.t, testpki.Cert{Subject: testpki.Name(name), KeyType: kt, Key: testpki.Key(w.t, kt, true)}, root)
	dir := w.t.TempDir()
	keyFile := writeFile(w.t, dir, name+".key", testpki.KeyPEM(w.t, leaf.Key))
	certFile := writeFile(w.t, dir, name+".crt", testpki.CertsPEM(leaf.Cert, root.Cert))
	rootFile := writeFile(w.t, dir, name+"-root.crt", testpki.CertsPEM(root.Cert))
	must(w.t, w.Signet("key", "add", "--key-file", keyFile, "--cert-file", certFile, name), "signet key add")
	must(w.t, w.Notation("cert", "add", "--type", "ca", "--store", name, rootFile), "notation cert add")
	return root
}

// ociPolicy imports an OCI trust policy with notation (which writes
// trustpolicy.json, the only name notation v1.3.2 reads).
func (w *world) ociPolicy(scope string, stores []string, identities []string, level string, override map[string]string) {
	w.t.Helper()
	sv := map[string]any{"level": level}
	if len(override) > 0 {
		sv["override"] = override
	}
	stmt := map[string]any{
		"name":                  "test",
		"registryScopes":        []string{scope},
		"signatureVerification": sv,
	}
	if level != "skip" {
		stmt["trustStores"] = stores
		stmt["trustedIdentities"] = identities
	}
	doc, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{stmt}})
	p := writeFile(w.t, w.t.TempDir(), "policy.json", doc)
	must(w.t, w.Notation("policy", "import", "--force", p), "notation policy import")
}

// newLayout writes an OCI image layout holding one small image tagged v1
// and returns the layout directory and the image manifest's digest.
func newLayout(t *testing.T) (string, digest.Digest) {
	t.Helper()
	dir, d := testregistry.NewLayout(t, t.Name(), "v1")
	return dir, d.Digest
}

// signatureManifests returns the signature manifests referring to subject
// in the layout (either form).
func signatureManifests(t *testing.T, dir string, subject digest.Digest) (*oci.Store, ocispec.Descriptor, []ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := store.Resolve(ctx, subject.String())
	if err != nil {
		t.Fatal(err)
	}
	preds, err := store.Predecessors(ctx, sd)
	if err != nil {
		t.Fatal(err)
	}
	return store, sd, preds
}

// rewriteSignature replaces the single signature of subject in the layout
// with one whose manifest and envelope edit returns: a tampered copy with
// consistent digests, so only signature checks can catch it.
func rewriteSignature(t *testing.T, dir string, subject digest.Digest, edit func(m *ocispec.Manifest, env []byte) []byte) {
	t.Helper()
	ctx := context.Background()
	store, _, preds := signatureManifests(t, dir, subject)
	if len(preds) != 1 {
		t.Fatalf("want 1 signature manifest, got %d", len(preds))
	}
	raw, err := content.FetchAll(ctx, store, preds[0])
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	env, err := content.FetchAll(ctx, store, m.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	env = edit(&m, bytes.Clone(env))
	ed := content.NewDescriptorFromBytes(m.Layers[0].MediaType, env)
	if ok, _ := store.Exists(ctx, ed); !ok {
		if err := store.Push(ctx, ed, bytes.NewReader(env)); err != nil {
			t.Fatal(err)
		}
	}
	m.Layers[0] = ed
	raw, _ = json.Marshal(m)
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := store.Push(ctx, md, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, preds[0]); err != nil {
		t.Fatal(err)
	}
}

// flipSignatureByte changes one byte of the primitive signature inside an
// envelope of either format.
func flipSignatureByte(t *testing.T, mediaType string, env []byte) []byte {
	t.Helper()
	switch mediaType {
	case signature.MediaTypeJWS:
		var j map[string]any
		if err := json.Unmarshal(env, &j); err != nil {
			t.Fatal(err)
		}
		s := j["signature"].(string)
		c := byte('A')
		if s[5] == 'A' {
			c = 'B'
		}
		j["signature"] = s[:5] + string(c) + s[6:]
		out, _ := json.Marshal(j)
		return out
	default:
		// The signature bstr ends the COSE_Sign1 array.
		env[len(env)-3] ^= 0x01
		return env
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func digestOf(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// addImage adds a second image to the layout and returns its descriptor.
func addImage(t *testing.T, dir, name string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	push := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		if ok, _ := store.Exists(ctx, d); !ok {
			if err := store.Push(ctx, d, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	cfg := push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	layer := push(ocispec.MediaTypeImageLayerGzip, []byte(name))
	m, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	md := push(ocispec.MediaTypeImageManifest, m)
	if err := store.Tag(ctx, md, name); err != nil {
		t.Fatal(err)
	}
	return md
}
