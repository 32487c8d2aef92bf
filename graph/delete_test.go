package graph_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

type deleter interface {
	store
	content.Deleter
}

func indexTag(d ocispec.Descriptor) string { return "sha256-" + d.Digest.Encoded() }

// gone checks that d no longer resolves.
func gone(t *testing.T, s store, d ocispec.Descriptor) {
	t.Helper()
	if _, err := s.Resolve(context.Background(), d.Digest.String()); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("%s still resolves (err %v)", d.Digest, err)
	}
}

// indexEntries returns the digests in subject's referrers tag index, and
// whether the tag exists.
func indexEntries(t *testing.T, s store, subject ocispec.Descriptor) ([]string, bool) {
	t.Helper()
	ctx := context.Background()
	desc, err := s.Resolve(ctx, indexTag(subject))
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, false
	}
	if err != nil {
		t.Fatalf("resolve %s: %v", indexTag(subject), err)
	}
	idx, err := registry.FetchIndex(ctx, s, desc)
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, m := range idx.Manifests {
		ds = append(ds, m.Digest.String())
	}
	return ds, true
}

func TestDelete(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t).(deleter)
			g := buildSample(t, s)
			ctx := context.Background()
			_, isRemote := s.(*registry.Repository)
			tagSchema := isRemote && b.name != "ggcr-referrers-api"

			// Without --cascade, a subject with referrers is refused and
			// nothing goes.
			p, err := graph.PlanDelete(ctx, s, g.image, graph.DeleteOptions{})
			if !errors.Is(err, graph.ErrHasReferrers) || p == nil || p.Graph.Len() != 5 {
				t.Fatalf("plan without cascade: %v, %v", p, err)
			}

			// One signature (the SBOM's only referrer): its entry and the
			// then empty index tag go.
			p, err = graph.PlanDelete(ctx, s, g.sbomSig, graph.DeleteOptions{})
			if err != nil || len(p.Order) != 1 {
				t.Fatalf("plan: %+v, %v", p, err)
			}
			if _, err := p.Execute(ctx, s, nil); err != nil {
				t.Fatal(err)
			}
			gone(t, s, g.sbomSig)
			if tagSchema {
				if ds, ok := indexEntries(t, s, g.sbom); ok {
					t.Errorf("the SBOM's referrers index is left with %v, want the tag deleted", ds)
				}
			}
			root, err := graph.Walk(ctx, s, g.image, graph.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got, w := shape(root), want(g.image, "", want(g.sbom, typeSBOM), want(g.sig, typeSig), want(g.sarif, typeSARIF)); got != w {
				t.Errorf("after deleting one signature:\n got %s\nwant %s", got, w)
			}

			// One of three referrers: the index keeps the other two.
			p, err = graph.PlanDelete(ctx, s, g.sig, graph.DeleteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Execute(ctx, s, nil); err != nil {
				t.Fatal(err)
			}
			if tagSchema {
				ds, ok := indexEntries(t, s, g.image)
				if !ok || len(ds) != 2 || ds[0] == g.sig.Digest.String() || ds[1] == g.sig.Digest.String() {
					t.Errorf("the image's referrers index = %v (exists %v), want the SBOM and the SARIF report", ds, ok)
				}
			}

			// Cascade: children first, the image last, nothing left.
			attach(t, s, g.sbom, typeSig, "another sig on the sbom", 5)
			p, err = graph.PlanDelete(ctx, s, g.image, graph.DeleteOptions{Cascade: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Order) != 4 || p.Order[3].Digest != g.image.Digest {
				t.Fatalf("cascade order %v, want 4 artifacts ending with the image", p.Order)
			}
			pos := map[string]int{}
			for i, d := range p.Order {
				pos[d.Digest.String()] = i
			}
			if pos[g.sbom.Digest.String()] != 2 && pos[g.sbom.Digest.String()] != 1 || pos[p.Graph.Referrers[0].Descriptor.Digest.String()] > 2 {
				t.Errorf("cascade order %v: the SBOM's signature must go before the SBOM", p.Order)
			}
			var seen []ocispec.Descriptor
			done, err := p.Execute(ctx, s, func(d ocispec.Descriptor) { seen = append(seen, d) })
			if err != nil || len(done) != 4 || len(seen) != 4 {
				t.Fatalf("execute: %d deleted, %d reported, %v", len(done), len(seen), err)
			}
			for _, d := range []ocispec.Descriptor{g.image, g.sbom, g.sarif} {
				gone(t, s, d)
			}
			if !isRemote {
				// The layout lost the blobs only those manifests used.
				if ok, err := s.Exists(ctx, ocispec.DescriptorEmptyJSON); ok || err != nil {
					t.Errorf("the empty config blob is left in the layout (%v)", err)
				}
			}
			if tagSchema {
				for _, d := range []ocispec.Descriptor{g.image, g.sbom} {
					if ds, ok := indexEntries(t, s, d); ok {
						t.Errorf("the referrers index of %s is left with %v", d.Digest, ds)
					}
				}
			}
		})
	}
}

// A cascade never deletes part of a graph over a limit.
func TestDeleteOverLimit(t *testing.T) {
	s := backends()[0].open(t).(deleter)
	g := buildSample(t, s)
	ctx := context.Background()
	_, err := graph.PlanDelete(ctx, s, g.image, graph.DeleteOptions{Cascade: true, Walk: graph.Options{MaxDepth: 1, Truncate: true}})
	var le *graph.LimitError
	if !errors.As(err, &le) || le.Limit != "depth" {
		t.Fatalf("err = %v, want a depth LimitError", err)
	}
	if _, err := s.Resolve(ctx, g.sbomSig.Digest.String()); err != nil {
		t.Errorf("the SBOM's signature was touched: %v", err)
	}
}

// A registry that refuses to delete tags (405) and keeps the tags of
// deleted manifests (as go-containerregistry's does) would keep serving an
// emptied referrers index: the delete says so instead of succeeding. A
// real registry with both faults is not at hand, so go-containerregistry's
// registry gets the first one from a middleware.
func TestDeleteRegistryKeepsIndexTag(t *testing.T) {
	noTagDelete := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/manifests/sha256-") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusMethodNotAllowed)
				_, _ = io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"tag deletion"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	reg := testregistry.New(t, testregistry.Options{Middleware: noTagDelete})
	s := remote(t, reg.Host, registry.ReferrersAuto).(deleter)
	ctx := context.Background()
	image := testregistry.PushImage(t, s, "app", "v1")
	sig := attach(t, s, image, typeSig, "sig", 1)
	p, err := graph.PlanDelete(ctx, s, sig, graph.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Execute(ctx, s, nil); err == nil || !strings.Contains(err.Error(), "keeps the referrers index tag") {
		t.Fatalf("err = %v, want the kept index tag reported", err)
	}
}
