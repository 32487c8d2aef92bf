package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
)

// LayoutReference is a reference into an OCI image layout directory:
// DIR@sha256:... or DIR:tag.
type LayoutReference struct {
	Dir string
	// Reference is the digest or tag inside the layout.
	Reference string
}

// IsDigest reports whether the reference names a digest.
func (r LayoutReference) IsDigest() bool {
	_, err := digest.Parse(r.Reference)
	return err == nil
}

func (r LayoutReference) String() string {
	if r.IsDigest() {
		return r.Dir + "@" + r.Reference
	}
	return r.Dir + ":" + r.Reference
}

// ParseLayoutReference splits DIR@DIGEST or DIR:TAG. A tag may not contain
// '/' so a colon inside the directory path is not mistaken for one.
func ParseLayoutReference(s string) (LayoutReference, error) {
	if i := strings.LastIndex(s, "@"); i > 0 {
		d, err := digest.Parse(s[i+1:])
		if err != nil {
			return LayoutReference{}, fmt.Errorf("invalid digest in %q: %w", s, err)
		}
		return LayoutReference{Dir: s[:i], Reference: d.String()}, nil
	}
	if i := strings.LastIndex(s, ":"); i > 0 && !strings.Contains(s[i+1:], "/") && s[i+1:] != "" {
		return LayoutReference{Dir: s[:i], Reference: s[i+1:]}, nil
	}
	return LayoutReference{}, fmt.Errorf("invalid OCI layout reference %q: want DIR@sha256:<digest> or DIR:<tag>", s)
}

// OpenLayout opens an existing OCI image layout. Unlike oci.New it does not
// create one: a missing or non-layout directory is an error.
func OpenLayout(ctx context.Context, dir string) (*oci.Store, error) {
	if _, err := os.Stat(filepath.Join(dir, ocispec.ImageLayoutFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not an OCI image layout (no %s): %w", dir, ocispec.ImageLayoutFile, err)
		}
		return nil, err
	}
	return oci.NewWithContext(ctx, dir)
}

// Resolver resolves a reference to a descriptor.
type Resolver interface {
	Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error)
}

// ManifestSource resolves references and fetches the manifests they name.
type ManifestSource interface {
	Resolver
	content.Fetcher
}

// ErrDigestMismatch means content does not hash to the digest that names
// it: it was altered in place.
var ErrDigestMismatch = errors.New("content does not match its digest")

// ResolveManifest resolves reference once (VER-1, SIGN-1): a tag to the
// digest it names now, or a digest to its descriptor. It then reads the
// manifest (at most MaxManifestBytes) and checks that it hashes to its
// digest, so that a manifest altered in place is refused (wrapping
// ErrDigestMismatch) rather than signed or verified by name only.
func ResolveManifest(ctx context.Context, r ManifestSource, reference string) (ocispec.Descriptor, error) {
	desc, err := r.Resolve(ctx, reference)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("resolve %s: %w", reference, err)
	}
	if d, err := digest.Parse(reference); err == nil && d != desc.Digest {
		return ocispec.Descriptor{}, fmt.Errorf("user input digest %s does not match the resolved digest %s", d, desc.Digest)
	}
	if !IsManifest(desc.MediaType) {
		return ocispec.Descriptor{}, fmt.Errorf("%s resolves to %s of media type %q, which is not a manifest", reference, desc.Digest, desc.MediaType)
	}
	desc = ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
	if _, err := FetchBounded(ctx, r, desc, MaxManifestBytes); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	return desc, nil
}
