package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/signature"
)

// Limits on what we read from a target (§0.5). A registry or layout is
// untrusted input: these bound memory whatever it serves.
const (
	// MaxManifestBytes bounds a signature manifest (reference: 4 MiB).
	MaxManifestBytes = 4 << 20
	// MaxEnvelopeBytes bounds a signature envelope blob (reference: 32 MiB).
	MaxEnvelopeBytes = 32 << 20
)

// Annotation keys written on signature manifests (MAN-6, MAN-7).
const (
	AnnotationThumbprints = "io.cncf.notary.x509chain.thumbprint#S256"
	AnnotationCreated     = ocispec.AnnotationCreated
)

// emptyConfig is the 2-byte "{}" config blob of §0.3.
var emptyConfig = []byte("{}")

// ManifestForm chooses how a signature manifest declares its type (MAN-2).
type ManifestForm int

const (
	// FormConfig sets config.mediaType to application/vnd.cncf.notary.signature
	// with no artifactType: what notation v1.3.2 writes and the only form it
	// finds in an OCI layout. The zero value.
	FormConfig ManifestForm = iota
	// FormArtifactType sets artifactType with the empty config: the OCI 1.1
	// form the specification prefers.
	FormArtifactType
)

// ErrNotSignature means a referrer is not a well-formed Notary Project
// signature manifest.
var ErrNotSignature = errors.New("not a Notary Project signature manifest")

// Thumbprints returns the MAN-6 annotation value: a JSON array of the
// lowercase hex SHA-256 of each certificate, leaf first.
func Thumbprints(chain []*x509.Certificate) string {
	prints := make([]string, len(chain))
	for i, c := range chain {
		sum := sha256.Sum256(c.Raw)
		prints[i] = hex.EncodeToString(sum[:])
	}
	b, _ := json.Marshal(prints)
	return string(b)
}

// PushSignature stores env (of media type envMediaType) as a referrer of
// subject in t, in the order of PUSH-2: envelope blob, config blob,
// manifest. It returns the signature manifest's descriptor.
func PushSignature(ctx context.Context, t content.Storage, subject ocispec.Descriptor, envMediaType string, env []byte, chain []*x509.Certificate, signingTime time.Time, form ManifestForm) (ocispec.Descriptor, error) {
	return PushSignatureAnnotated(ctx, t, subject, envMediaType, env, chain, signingTime, form, nil)
}

// PushSignatureAnnotated is PushSignature with extra signature manifest
// annotations, such as those an envelope-generating plugin returns (MAN-7):
// the thumbprint and created annotations are set after them and win.
func PushSignatureAnnotated(ctx context.Context, t content.Storage, subject ocispec.Descriptor, envMediaType string, env []byte, chain []*x509.Certificate, signingTime time.Time, form ManifestForm, extra map[string]string) (ocispec.Descriptor, error) {
	envDesc := content.NewDescriptorFromBytes(envMediaType, env)
	if err := PushIfMissing(ctx, t, envDesc, env); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push signature envelope: %w", err)
	}
	m := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		MediaType:   ocispec.MediaTypeImageManifest,
		Layers:      []ocispec.Descriptor{envDesc},
		Subject:     &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{},
	}
	for k, v := range extra {
		m.Annotations[k] = v
	}
	m.Annotations[AnnotationThumbprints] = Thumbprints(chain)
	m.Annotations[AnnotationCreated] = signingTime.UTC().Format(time.RFC3339)
	switch form {
	case FormArtifactType:
		m.ArtifactType = signature.ArtifactType
		m.Config = ocispec.DescriptorEmptyJSON
	default:
		m.Config = content.NewDescriptorFromBytes(signature.ArtifactType, emptyConfig)
	}
	if err := PushIfMissing(ctx, t, m.Config, emptyConfig); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push signature config: %w", err)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := PushIfMissing(ctx, t, desc, raw); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push signature manifest: %w", err)
	}
	desc.ArtifactType = signature.ArtifactType
	desc.Annotations = m.Annotations
	return desc, nil
}

// PushIfMissing pushes data as desc to t unless t already has desc.
func PushIfMissing(ctx context.Context, t content.Storage, desc ocispec.Descriptor, data []byte) error {
	ok, err := t.Exists(ctx, desc)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	return t.Push(ctx, desc, bytes.NewReader(data))
}

// Signature is a fetched, shape-checked signature manifest and its envelope.
type Signature struct {
	// Descriptor is the signature manifest's descriptor.
	Descriptor ocispec.Descriptor
	Manifest   ocispec.Manifest
	// MediaType is the envelope media type (the single layer's).
	MediaType string
	Envelope  []byte
}

// FetchSignature fetches the signature manifest desc and its envelope,
// enforcing the size limits (DISC-6) and the recognition rules of MAN-1..5
// and MAN-9: an image manifest whose subject is subject, exactly one layer
// of a supported envelope media type, and either artifactType notary with
// the empty config or no artifactType with the notary config media type.
func FetchSignature(ctx context.Context, f content.Fetcher, desc, subject ocispec.Descriptor) (*Signature, error) {
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != MediaTypeArtifactManifest {
		return nil, fmt.Errorf("%w: %s has media type %q", ErrNotSignature, desc.Digest, desc.MediaType)
	}
	if desc.Size > MaxManifestBytes {
		return nil, fmt.Errorf("signature manifest %s is %d bytes, over the limit of %d", desc.Digest, desc.Size, MaxManifestBytes)
	}
	raw, err := FetchBounded(ctx, f, desc, MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch signature manifest %s: %w", desc.Digest, err)
	}
	var m ocispec.Manifest
	if desc.MediaType == MediaTypeArtifactManifest {
		m, err = artifactAsManifest(raw)
	} else {
		err = json.Unmarshal(raw, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotSignature, desc.Digest, err)
	}
	if err := checkManifest(&m, subject); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotSignature, desc.Digest, err)
	}
	layer := m.Layers[0]
	if layer.Size > MaxEnvelopeBytes {
		return nil, fmt.Errorf("signature envelope %s is %d bytes, over the limit of %d", layer.Digest, layer.Size, MaxEnvelopeBytes)
	}
	env, err := FetchBounded(ctx, f, layer, MaxEnvelopeBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch signature envelope %s: %w", layer.Digest, err)
	}
	return &Signature{Descriptor: desc, Manifest: m, MediaType: layer.MediaType, Envelope: env}, nil
}

// MediaTypeArtifactManifest is the OCI artifact manifest of the
// image-spec 1.1 release candidates, which early signers wrote (read only).
const MediaTypeArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"

// Docker's image manifest and manifest list, which registries and layouts
// still hold.
const (
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// IsManifest reports whether mt is a manifest's media type: an OCI image
// manifest or index, an OCI artifact manifest, a Docker image manifest or
// manifest list.
func IsManifest(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, MediaTypeArtifactManifest,
		mediaTypeDockerManifest, mediaTypeDockerManifestList:
		return true
	}
	return false
}

// artifactManifest is the shape of an OCI artifact manifest.
type artifactManifest struct {
	MediaType    string               `json:"mediaType"`
	ArtifactType string               `json:"artifactType"`
	Blobs        []ocispec.Descriptor `json:"blobs"`
	Subject      *ocispec.Descriptor  `json:"subject"`
	Annotations  map[string]string    `json:"annotations"`
}

// artifactAsManifest reads an artifact manifest as the image manifest
// checkManifest understands: blobs become layers and the notary artifact
// type needs no config. Its own rule: artifactType must be the notary one.
func artifactAsManifest(raw []byte) (ocispec.Manifest, error) {
	var a artifactManifest
	if err := json.Unmarshal(raw, &a); err != nil {
		return ocispec.Manifest{}, err
	}
	if a.MediaType != MediaTypeArtifactManifest {
		return ocispec.Manifest{}, fmt.Errorf("artifact manifest media type %q", a.MediaType)
	}
	if a.ArtifactType != signature.ArtifactType {
		return ocispec.Manifest{}, fmt.Errorf("artifact manifest of artifactType %q (MAN-9)", a.ArtifactType)
	}
	return ocispec.Manifest{
		MediaType:    MediaTypeArtifactManifest,
		ArtifactType: a.ArtifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       a.Blobs,
		Subject:      a.Subject,
		Annotations:  a.Annotations,
	}, nil
}

func checkManifest(m *ocispec.Manifest, subject ocispec.Descriptor) error {
	if m.MediaType != "" && m.MediaType != ocispec.MediaTypeImageManifest && m.MediaType != MediaTypeArtifactManifest {
		return fmt.Errorf("manifest media type %q (MAN-1)", m.MediaType)
	}
	switch m.ArtifactType {
	case signature.ArtifactType:
		if m.Config.MediaType != ocispec.MediaTypeEmptyJSON {
			return fmt.Errorf("artifactType %s with config media type %q, want %s (MAN-2)", m.ArtifactType, m.Config.MediaType, ocispec.MediaTypeEmptyJSON)
		}
	case "":
		if m.Config.MediaType != signature.ArtifactType {
			return fmt.Errorf("config media type %q (MAN-2)", m.Config.MediaType)
		}
	default:
		return fmt.Errorf("artifactType %q (MAN-2)", m.ArtifactType)
	}
	if len(m.Layers) != 1 {
		return fmt.Errorf("signature manifest needs exactly one layer, has %d (MAN-4)", len(m.Layers))
	}
	switch m.Layers[0].MediaType {
	case signature.MediaTypeJWS, signature.MediaTypeCOSE:
	default:
		return fmt.Errorf("envelope media type %q is not supported (DISC-4)", m.Layers[0].MediaType)
	}
	if m.Subject == nil {
		return fmt.Errorf("no subject (MAN-5)")
	}
	if m.Subject.Digest != subject.Digest || m.Subject.Size != subject.Size {
		return fmt.Errorf("subject %s is not the artifact %s (MAN-5)", m.Subject.Digest, subject.Digest)
	}
	return nil
}

// FetchBounded reads desc from f, at most max bytes, and checks its size
// and digest.
func FetchBounded(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, max int64) ([]byte, error) {
	if !ValidDigest(desc.Digest) {
		return nil, desc.Digest.Validate()
	}
	rc, err := f.Fetch(ctx, desc)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := readSized(rc, desc.Size, max)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("content %s exceeds %d bytes", desc.Digest, max)
	}
	if int64(len(data)) != desc.Size {
		return nil, fmt.Errorf("%w: %s is %d bytes, its descriptor says %d", ErrDigestMismatch, desc.Digest, len(data), desc.Size)
	}
	if got := desc.Digest.Algorithm().FromBytes(data); got != desc.Digest {
		return nil, fmt.Errorf("%w: %s hashes to %s", ErrDigestMismatch, desc.Digest, got)
	}
	return data, nil
}

// readSized reads r to its end, up to max+1 bytes (more than max means
// over the limit), expecting size bytes: when size is within max, into one
// buffer of that size (io.ReadAll grows one from 512 bytes, three
// allocations for a manifest of a few KiB). The caller compares the length
// with size.
func readSized(r io.Reader, size, max int64) ([]byte, error) {
	if size < 0 || size > max {
		return io.ReadAll(io.LimitReader(r, max+1))
	}
	buf := make([]byte, size+1)
	n, err := io.ReadFull(r, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return buf[:n], nil
	}
	if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(r, max+1-int64(n)))
	if err != nil {
		return nil, err
	}
	return append(buf[:n], rest...), nil
}

// FetchIndex reads the image index desc (at most MaxManifestBytes, digest
// checked).
func FetchIndex(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor) (*ocispec.Index, error) {
	raw, err := FetchBounded(ctx, f, desc, MaxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("fetch index %s: %w", desc.Digest, err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	return &idx, nil
}
