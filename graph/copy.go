package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
)

// DefaultCopyConcurrency is how many nodes Copy transfers at once when
// CopyOptions.Concurrency is zero.
const DefaultCopyConcurrency = 5

// arrivalConcurrency is the least number of lookups and node
// verifications a verified copy runs at once (they are small requests).
const arrivalConcurrency = 8

// MaxCopyConcurrency bounds CopyOptions.Concurrency.
const MaxCopyConcurrency = 64

// Errors of Copy.
var (
	// ErrIncomplete means that, after a verified copy, a node of the
	// graph is missing at the destination (or a referrer is not listed
	// there). It is wrapped together with signet.ErrIO.
	ErrIncomplete = errors.New("the copy is incomplete at the destination")
)

// Destination is what a graph is copied into: a remote repository
// (*registry.Repository) or an OCI image layout (*oci.Store).
type Destination interface {
	content.Storage
	content.PredecessorFinder
	registry.Resolver
	Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error
}

// CopyOptions configure Copy. The zero value copies the artifact and what
// it is made of (an index's platform manifests, configs, layers), without
// referrers, DefaultCopyConcurrency nodes at a time, without tagging or
// verifying.
type CopyOptions struct {
	// Recursive copies the referrer graph too: the referrers of the root
	// and of every manifest below it (each platform manifest of an index),
	// and their referrers in turn (signatures on SBOMs), within the walk's
	// limits (DefaultMaxDepth, DefaultMaxReferrers, DefaultMaxNodes).
	Recursive bool
	// Platform ("os/arch[/variant]"), when set, copies only that
	// platform's manifest of the index the reference names; it becomes the
	// root.
	Platform string
	// Concurrency is how many nodes are transferred at once; zero means
	// DefaultCopyConcurrency, at most MaxCopyConcurrency.
	Concurrency int
	// Tag, when set, tags the root at the destination.
	Tag string
	// Progress, when set, is updated as the copy goes (bytes and nodes).
	Progress *Progress
	// Verify, when set, verifies the graph under the trust policy at the
	// source before anything is written, and at the destination after
	// the copy, and checks there that every node arrived (see Copy).
	Verify *VerifyOptions
}

// VerifyOptions configure the verification of a copy. Policy and Verifier
// are required; the Scope of the embedded options is ignored.
type VerifyOptions struct {
	signet.VerifyOCIOptions
	// SourceScope and DestinationScope are the repository URIs
	// (REGISTRY/REPO) that select the trust policy statement at each end
	// (SEL-1): the repositories' names, or what the user gave for a
	// layout.
	SourceScope, DestinationScope string
	// All requires every manifest of the graph but the signatures (each
	// platform manifest, each referrer) to carry a signature that
	// verifies; by default only the root and the nodes that have Notary
	// Project signatures must verify, and unsigned nodes are reported
	// (VerdictUnsigned). It needs Recursive: without the referrer graph
	// no node's signatures are known.
	All bool
}

// Progress counts a transfer as it goes. Its fields are updated
// concurrently; read them with Load.
type Progress struct {
	// Nodes is the number of nodes done (copied, mounted or found
	// present); TotalNodes is the size of the graph once walked.
	Nodes, TotalNodes atomic.Int64
	// Bytes is the number of bytes read from the source; TotalBytes is
	// the size of every node of the graph once walked.
	Bytes, TotalBytes atomic.Int64
}

// Node states in a CopyResult.
const (
	// StateCopied: the node was transferred.
	StateCopied = "copied"
	// StateMounted: the destination registry mounted the blob from the
	// source repository; no byte was transferred.
	StateMounted = "mounted"
	// StatePresent: the destination had the node already.
	StatePresent = "present"
	// StateArrived: a verified copy found the node at the destination
	// (and, for a referrer, listed under its subject).
	StateArrived = "arrived"
	// StateMissing: a verified copy did not find the node at the
	// destination.
	StateMissing = "missing"
	// StateUnlisted: a verified copy found the referrer at the
	// destination but not among its subject's referrers.
	StateUnlisted = "unlisted"
)

// NodeState is one node of a copied graph and what happened to it.
type NodeState struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	Size         int64         `json:"size"`
	Kind         NodeKind      `json:"kind"`
	// Subject is the digest of the node a referrer refers to.
	Subject digest.Digest `json:"subject,omitempty"`
	// State is StateCopied, StateMounted or StatePresent after the copy;
	// a verified copy then replaces it with StateArrived, StateMissing or
	// StateUnlisted, and keeps the transfer state in Transfer.
	State    string `json:"state"`
	Transfer string `json:"transfer,omitempty"`
}

// CopyResult reports a copy.
type CopyResult struct {
	// Root is the artifact copied (after Platform selection).
	Root ocispec.Descriptor `json:"root"`
	// Tag is the tag given to the root at the destination, if any.
	Tag string `json:"tag,omitempty"`
	// Nodes are every node of the graph, the root first, then in walk
	// order (breadth first).
	Nodes []NodeState `json:"nodes"`
	// Copied, Mounted and Present count the nodes by transfer state.
	Copied  int `json:"copied"`
	Mounted int `json:"mounted"`
	Present int `json:"present"`
	// Bytes is what was read from the source.
	Bytes int64 `json:"bytes"`
	// Verification is set for a verified copy.
	Verification *Verification `json:"verification,omitempty"`
}

// Verification reports a verified copy: the root's verdict at the source
// (before anything was written), how many nodes arrived, the root's
// verdict at the destination, and each manifest's verification at both
// ends.
type Verification struct {
	Source      *signet.Outcome `json:"source"`
	Arrived     int             `json:"arrived"`
	Expected    int             `json:"expected"`
	Destination *signet.Outcome `json:"destination,omitempty"`
	// Refused says the graph did not verify at the source: nothing was
	// written to the destination.
	Refused bool `json:"refused,omitempty"`
	// Nodes are the manifests of the graph but the signatures, the root
	// first, in walk order: with Recursive, each platform manifest and
	// each referrer (SBOM, scan report, ...); without it, the root only
	// (no node's signatures are known).
	Nodes []NodeVerification `json:"nodes"`
}

// Copy copies the artifact reference names in src, and with
// opts.Recursive its referrer graph, into dst, keeping every digest. It is
// idempotent and resumable: nodes the destination has are not transferred
// again (a manifest present means its subgraph is, as oras-go assumes),
// blobs are mounted across repositories of one registry, and at a
// destination with the referrers tag schema every copied referrer is then
// made to appear in its subject's index (see registry.Repository.Push for
// how concurrent updates converge).
//
// The transfer copies the graph walked first (each manifest fetched
// once), successors before what points to them (transfer.go).
//
// With opts.Verify, the graph is verified at the source under the
// statement of SourceScope before anything is written: the root, and
// every other manifest that has Notary Project signatures in the graph
// (each platform manifest, SBOM, scan report; with VerifyOptions.All every
// manifest but the signatures), each by the signatures that refer to it.
// A node that fails returns a *VerifyError naming it (wrapping
// signet.ErrNotTrusted) and nothing is written. After the copy every node
// is confirmed at the destination (ErrIncomplete when one is missing): read
// there (the manifests and signatures verified), or written or found there
// by the copy itself (a push the registry acknowledged after checking the
// digest, a lookup), or else looked up (what is below a manifest the
// destination had, which the copy does not visit); and
// the same nodes are verified there under DestinationScope's statement (a
// *VerifyError again). With opts.Platform, what is verified is what is
// copied: the platform manifest, by its own signatures (an index's
// signature names the index and does not travel with it;
// ErrPlatformUnsigned says so). Transfer failures wrap signet.ErrIO. The
// result is returned with the error whenever the graph could be walked.
func Copy(ctx context.Context, src CopySource, reference string, dst Destination, opts CopyOptions) (*CopyResult, error) {
	_, res, err := copyGraph(ctx, src, reference, dst, opts)
	return res, err
}

// copyGraph is Copy, returning the walked graph too.
func copyGraph(ctx context.Context, src CopySource, reference string, dst Destination, opts CopyOptions) (*plan, *CopyResult, error) {
	if opts.Concurrency < 0 || opts.Concurrency > MaxCopyConcurrency {
		return nil, nil, fmt.Errorf("%w: concurrency %d: want 1 to %d", signet.ErrInvalidInput, opts.Concurrency, MaxCopyConcurrency)
	}
	if opts.Verify != nil && opts.Verify.All && !opts.Recursive {
		return nil, nil, fmt.Errorf("%w: verifying every node of the graph needs the referrer graph (recursive): without it no node's signatures are known", signet.ErrInvalidInput)
	}
	root, err := registry.ResolveManifest(ctx, src, reference)
	if err != nil {
		if errors.Is(err, registry.ErrDigestMismatch) {
			return nil, nil, fmt.Errorf("%w: %w", signet.ErrNotTrusted, err)
		}
		return nil, nil, errors.Join(signet.ErrIO, err)
	}
	index := root
	if opts.Platform != "" {
		if root, err = signet.PlatformManifest(ctx, src, root, opts.Platform); err != nil {
			return nil, nil, err
		}
	}
	// The root is verified at the source while the graph is walked (both
	// only read); nothing is written before both are done.
	var (
		srcOut *signet.Outcome
		srcErr error
		srcWG  sync.WaitGroup
	)
	if v := opts.Verify; v != nil {
		srcWG.Go(func() {
			srcOut, srcErr = verifyAt(ctx, withResolved(src, root), root, v, v.SourceScope)
			if srcErr != nil && opts.Platform != "" {
				srcErr = platformNote(ctx, src, index, srcErr)
			}
		})
	}
	p, err := walk(ctx, src, root, opts.Recursive, opts.concurrency())
	srcWG.Wait()
	if err != nil {
		if errors.Is(err, ErrLimit) {
			return nil, nil, fmt.Errorf("%w: %w", signet.ErrInvalidInput, err)
		}
		return nil, nil, errors.Join(signet.ErrIO, fmt.Errorf("read the graph of %s: %w", root.Digest, err))
	}
	res := newResult(p)
	res.Tag = opts.Tag
	var (
		gate      chan struct{} // closed once the graph verified at the source; nil: open
		srcVerify func() error  // the verification at the source of the nodes but the root
	)
	if v := opts.Verify; v != nil {
		vr := &Verification{Expected: len(p.nodes), Source: srcOut, Nodes: nodeVerifications(p, v.All)}
		res.Verification = vr
		recordNode(&vr.Nodes[0], EndSource, srcOut, srcErr)
		// The other nodes are verified in what was walked: the manifests
		// about to be copied, from memory, and the signature envelopes
		// from the source.
		// The transfer starts meanwhile, reading only (what the
		// destination has) until they are all verified (the copier's
		// gate); should one fail, nothing is written. A root that failed
		// already is refused before the destination is asked anything.
		ps := &planSource{src: src, p: p}
		verifySource := func() error {
			err := verifyNodes(ctx, ps, vr.Nodes, func(i int) bool { return i == 0 }, v, EndSource, v.SourceScope, max(opts.concurrency(), arrivalConcurrency))
			if err != nil {
				vr.Refused = true
			}
			return err
		}
		if srcErr != nil {
			return p, res, verifySource()
		}
		gate = make(chan struct{})
		srcVerify = verifySource
	}
	// A verified copy checks the destination (arrival and verification)
	// as soon as everything is written, while the referrers tag indexes
	// written converge (copyAndIndex), each subject's listing being the
	// first read of its index's convergence (log); should that early check
	// fail (a concurrent writer's index update had dropped an entry for a
	// while), it is made again once the indexes have converged.
	var (
		early     *dstCheck
		earlyDone = make(chan struct{})
		started   atomic.Bool
		written   func()
		log       *transferLog
	)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if v := opts.Verify; v != nil {
		log = newTransferLog()
		written = func() {
			started.Store(true)
			go func() {
				defer close(earlyDone)
				// Not before the graph verified at the source (all may
				// have been at the destination already: nothing to write).
				if gate != nil {
					select {
					case <-gate:
					case <-tctx.Done():
						return
					}
				}
				early = checkDestination(tctx, dst, p, res.Verification.Nodes, v, max(opts.concurrency(), arrivalConcurrency), log)
			}()
		}
	}
	var (
		refused error
		srcDone = make(chan struct{})
	)
	if srcVerify != nil {
		go func() {
			defer close(srcDone)
			if refused = srcVerify(); refused != nil {
				cancel()
				return
			}
			close(gate)
		}()
	} else {
		close(srcDone)
	}
	terr := transfer(tctx, src, p, dst, opts, res, gate, written, log)
	<-srcDone
	if terr != nil || refused != nil {
		cancel()
		if started.Load() {
			<-earlyDone
		}
		if refused != nil {
			return p, res, refused
		}
		return p, res, errors.Join(signet.ErrIO, terr)
	}
	if opts.Tag != "" {
		if err := dst.Tag(ctx, p.root, opts.Tag); err != nil {
			if started.Load() {
				cancel()
				<-earlyDone
			}
			return p, res, errors.Join(signet.ErrIO, fmt.Errorf("tag %s as %s: %w", p.root.Digest, opts.Tag, err))
		}
	}
	if v := opts.Verify; v != nil {
		vr := res.Verification
		var check *dstCheck
		if started.Load() {
			<-earlyDone
			check = early
		}
		if check == nil || !check.ok() {
			check = checkDestination(ctx, dst, p, vr.Nodes, v, max(opts.concurrency(), arrivalConcurrency), nil)
		}
		if err := check.record(p, res); err != nil {
			return p, res, err
		}
		vr.Destination = vr.Nodes[0].Destination
		if check.verifyErr != nil {
			return p, res, check.verifyErr
		}
	}
	return p, res, nil
}

func (o *CopyOptions) concurrency() int { return orDefault(o.Concurrency, DefaultCopyConcurrency) }

func verifyAt(ctx context.Context, t signet.ReadTarget, root ocispec.Descriptor, v *VerifyOptions, scope string) (*signet.Outcome, error) {
	o := v.VerifyOCIOptions
	o.Scope = scope
	return signet.VerifyOCI(ctx, t, root.Digest.String(), o)
}

// resolvedSource is a source whose manifest root, resolved (and read)
// already, resolves from memory: the root's verification at the source
// does not ask for it again. resolvedLister is one that lists referrers
// itself.
type resolvedSource struct {
	CopySource
	root ocispec.Descriptor
}

func (s resolvedSource) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	if reference == s.root.Digest.String() {
		return s.root, nil
	}
	return s.CopySource.Resolve(ctx, reference)
}

type resolvedLister struct {
	resolvedSource
	lister orasregistry.ReferrerLister
}

func (s resolvedLister) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	return s.lister.Referrers(ctx, desc, artifactType, fn)
}

// withResolved returns src with root resolving from memory, a lister of
// referrers if src is one.
func withResolved(src CopySource, root ocispec.Descriptor) signet.ReadTarget {
	rs := resolvedSource{CopySource: src, root: bare(root)}
	if l, ok := src.(orasregistry.ReferrerLister); ok {
		return resolvedLister{rs, l}
	}
	return rs
}

func newResult(p *plan) *CopyResult {
	res := &CopyResult{Root: p.root, Nodes: make([]NodeState, len(p.nodes))}
	for i, n := range p.nodes {
		ns := NodeState{Digest: n.desc.Digest, MediaType: n.desc.MediaType, Size: n.desc.Size, Kind: n.kind, State: StatePresent}
		if n.kind == KindReferrer {
			ns.ArtifactType = n.entry.ArtifactType
			ns.Subject = n.subject.Digest
		}
		res.Nodes[i] = ns
	}
	return res
}

// transfer copies the root's graph and the referrers the walk found
// (those of the platform manifests included), each after its subject, and
// makes the referrers listed where the destination keeps its own index
// (copyAndIndex).
//
// Nothing is written before gate is closed (nil: at once). written, when
// set, is called once every node and every index entry is written, before
// the indexes have converged (not at all on failure).
func transfer(ctx context.Context, src CopySource, p *plan, dst Destination, opts CopyOptions, res *CopyResult, gate <-chan struct{}, written func(), log *transferLog) error {
	prog := opts.Progress
	if prog == nil {
		prog = &Progress{}
	}
	prog.TotalNodes.Store(int64(len(p.nodes)))
	prog.TotalBytes.Store(p.totalBytes())
	ps := &planSource{src: src, p: p, progress: prog}
	states := newTransferStates(p, prog)
	mark := func(d ocispec.Descriptor, state string) {
		states.mark(d, state)
		log.confirm(d.Digest)
	}
	defer func() {
		// Also on failure: the result is returned with the error.
		states.apply(res)
		res.Bytes = prog.Bytes.Load()
	}()
	conc := opts.concurrency()
	// Into a registry that keeps its own referrers tag index, referrers are
	// pushed without touching it, and each subject's index is then updated
	// once for all its referrers (and converges) in copyAndIndex.
	var target content.Storage = dst
	if r, ok := dst.(*registry.Repository); ok {
		target = deferredIndex{r}
	}
	c := newCopier(ps, target, p, conc, mark)
	c.mountFrom = mountSource(src, dst)
	c.gate = gate
	if err := copyAndIndex(ctx, c, p, dst, written, log); err != nil {
		return err
	}
	prog.Nodes.Store(int64(len(p.nodes)))
	states.apply(res)
	for _, n := range res.Nodes {
		switch n.State {
		case StateCopied:
			res.Copied++
		case StateMounted:
			res.Mounted++
		default:
			res.Present++
		}
	}
	return nil
}

// indexConcurrency bounds the subjects whose referrers tag index a copy
// updates at once. An update is a few small requests separated by settle
// delays (registry.ReferrersUpdate.Converge), so a subject waiting for a
// slot would wait for a whole convergence: the bound is above the number
// of subjects of most graphs (an index, its platform manifests, a few
// SBOMs).
const indexConcurrency = 32

// referrerIndexer is a destination that keeps a referrers index of its own
// (a registry with the referrers tag schema): Copy asks it to list every
// referrer it copied, so that a copy interrupted between a manifest and its
// index update, or an update lost to a concurrent copy, is made whole.
type referrerIndexer interface {
	AddReferrers(ctx context.Context, subject ocispec.Descriptor, entries []ocispec.Descriptor) (*registry.ReferrersUpdate, error)
}

// copyAndIndex copies the root's graph and every referrer the walk found
// concurrently (a referrer after its subject: its subject is among what it
// waits for), and, where the destination keeps its own referrers index,
// adds each subject's referrers to its index in one update as soon as they
// are all there, while the rest of the graph is still being copied, then
// makes the update converge: the settle delays overlap the transfer
// instead of following it. written, when set, is called once everything
// is written, before the last updates have converged.
func copyAndIndex(ctx context.Context, c *copier, p *plan, dst Destination, written func(), log *transferLog) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	subjects, entries := p.referrersBySubject()
	ix, indexes := dst.(referrerIndexer)
	var (
		wg      sync.WaitGroup
		rootErr error
		errs    = make([]error, len(subjects))
		slots   = make(chan struct{}, indexConcurrency)
		pending atomic.Int64 // the root's graph and each subject's index entries, until written
	)
	pending.Store(int64(1 + len(subjects)))
	done := func() {
		if pending.Add(-1) == 0 && written != nil {
			written()
		}
	}
	wg.Go(func() {
		if rootErr = c.copy(ctx, p.root); rootErr != nil {
			rootErr = fmt.Errorf("copy %s: %w", p.root.Digest, rootErr)
			cancel(rootErr)
			return
		}
		done()
	})
	for i, s := range subjects {
		wg.Go(func() {
			fail := func(err error) {
				errs[i] = err
				cancel(err)
			}
			refs := make([]ocispec.Descriptor, len(entries[s.Digest]))
			for j, r := range entries[s.Digest] {
				refs[j] = bare(r)
			}
			if err := c.copyAll(ctx, refs); err != nil {
				fail(fmt.Errorf("copy the referrers of %s: %w", s.Digest, err))
				return
			}
			if !indexes {
				done()
				return
			}
			if err := c.open(ctx); err != nil {
				errs[i] = err
				return
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				errs[i] = context.Cause(ctx)
				return
			}
			defer func() { <-slots }()
			u, err := ix.AddReferrers(ctx, s, entries[s.Digest])
			if err != nil {
				fail(fmt.Errorf("list the referrers of %s: %w", s.Digest, err))
				return
			}
			log.putUpdate(s.Digest, u)
			done()
			if err := u.Converge(ctx); err != nil {
				fail(fmt.Errorf("list the referrers of %s: %w", s.Digest, err))
			}
		})
	}
	wg.Wait()
	return firstError(append([]error{rootErr}, errs...))
}

// transferStates records what happened to each node of a plan during a
// transfer. A node may be reached on several paths (a blob listed under
// two media types: the "{}" config of signatures and of OCI 1.1
// artifacts); the copier handles each digest once, and should a node be
// reported twice the result must not depend on which report comes first:
// a node transferred by any path in this run is StateCopied, else
// StateMounted if any path mounted it, else StatePresent (stateRank).
type transferStates struct {
	mu    sync.Mutex
	p     *plan
	prog  *Progress
	state map[digest.Digest]string
}

func newTransferStates(p *plan, prog *Progress) *transferStates {
	return &transferStates{p: p, prog: prog, state: map[digest.Digest]string{}}
}

// stateRank orders transfer states: the highest one reported for a node
// is its state.
func stateRank(state string) int {
	switch state {
	case StateCopied:
		return 3
	case StateMounted:
		return 2
	case StatePresent:
		return 1
	}
	return 0
}

// mark records that desc was handled with state. The progress counts a
// node once, when it is first reported.
func (s *transferStates) mark(desc ocispec.Descriptor, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, seen := s.state[desc.Digest]
	if !seen {
		s.prog.Nodes.Add(1)
	}
	if stateRank(state) > stateRank(old) {
		s.state[desc.Digest] = state
	}
}

// apply writes the recorded states into res.Nodes (a node nobody
// reported keeps the StatePresent newResult gave it).
func (s *transferStates) apply(res *CopyResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d, state := range s.state {
		if i, ok := s.p.index[d]; ok {
			res.Nodes[i].State = state
		}
	}
}

// deferredIndex pushes into a repository with PushDeferred: referrers
// are listed by EnsureReferrers afterwards. It keeps the repository's
// Mount, so blobs are still mounted.
type deferredIndex struct{ *registry.Repository }

func (d deferredIndex) Push(ctx context.Context, expected ocispec.Descriptor, rd io.Reader) error {
	return d.PushDeferred(ctx, expected, rd)
}

// mountSource names the repository blobs may be mounted from: src's, when
// src and dst are repositories of one registry.
func mountSource(src CopySource, dst Destination) string {
	s, ok1 := src.(*registry.Repository)
	d, ok2 := dst.(*registry.Repository)
	if !ok1 || !ok2 || s.Registry() != d.Registry() || s.Name() == d.Name() {
		return ""
	}
	return strings.TrimPrefix(s.Name(), s.Registry()+"/")
}

// forEachLimit calls fn(0..n-1), at most limit at a time, and waits.
func forEachLimit(n, limit int, fn func(i int)) {
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}
