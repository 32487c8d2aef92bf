package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/signet-dev/signet/registry"
)

// The transfer of a walked graph. It does what oras-go's CopyGraph does
// with the plan's manifests in memory, without linking oras-go's root
// package: that package compiles a media type regular expression at
// initialisation, which every signet process paid for (about 290 KB of
// heap and 1.5M instructions before main; docs/benchmarks.md).

// mounter is a destination that can mount a blob from another repository
// of its registry, and falls back to getContent when the registry does not
// (oras-go's registry.Mounter, which *registry.Repository implements).
type mounter interface {
	Mount(ctx context.Context, desc ocispec.Descriptor, fromRepo string, getContent func() (io.ReadCloser, error)) error
}

// copier copies the nodes of a plan into dst, each once: a node the
// destination has is not copied, nor is anything below it (a manifest
// present means its subgraph is, as oras-go assumes); otherwise what a
// manifest points to (its successors and, for a referrer, its subject) is
// copied first, concurrently, and the manifest last. At most limit
// requests to the source or the destination run at once. It is safe for
// concurrent use.
type copier struct {
	src content.ReadOnlyStorage
	dst content.Storage
	p   *plan
	// mountFrom, when set, is the repository of dst's registry blobs are
	// mounted from.
	mountFrom string
	// mark records what happened to each node (StateCopied,
	// StateMounted or StatePresent); it may be called more than once per
	// node.
	mark func(ocispec.Descriptor, string)
	sem  chan struct{}
	// gate, when set, holds every write (push, mount) until it is
	// closed; lookups go on meanwhile.
	gate <-chan struct{}

	mu    sync.Mutex
	tasks map[digest.Digest]*copyTask
}

// copyTask is one node's copy: done is closed when err is set.
type copyTask struct {
	done chan struct{}
	err  error
}

func newCopier(src content.ReadOnlyStorage, dst content.Storage, p *plan, limit int, mark func(ocispec.Descriptor, string)) *copier {
	return &copier{src: src, dst: dst, p: p, mark: mark, sem: make(chan struct{}, max(limit, 1)), tasks: map[digest.Digest]*copyTask{}}
}

// copyAll copies descs (and what they point to) concurrently. The first
// failure cancels the rest and is returned.
func (c *copier) copyAll(ctx context.Context, descs []ocispec.Descriptor) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errs := make([]error, len(descs))
	var wg sync.WaitGroup
	for i, d := range descs {
		wg.Go(func() {
			if errs[i] = c.copy(ctx, d); errs[i] != nil {
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	return firstError(errs)
}

// firstError is the first of errs that is not a cancellation caused by
// another, else the first.
func firstError(errs []error) error {
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// copy copies d once: a second caller waits for the first one's result.
func (c *copier) copy(ctx context.Context, d ocispec.Descriptor) error {
	c.mu.Lock()
	t, started := c.tasks[d.Digest]
	if !started {
		t = &copyTask{done: make(chan struct{})}
		c.tasks[d.Digest] = t
	}
	c.mu.Unlock()
	if started {
		select {
		case <-t.done:
			return t.err
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	t.err = c.copyNode(ctx, d)
	close(t.done)
	return t.err
}

func (c *copier) copyNode(ctx context.Context, d ocispec.Descriptor) error {
	var exists bool
	err := c.limited(ctx, func() (err error) {
		exists, err = c.dst.Exists(ctx, d)
		return err
	})
	if err != nil {
		return fmt.Errorf("look up %s at the destination: %w", d.Digest, err)
	}
	if exists {
		c.mark(d, StatePresent)
		return nil
	}
	succ, err := c.successors(d)
	if err != nil {
		return err
	}
	if err := c.copyAll(ctx, succ); err != nil {
		return err
	}
	// Waiting for the gate holds no request slot: lookups go on.
	if err := c.open(ctx); err != nil {
		return err
	}
	err = c.limited(ctx, func() error { return c.push(ctx, d) })
	if err != nil && len(succ) > 0 && missingReferencedContent(err) {
		// The destination refused the manifest for want of something it
		// points to that the lookup above reported present: an earlier
		// copy was interrupted after a manifest's blobs but before the
		// manifest itself was committed. Push the manifests it points to
		// again and retry once, so that an interrupted copy heals (as
		// oras-go's CopyGraph does).
		for _, s := range succ {
			if !registry.IsManifest(s.MediaType) {
				continue
			}
			if err := c.limited(ctx, func() error { return c.transfer(ctx, s) }); err != nil {
				return err
			}
		}
		err = c.limited(ctx, func() error { return c.push(ctx, d) })
	}
	return err
}

// limited runs fn while holding one of the copier's request slots.
func (c *copier) limited(ctx context.Context, fn func() error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	return fn()
}

// open waits until writing is allowed (the gate is closed).
func (c *copier) open(ctx context.Context) error {
	if c.gate == nil {
		return nil
	}
	select {
	case <-c.gate:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// successors are what must be at the destination before d: a manifest's
// successors and, for a referrer, its subject first. A blob has none.
func (c *copier) successors(d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	raw, ok := c.p.raw[d.Digest]
	if !ok {
		return nil, nil
	}
	succ, err := successors(d, raw)
	if err != nil {
		return nil, err
	}
	if i, ok := c.p.index[d.Digest]; ok && c.p.nodes[i].kind == KindReferrer {
		succ = append([]ocispec.Descriptor{*c.p.nodes[i].subject}, succ...)
	}
	for i := range succ {
		succ[i] = bare(succ[i])
	}
	return succ, nil
}

// push puts d at the destination: a blob is mounted when a repository to
// mount from is known (falling back to a copy when the registry does not
// mount), anything else is copied.
func (c *copier) push(ctx context.Context, d ocispec.Descriptor) error {
	m, ok := c.dst.(mounter)
	if c.mountFrom == "" || !ok || registry.IsManifest(d.MediaType) {
		if err := c.transfer(ctx, d); err != nil {
			return err
		}
		c.mark(d, StateCopied)
		return nil
	}
	copied := false
	getContent := func() (io.ReadCloser, error) {
		copied = true
		return c.src.Fetch(ctx, d)
	}
	if err := m.Mount(ctx, d, c.mountFrom, getContent); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("mount %s from %s: %w", d.Digest, c.mountFrom, err)
	}
	if copied {
		c.mark(d, StateCopied)
	} else {
		c.mark(d, StateMounted)
	}
	return nil
}

// transfer reads d from the source and pushes it to the destination; the
// destination having it already is success.
func (c *copier) transfer(ctx context.Context, d ocispec.Descriptor) error {
	rc, err := c.src.Fetch(ctx, d)
	if err != nil {
		return fmt.Errorf("fetch %s from the source: %w", d.Digest, err)
	}
	defer rc.Close()
	if err := c.dst.Push(ctx, d, rc); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
		return fmt.Errorf("push %s to the destination: %w", d.Digest, err)
	}
	return nil
}

// missingReferencedContent reports whether a registry refused a manifest
// because something it references is missing (MANIFEST_BLOB_UNKNOWN,
// BLOB_UNKNOWN or MANIFEST_UNKNOWN, distribution-spec v1.1 error codes).
func missingReferencedContent(err error) bool {
	missing := func(code string) bool {
		switch code {
		case errcode.ErrorCodeManifestBlobUnknown, errcode.ErrorCodeBlobUnknown, errcode.ErrorCodeManifestUnknown:
			return true
		}
		return false
	}
	var one errcode.Error
	if errors.As(err, &one) && missing(one.Code) {
		return true
	}
	var many errcode.Errors
	if errors.As(err, &many) {
		for _, e := range many {
			if missing(e.Code) {
				return true
			}
		}
	}
	return false
}
