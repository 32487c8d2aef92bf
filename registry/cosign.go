package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
)

// cosign signatures, as stored by cosign v3 (bundle referrers) and v2 and
// older (the sha256-<hex>.sig tag). This file only finds and fetches their
// bytes, bounded; package cosign parses and verifies them.
const (
	// MediaTypeSigstoreBundle is the artifactType of a cosign bundle
	// referrer and the media type of its layer.
	MediaTypeSigstoreBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// MediaTypeCosignSimpleSigning is the layer media type of the legacy
	// signature manifest.
	MediaTypeCosignSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// MaxCosignBundleBytes bounds a sigstore bundle blob (a key-signed
	// bundle is a few KiB).
	MaxCosignBundleBytes = 1 << 20
	// MaxCosignLayers bounds the signatures read from one legacy
	// signature manifest (cosign appends one layer per signature).
	MaxCosignLayers = 64
)

// Annotations of a legacy simple-signing layer.
const (
	annotationCosignSignature = "dev.cosignproject.cosign/signature"
	annotationCosignBundle    = "dev.sigstore.cosign/bundle"
)

// ErrNotCosignSignature means a manifest is not a cosign signature of the
// shape cosign writes.
var ErrNotCosignSignature = errors.New("not a cosign signature manifest")

// ListCosignBundles lists the cosign bundle referrers of subject
// (artifactType MediaTypeSigstoreBundle), in the order of ListSignatures,
// at most max (<= 0: DefaultMaxSignatures).
func ListCosignBundles(ctx context.Context, t content.ReadOnlyGraphStorage, subject ocispec.Descriptor, max int) (sigs []ocispec.Descriptor, truncated bool, err error) {
	return listReferrers(ctx, t, subject, MediaTypeSigstoreBundle, "cosign signatures", max)
}

// FetchCosignBundle fetches the bundle referrer desc of subject and
// returns the bundle's bytes: an image manifest of artifactType
// MediaTypeSigstoreBundle whose subject is subject and whose one layer is
// the bundle (at most MaxCosignBundleBytes, digest checked).
func FetchCosignBundle(ctx context.Context, f content.Fetcher, desc, subject ocispec.Descriptor) ([]byte, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("%w: %s has media type %q", ErrNotCosignSignature, desc.Digest, desc.MediaType)
	}
	if desc.Size > MaxManifestBytes {
		return nil, fmt.Errorf("cosign signature manifest %s is %d bytes, over the limit of %d", desc.Digest, desc.Size, MaxManifestBytes)
	}
	raw, err := FetchBounded(ctx, f, desc, MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch cosign signature manifest %s: %w", desc.Digest, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotCosignSignature, desc.Digest, err)
	}
	switch {
	case m.ArtifactType != MediaTypeSigstoreBundle:
		return nil, fmt.Errorf("%w: %s has artifactType %q", ErrNotCosignSignature, desc.Digest, m.ArtifactType)
	case m.Subject == nil || m.Subject.Digest != subject.Digest:
		return nil, fmt.Errorf("%w: %s does not refer to %s", ErrNotCosignSignature, desc.Digest, subject.Digest)
	case len(m.Layers) != 1 || m.Layers[0].MediaType != MediaTypeSigstoreBundle:
		return nil, fmt.Errorf("%w: %s needs exactly one layer of type %s", ErrNotCosignSignature, desc.Digest, MediaTypeSigstoreBundle)
	case m.Layers[0].Size > MaxCosignBundleBytes:
		return nil, fmt.Errorf("cosign bundle %s is %d bytes, over the limit of %d", m.Layers[0].Digest, m.Layers[0].Size, MaxCosignBundleBytes)
	}
	b, err := FetchBounded(ctx, f, m.Layers[0], MaxCosignBundleBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch cosign bundle %s: %w", m.Layers[0].Digest, err)
	}
	return b, nil
}

// CosignLegacySignature is one layer of a legacy cosign signature
// manifest: the signed simple-signing payload and its annotations.
type CosignLegacySignature struct {
	// Manifest is the signature manifest's descriptor; Layer the layer's.
	Manifest ocispec.Descriptor
	Layer    ocispec.Descriptor
	// Payload is the layer's bytes (at most MaxCosignBundleBytes).
	Payload []byte
	// Signature is the base64 signature annotation; RekorBundle the
	// optional Rekor bundle annotation.
	Signature   string
	RekorBundle string
}

// CosignLegacyTag is the tag of the legacy signature manifest of subject:
// <alg>-<hex>.sig.
func CosignLegacyTag(subject ocispec.Descriptor) (string, error) {
	if err := subject.Digest.Validate(); err != nil {
		return "", fmt.Errorf("cosign signature tag: %w", err)
	}
	return subject.Digest.Algorithm().String() + "-" + subject.Digest.Encoded() + ".sig", nil
}

// FetchCosignLegacy reads the legacy signature manifest of subject (the
// sha256-<hex>.sig tag) and returns its simple-signing layers, at most
// MaxCosignLayers. No tag means no signatures (nil, nil). Layers of other
// media types are skipped; the manifest and every layer are bounded and
// digest-checked.
func FetchCosignLegacy(ctx context.Context, t ManifestSource, subject ocispec.Descriptor) ([]CosignLegacySignature, error) {
	tag, err := CosignLegacyTag(subject)
	if err != nil {
		return nil, err
	}
	desc, err := t.Resolve(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve the cosign signature tag %s: %w", tag, err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != mediaTypeDockerManifest {
		return nil, fmt.Errorf("%w: tag %s names a %s", ErrNotCosignSignature, tag, desc.MediaType)
	}
	if desc.Size > MaxManifestBytes {
		return nil, fmt.Errorf("cosign signature manifest %s is %d bytes, over the limit of %d", desc.Digest, desc.Size, MaxManifestBytes)
	}
	raw, err := FetchBounded(ctx, t, desc, MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch cosign signature manifest %s: %w", tag, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: tag %s: %v", ErrNotCosignSignature, tag, err)
	}
	if len(m.Layers) > MaxCosignLayers {
		return nil, fmt.Errorf("cosign signature manifest %s has %d layers, over the limit of %d", tag, len(m.Layers), MaxCosignLayers)
	}
	var out []CosignLegacySignature
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeCosignSimpleSigning {
			continue
		}
		if l.Size > MaxCosignBundleBytes {
			return nil, fmt.Errorf("cosign payload %s is %d bytes, over the limit of %d", l.Digest, l.Size, MaxCosignBundleBytes)
		}
		payload, err := FetchBounded(ctx, t, l, MaxCosignBundleBytes)
		if err != nil {
			return nil, fmt.Errorf("fetch cosign payload %s: %w", l.Digest, err)
		}
		out = append(out, CosignLegacySignature{
			Manifest:    desc,
			Layer:       ocispec.Descriptor{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size},
			Payload:     payload,
			Signature:   l.Annotations[annotationCosignSignature],
			RekorBundle: l.Annotations[annotationCosignBundle],
		})
	}
	return out, nil
}
