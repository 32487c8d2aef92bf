package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
)

// A verified copy's check of the destination, after the copy: every node
// looked up there, every referrer looked for among its subject's
// referrers there, and the required nodes verified there.

// checkConcurrency is how many requests the check of a registry
// destination sends at once: small reads (manifests, listings, envelopes,
// HEADs), all independent of each other.
const checkConcurrency = 16

// dstCheck is the result of checkDestination.
type dstCheck struct {
	exists    []bool
	listed    map[digest.Digest]map[digest.Digest]bool
	lookupErr error // the lookups could not be made
	verifyErr error // a *VerifyError
}

// checkDestination looks every node of p up at the destination and lists
// each subject's referrers there, and verifies the required nodes of
// nodes there (recorded in nodes).
//
// At a registry (a referrer lister) everything the check needs is read
// concurrently, in one round of requests: each required node's manifest,
// each subject's referrers listing, the signature manifests and envelopes
// the copy brought, each read digest-checked from the destination. The
// nodes no read looks at are looked up (HEAD), but for those the transfer
// (log) wrote or found there: a push the registry acknowledged after
// checking its digest, or the copy's own lookup, is their arrival; the
// nodes the copy did not visit (below a manifest the destination had) are
// looked up. A subject whose referrers tag index the copy updated gets its
// listing from the update's first convergence read (see list). Each
// required node is verified from what was read (dstView) as soon as its
// own reads are in (its manifest, signatures and referrers listing), so
// that the verification consumes what the destination served, without a
// second request for it nor a chain of dependent ones. Anything else the
// verification asks for (a signature the destination lists that the copy
// did not bring) is read from the destination then.
func checkDestination(ctx context.Context, dst Destination, p *plan, nodes []NodeVerification, v *VerifyOptions, concurrency int, log *transferLog) *dstCheck {
	c := &dstCheck{exists: make([]bool, len(p.nodes))}
	lister, ok := dst.(orasregistry.ReferrerLister)
	if !ok {
		var wg sync.WaitGroup
		wg.Go(func() {
			c.verifyErr = verifyNodes(ctx, dst, nodes, nil, v, EndDestination, v.DestinationScope, concurrency)
		})
		sem := make(chan struct{}, max(concurrency, 1))
		if c.lookupErr = c.list(ctx, dst, p, nil, 0, nil, sem, nil, nil); c.lookupErr == nil {
			c.lookupErr = c.headAll(ctx, dst, p, nil, sem)
		}
		wg.Wait()
		return c
	}
	view := newDstView(dst, lister)
	reads := view.prefetch(p, nodes)
	covered := map[int]bool{} // nodes a read looks at
	for _, r := range reads {
		if j, ok := p.index[r.node]; ok {
			covered[j] = true
		}
	}
	// The nodes no read looks at are looked up alongside the reads, and
	// each required node is verified once its own reads are done (its
	// manifest, its signatures, its referrers listing): a node whose
	// subject listing comes early (its index converged first) does not
	// wait for the others.
	sem := make(chan struct{}, max(concurrency, checkConcurrency))
	var (
		wg      sync.WaitGroup
		headErr error
	)
	for i, n := range p.nodes {
		if !covered[i] && log.isConfirmed(n.desc.Digest) {
			c.exists[i] = true
		}
	}
	wg.Go(func() {
		headErr = c.headAll(ctx, dst, p, func(i int) bool { return !covered[i] && !c.exists[i] }, sem)
	})
	required := map[digest.Digest]int{}
	for j, n := range nodes {
		if n.Required {
			required[n.Digest] = j
		}
	}
	inputs := make([]sync.WaitGroup, len(nodes))
	for _, r := range reads {
		if j, ok := required[r.of]; ok {
			inputs[j].Add(1)
		}
	}
	subjects, _ := p.referrersBySubject()
	for _, s := range subjects {
		if j, ok := required[s.Digest]; ok {
			inputs[j].Add(1)
		}
	}
	outs := make([]*signet.Outcome, len(nodes))
	verrs := make([]error, len(nodes))
	vsem := make(chan struct{}, max(concurrency, 1))
	var vwg sync.WaitGroup
	for j := range nodes {
		if !nodes[j].Required {
			continue
		}
		vwg.Go(func() {
			inputs[j].Wait()
			vsem <- struct{}{}
			defer func() { <-vsem }()
			o := v.VerifyOCIOptions
			o.Scope = v.DestinationScope
			outs[j], verrs[j] = signet.VerifyOCI(ctx, view, nodes[j].Digest.String(), o)
		})
	}
	found := make([]bool, len(reads))
	read := func(i int) {
		found[i] = reads[i].fn(ctx)
		if j, ok := required[reads[i].of]; ok {
			inputs[j].Done()
		}
	}
	listed := func(s digest.Digest) {
		if j, ok := required[s]; ok {
			inputs[j].Done()
		}
	}
	c.lookupErr = c.list(ctx, dst, p, read, len(reads), view.keepListing, sem, log, listed)
	vwg.Wait()
	if c.lookupErr == nil {
		for j := range nodes {
			if nodes[j].Required {
				recordNode(&nodes[j], EndDestination, outs[j], verrs[j])
			}
		}
		c.verifyErr = nodeErrors(nodes, EndDestination, v.DestinationScope)
	}
	wg.Wait()
	if c.lookupErr != nil {
		return c
	}
	if c.lookupErr = headErr; c.lookupErr != nil {
		return c
	}
	for i, r := range reads {
		if j, ok := p.index[r.node]; ok && found[i] {
			c.exists[j] = true
		}
	}
	// A node whose read failed (missing, or altered: it is there, and
	// the verification says what is wrong) is looked up.
	c.lookupErr = c.headAll(ctx, dst, p, func(i int) bool { return covered[i] && !c.exists[i] }, sem)
	return c
}

// ok reports whether every node was found, every referrer listed and
// every required node verified.
func (c *dstCheck) ok() bool {
	if c.lookupErr != nil || c.verifyErr != nil {
		return false
	}
	if slices.Contains(c.exists, false) {
		return false
	}
	for _, refs := range c.listed {
		for _, listed := range refs {
			if !listed {
				return false
			}
		}
	}
	return true
}

// read is a read the check makes: fn reads from the destination (and
// keeps what it read in the view) and reports whether node (when set)
// was found by it.
type read struct {
	node digest.Digest
	// of is the required node whose verification uses the read.
	of digest.Digest
	fn func(ctx context.Context) (found bool)
}

// forEachSem calls fn(0..n-1), each holding a slot of sem, and waits.
func forEachSem(n int, sem chan struct{}, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(i)
		})
	}
	wg.Wait()
}

// list lists each subject's referrers at the destination (passing each
// listing to keep, when set) and records which of the copy's referrers
// are listed, while running extra(0..extras-1) (the reads), each request
// holding a slot of sem. A subject whose referrers tag index the copy
// updated (in log) takes the listing from the first read the update's
// convergence makes (registry.ReferrersUpdate.FirstListing), after its
// settle delay: one read of the index serves both, and the wait for it
// holds no slot. listed, when set, is called once each subject's listing
// is done (or failed).
func (c *dstCheck) list(ctx context.Context, dst Destination, p *plan, extra func(i int), extras int, keep func(digest.Digest, []ocispec.Descriptor), sem chan struct{}, log *transferLog, listed func(digest.Digest)) error {
	n := 0
	if extra != nil {
		n = extras
	}
	subjects, entries := p.referrersBySubject()
	found := make([]map[digest.Digest]bool, len(subjects))
	listErrs := make([]error, len(subjects))
	listOne := func(i int, refs []ocispec.Descriptor, err error) {
		if listed != nil {
			defer listed(subjects[i].Digest)
		}
		if err != nil {
			listErrs[i] = fmt.Errorf("list the referrers of %s at the destination: %w", subjects[i].Digest, err)
			return
		}
		if keep != nil {
			keep(subjects[i].Digest, refs)
		}
		m := map[digest.Digest]bool{}
		for _, e := range entries[subjects[i].Digest] {
			m[e.Digest] = false
		}
		for _, r := range refs {
			if _, ok := m[r.Digest]; ok {
				m[r.Digest] = true
			}
		}
		found[i] = m
	}
	var (
		wg    sync.WaitGroup
		ahead []int // subjects listed by a request of their own
	)
	for i, s := range subjects {
		u := log.update(s.Digest)
		if u == nil {
			ahead = append(ahead, i)
			continue
		}
		wg.Go(func() {
			refs, ok, err := u.FirstListing(ctx)
			if !ok && err == nil {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					listOne(i, nil, context.Cause(ctx))
					return
				}
				defer func() { <-sem }()
				refs, err = orasregistry.Referrers(ctx, dst, s, "")
			}
			listOne(i, refs, err)
		})
	}
	forEachSem(len(ahead)+n, sem, func(k int) {
		if k >= len(ahead) {
			extra(k - len(ahead))
			return
		}
		i := ahead[k]
		refs, err := orasregistry.Referrers(ctx, dst, subjects[i], "")
		listOne(i, refs, err)
	})
	wg.Wait()
	if err := errors.Join(listErrs...); err != nil {
		return errors.Join(signet.ErrIO, err)
	}
	c.listed = map[digest.Digest]map[digest.Digest]bool{}
	for i, s := range subjects {
		c.listed[s.Digest] = found[i]
	}
	return nil
}

// transferLog is what a copy's transfer did that the check of the
// destination uses: the referrers tag index updates it made, by subject,
// and the nodes it found at the destination or wrote there (each
// acknowledged by the registry after checking its digest). A nil
// *transferLog has nothing. It is safe for concurrent use.
type transferLog struct {
	mu        sync.Mutex
	updates   map[digest.Digest]*registry.ReferrersUpdate
	confirmed map[digest.Digest]bool
}

func newTransferLog() *transferLog {
	return &transferLog{updates: map[digest.Digest]*registry.ReferrersUpdate{}, confirmed: map[digest.Digest]bool{}}
}

// putUpdate records the update of subject d's referrers tag index.
func (l *transferLog) putUpdate(d digest.Digest, u *registry.ReferrersUpdate) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.updates[d] = u
}

// update is the update of subject d's referrers tag index, nil if none.
func (l *transferLog) update(d digest.Digest) *registry.ReferrersUpdate {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.updates[d]
}

// confirm records that the node d was found at the destination by a
// lookup, or written there.
func (l *transferLog) confirm(d digest.Digest) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.confirmed[d] = true
}

// isConfirmed reports whether the node d was found at the destination or
// written there.
func (l *transferLog) isConfirmed(d digest.Digest) bool {
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.confirmed[d]
}

// headAll looks up at the destination each node of p that want selects
// (nil: every node), each request holding a slot of sem.
func (c *dstCheck) headAll(ctx context.Context, dst Destination, p *plan, want func(i int) bool, sem chan struct{}) error {
	var idx []int
	for i := range p.nodes {
		if want == nil || want(i) {
			idx = append(idx, i)
		}
	}
	errs := make([]error, len(idx))
	forEachSem(len(idx), sem, func(k int) {
		i := idx[k]
		var err error
		if c.exists[i], err = dst.Exists(ctx, p.nodes[i].desc); err != nil {
			errs[k] = fmt.Errorf("look up %s at the destination: %w", p.nodes[i].desc.Digest, err)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return errors.Join(signet.ErrIO, err)
	}
	return nil
}

// record writes what the lookups found into res (after the transfer
// states: a node's transfer state moves to Transfer) and returns the
// lookup error, or ErrIncomplete naming what is missing.
func (c *dstCheck) record(p *plan, res *CopyResult) error {
	if c.lookupErr != nil {
		return c.lookupErr
	}
	var missing []string
	for i, n := range p.nodes {
		ns := &res.Nodes[i]
		ns.Transfer = ns.State
		switch {
		case !c.exists[i]:
			ns.State = StateMissing
			missing = append(missing, fmt.Sprintf("%s %s", n.kind, n.desc.Digest))
		case n.kind == KindReferrer && !c.listed[n.subject.Digest][n.desc.Digest]:
			ns.State = StateUnlisted
			missing = append(missing, fmt.Sprintf("referrer %s (not listed under %s)", n.desc.Digest, n.subject.Digest))
		default:
			ns.State = StateArrived
			res.Verification.Arrived++
		}
	}
	if len(missing) > 0 {
		return errors.Join(signet.ErrIO, fmt.Errorf("%w: %d of %d nodes arrived; missing: %s", ErrIncomplete,
			res.Verification.Arrived, res.Verification.Expected, strings.Join(missing, ", ")))
	}
	return nil
}

// dstView is the destination as a verification at it sees it: content
// read from the destination beforehand (digest-checked, kept in memory),
// the referrers listings made beforehand, and the destination itself for
// anything else. It is safe for concurrent use.
type dstView struct {
	dst    Destination
	lister orasregistry.ReferrerLister

	mu       sync.Mutex
	resolved map[digest.Digest]ocispec.Descriptor // manifests resolved at the destination
	data     map[digest.Digest][]byte             // content read, digest-checked
	listings map[digest.Digest][]ocispec.Descriptor
}

var _ signet.ReadTarget = (*dstView)(nil)

func newDstView(dst Destination, lister orasregistry.ReferrerLister) *dstView {
	return &dstView{dst: dst, lister: lister, resolved: map[digest.Digest]ocispec.Descriptor{},
		data: map[digest.Digest][]byte{}, listings: map[digest.Digest][]ocispec.Descriptor{}}
}

// prefetch returns the reads that fill the view for verifying nodes: each
// required node resolved and read, its referrers listed (unless it is a
// subject of p's referrers: lookUp lists those and keeps the listing
// here), and the signature manifests and envelopes of its signatures in p
// read. A read that fails keeps nothing (the verification then asks the
// destination itself and fails there, as it would have).
func (v *dstView) prefetch(p *plan, nodes []NodeVerification) []read {
	var reads []read
	for _, n := range nodes {
		if !n.Required {
			continue
		}
		d := n.Digest
		reads = append(reads, read{node: d, of: d, fn: func(ctx context.Context) bool { return v.resolve(ctx, d) }})
		if len(p.referrers[d]) == 0 {
			reads = append(reads, read{of: d, fn: func(ctx context.Context) bool { return v.list(ctx, p, d) }})
		}
		for _, sig := range p.referrers[d] {
			if sig.ArtifactType != signature.ArtifactType {
				continue
			}
			sd := bare(sig)
			reads = append(reads, read{node: sd.Digest, of: d, fn: func(ctx context.Context) bool {
				return v.read(ctx, sd, registry.MaxManifestBytes)
			}})
			if env, ok := envelopeOf(p.raw[sd.Digest]); ok {
				reads = append(reads, read{node: env.Digest, of: d, fn: func(ctx context.Context) bool {
					return v.read(ctx, env, registry.MaxEnvelopeBytes)
				}})
			}
		}
	}
	return reads
}

// envelopeOf is the envelope a signature manifest points to (its first
// layer).
func envelopeOf(raw []byte) (ocispec.Descriptor, bool) {
	var m ocispec.Manifest
	if json.Unmarshal(raw, &m) != nil || len(m.Layers) == 0 {
		return ocispec.Descriptor{}, false
	}
	return bare(m.Layers[0]), true
}

// resolve resolves and reads the manifest d at the destination, as
// registry.ResolveManifest does, and keeps both.
func (v *dstView) resolve(ctx context.Context, d digest.Digest) bool {
	desc, err := v.dst.Resolve(ctx, d.String())
	if err != nil || desc.Digest != d || desc.Size > registry.MaxManifestBytes {
		return false
	}
	desc = bare(desc)
	raw, err := readChecked(ctx, v.dst, desc, registry.MaxManifestBytes)
	if err != nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.resolved[d] = desc
	v.data[d] = raw
	return true
}

// list lists the referrers of the node d at the destination, all artifact
// types, and keeps them.
func (v *dstView) list(ctx context.Context, p *plan, d digest.Digest) bool {
	i, ok := p.index[d]
	if !ok {
		return false
	}
	refs, err := orasregistry.Referrers(ctx, v.dst, p.nodes[i].desc, "")
	if err != nil {
		return false
	}
	v.keepListing(d, refs)
	return true
}

// keepListing keeps the referrers of d listed at the destination.
func (v *dstView) keepListing(d digest.Digest, refs []ocispec.Descriptor) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.listings[d] = refs
}

// read reads desc from the destination, digest-checked, and keeps it.
func (v *dstView) read(ctx context.Context, desc ocispec.Descriptor, limit int64) bool {
	if desc.Size > limit {
		return false
	}
	data, err := readChecked(ctx, v.dst, desc, limit)
	if err != nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.data[desc.Digest] = data
	return true
}

// readChecked reads desc from f, at most limit bytes, and checks its
// size and digest.
func readChecked(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return content.ReadAll(io.LimitReader(rc, limit+1), desc)
}

func (v *dstView) kept(desc ocispec.Descriptor) ([]byte, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	data, ok := v.data[desc.Digest]
	if !ok || int64(len(data)) != desc.Size {
		return nil, false
	}
	return data, true
}

// Fetch serves what was read, else reads from the destination.
func (v *dstView) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if data, ok := v.kept(desc); ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	return v.dst.Fetch(ctx, desc)
}

// Exists answers from what was read, else asks the destination.
func (v *dstView) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if _, ok := v.kept(desc); ok {
		return true, nil
	}
	return v.dst.Exists(ctx, desc)
}

// Resolve answers a digest resolved beforehand, else asks the
// destination.
func (v *dstView) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	if d, err := digest.Parse(reference); err == nil {
		v.mu.Lock()
		desc, ok := v.resolved[d]
		v.mu.Unlock()
		if ok {
			return desc, nil
		}
	}
	return v.dst.Resolve(ctx, reference)
}

// Referrers answers from a listing made beforehand (filtered by
// artifactType, as a registry would), else lists at the destination.
func (v *dstView) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	v.mu.Lock()
	refs, ok := v.listings[desc.Digest]
	v.mu.Unlock()
	if !ok {
		return v.lister.Referrers(ctx, desc, artifactType, fn)
	}
	var page []ocispec.Descriptor
	for _, r := range refs {
		if artifactType == "" || r.ArtifactType == artifactType {
			page = append(page, r)
		}
	}
	if len(page) == 0 {
		return nil
	}
	return fn(page)
}

// Predecessors lists every referrer of desc.
func (v *dstView) Predecessors(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var all []ocispec.Descriptor
	err := v.Referrers(ctx, desc, "", func(page []ocispec.Descriptor) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}
