package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
)

// maxLayoutFileBytes bounds an archive's oci-layout file (a few bytes of
// JSON in practice).
const maxLayoutFileBytes = 4 << 10

// LayoutTar is an OCI image layout tar archive opened read-only in place
// (OpenLayoutTar): one pass over the tar headers indexes the regular
// files, skipping their data; oci-layout and index.json are read, and
// every manifest reachable from index.json once, to index the graph for
// Predecessors (what oras-go's read-only OCI store does, there with a
// goroutine per node and a new tar reader per file). Anything else is read
// only when fetched, straight from its offset in the archive. It is safe
// for concurrent use.
type LayoutTar struct {
	f       *os.File
	entries map[string]tarEntry
	// refs resolves index.json's tags (org.opencontainers.image.ref.name)
	// and the digests of the manifests it lists.
	refs  map[string]ocispec.Descriptor
	nodes map[digest.Digest]node
	preds map[digest.Digest][]digest.Digest
	// index is index.json's manifests.
	index []ocispec.Descriptor
	// manifests keeps the manifests read to index the graph (at most
	// maxManifestCache bytes), for Fetch: written only while opening.
	manifests      map[digest.Digest][]byte
	manifestsBytes int
	// links is each manifest's subject and "manifests" list, as parsed
	// while opening (ManifestLinks).
	links map[digest.Digest]manifestLinks
}

// node is a node of the graph: what a predecessor is listed with.
type node struct {
	mediaType string
	size      int64
}

type manifestLinks struct {
	subject   *ocispec.Descriptor
	manifests []ocispec.Descriptor
}

// maxManifestCache bounds the manifests a LayoutTar keeps in memory.
const maxManifestCache = 1 << 20

// tarEntry is a regular file's data in the archive.
type tarEntry struct{ off, size int64 }

// openLayoutTar reads the archive at p as LayoutTar documents; every read
// is bounded: MaxLayoutTarEntries entries, maxLayoutFileBytes for
// oci-layout, MaxManifestBytes for index.json and each manifest.
func openLayoutTar(ctx context.Context, p string) (*LayoutTar, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	s := &LayoutTar{f: f}
	if err := s.load(ctx); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the archive. (An unreachable LayoutTar's file is closed by
// the garbage collector too.)
func (s *LayoutTar) Close() error { return s.f.Close() }

func (s *LayoutTar) load(ctx context.Context) error {
	if err := s.indexEntries(); err != nil {
		return err
	}
	var layout ocispec.ImageLayout
	if err := s.readJSON(ocispec.ImageLayoutFile, maxLayoutFileBytes, &layout); err != nil {
		return err
	}
	if layout.Version != ocispec.ImageLayoutVersion {
		return fmt.Errorf("%s: version %q: %w", ocispec.ImageLayoutFile, layout.Version, errdef.ErrUnsupportedVersion)
	}
	var index ocispec.Index
	if err := s.readJSON(ocispec.ImageIndexFile, MaxManifestBytes, &index); err != nil {
		return err
	}
	s.index = index.Manifests
	n := len(s.entries) // at most MaxLayoutTarEntries
	s.manifests = make(map[digest.Digest][]byte, n)
	s.links = make(map[digest.Digest]manifestLinks, n)
	s.refs = make(map[string]ocispec.Descriptor, len(index.Manifests))
	s.nodes = make(map[digest.Digest]node, n)
	s.preds = make(map[digest.Digest][]digest.Digest, n)
	seen := make(map[descKey]bool, n)
	for _, d := range index.Manifests {
		if ref := d.Annotations[ocispec.AnnotationRefName]; ref != "" {
			s.refs[ref] = d
		}
		s.refs[d.Digest.String()] = plain(d)
		if err := s.indexGraph(ctx, plain(d), seen); err != nil {
			return err
		}
	}
	return nil
}

// indexEntries reads the tar headers: the data offset and size of each
// regular file, by its cleaned name (the last of several entries with one
// name wins, as in extraction). Only headers are read: ReadAt keeps the
// data unread.
func (s *LayoutTar) indexEntries() error {
	r := &offsetReader{f: s.f}
	tr := tar.NewReader(r)
	s.entries = map[string]tarEntry{}
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if n >= MaxLayoutTarEntries {
			return fmt.Errorf("more than %d entries", MaxLayoutTarEntries)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		s.entries[path.Clean(h.Name)] = tarEntry{off: r.off, size: h.Size}
	}
}

// offsetReader reads the archive from an offset it keeps, through a
// window of the file it reads ahead (a few reads for the headers of an
// archive of small blobs instead of one per header and per skip), and
// seeks by moving the offset only: archive/tar skips an entry's data by
// seeking, so a large blob is never read.
type offsetReader struct {
	f      *os.File
	off    int64
	buf    []byte
	bufOff int64 // the file offset of buf[0]
}

// tarWindow is offsetReader's read-ahead.
const tarWindow = 16 << 10

func (r *offsetReader) Read(p []byte) (int, error) {
	if r.off < r.bufOff || r.off >= r.bufOff+int64(len(r.buf)) {
		if r.buf == nil {
			r.buf = make([]byte, tarWindow)
		}
		n, err := r.f.ReadAt(r.buf[:cap(r.buf)], r.off)
		r.buf, r.bufOff = r.buf[:n], r.off
		if n == 0 {
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
	}
	n := copy(p, r.buf[r.off-r.bufOff:])
	r.off += int64(n)
	return n, nil
}

func (r *offsetReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	default:
		return 0, errors.New("unsupported seek")
	}
	if offset < 0 {
		return 0, errors.New("negative offset")
	}
	r.off = offset
	return offset, nil
}

// readJSON decodes the regular file name, of at most max bytes.
func (s *LayoutTar) readJSON(name string, max int64, v any) error {
	e, ok := s.entries[name]
	if !ok {
		return fmt.Errorf("no %s", name)
	}
	if e.size > max {
		return fmt.Errorf("%s is %d bytes, over the limit of %d", name, e.size, max)
	}
	data := make([]byte, e.size)
	if _, err := s.f.ReadAt(data, e.off); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	return nil
}

type descKey struct {
	mediaType string
	digest    digest.Digest
	size      int64
}

// indexGraph records root and every node reachable from it as successors
// (oras-go's content.Successors: a manifest's subject, config and layers,
// an index's subject and manifests, an artifact manifest's subject and
// blobs); a manifest that is not in the archive is left out, as oras-go's
// store does. Iterative: a deep chain of indexes uses no stack.
func (s *LayoutTar) indexGraph(ctx context.Context, root ocispec.Descriptor, seen map[descKey]bool) error {
	todo := []ocispec.Descriptor{root}
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		k := descKey{d.MediaType, d.Digest, d.Size}
		if seen[k] {
			continue
		}
		seen[k] = true
		succ, err := s.successors(d)
		if errors.Is(err, errdef.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, ok := s.nodes[d.Digest]; !ok {
			s.nodes[d.Digest] = node{d.MediaType, d.Size}
		}
		for _, c := range succ {
			if c.Digest == "" {
				continue
			}
			if !slices.Contains(s.preds[c.Digest], d.Digest) {
				s.preds[c.Digest] = append(s.preds[c.Digest], d.Digest)
			}
			todo = append(todo, c)
		}
	}
	return nil
}

// successors reads the manifest d (bounded, digest checked) and returns
// what it refers to; nil for anything that is not a manifest.
func (s *LayoutTar) successors(d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	if !IsManifest(d.MediaType) {
		return nil, nil
	}
	raw, err := s.readBlob(d, MaxManifestBytes)
	if err != nil {
		return nil, err
	}
	var m struct {
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Blobs     []ocispec.Descriptor `json:"blobs"`
		Subject   *ocispec.Descriptor  `json:"subject"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	s.links[d.Digest] = manifestLinks{subject: m.Subject, manifests: m.Manifests}
	var out []ocispec.Descriptor
	if m.Subject != nil && d.MediaType != mediaTypeDockerManifest && d.MediaType != mediaTypeDockerManifestList {
		out = append(out, *m.Subject)
	}
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		out = append(out, m.Manifests...)
	case MediaTypeArtifactManifest:
		out = append(out, m.Blobs...)
	default:
		if m.Config != nil {
			out = append(out, *m.Config)
		}
		out = append(out, m.Layers...)
	}
	return out, nil
}

// readBlob reads all of d, of at most max bytes, checking its size and
// digest.
func (s *LayoutTar) readBlob(d ocispec.Descriptor, max int64) ([]byte, error) {
	e, err := s.entry(d)
	if err != nil {
		return nil, err
	}
	if d.Size > max || d.Size < 0 {
		return nil, fmt.Errorf("%s is %d bytes, over the limit of %d", d.Digest, d.Size, max)
	}
	if e.size != d.Size {
		return nil, fmt.Errorf("%s: %w: %d bytes in the archive, %d in its descriptor", d.Digest, ErrDigestMismatch, e.size, d.Size)
	}
	data := make([]byte, e.size)
	if _, err := s.f.ReadAt(data, e.off); err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Digest, err)
	}
	if d.Digest.Algorithm().FromBytes(data) != d.Digest {
		return nil, fmt.Errorf("%s: %w", d.Digest, ErrDigestMismatch)
	}
	if s.manifestsBytes+len(data) <= maxManifestCache {
		s.manifests[d.Digest] = data
		s.manifestsBytes += len(data)
	}
	return data, nil
}

// entry finds the blob d names (errdef.ErrInvalidDigest, errdef.ErrNotFound).
func (s *LayoutTar) entry(d ocispec.Descriptor) (tarEntry, error) {
	if !ValidDigest(d.Digest) {
		return tarEntry{}, fmt.Errorf("%s: %s: %w", d.Digest, d.MediaType, errdef.ErrInvalidDigest)
	}
	e, ok := s.entries[blobName(d.Digest)]
	if !ok {
		return tarEntry{}, fmt.Errorf("%s: %s: %w", d.Digest, d.MediaType, errdef.ErrNotFound)
	}
	return e, nil
}

func blobName(d digest.Digest) string {
	return ocispec.ImageBlobsDir + "/" + d.Algorithm().String() + "/" + d.Encoded()
}

func plain(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// Fetch returns a reader of the blob d names, as stored (the caller
// checks size and digest, as with any content.Fetcher).
func (s *LayoutTar) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	e, err := s.entry(d)
	if err != nil {
		return nil, err
	}
	if m, ok := s.manifests[d.Digest]; ok {
		return io.NopCloser(bytes.NewReader(m)), nil
	}
	return io.NopCloser(io.NewSectionReader(s.f, e.off, e.size)), nil
}

// Manifests returns the manifests index.json lists, as it lists them.
func (s *LayoutTar) Manifests() []ocispec.Descriptor { return slices.Clone(s.index) }

// ManifestLinks returns the subject (nil for none) and the manifests
// listed ("manifests", an index's) of the manifest d names, as read when
// the archive was opened; ok is false for one that was not read (not
// reachable from index.json as a manifest, or not in the archive).
func (s *LayoutTar) ManifestLinks(d digest.Digest) (subject *ocispec.Descriptor, manifests []ocispec.Descriptor, ok bool) {
	l, ok := s.links[d]
	return l.subject, slices.Clone(l.manifests), ok
}

// Exists reports whether the archive has the blob d names.
func (s *LayoutTar) Exists(_ context.Context, d ocispec.Descriptor) (bool, error) {
	_, err := s.entry(d)
	if errors.Is(err, errdef.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Resolve resolves a tag of index.json to its descriptor there, a digest
// of a manifest index.json lists to its plain descriptor, and any other
// digest of a blob in the archive to an application/octet-stream
// descriptor (as oras-go's read-only OCI store does).
func (s *LayoutTar) Resolve(_ context.Context, reference string) (ocispec.Descriptor, error) {
	if reference == "" {
		return ocispec.Descriptor{}, errdef.ErrMissingReference
	}
	if d, ok := s.refs[reference]; ok {
		return d, nil
	}
	dg := digest.Digest(reference)
	if !ValidDigest(dg) {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", reference, errdef.ErrNotFound)
	}
	e, ok := s.entries[blobName(dg)]
	if !ok {
		return ocispec.Descriptor{}, fmt.Errorf("%s: %w", reference, errdef.ErrNotFound)
	}
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: dg, Size: e.size}, nil
}

// Predecessors returns the nodes of the graph that refer to d: the
// manifests whose subject it is, the indexes that list it, the manifests
// of which it is the config or a layer; each as a plain descriptor (media
// type, digest, size: what a referrers listing reads them by).
func (s *LayoutTar) Predecessors(_ context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	ps := s.preds[d.Digest]
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]ocispec.Descriptor, 0, len(ps))
	for _, p := range ps {
		n := s.nodes[p]
		out = append(out, ocispec.Descriptor{MediaType: n.mediaType, Digest: p, Size: n.size})
	}
	return out, nil
}

// ValidDigest is d.Validate() == nil, without the regular expression match
// for a sha256 digest (most of what a verification's reads name: the
// match costs more than the rest of reading a small manifest).
func ValidDigest(d digest.Digest) bool {
	s := string(d)
	if len(s) == len("sha256:")+64 && s[:len("sha256:")] == "sha256:" {
		for i := len("sha256:"); i < len(s); i++ {
			if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	return d.Validate() == nil
}
