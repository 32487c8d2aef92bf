package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"
	orasremote "oras.land/oras-go/v2/registry/remote"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// endpoint makes a source or destination for a copy test.
type endpoint struct {
	name string
	open func(t *testing.T, repo string) graph.Destination
}

func ggcrEndpoint(referrers bool) endpoint {
	name := "ggcr-tag-schema"
	if referrers {
		name = "ggcr-referrers-api"
	}
	return endpoint{name, func(t *testing.T, repo string) graph.Destination {
		r := testregistry.New(t, testregistry.Options{Referrers: referrers})
		return openRepo(t, r.Ref(repo), registry.RemoteOptions{})
	}}
}

var distributionEndpoint = endpoint{"distribution-v3", func(t *testing.T, repo string) graph.Destination {
	r := testregistry.Distribution(t, testregistry.DistributionOptions{})
	return openRepo(t, r.Ref(repo), registry.RemoteOptions{})
}}

var layoutEndpoint = endpoint{"oci-layout", func(t *testing.T, _ string) graph.Destination { return newLayout(t) }}

// TestCopyRecursive copies the whole referrer graph of a 4-platform index
// between every pair of registry kinds and layouts, then copies it again:
// the second run transfers nothing and writes nothing (issue 10 item 3).
func TestCopyRecursive(t *testing.T) {
	k := newKeys(t)
	cases := []struct {
		name     string
		src, dst endpoint
	}{
		{"referrers API to referrers API", ggcrEndpoint(true), ggcrEndpoint(true)},
		{"referrers API to tag schema (distribution)", ggcrEndpoint(true), distributionEndpoint},
		{"tag schema (distribution) to referrers API", distributionEndpoint, ggcrEndpoint(true)},
		{"tag schema to tag schema (ggcr)", ggcrEndpoint(false), ggcrEndpoint(false)},
		{"registry to layout", ggcrEndpoint(true), layoutEndpoint},
		{"layout to registry", layoutEndpoint, ggcrEndpoint(false)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := tc.src.open(t, "build/app")
			f := buildFixture(t, src, k, "app")
			dst := tc.dst.open(t, "prod/app")
			prog := &graph.Progress{}
			res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Tag: "stable", Progress: prog})
			if err != nil {
				t.Fatal(err)
			}
			checkGraph(t, dst, f)
			if res.Root.Digest != f.root.Digest {
				t.Errorf("root %s, want %s", res.Root.Digest, f.root.Digest)
			}
			// 1 index + 4 platform manifests, 4 configs + 4 layers, 12
			// referrers; their blobs: 3 signature envelopes + notary
			// config, SPDX x5, SARIF, the empty config.
			referrers := 0
			for _, n := range res.Nodes {
				if n.Kind == graph.KindReferrer {
					referrers++
				}
			}
			if referrers != len(f.referrers) {
				t.Errorf("%d referrers in the result, want %d", referrers, len(f.referrers))
			}
			if res.Copied != len(res.Nodes) {
				t.Errorf("copied %d of %d nodes into an empty destination", res.Copied, len(res.Nodes))
			}
			if got, want := prog.Nodes.Load(), int64(len(res.Nodes)); got != want || prog.TotalNodes.Load() != want {
				t.Errorf("progress %d of %d nodes, want %d", got, prog.TotalNodes.Load(), want)
			}
			// A blob listed under two media types (the "{}" config of
			// signatures and of OCI 1.1 artifacts) may be read twice.
			if prog.Bytes.Load() < prog.TotalBytes.Load() || res.Bytes != prog.Bytes.Load() {
				t.Errorf("progress %d of %d bytes, result %d", prog.Bytes.Load(), prog.TotalBytes.Load(), res.Bytes)
			}
			tagged, err := dst.Resolve(ctx, "stable")
			if err != nil || tagged.Digest != f.root.Digest {
				t.Errorf("tag stable: %v %v", tagged.Digest, err)
			}
			again, err := graph.Copy(ctx, src, f.root.Digest.String(), dst, graph.CopyOptions{Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			if again.Copied != 0 || again.Mounted != 0 {
				t.Errorf("second copy transferred %d nodes and mounted %d, want none", again.Copied, again.Mounted)
			}
			checkGraph(t, dst, f)
		})
	}
}

// TestCopyWithoutRecursive copies the index and its platform manifests,
// and no referrer.
func TestCopyWithoutRecursive(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")
	dst := ggcrEndpoint(true).open(t, "prod/app")
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 1+4+8 {
		t.Errorf("%d nodes, want 13 (index, 4 manifests, 4 configs, 4 layers)", len(res.Nodes))
	}
	for _, r := range f.referrers {
		if ok, _ := dst.Exists(ctx, r); ok {
			t.Errorf("referrer %s copied without -r", r.Digest)
		}
	}
}

// TestCopyPlatform copies one platform's manifest and its referrers.
func TestCopyPlatform(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")
	dst := layoutEndpoint.open(t, "")
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Root.Digest == f.root.Digest {
		t.Fatal("the index was copied, not the platform manifest")
	}
	if ok, _ := dst.Exists(ctx, f.root); ok {
		t.Error("the index is at the destination")
	}
	n := 0
	for _, r := range f.referrers {
		if f.subjects[r.Digest].Digest == res.Root.Digest {
			n++
			if ok, _ := dst.Exists(ctx, r); !ok {
				t.Errorf("referrer %s of the platform manifest missing", r.Digest)
			}
		}
	}
	if n != 2 {
		t.Errorf("the arm64 manifest has %d referrers in the fixture, want 2", n)
	}
	for _, tc := range []struct{ name, platform string }{
		{"unknown platform", "windows/amd64"},
		{"malformed", "linux"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Platform: tc.platform})
			if !errors.Is(err, signet.ErrInvalidInput) {
				t.Errorf("got %v, want ErrInvalidInput", err)
			}
		})
	}
}

// failingPuts fails manifest PUTs after the first n, as an interrupted
// copy would stop.
type failingPuts struct {
	n     atomic.Int64
	limit int64
}

func (f *failingPuts) middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && f.n.Add(1) > f.limit {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestCopyResumes interrupts a copy after a few manifests and runs it
// again: the second run finishes, transfers only what is missing, and
// leaves every referrer listed. Into the tag schema, a referrer whose
// manifest was pushed without its index update (an interruption between
// the two) is listed by the re-run.
func TestCopyResumes(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")

	fail := &failingPuts{limit: 7}
	w := &writes{}
	reg := testregistry.New(t, testregistry.Options{Middleware: func(h http.Handler) http.Handler { return w.middleware(fail.middleware(h)) }})
	dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
	if _, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true}); err == nil {
		t.Fatal("the interrupted copy succeeded")
	} else if !errors.Is(err, signet.ErrIO) {
		t.Errorf("interrupted copy: %v, want ErrIO", err)
	}
	// A referrer pushed without its index entry: what an interruption
	// between the manifest PUT and the index PUT leaves.
	plain := &orasremote.Repository{Reference: mustRef(t, reg.Ref("prod/app")), PlainHTTP: true}
	sbom := f.referrers[len(f.referrers)-1]
	raw, err := content.FetchAll(ctx, src, sbom)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, b := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		data, err := content.FetchAll(ctx, src, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := plain.Blobs().Push(ctx, b, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	// Push without maintaining the referrers index: the Manifests store
	// of a repository that believes the registry has the referrers API.
	if err := plain.SetReferrersCapability(true); err != nil {
		t.Fatal(err)
	}
	fail.limit = 1 << 30
	if err := plain.Manifests().Push(ctx, sbom, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}

	first := len(w.list())
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true})
	if err != nil {
		t.Fatalf("resumed copy: %v", err)
	}
	checkGraph(t, dst, f)
	if res.Present == 0 || res.Copied == 0 {
		t.Errorf("resumed copy: %d copied, %d present; want some of each", res.Copied, res.Present)
	}
	// Blobs the interrupted run uploaded were not uploaded again.
	uploaded := map[string]bool{}
	for i, r := range w.list() {
		d, ok := uploadDigest(r)
		if !ok {
			continue
		}
		if i >= first && uploaded[d] {
			t.Errorf("blob %s uploaded again", d)
		}
		uploaded[d] = true
	}
	again, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true})
	if err != nil || again.Copied != 0 {
		t.Errorf("third copy: %d copied, %v", again.Copied, err)
	}
}

// uploadDigest is the digest of a blob upload's closing PUT.
func uploadDigest(req string) (string, bool) {
	if !strings.HasPrefix(req, "PUT ") || !strings.Contains(req, "/blobs/uploads/") {
		return "", false
	}
	_, q, ok := strings.Cut(req, "digest=")
	if !ok {
		return "", false
	}
	d, _, _ := strings.Cut(q, "&")
	return d, true
}

func mustRef(t *testing.T, s string) orasregistry.Reference {
	t.Helper()
	r, err := orasregistry.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCopyConcurrentTagSchema runs several copies at once into one
// distribution v3 repository (referrers tag schema): each carries the same
// image with its own signatures and SBOM, so every copy updates the same
// referrers indexes by read-modify-write. Every referrer of every copy
// must be listed at the end.
//
// Verified, each copy checks the destination while the indexes it wrote
// converge, and again after should a concurrent copy's update have
// dropped its entries meanwhile: each verifies by its own signatures
// (every copy is signed by a key of its own) and finds every node.
func TestCopyConcurrentTagSchema(t *testing.T) {
	const copies = 4
	for _, verified := range []bool{false, true} {
		t.Run(fmt.Sprintf("verified=%v", verified), func(t *testing.T) {
			ctx := context.Background()
			dstReg := testregistry.Distribution(t, testregistry.DistributionOptions{})
			srcReg := testregistry.New(t, testregistry.Options{Referrers: true})
			fixtures := make([]*fixture, copies)
			srcs := make([]*registry.Repository, copies)
			ks := make([]*keys, copies)
			for i := range copies {
				srcs[i] = openRepo(t, srcReg.Ref(fmt.Sprintf("build/app%d", i)), registry.RemoteOptions{})
				ks[i] = newKeys(t)
				fixtures[i] = buildFixture(t, srcs[i], ks[i], "app") // same image, different signatures
			}
			if fixtures[0].root.Digest != fixtures[1].root.Digest {
				t.Fatal("the fixtures must share the image")
			}
			var wg sync.WaitGroup
			errs := make([]error, copies)
			results := make([]*graph.CopyResult, copies)
			for i := range copies {
				opts := graph.CopyOptions{Recursive: true}
				if verified {
					opts.Verify = copyVerify(t, ks[i], false)
				}
				wg.Go(func() {
					dst := openRepo(t, dstReg.Ref("prod/app"), registry.RemoteOptions{})
					results[i], errs[i] = graph.Copy(ctx, srcs[i], "v1", dst, opts)
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("copy %d: %v", i, err)
				}
			}
			if verified {
				for i, res := range results {
					if v := res.Verification; v == nil || v.Arrived != v.Expected || v.Destination == nil || v.Destination.Verdict != signet.VerdictTrusted {
						t.Errorf("copy %d: verification %+v", i, v)
					}
				}
			}
			dst := openRepo(t, dstReg.Ref("prod/app"), registry.RemoteOptions{})
			for _, f := range fixtures {
				checkGraph(t, dst, f)
			}
		})
	}
}

// TestCopyMounts copies between two repositories of one distribution
// registry: blobs are mounted, not uploaded.
func TestCopyMounts(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	reg := testregistry.Distribution(t, testregistry.DistributionOptions{})
	src := openRepo(t, reg.Ref("build/app"), registry.RemoteOptions{})
	f := buildFixture(t, src, k, "app")
	dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, dst, f)
	blobs := 0
	for _, n := range res.Nodes {
		if n.Kind == graph.KindBlob {
			blobs++
			if n.State != graph.StateMounted {
				t.Errorf("blob %s %s, want mounted", n.Digest, n.State)
			}
		}
	}
	if res.Mounted != blobs || blobs == 0 {
		t.Errorf("%d of %d blobs mounted", res.Mounted, blobs)
	}
}

// TestCopyBounds: a referrer chain deeper than DefaultMaxDepth is refused before
// anything is written.
func TestCopyBounds(t *testing.T) {
	ctx := context.Background()
	src := newLayout(t)
	d := testregistry.PushImage(t, src, "app", "v1")
	for i := range graph.DefaultMaxDepth + 1 {
		d = cpAttach(t, src, d, typeSPDX, []byte(fmt.Sprint(i)))
	}
	dst := newLayout(t)
	_, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true})
	if !errors.Is(err, graph.ErrLimit) || !errors.Is(err, signet.ErrInvalidInput) {
		t.Fatalf("got %v, want ErrLimit", err)
	}
	if _, err := dst.Resolve(ctx, "v1"); err == nil {
		t.Error("something was written")
	}
}

// blobPushes is a destination that counts the pushes of one blob and
// the media types the manifests pushed list it under.
type blobPushes struct {
	graph.Destination
	blob ocispec.Descriptor

	mu     sync.Mutex
	pushes int
	listed map[string]bool // media types of manifests' configs naming blob
}

func (r *blobPushes) Push(ctx context.Context, d ocispec.Descriptor, rd io.Reader) error {
	if d.Digest == r.blob.Digest {
		r.mu.Lock()
		r.pushes++
		r.mu.Unlock()
		return r.Destination.Push(ctx, d, rd)
	}
	if d.MediaType != ocispec.MediaTypeImageManifest {
		return r.Destination.Push(ctx, d, rd)
	}
	raw, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) == nil && m.Config.Digest == r.blob.Digest {
		r.mu.Lock()
		r.listed[m.Config.MediaType] = true
		r.mu.Unlock()
	}
	return r.Destination.Push(ctx, d, bytes.NewReader(raw))
}

// TestCopySharedBlobCounted: the "{}" blob is both the config of the
// signatures (as application/vnd.cncf.notary.signature) and of the OCI 1.1
// artifacts (as application/vnd.oci.empty.v1+json), so a copy reaches it
// on two paths. It is transferred once, and reported "copied" (it was
// transferred in this run), not "present" as the second path finds it.
func TestCopySharedBlobCounted(t *testing.T) {
	ctx := context.Background()
	k := newKeys(t)
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")
	dst := &blobPushes{Destination: layoutEndpoint.open(t, ""), blob: ocispec.DescriptorEmptyJSON, listed: map[string]bool{}}
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, dst, f)
	if len(dst.listed) < 2 {
		t.Fatalf("the shared blob is listed under %v: the fixture no longer reaches it on two paths", dst.listed)
	}
	if dst.pushes != 1 {
		t.Errorf("the shared blob was pushed %d times, want once", dst.pushes)
	}
	for _, n := range res.Nodes {
		if n.Digest == ocispec.DescriptorEmptyJSON.Digest && n.State != graph.StateCopied {
			t.Errorf("the shared blob %s is %s, want %s", n.Digest, n.State, graph.StateCopied)
		}
	}
	if res.Copied != len(res.Nodes) {
		t.Errorf("copied %d of %d nodes into an empty destination", res.Copied, len(res.Nodes))
	}
}
