package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// copyWorld is a source registry holding a signed 2-platform index and an
// empty destination registry that records its writes.
type copyWorld struct {
	c        *cli
	src, dst *testregistry.Registry
	root     ocispec.Descriptor
	mu       sync.Mutex
	writes   []string
}

func newCopyWorld(t *testing.T) *copyWorld {
	t.Helper()
	w := &copyWorld{c: newCLI(t)}
	w.c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	scopeAll(w.c)
	w.src = testregistry.New(t, testregistry.Options{Referrers: true})
	w.dst = testregistry.New(t, testregistry.Options{Middleware: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.mu.Lock()
				w.writes = append(w.writes, r.Method+" "+r.URL.Path)
				w.mu.Unlock()
			}
			h.ServeHTTP(rw, r)
		})
	}})
	repo, _, err := registry.NewRepository(w.src.Ref("build/app"), registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.root = testregistry.PushIndex(t, repo, "app", "v1", "linux/amd64", "linux/arm64")
	return w
}

// scopeAll rewrites the single statement of the policy to cover every
// repository.
func scopeAll(c *cli) {
	c.ociPolicy(scoped(statement("all", "strict", []string{"ca:demo"}, []string{testIdentity("demo")}), "*"))
}

func (w *copyWorld) srcRef() string { return w.src.Ref("build/app@" + w.root.Digest.String()) }

func (w *copyWorld) written() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

// TestCopyCLI: copy -r carries the signatures of the index and of a
// platform manifest, tags DST:TAG, and prints JSON with each node.
func TestCopyCLI(t *testing.T) {
	w := newCopyWorld(t)
	w.c.must("sign", "--recursive", w.srcRef())
	r := w.c.must("copy", "-r", "-o", "json", w.srcRef(), w.dst.Ref("prod/app:stable"))
	var out struct {
		Root  ocispec.Descriptor `json:"root"`
		Tag   string             `json:"tag"`
		Nodes []struct {
			Digest, Kind, State, ArtifactType string
		} `json:"nodes"`
		Copied int `json:"copied"`
	}
	jsonOut(t, r, &out)
	sigs := 0
	for _, n := range out.Nodes {
		if n.Kind == "referrer" && n.ArtifactType == "application/vnd.cncf.notary.signature" {
			sigs++
		}
	}
	if sigs != 3 || out.Tag != "stable" || out.Copied != len(out.Nodes) {
		t.Fatalf("%d signatures, tag %q, %d of %d copied\n%s", sigs, out.Tag, out.Copied, len(out.Nodes), r)
	}
	if r.stderr != "" {
		t.Errorf("stderr with -o json (no progress when piped): %q", r.stderr)
	}
	// The copy verifies at the destination, by tag.
	w.c.must("verify", w.dst.Ref("prod/app@"+w.root.Digest.String()))
	// Again: nothing to copy.
	r = w.c.must("copy", "-r", w.srcRef(), w.dst.Ref("prod/app"))
	if !strings.Contains(r.stdout, "0 copied") {
		t.Errorf("second copy:\n%s", r)
	}
	if r.stderr != "" {
		t.Errorf("progress on stderr when it is not a terminal: %q", r.stderr)
	}
}

// TestCopyVerifyCLI: --verify refuses an unsigned artifact before writing
// anything at DST (exit 1), and reports n of n and the verdict at DST for
// a signed one.
func TestCopyVerifyCLI(t *testing.T) {
	w := newCopyWorld(t)
	r := w.c.run("copy", "-r", "--verify", w.srcRef(), w.dst.Ref("prod/app"))
	if r.code != exitNotTrusted {
		t.Fatalf("unsigned: want exit 1\n%s", r)
	}
	if ws := w.written(); len(ws) != 0 {
		t.Fatalf("a refused copy wrote to the destination: %v", ws)
	}
	if !strings.Contains(r.hintLine(), "nothing was written") {
		t.Errorf("hint: %q", r.hintLine())
	}

	w.c.must("sign", w.srcRef())
	r = w.c.must("copy", "-r", "--verify", w.srcRef(), w.dst.Ref("prod/app"))
	for _, want := range []string{"verified at the source: trusted", "arrived at the destination: 10 of 10 nodes", "verified at the destination: trusted",
		"arrived  copied   referrer sha256:", "application/vnd.cncf.notary.signature", "arrived  copied   root     " + w.root.Digest.String()} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q\n%s", want, r)
		}
	}
	r = w.c.must("copy", "-r", "--verify", "-o", "json", w.srcRef(), w.dst.Ref("prod/app"))
	var out struct {
		Nodes []struct {
			State, Transfer string
		} `json:"nodes"`
		Verification struct {
			Arrived, Expected int
			Source            struct{ Verdict string } `json:"source"`
			Destination       struct{ Verdict string } `json:"destination"`
		} `json:"verification"`
	}
	jsonOut(t, r, &out)
	v := out.Verification
	if v.Arrived != v.Expected || v.Expected != len(out.Nodes) || v.Source.Verdict != "trusted" || v.Destination.Verdict != "trusted" {
		t.Errorf("verification %+v", v)
	}
	for _, n := range out.Nodes {
		if n.State != "arrived" || n.Transfer != "present" {
			t.Errorf("node %+v after a repeated copy", n)
		}
	}

	// Another signer's signature at the source is not trusted: a
	// destination scope whose statement does not trust it refuses at DST.
	w.c.ociPolicy(
		scoped(statement("build", "strict", []string{"ca:demo"}, []string{testIdentity("demo")}), w.src.Ref("build/app")),
		scoped(statement("prod", "strict", []string{"ca:demo"}, []string{testIdentity("someone-else")}), w.dst.Ref("prod2/app")),
	)
	r = w.c.run("copy", "--verify", w.srcRef(), w.dst.Ref("prod2/app"))
	if r.code != exitNotTrusted || !strings.Contains(r.stdout, "arrived at the destination: 7 of 7") {
		t.Errorf("want exit 1 with the nodes arrived\n%s", r)
	}
	// Without -r the signatures stay behind: the hint says so.
	if !strings.Contains(r.hintLine(), "only with -r") {
		t.Errorf("hint: %q", r.hintLine())
	}
}

// attachSBOM attaches an SPDX file to ref, signed with --sign, and
// returns its digest.
func (w *copyWorld) attachSBOM(t *testing.T, ref string, sign bool) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "sbom.spdx.json")
	if err := os.WriteFile(f, []byte(`{"spdxVersion":"SPDX-2.3","name":"`+t.Name()+ref+fmt.Sprint(sign)+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"attach", ref, "--artifact-type", "application/spdx+json", f + ":application/spdx+json", "-o", "json"}
	if sign {
		args = append(args, "--sign")
	}
	var out struct{ Digest string }
	jsonOut(t, w.c.must(args...), &out)
	return out.Digest
}

// TestCopyVerifyGraphCLI (issue 10 item 4): copy -r --verify verifies the
// index, both platform manifests and the signed SBOM at both ends, lists
// each with its verdict, and reports the unsigned SBOM; --verify-all
// refuses the unsigned one (exit 1, named, nothing written); an SBOM
// signed by a key the destination's statement does not trust fails there
// (exit 1, named).
func TestCopyVerifyGraphCLI(t *testing.T) {
	w := newCopyWorld(t)
	w.c.must("sign", "--recursive", w.srcRef())
	signed := w.attachSBOM(t, w.srcRef(), true)
	unsigned := w.attachSBOM(t, w.srcRef(), false)

	r := w.c.must("copy", "-r", "--verify", w.srcRef(), w.dst.Ref("prod/app"))
	for _, want := range []string{
		"nodes verified at the destination: 4 trusted, 0 failed, 1 unsigned (not required)",
		"trusted    1 signature  root     " + w.root.Digest.String() + " application/vnd.oci.image.index.v1+json",
		"trusted    1 signature  referrer " + signed + " application/spdx+json",
		"unsigned   0 signatures referrer " + unsigned + " application/spdx+json",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q\n%s", want, r)
		}
	}
	if n := strings.Count(r.stdout, "trusted    1 signature  manifest "); n != 2 {
		t.Errorf("%d platform manifests trusted, want 2\n%s", n, r)
	}
	var out struct {
		Verification struct {
			Nodes []struct {
				Digest, Verdict string
				Signatures      int
				Required        bool
				Source          *struct{ Verdict string }
				Destination     *struct{ Verdict string }
			}
		}
	}
	jsonOut(t, w.c.must("copy", "-r", "--verify", "-o", "json", w.srcRef(), w.dst.Ref("prod/app")), &out)
	if len(out.Verification.Nodes) != 5 {
		t.Fatalf("%d nodes in the JSON report, want 5", len(out.Verification.Nodes))
	}
	for _, n := range out.Verification.Nodes {
		switch {
		case n.Digest == unsigned:
			if n.Verdict != "unsigned" || n.Required || n.Source != nil || n.Destination != nil {
				t.Errorf("unsigned SBOM %+v", n)
			}
		case n.Verdict != "trusted" || !n.Required || n.Signatures != 1 || n.Source == nil || n.Source.Verdict != "trusted" || n.Destination == nil || n.Destination.Verdict != "trusted":
			t.Errorf("node %+v", n)
		}
	}

	before := len(w.written())
	r = w.c.run("copy", "-r", "--verify-all", w.srcRef(), w.dst.Ref("prod2/app"))
	if r.code != exitNotTrusted || !strings.Contains(r.errorLine(), unsigned) || !strings.Contains(r.hintLine(), "nothing was written") {
		t.Errorf("--verify-all with an unsigned SBOM: want exit 1 naming it\n%s", r)
	}
	if !strings.Contains(r.stdout, "Not copied") || !strings.Contains(r.stdout, "notTrusted 0 signatures referrer "+unsigned) {
		t.Errorf("refusal report\n%s", r)
	}
	if ws := w.written(); len(ws) != before {
		t.Errorf("a refused copy wrote: %v", ws[before:])
	}

	// An SBOM signed by another key: trusted by the build statement,
	// not by prod's.
	other := newCLI(t)
	other.must("cert", "generate-test", "--key-type", "ec-256", "--default", "other")
	otherSBOM := filepath.Join(t.TempDir(), "other.spdx.json")
	if err := os.WriteFile(otherSBOM, []byte(`{"spdxVersion":"SPDX-2.3","name":"other"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var att struct{ Digest string }
	jsonOut(t, other.must("attach", w.srcRef(), "--artifact-type", "application/spdx+json", otherSBOM+":application/spdx+json", "--sign", "-o", "json"), &att)
	w.c.must("cert", "add", "--type", "ca", "--store", "demo", other.path("localkeys", "other.crt"))
	w.c.ociPolicy(
		scoped(statement("build", "strict", []string{"ca:demo"}, []string{testIdentity("demo"), testIdentity("other")}), w.src.Ref("build/app")),
		scoped(statement("prod", "strict", []string{"ca:demo"}, []string{testIdentity("demo")}), w.dst.Ref("prod3/app")),
	)
	r = w.c.run("copy", "-r", "--verify", w.srcRef(), w.dst.Ref("prod3/app"))
	if r.code != exitNotTrusted || !strings.Contains(r.errorLine(), "at the destination") || !strings.Contains(r.errorLine(), att.Digest) {
		t.Errorf("SBOM signed by a key prod does not trust: want exit 1 at the destination naming it\n%s", r)
	}
	if !strings.Contains(r.hintLine(), "discover --verify") {
		t.Errorf("hint: %q", r.hintLine())
	}
	if !strings.Contains(r.stdout, "nodes verified at the destination: 4 trusted, 1 failed, 1 unsigned") {
		t.Errorf("report\n%s", r)
	}
}

// TestCopyVerifyPlatformCLI: copy --verify --platform verifies the
// platform manifest copied, by its own signatures: with only the index
// signed it is refused (exit 1) with a hint; signed, it is copied.
func TestCopyVerifyPlatformCLI(t *testing.T) {
	w := newCopyWorld(t)
	w.c.must("sign", w.srcRef())
	r := w.c.run("copy", "-r", "--verify", "--platform", "linux/arm64", w.srcRef(), w.dst.Ref("prod/app"))
	if r.code != exitNotTrusted || !strings.Contains(r.errorLine(), "its index's signature does not travel with it") ||
		!strings.Contains(r.hintLine(), "sign the platform manifests") {
		t.Errorf("only the index signed: want exit 1 with the platform hint\n%s", r)
	}
	if ws := w.written(); len(ws) != 0 {
		t.Errorf("a refused copy wrote: %v", ws)
	}
	w.c.must("sign", "--platform", "linux/arm64", w.srcRef())
	r = w.c.must("copy", "-r", "--verify", "--platform", "linux/arm64", w.srcRef(), w.dst.Ref("prod/app"))
	if !strings.Contains(r.stdout, "verified at the destination: trusted") || strings.Contains(r.stdout, w.root.Digest.String()) {
		t.Errorf("signed platform manifest: want it verified, the index absent\n%s", r)
	}
}

// TestCopyUsage: bad flags are usage errors.
func TestCopyUsage(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"verify-all without -r", []string{"copy", "--verify-all", "a.example/x:1", "b.example/y"}},
		{"digest destination", []string{"copy", "a.example/x:1", "b.example/y@sha256:" + strings.Repeat("a", 64)}},
		{"concurrency", []string{"copy", "--concurrency", "0", "a.example/x:1", "b.example/y"}},
		{"scope without layout", []string{"copy", "--verify", "--from-scope", "x/y", "a.example/x:1", "b.example/y"}},
		{"layout without scope", []string{"copy", "--verify", "--from-oci-layout", "./l:v1", "b.example/y"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(tc.args...)
			if r.code != exitUsage || r.errorLine() == "" {
				t.Errorf("want exit 2 with an Error line\n%s", r)
			}
		})
	}
}

// TestDrawProgress: the progress line counts nodes and bytes and ends with
// a newline; it never shows more bytes than the total.
func TestDrawProgress(t *testing.T) {
	var buf bytes.Buffer
	p := &graph.Progress{}
	p.TotalNodes.Store(40)
	p.TotalBytes.Store(2048)
	stop := drawProgress(&buf, "Copying", p, time.Hour)
	p.Nodes.Store(40)
	p.Bytes.Store(4096)
	stop()
	if got, want := buf.String(), "\rCopying: 40/40 nodes, 2.0 KiB/2.0 KiB   \n"; got != want {
		t.Errorf("progress %q, want %q", got, want)
	}
}

// TestVerifyBundleUsage: --bundle takes no reference and needs --scope.
func TestVerifyBundleUsage(t *testing.T) {
	c := newCLI(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"reference with bundle", []string{"verify", "--bundle", "a.tar", "--scope", "x/y", "example.com/app:v1"}},
		{"no scope", []string{"verify", "--bundle", "a.tar"}},
		{"oci-layout with bundle", []string{"verify", "--bundle", "a.tar", "--scope", "x/y", "--oci-layout"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.run(tc.args...); r.code != exitUsage || r.errorLine() == "" {
				t.Errorf("want exit 2\n%s", r)
			}
		})
	}
}
