package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/registry"
)

// MaxMetadataBytes bounds the manifests a copy, export or import keeps in
// memory: each manifest of the graph is fetched once and served from
// memory to the transfer (issue 10 item 7). The graph's other bounds are
// the walk's (DefaultMaxDepth, DefaultMaxReferrers, DefaultMaxNodes), and
// each manifest is at most registry.MaxManifestBytes.
const MaxMetadataBytes = 64 << 20

// CopySource is what a graph is copied from: an OCI image layout
// (directory or tar archive) or a remote repository
// (*registry.Repository).
type CopySource interface {
	content.ReadOnlyStorage
	content.PredecessorFinder
	registry.Resolver
}

// NodeKind says what a node is to the graph.
type NodeKind string

// Node kinds.
const (
	// KindRoot is the artifact named by the reference.
	KindRoot NodeKind = "root"
	// KindManifest is a manifest an index lists (a platform manifest).
	KindManifest NodeKind = "manifest"
	// KindReferrer is a manifest whose subject is another node.
	KindReferrer NodeKind = "referrer"
	// KindBlob is a config or layer blob.
	KindBlob NodeKind = "blob"
)

// plan is a walked graph: every node once, manifests kept in memory.
type plan struct {
	root ocispec.Descriptor
	// nodes in walk order: the root, then breadth first.
	nodes []planNode
	index map[digest.Digest]int
	// raw manifests by digest, digest-checked.
	raw map[digest.Digest][]byte
	// referrers of each manifest, as listed by the source.
	referrers map[digest.Digest][]ocispec.Descriptor
	rawBytes  int64
}

type planNode struct {
	desc    ocispec.Descriptor
	kind    NodeKind
	subject *ocispec.Descriptor // for referrers: the node it refers to
	// entry is how a referrer is listed under its subject (artifactType,
	// annotations).
	entry ocispec.Descriptor
}

func bare(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// walk reads the graph of root in src: root's successors (platform
// manifests, configs, layers) and, with referrers, the referrer graph
// (Walk) of every manifest among them and the successors of every
// referrer. Each manifest is fetched once, bounded and digest-checked; a
// node is visited once. Limits are the walk's (a *LimitError) and
// MaxMetadataBytes.
func walk(ctx context.Context, src CopySource, root ocispec.Descriptor, referrers bool, concurrency int) (*plan, error) {
	p := &plan{
		root:      bare(root),
		index:     map[digest.Digest]int{},
		raw:       map[digest.Digest][]byte{},
		referrers: map[digest.Digest][]ocispec.Descriptor{},
	}
	if err := p.add(planNode{desc: p.root, kind: KindRoot}); err != nil {
		return nil, err
	}
	if err := p.closure(ctx, src, p.root); err != nil {
		return nil, err
	}
	if !referrers {
		return p, nil
	}
	// The referrer graphs of the root and of each manifest below it,
	// concurrently; then their manifests and blobs, in order.
	var subjects []ocispec.Descriptor
	for _, n := range p.nodes {
		if n.kind != KindBlob {
			subjects = append(subjects, n.desc)
		}
	}
	// Each subject's referrer tree is walked, and the manifests of its
	// referrers read, while the other subjects' trees are walked (the
	// plan is then built in walk order from them).
	trees := make([]*Node, len(subjects))
	errs := make([]error, len(subjects))
	sem := make(chan struct{}, max(concurrency, 1))
	pf := newPrefetch(p, concurrency)
	var wg sync.WaitGroup
	for i, s := range subjects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if trees[i], errs[i] = Walk(ctx, src, s, Options{}); errs[i] == nil {
				errs[i] = pf.tree(ctx, src, trees[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	pf.keep()
	for _, tree := range trees {
		var addErr error
		_ = tree.Walk(func(n *Node) error {
			for _, c := range n.Referrers {
				subject := bare(n.Descriptor)
				d := c.Descriptor
				p.referrers[subject.Digest] = append(p.referrers[subject.Digest], d)
				if _, seen := p.index[d.Digest]; seen || c.Repeated {
					continue
				}
				if addErr = p.add(planNode{desc: bare(d), kind: KindReferrer, subject: &subject, entry: d}); addErr != nil {
					return addErr
				}
				if addErr = p.closure(ctx, src, bare(d)); addErr != nil {
					return addErr
				}
			}
			return nil
		})
		if addErr != nil {
			return nil, addErr
		}
	}
	// A referrer's listing entry comes from its manifest where the
	// listing left out its artifactType or annotations.
	for i := range p.nodes {
		n := &p.nodes[i]
		if n.kind != KindReferrer || n.entry.ArtifactType != "" {
			continue
		}
		if entry, subject := registry.ReferrerDescriptor(n.desc, p.raw[n.desc.Digest]); subject != nil {
			n.entry = entry
		}
	}
	return p, nil
}

// closure adds what the manifest desc is made of: its successors, and
// theirs, breadth first (an index's manifests, their configs and layers).
func (p *plan) closure(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) error {
	queue := []ocispec.Descriptor{desc}
	for depth := 0; len(queue) > 0; depth++ {
		if depth > DefaultMaxDepth {
			return &LimitError{Limit: "depth", Max: DefaultMaxDepth, Node: desc.Digest}
		}
		if err := p.fetchLevel(ctx, src, queue); err != nil {
			return err
		}
		var next []ocispec.Descriptor
		for _, d := range queue {
			if !registry.IsManifest(d.MediaType) {
				continue
			}
			raw, err := p.fetchManifest(ctx, src, d)
			if err != nil {
				return err
			}
			succ, err := successors(d, raw)
			if err != nil {
				return err
			}
			for _, s := range succ {
				s = bare(s)
				if _, seen := p.index[s.Digest]; seen {
					continue
				}
				kind := KindBlob
				if registry.IsManifest(s.MediaType) {
					kind = KindManifest
				}
				if err := p.add(planNode{desc: s, kind: kind}); err != nil {
					return err
				}
				next = append(next, s)
			}
		}
		queue = next
	}
	return nil
}

func (p *plan) add(n planNode) error {
	if len(p.nodes) >= DefaultMaxNodes {
		return &LimitError{Limit: "nodes", Max: DefaultMaxNodes, Node: n.desc.Digest}
	}
	p.index[n.desc.Digest] = len(p.nodes)
	p.nodes = append(p.nodes, n)
	return nil
}

// prefetch reads the manifests of referrers for a plan, from several
// goroutines at once: each manifest once (bounded, digest-checked), up to
// a number of requests at once, all of them within MaxMetadataBytes with
// what the plan holds. keep then hands them to the plan.
type prefetch struct {
	p   *plan
	sem chan struct{}

	mu       sync.Mutex
	raw      map[digest.Digest][]byte
	claimed  map[digest.Digest]bool
	reserved int64
}

func newPrefetch(p *plan, concurrency int) *prefetch {
	return &prefetch{p: p, sem: make(chan struct{}, max(concurrency, 1)), raw: map[digest.Digest][]byte{}, claimed: map[digest.Digest]bool{}}
}

// tree reads the manifests of the referrers in tree that neither the plan
// nor another call has read or is reading.
func (f *prefetch) tree(ctx context.Context, src content.Fetcher, tree *Node) error {
	var descs []ocispec.Descriptor
	f.mu.Lock()
	err := tree.Walk(func(n *Node) error {
		for _, c := range n.Referrers {
			d := bare(c.Descriptor)
			if _, ok := f.p.raw[d.Digest]; ok || f.claimed[d.Digest] || c.Repeated || !registry.IsManifest(d.MediaType) {
				continue
			}
			if d.Size > registry.MaxManifestBytes || d.Size < 0 {
				return fmt.Errorf("manifest %s is %d bytes, over the limit of %d", d.Digest, d.Size, registry.MaxManifestBytes)
			}
			if f.reserved+d.Size+f.p.rawBytes > MaxMetadataBytes {
				return fmt.Errorf("%w: the manifests of the graph add up to more than %d bytes", ErrLimit, MaxMetadataBytes)
			}
			f.reserved += d.Size
			f.claimed[d.Digest] = true
			descs = append(descs, d)
		}
		return nil
	})
	f.mu.Unlock()
	if err != nil {
		return err
	}
	raws := make([][]byte, len(descs))
	errs := make([]error, len(descs))
	forEachSem(len(descs), f.sem, func(i int) {
		raws[i], errs[i] = fetchManifest(ctx, src, descs[i])
	})
	if err := firstError(errs); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, d := range descs {
		f.raw[d.Digest] = raws[i]
	}
	return nil
}

// keep adds what was read to the plan; call it once every tree is done.
func (f *prefetch) keep() {
	for d, raw := range f.raw {
		f.p.raw[d] = raw
		f.p.rawBytes += int64(len(raw))
	}
}

// fetchLevel reads the manifests among descs that the plan does not hold,
// DefaultConcurrency at a time (an index's platform manifests), as
// fetchManifest does.
func (p *plan) fetchLevel(ctx context.Context, src content.Fetcher, descs []ocispec.Descriptor) error {
	var todo []ocispec.Descriptor
	var total int64
	for _, d := range descs {
		if _, ok := p.raw[d.Digest]; ok || !registry.IsManifest(d.MediaType) || slices.ContainsFunc(todo, func(t ocispec.Descriptor) bool { return t.Digest == d.Digest }) {
			continue
		}
		if d.Size > registry.MaxManifestBytes || d.Size < 0 {
			return fmt.Errorf("manifest %s is %d bytes, over the limit of %d", d.Digest, d.Size, registry.MaxManifestBytes)
		}
		if total += d.Size; p.rawBytes+total > MaxMetadataBytes {
			return fmt.Errorf("%w: the manifests of the graph add up to more than %d bytes", ErrLimit, MaxMetadataBytes)
		}
		todo = append(todo, d)
	}
	if len(todo) < 2 {
		return nil // fetchManifest reads it
	}
	raws := make([][]byte, len(todo))
	errs := make([]error, len(todo))
	forEachLimit(len(todo), DefaultConcurrency, func(i int) {
		raws[i], errs[i] = fetchManifest(ctx, src, todo[i])
	})
	if err := firstError(errs); err != nil {
		return err
	}
	for i, d := range todo {
		p.raw[d.Digest] = raws[i]
		p.rawBytes += int64(len(raws[i]))
	}
	return nil
}

// fetchManifest reads a manifest once: bounded, digest-checked, kept.
func (p *plan) fetchManifest(ctx context.Context, src content.Fetcher, desc ocispec.Descriptor) ([]byte, error) {
	if raw, ok := p.raw[desc.Digest]; ok {
		return raw, nil
	}
	if desc.Size > registry.MaxManifestBytes || desc.Size < 0 {
		return nil, fmt.Errorf("manifest %s is %d bytes, over the limit of %d", desc.Digest, desc.Size, registry.MaxManifestBytes)
	}
	if p.rawBytes+desc.Size > MaxMetadataBytes {
		return nil, fmt.Errorf("%w: the manifests of the graph add up to more than %d bytes", ErrLimit, MaxMetadataBytes)
	}
	raw, err := fetchManifest(ctx, src, desc)
	if err != nil {
		return nil, err
	}
	p.raw[desc.Digest] = raw
	p.rawBytes += int64(len(raw))
	return raw, nil
}

// successors are the nodes a manifest points to: an index's manifests, an
// image manifest's config and layers, an artifact manifest's blobs. The
// subject is not among them (the subject is walked first, from the root).
// Foreign (non-distributable) layers are left out, as oras-go does.
func successors(desc ocispec.Descriptor, raw []byte) ([]ocispec.Descriptor, error) {
	var m struct {
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Blobs     []ocispec.Descriptor `json:"blobs"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	var out []ocispec.Descriptor
	if m.Config != nil && m.Config.Digest != "" {
		out = append(out, *m.Config)
	}
	for _, l := range m.Layers {
		switch l.MediaType {
		case ocispec.MediaTypeImageLayerNonDistributable, ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck // foreign layers are skipped, as oras-go does
			ocispec.MediaTypeImageLayerNonDistributableZstd, //nolint:staticcheck
			"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
			continue
		}
		out = append(out, l)
	}
	out = append(out, m.Manifests...)
	out = append(out, m.Blobs...)
	for _, d := range out {
		if err := d.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("manifest %s lists an invalid digest: %w", desc.Digest, err)
		}
		if d.Size < 0 {
			return nil, fmt.Errorf("manifest %s lists %s with a negative size", desc.Digest, d.Digest)
		}
	}
	return out, nil
}

// manifests returns the plan's manifests in walk order.
func (p *plan) manifests() []planNode {
	var out []planNode
	for _, n := range p.nodes {
		if n.kind != KindBlob {
			out = append(out, n)
		}
	}
	return out
}

// totalBytes is the size of every node.
func (p *plan) totalBytes() int64 {
	var n int64
	for _, node := range p.nodes {
		n += node.desc.Size
	}
	return n
}

// referrersBySubject groups the referrer nodes' listing entries by subject,
// in walk order.
func (p *plan) referrersBySubject() (subjects []ocispec.Descriptor, entries map[digest.Digest][]ocispec.Descriptor) {
	entries = map[digest.Digest][]ocispec.Descriptor{}
	for _, n := range p.nodes {
		if n.kind != KindReferrer {
			continue
		}
		if _, ok := entries[n.subject.Digest]; !ok {
			subjects = append(subjects, *n.subject)
		}
		entries[n.subject.Digest] = append(entries[n.subject.Digest], n.entry)
	}
	return subjects, entries
}

// planSource serves the plan's manifests from memory and everything else
// from the source, counting the bytes read for progress.
type planSource struct {
	src      CopySource
	p        *plan
	progress *Progress
}

func (s *planSource) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if raw, ok := s.p.raw[desc.Digest]; ok {
		return &countingReader{r: io.NopCloser(bytes.NewReader(raw)), p: s.progress}, nil
	}
	rc, err := s.src.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	return &countingReader{r: rc, p: s.progress}, nil
}

func (s *planSource) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if _, ok := s.p.raw[desc.Digest]; ok {
		return true, nil
	}
	return s.src.Exists(ctx, desc)
}

// Resolve resolves a digest of the plan from memory, any other reference
// at the source.
func (s *planSource) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	if d, err := digest.Parse(reference); err == nil {
		if i, ok := s.p.index[d]; ok {
			return s.p.nodes[i].desc, nil
		}
	}
	return s.src.Resolve(ctx, reference)
}

// Predecessors answers from the plan: the referrers the walk found.
func (s *planSource) Predecessors(_ context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return slices.Clone(s.p.referrers[desc.Digest]), nil
}

type countingReader struct {
	r io.ReadCloser
	p *Progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if c.p != nil {
		c.p.Bytes.Add(int64(n))
	}
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
