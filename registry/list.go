package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/signet-dev/signet/signature"
)

// DefaultMaxSignatures is how many signatures are listed or evaluated per
// artifact unless the caller says otherwise (the reference's default).
const DefaultMaxSignatures = 100

// ListSignatures lists the signature manifests that refer to subject, both
// the artifactType form and the config form (MAN-8). It uses the Referrers
// API where the target has one, in the order the registry returns them
// (DISC-5), and the target's predecessors otherwise (OCI layouts), which
// have no order of their own: those are sorted oldest first by their
// org.opencontainers.image.created annotation, then by digest, so that
// listing and verification are repeatable. At most max descriptors are
// returned; max <= 0 means DefaultMaxSignatures. truncated reports that more
// signatures exist than were returned.
func ListSignatures(ctx context.Context, t content.ReadOnlyGraphStorage, subject ocispec.Descriptor, max int) (sigs []ocispec.Descriptor, truncated bool, err error) {
	return listReferrers(ctx, t, subject, signature.ArtifactType, "signatures", max)
}

// listReferrers lists subject's referrers of artifactType (what names them
// in an error), in the order ListSignatures documents, at most max (<= 0:
// DefaultMaxSignatures).
func listReferrers(ctx context.Context, t content.ReadOnlyGraphStorage, subject ocispec.Descriptor, artifactType, what string, max int) (refs []ocispec.Descriptor, truncated bool, err error) {
	if max <= 0 {
		max = DefaultMaxSignatures
	}
	all, err := orasregistry.Referrers(ctx, t, subject, artifactType)
	if err != nil {
		return nil, false, fmt.Errorf("list %s of %s: %w", what, subject.Digest, err)
	}
	if _, ok := t.(orasregistry.ReferrerLister); !ok {
		slices.SortStableFunc(all, func(a, b ocispec.Descriptor) int {
			if c := createdTime(a).Compare(createdTime(b)); c != 0 {
				return c
			}
			return strings.Compare(string(a.Digest), string(b.Digest))
		})
	}
	for _, d := range all {
		if d.ArtifactType != artifactType {
			continue // a target that ignores the filter (DISC-2)
		}
		if len(refs) == max {
			return refs, true, nil
		}
		refs = append(refs, d)
	}
	return refs, false, nil
}

// createdTime parses a descriptor's created annotation; a missing or
// malformed one counts as the zero time (listed first).
func createdTime(d ocispec.Descriptor) time.Time {
	t, err := time.Parse(time.RFC3339Nano, d.Annotations[AnnotationCreated])
	if err != nil {
		return time.Time{}
	}
	return t
}
