// Package testregistry runs OCI registries for tests: go-containerregistry's
// in-memory registry in-process (with the referrers API on or off, optionally
// behind HTTP basic authentication or a test's own middleware), and the CNCF
// distribution v3 binary that internal/peer finds (no referrers API, so it
// exercises the referrers tag schema).
//
// Every registry listens on 127.0.0.1 and is stopped when the test ends.
// Nothing here imports signet's registry package, so that package's own
// tests can use this one.
package testregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/internal/embedregistry"
)

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of references.
	Host string
	// URL is "http://127.0.0.1:PORT".
	URL string
	// Process is the registry's own process (Distribution), nil for one
	// served in-process (New).
	Process *os.Process
}

// Ref returns Host + "/" + repoAndRef, e.g. r.Ref("app:v1").
func (r *Registry) Ref(repoAndRef string) string { return r.Host + "/" + repoAndRef }

// Options configure New. The zero value is a go-containerregistry registry
// without the referrers API and without authentication.
type Options struct {
	// Referrers serves the OCI referrers API. Its responses pass through
	// FixReferrers unless Unfixed is set.
	Referrers bool
	// Unfixed serves go-containerregistry's referrers responses as they
	// are, defects included (see FixReferrers).
	Unfixed bool
	// Username and Password, when Username is set, require HTTP basic
	// authentication on every request (BasicAuth).
	Username, Password string
	// Middleware, when set, wraps the registry handler (inside BasicAuth):
	// tests use it to make the registry misbehave.
	Middleware func(http.Handler) http.Handler
}

// New starts go-containerregistry's in-memory registry (pkg/registry) on
// 127.0.0.1 behind httptest.Server, for the duration of the test.
func New(t testing.TB, opts Options) *Registry {
	t.Helper()
	h := ggcrregistry.New(
		ggcrregistry.WithReferrersSupport(opts.Referrers),
		ggcrregistry.Logger(log.New(io.Discard, "", 0)),
	)
	if opts.Referrers && !opts.Unfixed {
		h = FixReferrers(h)
	}
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	if opts.Username != "" {
		h = BasicAuth(h, opts.Username, opts.Password)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), URL: srv.URL}
}

// BasicAuth requires HTTP basic authentication with user and password on
// every request to h, answering 401 with a Basic challenge and the
// distribution UNAUTHORIZED error otherwise.
func BasicAuth(h http.Handler, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="testregistry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// FixReferrers corrects go-containerregistry's referrers responses; see
// embedregistry.FixReferrers.
func FixReferrers(h http.Handler) http.Handler { return embedregistry.FixReferrers(h) }

// Counter is an http.RoundTripper middleware that counts the requests that
// reach the wire. It is safe for concurrent use.
type Counter struct {
	mu   sync.Mutex
	reqs []string
}

// Wrap returns rt counting through c; pass it as a transport wrapper.
func (c *Counter) Wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.mu.Lock()
		c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
		c.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

// Count returns the number of requests so far.
func (c *Counter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

// Requests returns "METHOD /path" of each request so far, in order.
func (c *Counter) Requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reqs)
}

// Reset forgets the requests counted so far.
func (c *Counter) Reset() {
	c.mu.Lock()
	c.reqs = nil
	c.mu.Unlock()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Pusher is what the sample builders push into: any oras-go target with
// tagging (a remote repository, an OCI layout, a memory store).
type Pusher interface {
	Push(ctx context.Context, expected ocispec.Descriptor, content io.Reader) error
	Exists(ctx context.Context, target ocispec.Descriptor) (bool, error)
	Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error
}

// PushImage pushes a small single-platform image whose layer holds name
// (different names give different digests) and tags it tag (unless tag is
// empty). It returns the manifest's descriptor.
func PushImage(t testing.TB, p Pusher, name, tag string) ocispec.Descriptor {
	t.Helper()
	return pushImage(t, p, name, tag, "linux", "amd64")
}

func pushImage(t testing.TB, p Pusher, name, tag, os, arch string) ocispec.Descriptor {
	t.Helper()
	cfg := push(t, p, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"`+arch+`","os":"`+os+`","rootfs":{"type":"layers","diff_ids":[]}}`))
	layer := push(t, p, ocispec.MediaTypeImageLayer, []byte(name))
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	m := push(t, p, ocispec.MediaTypeImageManifest, raw)
	if tag != "" {
		if err := p.Tag(context.Background(), m, tag); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
	}
	return m
}

// PushIndex pushes an image index with one image per platform ("os/arch")
// and tags it tag (unless empty). It returns the index's descriptor.
func PushIndex(t testing.TB, p Pusher, name, tag string, platforms ...string) ocispec.Descriptor {
	t.Helper()
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex}
	for _, pl := range platforms {
		os, arch, _ := strings.Cut(pl, "/")
		d := pushImage(t, p, name+"-"+pl, "", os, arch)
		d.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		idx.Manifests = append(idx.Manifests, d)
	}
	raw, _ := json.Marshal(idx)
	d := push(t, p, ocispec.MediaTypeImageIndex, raw)
	if tag != "" {
		if err := p.Tag(context.Background(), d, tag); err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
	}
	return d
}

func push(t testing.TB, p Pusher, mt string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
	ok, err := p.Exists(context.Background(), d)
	if err != nil {
		t.Fatalf("exists %s: %v", d.Digest, err)
	}
	if !ok {
		if err := p.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
			t.Fatalf("push %s: %v", d.Digest, err)
		}
	}
	return d
}

// NewLayout writes a new OCI image layout directory holding one small image
// (PushImage with name) tagged tag, and returns the directory and the
// image manifest's descriptor.
func NewLayout(t testing.TB, name, tag string) (string, ocispec.Descriptor) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	store, err := oci.NewWithContext(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, PushImage(t, store, name, tag)
}
