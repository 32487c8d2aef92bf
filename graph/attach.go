package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/registry"
)

// Limits on what Attach accepts (§0.5): the manifest it writes must stay
// within registry.MaxManifestBytes, which every reader enforces.
const (
	// MaxFiles bounds the files (layers) of one attached artifact.
	MaxFiles = 1000
	// MaxAnnotations bounds the manifest annotations of one attached
	// artifact, and the annotations parsed from one command line.
	MaxAnnotations = 256
	// MaxAnnotationBytes bounds one annotation's key plus value.
	MaxAnnotationBytes = 64 << 10
	// MaxFileRefBytes bounds one FILE[:MEDIATYPE] argument.
	MaxFileRefBytes = 4096
)

// DefaultFileMediaType is the media type of an attached file that names
// none: oras's default (oras-go's file store), so that oras pull and
// signet agree on what the layer is.
const DefaultFileMediaType = ocispec.MediaTypeImageLayer

// Errors of Attach's input.
var (
	// ErrInvalidAttach means the artifact to attach is not well formed
	// (no artifact type, an invalid media type or annotation, nothing to
	// attach, duplicate file titles).
	ErrInvalidAttach = errors.New("invalid artifact to attach")
)

// ValidMediaType reports whether mt is a media type by the OCI image spec
// grammar (descriptor.md, RFC 6838 §4.2): type "/" subtype, each 1 to 127
// characters, starting with a letter or digit, then letters, digits and
// !#$&^_.+- . It is the regular expression
// ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$
// written out: compiling that expression, whose counted repetitions
// expand to hundreds of instructions, cost every signet process about 2
// million CPU instructions at start-up (docs/benchmarks.md).
func ValidMediaType(mt string) bool {
	typ, sub, ok := strings.Cut(mt, "/")
	return ok && mediaTypeName(typ) && mediaTypeName(sub)
}

// mediaTypeNameMax is RFC 6838's bound on a type or subtype name.
const mediaTypeNameMax = 127

// mediaTypeName reports whether s is an RFC 6838 restricted-name.
func mediaTypeName(s string) bool {
	if len(s) == 0 || len(s) > mediaTypeNameMax || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && !strings.ContainsRune("!#$&^_.+-", rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// File is one file of an attached artifact: one layer of its manifest.
type File struct {
	// Path is the file to read.
	Path string
	// MediaType is the layer's media type; empty means
	// DefaultFileMediaType.
	MediaType string
	// Title is the layer's org.opencontainers.image.title annotation, the
	// name oras pull writes the file under; empty means Path cleaned and
	// slash-separated when relative (as oras attach names it), its base
	// name when absolute.
	Title string
}

func (f File) title() string {
	if f.Title != "" {
		return f.Title
	}
	if filepath.IsAbs(f.Path) {
		return filepath.Base(f.Path)
	}
	return filepath.ToSlash(filepath.Clean(f.Path))
}

func (f File) mediaType() string {
	if f.MediaType != "" {
		return f.MediaType
	}
	return DefaultFileMediaType
}

// ParseFileRef parses FILE[:MEDIATYPE], as oras attach does: the text after
// the last colon, if any, is the media type. It must be a valid media type,
// so that a colon in a file name is an error rather than a silent media
// type ("a:b.txt" names no media type: write "a:b.txt:text/plain").
func ParseFileRef(s string) (File, error) {
	if len(s) > MaxFileRefBytes {
		return File{}, fmt.Errorf("%w: file argument is %d bytes, over the limit of %d", ErrInvalidAttach, len(s), MaxFileRefBytes)
	}
	path, mt := s, ""
	if i := strings.LastIndex(s, ":"); i >= 0 {
		path, mt = s[:i], s[i+1:]
		if !ValidMediaType(mt) {
			return File{}, fmt.Errorf("%w: %q: %q is not a media type (type/subtype); a file name with a colon needs an explicit :MEDIATYPE", ErrInvalidAttach, s, mt)
		}
	}
	if path == "" {
		return File{}, fmt.Errorf("%w: %q names no file", ErrInvalidAttach, s)
	}
	return File{Path: path, MediaType: mt}, nil
}

// ParseAnnotations parses key=value pairs (--annotation): a non-empty key,
// any value, no key twice, at most MaxAnnotations pairs of at most
// MaxAnnotationBytes each.
func ParseAnnotations(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	if len(pairs) > MaxAnnotations {
		return nil, fmt.Errorf("%w: %d annotations, over the limit of %d", ErrInvalidAttach, len(pairs), MaxAnnotations)
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		if len(p) > MaxAnnotationBytes {
			return nil, fmt.Errorf("%w: an annotation is %d bytes, over the limit of %d", ErrInvalidAttach, len(p), MaxAnnotationBytes)
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%w: annotation %q: want key=value with a non-empty key", ErrInvalidAttach, p)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%w: annotation key %q given twice", ErrInvalidAttach, k)
		}
		m[k] = v
	}
	return m, nil
}

// AttachOptions configure Attach. ArtifactType and at least one of Files
// and Annotations are required.
type AttachOptions struct {
	// ArtifactType is the manifest's artifactType, e.g.
	// application/spdx+json or application/sarif+json.
	ArtifactType string
	// Files become the manifest's layers, in order; at most MaxFiles.
	Files []File
	// Annotations are the manifest's annotations; at most MaxAnnotations.
	// org.opencontainers.image.created is set to the current time unless
	// given, as oras attach sets it.
	Annotations map[string]string
	// Now is the clock for the created annotation; nil means time.Now.
	Now func() time.Time
}

// Attach pushes an OCI 1.1 image manifest that refers to subject
// (image-spec v1.1 "artifacts guidance"): the given artifactType, the empty
// config, one layer per file (titled, as oras attach writes them) or the
// empty layer when there are none, and subject's descriptor as subject. The
// blobs go first, then the manifest; content t already has is not pushed
// again. A registry.Repository indexes the manifest as a referrer through
// the referrers API or the referrers tag schema (PUSH-3), as signatures are.
// It returns the manifest's descriptor with its artifactType and
// annotations.
func Attach(ctx context.Context, t content.Storage, subject ocispec.Descriptor, opts AttachOptions) (ocispec.Descriptor, error) {
	if !ValidMediaType(opts.ArtifactType) {
		return ocispec.Descriptor{}, fmt.Errorf("%w: artifact type %q is not a media type (type/subtype)", ErrInvalidAttach, opts.ArtifactType)
	}
	if len(opts.Files) == 0 && len(opts.Annotations) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%w: nothing to attach: give files or annotations", ErrInvalidAttach)
	}
	if len(opts.Files) > MaxFiles {
		return ocispec.Descriptor{}, fmt.Errorf("%w: %d files, over the limit of %d", ErrInvalidAttach, len(opts.Files), MaxFiles)
	}
	if len(opts.Annotations) > MaxAnnotations {
		return ocispec.Descriptor{}, fmt.Errorf("%w: %d annotations, over the limit of %d", ErrInvalidAttach, len(opts.Annotations), MaxAnnotations)
	}
	titles := map[string]bool{}
	for _, f := range opts.Files {
		if !ValidMediaType(f.mediaType()) {
			return ocispec.Descriptor{}, fmt.Errorf("%w: %s: media type %q is not type/subtype", ErrInvalidAttach, f.Path, f.MediaType)
		}
		if titles[f.title()] {
			return ocispec.Descriptor{}, fmt.Errorf("%w: two files are named %q", ErrInvalidAttach, f.title())
		}
		titles[f.title()] = true
	}
	if err := subject.Digest.Validate(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("attach: subject digest: %w", err)
	}
	var layers []ocispec.Descriptor
	for _, f := range opts.Files {
		d, err := pushFile(ctx, t, f)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		layers = append(layers, d)
	}
	if len(layers) == 0 {
		layers = []ocispec.Descriptor{ocispec.DescriptorEmptyJSON}
	}
	if err := registry.PushIfMissing(ctx, t, ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push the empty config: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	annotations := map[string]string{}
	for k, v := range opts.Annotations {
		annotations[k] = v
	}
	if _, ok := annotations[ocispec.AnnotationCreated]; !ok {
		annotations[ocispec.AnnotationCreated] = now().UTC().Format(time.RFC3339)
	}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: opts.ArtifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       layers,
		Subject:      &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:  annotations,
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if len(raw) > registry.MaxManifestBytes {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the manifest would be %d bytes, over the limit of %d", ErrInvalidAttach, len(raw), registry.MaxManifestBytes)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := registry.PushIfMissing(ctx, t, desc, raw); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push the manifest: %w", err)
	}
	desc.ArtifactType = m.ArtifactType
	desc.Annotations = m.Annotations
	return desc, nil
}

// pushFile pushes one file as a blob: hashed on a first read, streamed on
// a second (the target checks the digest, so a file that changed between
// the reads fails the push rather than storing other content).
func pushFile(ctx context.Context, t content.Storage, f File) (ocispec.Descriptor, error) {
	fh, err := os.Open(f.Path)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if !fi.Mode().IsRegular() {
		return ocispec.Descriptor{}, fmt.Errorf("%w: %s is not a regular file", ErrInvalidAttach, f.Path)
	}
	dg := digest.Canonical.Digester()
	n, err := io.Copy(dg.Hash(), fh)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read %s: %w", f.Path, err)
	}
	desc := ocispec.Descriptor{
		MediaType:   f.mediaType(),
		Digest:      dg.Digest(),
		Size:        n,
		Annotations: map[string]string{ocispec.AnnotationTitle: f.title()},
	}
	ok, err := t.Exists(ctx, desc)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", f.Path, err)
	}
	if ok {
		return desc, nil
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read %s: %w", f.Path, err)
	}
	if err := t.Push(ctx, desc, fh); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", f.Path, err)
	}
	return desc, nil
}
