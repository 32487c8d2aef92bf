package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// Artifact types of the sample graph.
const (
	typeSBOM  = "application/spdx+json"
	typeSARIF = "application/sarif+json"
	typeSig   = "application/vnd.example.signature"
)

// store is what the tests build graphs in and walk: a remote repository or
// an OCI layout.
type store interface {
	content.Storage
	graph.ResolvingSource
	Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error
}

// backend is one kind of store the tests run against.
type backend struct {
	name string
	open func(t *testing.T) store
}

func remote(t *testing.T, host string, mode registry.ReferrersMode) store {
	t.Helper()
	repo, _, err := registry.NewRepository(host+"/app", registry.RemoteOptions{Referrers: mode, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// backends are the real registries and layouts: go-containerregistry's
// registry with the referrers API and without it (tag schema), CNCF
// distribution v3 (tag schema), an OCI image layout.
func backends() []backend {
	return []backend{
		{name: "ggcr-referrers-api", open: func(t *testing.T) store {
			return remote(t, testregistry.New(t, testregistry.Options{Referrers: true}).Host, registry.ReferrersAuto)
		}},
		{name: "ggcr-tag-schema", open: func(t *testing.T) store {
			return remote(t, testregistry.New(t, testregistry.Options{}).Host, registry.ReferrersAuto)
		}},
		{name: "distribution-tag-schema", open: func(t *testing.T) store {
			return remote(t, testregistry.Distribution(t, testregistry.DistributionOptions{}).Host, registry.ReferrersAuto)
		}},
		{name: "oci-layout", open: func(t *testing.T) store {
			s, err := oci.NewWithContext(context.Background(), filepath.Join(t.TempDir(), "layout"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	}
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// attach attaches one file of artifactType to subject, at a fixed time
// step so that layouts order them.
func attach(t *testing.T, s store, subject ocispec.Descriptor, artifactType, data string, minute int) ocispec.Descriptor {
	t.Helper()
	d, err := graph.Attach(context.Background(), s, subject, graph.AttachOptions{
		ArtifactType: artifactType,
		Files:        []graph.File{{Path: writeFile(t, "f.json", data), MediaType: "application/json"}},
		Now:          func() time.Time { return time.Date(2026, 1, 1, 0, minute, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatalf("attach %s: %v", artifactType, err)
	}
	return d
}

// sample is image <- sbom <- sig-on-sbom, image <- sig, image <- sarif.
type sample struct {
	image, sbom, sbomSig, sig, sarif ocispec.Descriptor
}

func buildSample(t *testing.T, s store) sample {
	t.Helper()
	var g sample
	g.image = testregistry.PushImage(t, s, "app", "v1")
	g.sbom = attach(t, s, g.image, typeSBOM, `{"spdxVersion":"SPDX-2.3"}`, 1)
	g.sig = attach(t, s, g.image, typeSig, `sig on image`, 2)
	g.sarif = attach(t, s, g.image, typeSARIF, `{"runs":[]}`, 3)
	g.sbomSig = attach(t, s, g.sbom, typeSig, `sig on sbom`, 4)
	return g
}

// shape renders a graph as "type@digest[children]" lines with children
// sorted, so that registries' orders compare.
func shape(n *graph.Node) string {
	var kids []string
	for _, c := range n.Referrers {
		kids = append(kids, shape(c))
	}
	slices.Sort(kids)
	s := n.Descriptor.ArtifactType + "@" + n.Descriptor.Digest.Encoded()[:8]
	if n.Repeated {
		s += "(repeated)"
	}
	if len(kids) > 0 {
		s += "[" + strings.Join(kids, ",") + "]"
	}
	return s
}

func want(d ocispec.Descriptor, artifactType string, kids ...string) string {
	slices.Sort(kids)
	s := artifactType + "@" + d.Digest.Encoded()[:8]
	if len(kids) > 0 {
		s += "[" + strings.Join(kids, ",") + "]"
	}
	return s
}

// DISC-1, DISC-2: the whole graph, at every depth, from every kind of store.
func TestDiscoverWholeGraph(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			g := buildSample(t, s)
			root, err := graph.Discover(context.Background(), s, "v1", graph.Options{})
			if err != nil {
				t.Fatal(err)
			}
			wantShape := want(g.image, "",
				want(g.sbom, typeSBOM, want(g.sbomSig, typeSig)),
				want(g.sig, typeSig),
				want(g.sarif, typeSARIF))
			if got := shape(root); got != wantShape {
				t.Errorf("graph\n got %s\nwant %s", got, wantShape)
			}
			if root.Len() != 5 || root.Incomplete() {
				t.Errorf("Len = %d, Incomplete = %v; want 5, false", root.Len(), root.Incomplete())
			}
			// Each node carries its listing's descriptor.
			sbom := find(root, g.sbom)
			if sbom == nil || sbom.Depth != 1 || sbom.Descriptor.Size != g.sbom.Size || sbom.Descriptor.MediaType != ocispec.MediaTypeImageManifest {
				t.Fatalf("sbom node = %+v", sbom)
			}
			if got := sbom.Descriptor.Annotations[ocispec.AnnotationCreated]; got != "2026-01-01T00:01:00Z" {
				t.Errorf("sbom created annotation = %q", got)
			}
			if n := find(root, g.sbomSig); n == nil || n.Depth != 2 {
				t.Errorf("signature on the SBOM: %+v", n)
			}
		})
	}
}

func find(root *graph.Node, d ocispec.Descriptor) *graph.Node {
	var found *graph.Node
	_ = root.Walk(func(n *graph.Node) error {
		if n.Descriptor.Digest == d.Digest && found == nil {
			found = n
		}
		return nil
	})
	return found
}

// --artifact-type filters at every level, as oras discover does.
func TestWalkArtifactTypeFilter(t *testing.T) {
	for _, b := range backends() {
		if b.name == "distribution-tag-schema" {
			continue // the same code path as ggcr-tag-schema; saves a registry start
		}
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			g := buildSample(t, s)
			root, err := graph.Walk(context.Background(), s, g.image, graph.Options{ArtifactType: typeSig})
			if err != nil {
				t.Fatal(err)
			}
			if got, w := shape(root), want(g.image, "", want(g.sig, typeSig)); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
			root, err = graph.Walk(context.Background(), s, g.sbom, graph.Options{ArtifactType: typeSig})
			if err != nil {
				t.Fatal(err)
			}
			if got, w := shape(root), want(g.sbom, typeSBOM, want(g.sbomSig, typeSig)); got != w {
				t.Errorf("got %s, want %s", got, w)
			}
		})
	}
}

// The limits: with Truncate they mark the graph, without it they fail with
// a *LimitError naming the limit, so that delete and copy never act on part
// of a graph.
func TestWalkLimits(t *testing.T) {
	s := remote(t, testregistry.New(t, testregistry.Options{Referrers: true}).Host, registry.ReferrersAuto)
	g := buildSample(t, s)
	ctx := context.Background()
	tests := []struct {
		name      string
		opts      graph.Options
		wantLimit string // "" when the walk succeeds
		wantLen   int
		check     func(t *testing.T, root *graph.Node)
	}{
		{name: "depth 1 truncated", opts: graph.Options{MaxDepth: 1, Truncate: true}, wantLen: 4, check: func(t *testing.T, root *graph.Node) {
			if n := find(root, g.sbom); !n.Unlisted || len(n.Referrers) != 0 {
				t.Errorf("sbom at the depth limit: %+v, want Unlisted", n)
			}
			if !root.Incomplete() {
				t.Error("Incomplete = false")
			}
		}},
		{name: "depth 1 strict", opts: graph.Options{MaxDepth: 1}, wantLimit: "depth"},
		{name: "depth 2 strict is enough", opts: graph.Options{MaxDepth: 2}, wantLen: 5},
		{name: "referrers 2 truncated", opts: graph.Options{MaxReferrers: 2, Truncate: true}, check: func(t *testing.T, root *graph.Node) {
			if !root.Truncated || len(root.Referrers) != 2 {
				t.Errorf("root Truncated = %v with %d referrers, want true with 2", root.Truncated, len(root.Referrers))
			}
		}},
		{name: "referrers 2 strict", opts: graph.Options{MaxReferrers: 2}, wantLimit: "referrers"},
		{name: "nodes 3 truncated", opts: graph.Options{MaxNodes: 3, Truncate: true}, wantLen: 3, check: func(t *testing.T, root *graph.Node) {
			if !root.Incomplete() {
				t.Error("Incomplete = false")
			}
		}},
		{name: "nodes 4 strict", opts: graph.Options{MaxNodes: 4}, wantLimit: "nodes"},
		{name: "nodes 5 strict is enough", opts: graph.Options{MaxNodes: 5}, wantLen: 5},
		{name: "concurrency 1", opts: graph.Options{Concurrency: 1}, wantLen: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root, err := graph.Walk(ctx, s, g.image, tc.opts)
			if tc.wantLimit != "" {
				var le *graph.LimitError
				if !errors.As(err, &le) || le.Limit != tc.wantLimit || !errors.Is(err, graph.ErrLimit) {
					t.Fatalf("err = %v, want a %s LimitError", err, tc.wantLimit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantLen != 0 && root.Len() != tc.wantLen {
				t.Errorf("Len = %d, want %d", root.Len(), tc.wantLen)
			}
			if tc.check != nil {
				tc.check(t, root)
			}
		})
	}
}

// A registry whose listings loop (the SBOM's referrers include the image,
// the image's include the SBOM): the walk ends, and the repeat is marked.
// A real registry derives listings from subjects, which cannot loop, so
// this one lies through a middleware (next to the real-registry tests
// above).
func TestWalkCycle(t *testing.T) {
	var image, sbom ocispec.Descriptor
	liar := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if sbom.Digest != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/referrers/"+sbom.Digest.String()) {
				image.ArtifactType = typeSBOM
				raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{image, sbom}})
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				_, _ = w.Write(raw)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	reg := testregistry.New(t, testregistry.Options{Referrers: true, Middleware: liar})
	s := remote(t, reg.Host, registry.ReferrersAuto)
	image = testregistry.PushImage(t, s, "app", "v1")
	sbom = attach(t, s, image, typeSBOM, "sbom", 1)
	root, err := graph.Walk(context.Background(), s, image, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := find(root, sbom)
	if n == nil || len(n.Referrers) != 2 {
		t.Fatalf("sbom node: %+v", n)
	}
	for _, c := range n.Referrers {
		if !c.Repeated || len(c.Referrers) != 0 {
			t.Errorf("%s below the SBOM: Repeated = %v with %d referrers, want a repeat without referrers", c.Descriptor.Digest, c.Repeated, len(c.Referrers))
		}
	}
	if root.Len() != 4 {
		t.Errorf("Len = %d, want 4", root.Len())
	}
}

// A walk respects its context: a cancelled one stops with the context's
// error rather than a partial graph.
func TestWalkCancelled(t *testing.T) {
	s := remote(t, testregistry.New(t, testregistry.Options{Referrers: true}).Host, registry.ReferrersAuto)
	g := buildSample(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := graph.Walk(ctx, s, g.image, graph.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
