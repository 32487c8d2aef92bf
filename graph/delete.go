package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"
)

// DeleteOptions configure PlanDelete.
type DeleteOptions struct {
	// Cascade deletes the subject's referrer subtree too, children before
	// their subject. Without it a subject with referrers is refused
	// (ErrHasReferrers): deleting it would orphan them.
	Cascade bool
	// Walk bounds the walk of the subtree (ArtifactType and Truncate are
	// ignored: a delete plans on the whole graph, and a graph over a limit
	// fails with a *LimitError instead of being deleted in part).
	Walk Options
}

// Plan is what a delete removes: the subject's referrer graph and the
// order of deletion.
type Plan struct {
	// Graph is the subject's referrer graph, all artifact types.
	Graph *Node
	// Order lists the artifacts to delete, children before their subject,
	// each once, the subject last. Without Cascade it is the subject alone.
	Order []ocispec.Descriptor
}

// PlanDelete walks subject's referrer graph in src and plans its deletion.
// With referrers and without opts.Cascade it returns the plan (for display)
// and an error wrapping ErrHasReferrers.
func PlanDelete(ctx context.Context, src Source, subject ocispec.Descriptor, opts DeleteOptions) (*Plan, error) {
	wo := opts.Walk
	wo.ArtifactType, wo.Truncate = "", false
	root, err := Walk(ctx, src, subject, wo)
	if err != nil {
		return nil, err
	}
	p := &Plan{Graph: root}
	if !opts.Cascade {
		p.Order = []ocispec.Descriptor{root.Descriptor}
		if len(root.Referrers) > 0 {
			return p, fmt.Errorf("%w: deleting %s would orphan its %d referrers (%d artifacts below it)", ErrHasReferrers, subject.Digest, len(root.Referrers), root.Len()-1)
		}
		return p, nil
	}
	seen := map[digest.Digest]bool{}
	_ = root.PostOrder(func(n *Node) error {
		if n.Repeated || seen[n.Descriptor.Digest] {
			return nil
		}
		seen[n.Descriptor.Digest] = true
		p.Order = append(p.Order, n.Descriptor)
		return nil
	})
	return p, nil
}

// Execute deletes the plan's artifacts from d in order, calling deleted
// (when not nil) after each. It stops at the first failure and returns
// what was deleted until then. A registry.Repository keeps the referrers
// tag index consistent as it goes (see registry.Repository.Delete); from an
// OCI layout (oras-go's oci.Store) each manifest goes with the blobs that
// nothing else in the layout refers to, and nothing more.
func (p *Plan) Execute(ctx context.Context, d content.Deleter, deleted func(ocispec.Descriptor)) ([]ocispec.Descriptor, error) {
	var done []ocispec.Descriptor
	for _, desc := range p.Order {
		target := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
		var err error
		if s, ok := d.(*oci.Store); ok {
			err = deleteFromLayout(ctx, s, target)
		} else {
			err = d.Delete(ctx, target)
		}
		if err != nil {
			return done, fmt.Errorf("delete %s: %w", desc.Digest, err)
		}
		done = append(done, desc)
		if deleted != nil {
			deleted(desc)
		}
	}
	return done, nil
}

// deleteFromLayout deletes the manifest desc from an OCI layout, then its
// config and layers where no other manifest refers to them. oras-go's
// AutoGC is not used: it also takes the manifest's subject when nothing
// else refers to that, so deleting a signature would delete the untagged
// SBOM it signs.
func deleteFromLayout(ctx context.Context, s *oci.Store, desc ocispec.Descriptor) error {
	var blobs []ocispec.Descriptor
	if desc.MediaType == ocispec.MediaTypeImageManifest {
		raw, err := fetchManifest(ctx, s, desc)
		if err != nil {
			return err
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		blobs = append([]ocispec.Descriptor{m.Config}, m.Layers...)
	}
	autoGC := s.AutoGC
	s.AutoGC = false
	defer func() { s.AutoGC = autoGC }()
	if err := s.Delete(ctx, desc); err != nil {
		return err
	}
	for _, b := range blobs {
		b = ocispec.Descriptor{MediaType: b.MediaType, Digest: b.Digest, Size: b.Size}
		preds, err := s.Predecessors(ctx, b)
		if err != nil {
			return err
		}
		if len(preds) > 0 {
			continue
		}
		if err := s.Delete(ctx, b); err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return fmt.Errorf("delete blob %s: %w", b.Digest, err)
		}
	}
	return nil
}
