package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/signet-dev/signet/registry"
)

// Limits of a walk (§0.5): a registry or layout is untrusted, and these
// bound what walking its referrer graph can cost whatever it answers. Every
// request a walk makes is bounded in time by the repository's request
// timeout (registry.RemoteOptions.Timeout, registry.DefaultRequestTimeout
// unless set) and in size by registry.MaxManifestBytes per listing page or
// manifest.
const (
	// DefaultMaxDepth bounds how many referrer levels below the subject
	// are walked when Options.MaxDepth is zero. Real graphs are shallow (an
	// image, its SBOM, the SBOM's signature: depth 2); the limit stops a
	// registry that invents an endless chain.
	DefaultMaxDepth = 16
	// DefaultMaxReferrers bounds the referrers listed per node when
	// Options.MaxReferrers is zero. registry.MaxReferrers bounds one
	// listing's transfer; this bounds what a walk keeps of it.
	DefaultMaxReferrers = 1000
	// DefaultMaxNodes bounds the nodes of one walk, subject included, when
	// Options.MaxNodes is zero.
	DefaultMaxNodes = 10000
	// DefaultConcurrency is how many referrers listings a walk runs at
	// once when Options.Concurrency is zero.
	DefaultConcurrency = 4
)

// Source is what a referrer graph is read from: a registry.Repository
// (which lists referrers through the referrers API or the referrers tag
// schema, being an oras-go registry.ReferrerLister), or an OCI image layout
// store such as oras-go's oci.Store, whose predecessors are read and kept
// when their subject is the node.
type Source interface {
	content.Fetcher
	content.PredecessorFinder
}

// ResolvingSource is a Source that also resolves tags and digests.
type ResolvingSource interface {
	Source
	registry.Resolver
}

// Options configure Walk and Discover. The zero value walks every artifact
// type within the default limits and fails with a *LimitError when the
// graph is over one.
type Options struct {
	// ArtifactType, when set, keeps only referrers of this artifact type,
	// at every level (as oras discover --artifact-type does).
	ArtifactType string
	// MaxDepth bounds the referrer levels below the subject (1: its direct
	// referrers only); zero means DefaultMaxDepth.
	MaxDepth int
	// MaxReferrers bounds the referrers kept per node; zero means
	// DefaultMaxReferrers.
	MaxReferrers int
	// MaxNodes bounds the nodes of the walk, the subject included; zero
	// means DefaultMaxNodes.
	MaxNodes int
	// Truncate, when set, turns a limit into a mark on the graph (Node's
	// Unlisted and Truncated) instead of an error: for display. Without it
	// the walk fails with a *LimitError, so that a caller acting on the whole
	// graph (delete, copy) never acts on part of it; at MaxDepth it then
	// lists the deepest nodes' referrers too, to know that there are none.
	Truncate bool
	// Concurrency bounds the listings run at once; zero means
	// DefaultConcurrency.
	Concurrency int
}

func (o *Options) maxDepth() int     { return orDefault(o.MaxDepth, DefaultMaxDepth) }
func (o *Options) maxReferrers() int { return orDefault(o.MaxReferrers, DefaultMaxReferrers) }
func (o *Options) maxNodes() int     { return orDefault(o.MaxNodes, DefaultMaxNodes) }
func (o *Options) concurrency() int  { return orDefault(o.Concurrency, DefaultConcurrency) }

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Node is one artifact of a referrer graph.
type Node struct {
	// Descriptor is the artifact's: media type, digest, size, and, for a
	// referrer, its artifact type and annotations as its listing reports
	// them (the referrers API response, the referrers tag index, or the
	// manifest itself in an OCI layout).
	Descriptor ocispec.Descriptor
	// Referrers are the artifacts whose subject is this one, in the order
	// the registry lists them (DISC-5); in an OCI layout, oldest first by
	// their org.opencontainers.image.created annotation, then by digest.
	Referrers []*Node
	// Depth is 0 for the subject, 1 for its referrers, and so on.
	Depth int
	// Repeated marks a digest already met elsewhere in this walk (a
	// listing that loops or repeats itself): it is not walked again, and
	// its Referrers are those of its first occurrence, not repeated here.
	Repeated bool
	// Unlisted marks a node at the depth limit whose referrers were not
	// listed (Options.Truncate only).
	Unlisted bool
	// Truncated marks a node with more referrers than were kept, because
	// of MaxReferrers or MaxNodes (Options.Truncate only).
	Truncated bool
}

// Walk calls fn for n and every node below it, parents before children,
// in order. Repeated nodes are visited as they appear.
func (n *Node) Walk(fn func(*Node) error) error {
	if err := fn(n); err != nil {
		return err
	}
	for _, c := range n.Referrers {
		if err := c.Walk(fn); err != nil {
			return err
		}
	}
	return nil
}

// PostOrder calls fn for every node below n and then n: children before
// their subject, the order of a cascading delete.
func (n *Node) PostOrder(fn func(*Node) error) error {
	for _, c := range n.Referrers {
		if err := c.PostOrder(fn); err != nil {
			return err
		}
	}
	return fn(n)
}

// Len is the number of nodes from n down, repeated ones included.
func (n *Node) Len() int {
	count := 0
	_ = n.Walk(func(*Node) error { count++; return nil })
	return count
}

// Incomplete reports whether a limit cut the graph below n (Unlisted or
// Truncated somewhere).
func (n *Node) Incomplete() bool {
	errCut := errors.New("cut")
	return n.Walk(func(c *Node) error {
		if c.Unlisted || c.Truncated {
			return errCut
		}
		return nil
	}) != nil
}

// Discover resolves reference (a tag or digest) in src, reading the
// manifest and checking its digest (registry.ResolveManifest), and walks
// its referrer graph.
func Discover(ctx context.Context, src ResolvingSource, reference string, opts Options) (*Node, error) {
	desc, err := registry.ResolveManifest(ctx, src, reference)
	if err != nil {
		return nil, err
	}
	return Walk(ctx, src, desc, opts)
}

// Walk reads the referrer graph of subject from src, breadth first,
// listing up to Options.Concurrency nodes at once. A digest met twice is
// walked once (the second occurrence is marked Repeated), so a listing
// that loops ends. The result is the same whatever the concurrency.
func Walk(ctx context.Context, src Source, subject ocispec.Descriptor, opts Options) (*Node, error) {
	if err := subject.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("walk referrers: subject digest: %w", err)
	}
	root := &Node{Descriptor: ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size, ArtifactType: subject.ArtifactType, Annotations: subject.Annotations}}
	seen := map[digest.Digest]bool{subject.Digest: true}
	nodes := 1
	maxNodes, maxRefs := opts.maxNodes(), opts.maxReferrers()
	level := []*Node{root}
	for depth := 0; len(level) > 0; depth++ {
		atLimit := depth == opts.maxDepth()
		if atLimit && opts.Truncate {
			for _, n := range level {
				if registry.IsManifest(n.Descriptor.MediaType) {
					n.Unlisted = true
				}
			}
			return root, nil
		}
		lists, err := listLevel(ctx, src, level, opts.ArtifactType, maxRefs, opts.concurrency())
		if err != nil {
			return nil, err
		}
		var next []*Node
		for i, n := range level {
			l := lists[i]
			if atLimit {
				if len(l.descs) > 0 {
					return nil, &LimitError{Limit: "depth", Max: opts.maxDepth(), Node: n.Descriptor.Digest}
				}
				continue
			}
			if l.over {
				if !opts.Truncate {
					return nil, &LimitError{Limit: "referrers", Max: maxRefs, Node: n.Descriptor.Digest}
				}
				n.Truncated = true
			}
			for _, d := range l.descs {
				if nodes == maxNodes {
					if !opts.Truncate {
						return nil, &LimitError{Limit: "nodes", Max: maxNodes, Node: n.Descriptor.Digest}
					}
					n.Truncated = true
					return root, nil
				}
				nodes++
				child := &Node{Descriptor: d, Depth: depth + 1}
				n.Referrers = append(n.Referrers, child)
				if seen[d.Digest] {
					child.Repeated = true
					continue
				}
				seen[d.Digest] = true
				next = append(next, child)
			}
		}
		level = next
	}
	return root, nil
}

// listing is one node's referrers: at most max, over when there were more.
type listing struct {
	descs []ocispec.Descriptor
	over  bool
}

// listLevel lists the referrers of each node of one level, concurrently.
// Nodes that are not manifests have none.
func listLevel(ctx context.Context, src Source, level []*Node, artifactType string, max, concurrency int) ([]listing, error) {
	out := make([]listing, len(level))
	errs := make([]error, len(level))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i, n := range level {
		if !registry.IsManifest(n.Descriptor.MediaType) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = listReferrers(ctx, src, n.Descriptor, artifactType, max)
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// The first error in level order, not one caused by cancel().
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errEnough stops a referrers listing once it has more than it keeps.
var errEnough = errors.New("enough referrers")

// listReferrers lists at most max referrers of subject of artifactType
// ("": any), and whether there were more.
func listReferrers(ctx context.Context, src Source, subject ocispec.Descriptor, artifactType string, max int) (listing, error) {
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	var l listing
	if rl, ok := src.(orasregistry.ReferrerLister); ok {
		err := rl.Referrers(ctx, subject, artifactType, func(page []ocispec.Descriptor) error {
			for _, d := range page {
				if artifactType != "" && d.ArtifactType != artifactType {
					continue // a registry that ignores the filter (DISC-2)
				}
				if len(l.descs) == max {
					l.over = true
					return errEnough
				}
				l.descs = append(l.descs, referrerDescriptor(d))
			}
			return nil
		})
		if err != nil && !errors.Is(err, errEnough) {
			return listing{}, fmt.Errorf("list the referrers of %s: %w", subject.Digest, err)
		}
		return l, nil
	}
	preds, err := src.Predecessors(ctx, subject)
	if err != nil {
		return listing{}, fmt.Errorf("list the referrers of %s: %w", subject.Digest, err)
	}
	var all []ocispec.Descriptor
	for _, p := range preds {
		d, ok, err := predecessorReferrer(ctx, src, p, subject)
		if err != nil {
			return listing{}, fmt.Errorf("list the referrers of %s: %w", subject.Digest, err)
		}
		if !ok || artifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		all = append(all, d)
	}
	slices.SortStableFunc(all, func(a, b ocispec.Descriptor) int {
		if c := createdTime(a).Compare(createdTime(b)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Digest), string(b.Digest))
	})
	if len(all) > max {
		return listing{descs: all[:max], over: true}, nil
	}
	return listing{descs: all}, nil
}

// referrerDescriptor keeps the fields of a listed referrer that describe it.
func referrerDescriptor(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: d.ArtifactType, Annotations: d.Annotations}
}

// predecessorReferrer reads the predecessor p of subject in a layout (at
// most registry.MaxManifestBytes, digest checked) and returns it as a
// referrers listing would: artifactType (else the config media type) and
// annotations. ok is false when p is no manifest with subject as its
// subject (an index listing subject, say).
func predecessorReferrer(ctx context.Context, f content.Fetcher, p, subject ocispec.Descriptor) (ocispec.Descriptor, bool, error) {
	if !registry.IsManifest(p.MediaType) || !registry.ValidDigest(p.Digest) || p.Size < 0 {
		return ocispec.Descriptor{}, false, nil
	}
	if p.Size > registry.MaxManifestBytes {
		return ocispec.Descriptor{}, false, fmt.Errorf("manifest %s is %d bytes, over the limit of %d", p.Digest, p.Size, registry.MaxManifestBytes)
	}
	raw, err := fetchManifest(ctx, f, p)
	if err != nil {
		return ocispec.Descriptor{}, false, err
	}
	var m struct {
		ArtifactType string              `json:"artifactType"`
		Config       *ocispec.Descriptor `json:"config"`
		Subject      *ocispec.Descriptor `json:"subject"`
		Annotations  map[string]string   `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.Subject == nil || m.Subject.Digest != subject.Digest {
		return ocispec.Descriptor{}, false, nil
	}
	d := ocispec.Descriptor{MediaType: p.MediaType, Digest: p.Digest, Size: p.Size, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if d.ArtifactType == "" && p.MediaType == ocispec.MediaTypeImageManifest && m.Config != nil {
		d.ArtifactType = m.Config.MediaType
	}
	return d, true, nil
}

// fetchManifest reads desc from f: at most registry.MaxManifestBytes, of
// the size and digest desc names.
func fetchManifest(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > registry.MaxManifestBytes {
		return nil, fmt.Errorf("manifest %s is %d bytes, over the limit of %d", desc.Digest, desc.Size, registry.MaxManifestBytes)
	}
	if !registry.ValidDigest(desc.Digest) {
		return nil, fmt.Errorf("%w: manifest %s", registry.ErrDigestMismatch, desc.Digest)
	}
	raw, err := registry.FetchBounded(ctx, f, desc, registry.MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	return raw, nil
}

// createdTime parses a descriptor's created annotation; a missing or
// malformed one counts as the zero time (listed first).
func createdTime(d ocispec.Descriptor) time.Time {
	t, err := time.Parse(time.RFC3339Nano, d.Annotations[ocispec.AnnotationCreated])
	if err != nil {
		return time.Time{}
	}
	return t
}
