package graph_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// Artifact types of the test graph's referrers.
const (
	typeSPDX = "application/spdx+json"
	typeScan = "application/sarif+json"
)

// pushTarget is what fixtures are built in: a remote repository or a
// layout.
type pushTarget interface {
	signet.Target
	Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error
}

// keys is a signing key and the trust store that trusts it.
type keys struct {
	chain  *testpki.Chain
	signer *signer.Local
	store  memStore
}

type memStore map[string][]*x509.Certificate

func (m memStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := m[string(t)+":"+name]
	if !ok {
		return nil, errors.New("no such store")
	}
	return certs, nil
}

func newKeys(t testing.TB) *keys {
	t.Helper()
	c := testpki.NewChain(t, "ec-256")
	s, err := signer.NewLocal(c.Leaf.Key, c.Certs())
	if err != nil {
		t.Fatal(err)
	}
	return &keys{chain: c, signer: s, store: memStore{"ca:acme": {c.Root.Cert}}}
}

// verifyOptions trusts k for every repository.
func (k *keys) verifyOptions(t testing.TB) signet.VerifyOCIOptions {
	t.Helper()
	doc := `{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`
	p, err := trustpolicy.ParseOCI(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return signet.VerifyOCIOptions{Policy: p, Verifier: &verifier.Verifier{Store: k.store}}
}

// sign signs desc in t with k (config-form signature manifest).
func (k *keys) sign(t testing.TB, tgt signet.Target, desc ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	s, err := signet.SignOCI(context.Background(), tgt, desc.Digest.String(), signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: k.signer}})
	if err != nil {
		t.Fatalf("sign %s: %v", desc.Digest, err)
	}
	return s.Manifest
}

// cpAttach pushes an OCI 1.1 artifact of artifactType with one layer data
// whose subject is subject, as oras attach does.
func cpAttach(t testing.TB, tgt signet.Target, subject ocispec.Descriptor, artifactType string, data []byte) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	layer := content.NewDescriptorFromBytes(artifactType, data)
	pushIfMissing(t, tgt, layer, data)
	pushIfMissing(t, tgt, ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON.Data)
	s := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	raw, _ := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType,
		Config:       ocispec.DescriptorEmptyJSON,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &s,
		Annotations:  map[string]string{"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
	})
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := tgt.Push(ctx, d, bytes.NewReader(raw)); err != nil {
		t.Fatalf("attach %s to %s: %v", artifactType, subject.Digest, err)
	}
	return d
}

func pushIfMissing(t testing.TB, tgt signet.Target, d ocispec.Descriptor, data []byte) {
	t.Helper()
	ok, err := tgt.Exists(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		if err := tgt.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
}

// fixture is the benchmark's graph: a 4-platform index tagged v1 with a
// signature, an SBOM and a signature on the SBOM; each platform manifest
// with an SBOM and a signature; a scan report on the first one. 12
// referrers in all.
type fixture struct {
	root      ocispec.Descriptor
	referrers []ocispec.Descriptor
	// subjects maps each referrer to its subject.
	subjects map[digest.Digest]ocispec.Descriptor
}

var platforms = []string{"linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x"}

func buildFixture(t testing.TB, tgt pushTarget, k *keys, name string) *fixture {
	t.Helper()
	f := &fixture{subjects: map[digest.Digest]ocispec.Descriptor{}}
	f.root = testregistry.PushIndex(t, tgt, name, "v1", platforms...)
	add := func(subject, r ocispec.Descriptor) ocispec.Descriptor {
		f.referrers = append(f.referrers, r)
		f.subjects[r.Digest] = subject
		return r
	}
	add(f.root, k.sign(t, tgt, f.root))
	sbom := add(f.root, cpAttach(t, tgt, f.root, typeSPDX, []byte(`{"spdxVersion":"SPDX-2.3","name":"`+name+`"}`)))
	add(sbom, k.sign(t, tgt, sbom))
	idx, err := registry.FetchIndex(context.Background(), tgt, f.root)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range idx.Manifests {
		m = ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}
		add(m, cpAttach(t, tgt, m, typeSPDX, []byte(`{"spdxVersion":"SPDX-2.3","name":"`+name+m.Digest.String()+`"}`)))
		add(m, k.sign(t, tgt, m))
		if i == 0 {
			add(m, cpAttach(t, tgt, m, typeScan, []byte(`{"version":"2.1.0","runs":[]}`)))
		}
	}
	return f
}

// openRepo opens REGISTRY/REPO with the given options.
func openRepo(t testing.TB, ref string, opts registry.RemoteOptions) *registry.Repository {
	t.Helper()
	r, _, err := registry.NewRepository(ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newLayout(t testing.TB) *oci.Store {
	t.Helper()
	s, err := oci.NewWithContext(context.Background(), t.TempDir()+"/layout")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkGraph asserts that every node of f is in t and every referrer is
// listed under its subject there.
func checkGraph(t testing.TB, tgt signet.ReadTarget, f *fixture) {
	t.Helper()
	ctx := context.Background()
	if _, err := registry.ResolveManifest(ctx, tgt, f.root.Digest.String()); err != nil {
		t.Fatalf("root %s missing: %v", f.root.Digest, err)
	}
	listed := map[digest.Digest]map[digest.Digest]bool{}
	for _, r := range f.referrers {
		s := f.subjects[r.Digest]
		if listed[s.Digest] == nil {
			refs, err := orasregistry.Referrers(ctx, tgt, s, "")
			if err != nil {
				t.Fatalf("referrers of %s: %v", s.Digest, err)
			}
			listed[s.Digest] = map[digest.Digest]bool{}
			for _, d := range refs {
				listed[s.Digest][d.Digest] = true
			}
		}
		if !listed[s.Digest][r.Digest] {
			t.Errorf("referrer %s of %s is not listed at the destination", r.Digest, s.Digest)
		}
		ok, err := tgt.Exists(ctx, r)
		if err != nil || !ok {
			t.Errorf("referrer %s missing: %v", r.Digest, err)
		}
	}
}

// writes records the requests that write to a registry.
type writes struct {
	mu   sync.Mutex
	reqs []string
}

func (w *writes) middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.mu.Lock()
			w.reqs = append(w.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
			w.mu.Unlock()
		}
		h.ServeHTTP(rw, r)
	})
}

func (w *writes) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.reqs...)
}
