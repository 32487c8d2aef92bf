package main

import (
	"context"
	"fmt"

	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
)

// openReadLayout opens the OCI layout that lref names for reading: a
// directory, or a tar archive read in place.
func openReadLayout(ctx context.Context, lref registry.LayoutReference) (signet.ReadTarget, error) {
	var (
		t   signet.ReadTarget
		err error
	)
	if registry.IsLayoutTar(lref.Dir) {
		t, err = registry.OpenLayoutTar(ctx, lref.Dir)
	} else {
		t, err = registry.OpenLayout(ctx, lref.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return t, nil
}

// withWritableLayout runs fn on the OCI layout that lref names: a directory
// directly, a tar archive extracted beside it and written back (atomically)
// only when fn succeeds.
func withWritableLayout(ctx context.Context, lref registry.LayoutReference, fn func(signet.Target) error) error {
	if registry.IsLayoutTar(lref.Dir) {
		var fnErr error
		err := registry.UpdateLayoutTar(ctx, lref.Dir, func(s *oci.Store) error {
			fnErr = fn(s)
			return fnErr
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return fmt.Errorf("%w: %w", signet.ErrIO, err)
		}
		return nil
	}
	store, err := registry.OpenLayout(ctx, lref.Dir)
	if err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return fn(store)
}
