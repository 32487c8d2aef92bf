package graph

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
)

// The revocation evidence artifact (a signet extension, docs/divergences.md):
// an OCI 1.1 artifact whose subject is the bundle's root, one layer per OCSP
// response or CRL, each annotated with the URL it came from. Tools that do
// not know it see one more referrer of the root and copy it along; nothing
// reads trust from it (each response is checked against the local trust
// store's chains on use).
const (
	// ArtifactTypeRevocationEvidence is the evidence artifact's type.
	ArtifactTypeRevocationEvidence = "application/vnd.signet.revocation-evidence.v1"
	// MediaTypeOCSPResponse is a DER OCSP response layer (RFC 6960, IANA).
	MediaTypeOCSPResponse = "application/ocsp-response"
	// MediaTypeCRL is a DER CRL layer (RFC 5280, IANA).
	MediaTypeCRL = "application/pkix-crl"
	// AnnotationRevocationURL names the responder or distribution point a
	// layer came from.
	AnnotationRevocationURL = "io.signet.revocation.url"
	// AnnotationDeltaCRL marks a CRL layer as the delta CRL of the base
	// CRL of the same URL ("true").
	AnnotationDeltaCRL = "io.signet.revocation.delta"
)

// ExportOptions configure Export. The zero value exports the artifact and
// what it is made of, without referrers or revocation evidence.
type ExportOptions struct {
	// Recursive, Platform, Concurrency, Tag and Progress are as for Copy;
	// Tag tags the root inside the archive (index.json's ref.name), which
	// Import and verify --bundle then find it by.
	Recursive   bool
	Platform    string
	Concurrency int
	Tag         string
	Progress    *Progress
	// Revocation, when set, collects the revocation evidence of every
	// certificate chain of every Notary Project signature in the graph
	// (signing chains and timestamp TSA chains) with this validator and
	// stores it in the archive. Evidence that cannot be fetched fails the
	// export.
	Revocation *revocation.Validator
	// Now is the clock for the evidence's created annotation; nil means
	// time.Now.
	Now func() time.Time
}

// ExportResult reports an export.
type ExportResult struct {
	CopyResult
	// Evidence describes the revocation evidence stored, when collected.
	Evidence *EvidenceSummary `json:"evidence,omitempty"`
}

// EvidenceSummary describes a revocation evidence artifact.
type EvidenceSummary struct {
	Digest digest.Digest `json:"digest"`
	// Certificates is how many certificates of the graph's signatures the
	// evidence was collected for (roots and duplicates included).
	Certificates int       `json:"certificates"`
	OCSP         int       `json:"ocspResponses"`
	CRL          int       `json:"crls"`
	Created      time.Time `json:"created"`
}

// Export writes the graph of reference in src as an OCI image layout tar
// archive at path (which oras reads with --oci-layout, and signet with
// --oci-layout or --bundle): the copy goes into a layout directory beside
// path, which is then archived and renamed into place, so path is written
// whole or not at all. Every manifest of the layout is listed in its
// index.json.
func Export(ctx context.Context, src CopySource, reference, path string, opts ExportOptions) (*ExportResult, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".signet-export-*")
	if err != nil {
		return nil, errors.Join(signet.ErrIO, err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "layout")
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		return nil, errors.Join(signet.ErrIO, err)
	}
	p, res, err := copyGraph(ctx, src, reference, store, CopyOptions{
		Recursive: opts.Recursive, Platform: opts.Platform, Concurrency: opts.Concurrency, Tag: opts.Tag, Progress: opts.Progress,
	})
	if err != nil {
		if res == nil {
			return nil, err
		}
		return &ExportResult{CopyResult: *res}, err
	}
	out := &ExportResult{CopyResult: *res}
	if opts.Revocation != nil {
		now := time.Now
		if opts.Now != nil {
			now = opts.Now
		}
		sum, err := exportEvidence(ctx, &planSource{src: src, p: p}, p, store, opts.Revocation, now())
		out.Evidence = sum
		if err != nil {
			return out, err
		}
	}
	archive := filepath.Join(tmp, "bundle.tar")
	if err := registry.WriteLayoutTar(dir, archive); err != nil {
		return out, errors.Join(signet.ErrIO, fmt.Errorf("write %s: %w", path, err))
	}
	if err := os.Rename(archive, path); err != nil {
		return out, errors.Join(signet.ErrIO, err)
	}
	return out, nil
}

// exportEvidence collects the revocation evidence of every signature of
// the graph and pushes it into store as an evidence artifact whose subject
// is the root.
func exportEvidence(ctx context.Context, src content.Fetcher, p *plan, store *oci.Store, v *revocation.Validator, now time.Time) (*EvidenceSummary, error) {
	var certs []*x509.Certificate
	for _, n := range p.nodes {
		if n.kind != KindReferrer || n.entry.ArtifactType != signature.ArtifactType {
			continue
		}
		c, err := signatureCertificates(ctx, src, n.desc, *n.subject)
		if err != nil {
			return nil, fmt.Errorf("%w: signature %s: %w", signet.ErrInvalidInput, n.desc.Digest, err)
		}
		certs = append(certs, c...)
	}
	ev, err := v.Collect(ctx, certs)
	if err != nil {
		return nil, errors.Join(signet.ErrIO, fmt.Errorf("collect revocation evidence: %w", err))
	}
	layers := []ocispec.Descriptor{}
	blobs := map[digest.Digest][]byte{}
	addLayer := func(mt string, data []byte, ann map[string]string) {
		d := content.NewDescriptorFromBytes(mt, data)
		d.Annotations = ann
		layers = append(layers, d)
		blobs[d.Digest] = data
	}
	for _, o := range ev.OCSP {
		addLayer(MediaTypeOCSPResponse, o.Response, map[string]string{AnnotationRevocationURL: o.URL})
	}
	for _, c := range ev.CRL {
		addLayer(MediaTypeCRL, c.Base, map[string]string{AnnotationRevocationURL: c.URL})
		if len(c.Delta) > 0 {
			addLayer(MediaTypeCRL, c.Delta, map[string]string{AnnotationRevocationURL: c.URL, AnnotationDeltaCRL: "true"})
		}
	}
	created := now.UTC().Truncate(time.Second)
	subject := p.root
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeRevocationEvidence,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       layers,
		Subject:      &subject,
		Annotations:  map[string]string{ocispec.AnnotationCreated: created.Format(time.RFC3339)},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	blobs[ocispec.DescriptorEmptyJSON.Digest] = ocispec.DescriptorEmptyJSON.Data
	for _, d := range append([]ocispec.Descriptor{ocispec.DescriptorEmptyJSON}, layers...) {
		if ok, _ := store.Exists(ctx, d); ok {
			continue
		}
		if err := store.Push(ctx, ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}, bytes.NewReader(blobs[d.Digest])); err != nil {
			return nil, errors.Join(signet.ErrIO, err)
		}
	}
	md := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := store.Push(ctx, md, bytes.NewReader(raw)); err != nil {
		return nil, errors.Join(signet.ErrIO, err)
	}
	return &EvidenceSummary{Digest: md.Digest, Certificates: len(certs), OCSP: len(ev.OCSP), CRL: len(ev.CRL), Created: created}, nil
}

// signatureCertificates returns the signing chain of the signature
// manifest desc and the certificates of its timestamp token, if any.
func signatureCertificates(ctx context.Context, f content.Fetcher, desc, subject ocispec.Descriptor) ([]*x509.Certificate, error) {
	sig, err := registry.FetchSignature(ctx, f, desc, subject)
	if err != nil {
		return nil, err
	}
	format, err := envelope.ForMediaType(sig.MediaType)
	if err != nil {
		return nil, err
	}
	c, err := envelope.Open(format, sig.Envelope)
	if err != nil {
		return nil, err
	}
	certs := slices.Clone(c.CertificateChain)
	if ts := c.Unsigned.TimestampSignature; len(ts) > 0 {
		tok, err := timestamp.ParseToken(ts)
		if err != nil {
			return nil, fmt.Errorf("timestamp countersignature: %w", err)
		}
		certs = append(certs, tok.Certificates...)
	}
	return certs, nil
}

// Import pushes the graph in the OCI image layout tar archive at path into
// dst: the artifact reference names in it (a tag or digest; "" means the
// bundle's root, see BundleRoot) with its whole referrer graph, as Copy
// does (opts.Recursive is implied; the revocation evidence goes along).
func Import(ctx context.Context, path, reference string, dst Destination, opts CopyOptions) (*CopyResult, error) {
	store, err := registry.OpenLayoutTar(ctx, path)
	if err != nil {
		return nil, errors.Join(signet.ErrIO, err)
	}
	defer store.Close()
	if reference == "" {
		root, err := BundleRoot(ctx, path, store)
		if err != nil {
			return nil, err
		}
		reference = root.Digest.String()
	}
	opts.Recursive = true
	return Copy(ctx, store, reference, dst, opts)
}

// layoutIndex is a store that has read its index.json (registry.LayoutTar).
type layoutIndex interface {
	Manifests() []ocispec.Descriptor
}

// manifestLinker is a store that has parsed its manifests' subjects and
// lists (registry.LayoutTar).
type manifestLinker interface {
	ManifestLinks(digest.Digest) (*ocispec.Descriptor, []ocispec.Descriptor, bool)
}

// manifestLinks is the subject and manifest list of the manifest d when
// store has them parsed already; ok is false otherwise.
func manifestLinks(store content.Fetcher, d digest.Digest) (subject *ocispec.Descriptor, listed []ocispec.Descriptor, ok bool) {
	if l, is := store.(manifestLinker); is {
		return l.ManifestLinks(d)
	}
	return nil, nil, false
}

// MaxIndexBytes bounds a bundle's index.json.
const MaxIndexBytes = registry.MaxManifestBytes

// BundleRoot finds the artifact an exported archive carries: the one its
// index.json tags (org.opencontainers.image.ref.name), else the one
// manifest it lists that is neither a referrer (it has no subject) nor
// listed by another index it lists. Anything else is ambiguous: the caller
// must name the artifact (FILE.tar@DIGEST or FILE.tar:TAG).
func BundleRoot(ctx context.Context, path string, store content.Fetcher) (ocispec.Descriptor, error) {
	var idx *ocispec.Index
	if l, ok := store.(layoutIndex); ok {
		idx = &ocispec.Index{Manifests: l.Manifests()} // read when it was opened
	} else {
		var err error
		if idx, err = readLayoutIndex(path); err != nil {
			return ocispec.Descriptor{}, errors.Join(signet.ErrIO, err)
		}
	}
	tagged := map[digest.Digest]ocispec.Descriptor{}
	for _, m := range idx.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] != "" {
			tagged[m.Digest] = bare(m)
		}
	}
	if len(tagged) == 1 {
		for _, d := range tagged {
			return d, nil
		}
	}
	children := map[digest.Digest]bool{}
	var candidates []ocispec.Descriptor
	for _, m := range idx.Manifests {
		if !registry.IsManifest(m.MediaType) {
			continue
		}
		subject, listed, ok := manifestLinks(store, m.Digest)
		if !ok {
			raw, err := fetchManifest(ctx, store, bare(m))
			if err != nil {
				return ocispec.Descriptor{}, errors.Join(signet.ErrIO, err)
			}
			var parsed struct {
				Subject   *ocispec.Descriptor  `json:"subject"`
				Manifests []ocispec.Descriptor `json:"manifests"`
			}
			if json.Unmarshal(raw, &parsed) != nil {
				continue
			}
			subject, listed = parsed.Subject, parsed.Manifests
		}
		for _, c := range listed {
			children[c.Digest] = true
		}
		if subject == nil {
			candidates = append(candidates, bare(m))
		}
	}
	var roots []string
	var root ocispec.Descriptor
	for _, c := range candidates {
		if !children[c.Digest] && !slices.Contains(roots, c.Digest.String()) {
			roots = append(roots, c.Digest.String())
			root = c
		}
	}
	if len(roots) != 1 {
		return ocispec.Descriptor{}, fmt.Errorf("%w: %s holds %d artifacts (%s): name one as %s@DIGEST or %s:TAG",
			signet.ErrInvalidInput, path, len(roots), strings.Join(roots, ", "), path, path)
	}
	return root, nil
}

// readLayoutIndex reads index.json from an OCI layout tar archive (at most
// MaxIndexBytes, within the archive bounds of registry.MaxLayoutTarEntries).
func readLayoutIndex(p string) (*ocispec.Index, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for entries := 0; ; entries++ {
		if entries > registry.MaxLayoutTarEntries {
			return nil, fmt.Errorf("%s: more than %d entries", p, registry.MaxLayoutTarEntries)
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s has no index.json", p)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if path.Clean(strings.TrimPrefix(h.Name, "./")) != ocispec.ImageIndexFile || h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > MaxIndexBytes {
			return nil, fmt.Errorf("%s: index.json is %d bytes, over the limit of %d", p, h.Size, MaxIndexBytes)
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxIndexBytes+1))
		if err != nil {
			return nil, err
		}
		var idx ocispec.Index
		if err := json.Unmarshal(data, &idx); err != nil {
			return nil, fmt.Errorf("%s: index.json: %w", p, err)
		}
		return &idx, nil
	}
}

// LoadEvidence reads the newest revocation evidence artifact that refers
// to root in src (an exported archive): every OCSP response and CRL, each
// bounded (revocation.MaxOCSPResponseBytes, MaxCRLBytes) and
// digest-checked, and evidence.Check. No evidence artifact gives empty
// Evidence (an offline validator then knows nothing: every status is
// unknown) and a nil summary.
func LoadEvidence(ctx context.Context, src CopySource, root ocispec.Descriptor) (*revocation.Evidence, *EvidenceSummary, error) {
	tree, err := Walk(ctx, src, root, Options{ArtifactType: ArtifactTypeRevocationEvidence, MaxDepth: 1})
	if err != nil {
		return nil, nil, errors.Join(signet.ErrIO, err)
	}
	ev := &revocation.Evidence{}
	if len(tree.Referrers) == 0 {
		return ev, nil, nil
	}
	newest := tree.Referrers[len(tree.Referrers)-1].Descriptor // oldest first in a layout
	raw, err := fetchManifest(ctx, src, bare(newest))
	if err != nil {
		return nil, nil, errors.Join(signet.ErrIO, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil || m.ArtifactType != ArtifactTypeRevocationEvidence {
		return nil, nil, fmt.Errorf("%w: revocation evidence %s is not an evidence artifact", signet.ErrInvalidInput, newest.Digest)
	}
	if len(m.Layers) > 2*revocation.MaxEvidenceItems {
		return nil, nil, fmt.Errorf("%w: revocation evidence %s has %d layers, over %d", signet.ErrInvalidInput, newest.Digest, len(m.Layers), 2*revocation.MaxEvidenceItems)
	}
	sum := &EvidenceSummary{Digest: newest.Digest}
	sum.Created, _ = time.Parse(time.RFC3339, m.Annotations[ocispec.AnnotationCreated])
	crls := map[string]*revocation.CRLEvidence{}
	var order []string
	for _, l := range m.Layers {
		url := l.Annotations[AnnotationRevocationURL]
		var limit int64
		switch l.MediaType {
		case MediaTypeOCSPResponse:
			limit = revocation.MaxOCSPResponseBytes
		case MediaTypeCRL:
			limit = revocation.MaxCRLBytes - 1
		default:
			continue // a later version's kind of evidence
		}
		if l.Size > limit || l.Size < 0 {
			return nil, nil, fmt.Errorf("%w: revocation evidence layer %s is %d bytes, over %d", signet.ErrInvalidInput, l.Digest, l.Size, limit)
		}
		data, err := content.FetchAll(ctx, src, l)
		if err != nil {
			return nil, nil, errors.Join(signet.ErrIO, fmt.Errorf("read revocation evidence %s: %w", l.Digest, err))
		}
		if l.MediaType == MediaTypeOCSPResponse {
			ev.OCSP = append(ev.OCSP, revocation.OCSPEvidence{URL: url, Response: data})
			sum.OCSP++
			continue
		}
		c, ok := crls[url]
		if !ok {
			c = &revocation.CRLEvidence{URL: url}
			crls[url] = c
			order = append(order, url)
		}
		if l.Annotations[AnnotationDeltaCRL] == "true" {
			c.Delta = data
		} else {
			c.Base = data
			sum.CRL++
		}
	}
	for _, u := range order {
		ev.CRL = append(ev.CRL, *crls[u])
	}
	if err := ev.Check(); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", signet.ErrInvalidInput, err)
	}
	return ev, sum, nil
}
