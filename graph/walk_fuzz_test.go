package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
)

// lister is a registry whose referrers listings are whatever a fuzzer
// makes of them: the faults (loops, repeats, self-references, huge
// fan-out) no real registry produces, for the walker's bounds.
type lister struct {
	edges map[digest.Digest][]ocispec.Descriptor
}

func (l *lister) Fetch(context.Context, ocispec.Descriptor) (io.ReadCloser, error) {
	return nil, errdef.ErrNotFound
}

func (l *lister) Predecessors(context.Context, ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return nil, errors.New("not used: Referrers is")
}

func (l *lister) Referrers(_ context.Context, subject ocispec.Descriptor, _ string, fn func([]ocispec.Descriptor) error) error {
	if e := l.edges[subject.Digest]; len(e) > 0 {
		return fn(e)
	}
	return nil
}

// FuzzWalk: whatever the listings, a walk ends, never panics, keeps its
// limits, lists each digest's referrers at most once, and with Truncate off
// either succeeds with a complete graph or fails with a *LimitError.
func FuzzWalk(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 0}, uint8(2), uint8(2), uint8(5), true)
	f.Add([]byte{0, 0}, uint8(0), uint8(0), uint8(0), false)
	f.Add([]byte{0, 1, 0, 2, 0, 3, 1, 4, 4, 5, 5, 6, 6, 1}, uint8(3), uint8(2), uint8(6), false)
	f.Fuzz(func(t *testing.T, edges []byte, depth, perNode, nodes uint8, truncate bool) {
		if len(edges) > 512 {
			return
		}
		desc := func(b byte) ocispec.Descriptor {
			return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(b % 32)), Size: 2, ArtifactType: "a/b"}
		}
		l := &lister{edges: map[digest.Digest][]ocispec.Descriptor{}}
		for i := 0; i+1 < len(edges); i += 2 {
			from := desc(edges[i]).Digest
			l.edges[from] = append(l.edges[from], desc(edges[i+1]))
		}
		opts := Options{MaxDepth: int(depth % 8), MaxReferrers: int(perNode % 8), MaxNodes: int(nodes % 40), Truncate: truncate, Concurrency: 3}
		root, err := Walk(context.Background(), l, desc(0), opts)
		if err != nil {
			var le *LimitError
			if truncate || !errors.As(err, &le) {
				t.Fatalf("Walk: %v", err)
			}
			return
		}
		if root.Len() > opts.maxNodes() {
			t.Fatalf("%d nodes, over the limit of %d", root.Len(), opts.maxNodes())
		}
		expanded := map[digest.Digest]int{}
		err = root.Walk(func(n *Node) error {
			if n.Depth > opts.maxDepth() {
				return fmt.Errorf("node at depth %d", n.Depth)
			}
			if len(n.Referrers) > opts.maxReferrers() {
				return fmt.Errorf("%d referrers", len(n.Referrers))
			}
			if n.Repeated && len(n.Referrers) > 0 {
				return errors.New("a repeated node has referrers")
			}
			if !n.Repeated {
				expanded[n.Descriptor.Digest]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for d, c := range expanded {
			if c > 1 {
				t.Fatalf("%s walked %d times", d, c)
			}
		}
		if !truncate && root.Incomplete() {
			t.Fatal("a strict walk returned an incomplete graph")
		}
	})
}

// memFetcher serves fixed blobs.
type memFetcher map[digest.Digest][]byte

func (m memFetcher) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	b, ok := m[d.Digest]
	if !ok {
		return nil, errdef.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// FuzzLayoutReferrer: any manifest bytes a layout holds are read as a
// referrer of the subject only when they name it as subject, and never
// panic the walk.
func FuzzLayoutReferrer(f *testing.F) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 7}
	good, _ := json.Marshal(ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "a/b", Config: ocispec.DescriptorEmptyJSON, Subject: &subject, Annotations: map[string]string{"k": "v"}})
	f.Add(good)
	f.Add([]byte(`{"subject":{"digest":"sha256:00"},"config":{"mediaType":"x/y"}}`))
	f.Add([]byte(`{"subject":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: int64(len(raw))}
		d, ok, err := predecessorReferrer(context.Background(), memFetcher{p.Digest: raw}, p, subject)
		if err != nil {
			if len(raw) <= 4<<20 {
				t.Fatalf("error on an in-limit manifest: %v", err)
			}
			return
		}
		if !ok {
			return
		}
		var m struct {
			Subject *ocispec.Descriptor `json:"subject"`
		}
		if json.Unmarshal(raw, &m) != nil || m.Subject == nil || m.Subject.Digest != subject.Digest {
			t.Fatalf("%q accepted as a referrer of %s", raw, subject.Digest)
		}
		if d.Digest != p.Digest || d.Size != p.Size {
			t.Fatalf("descriptor %+v for %+v", d, p)
		}
	})
}
