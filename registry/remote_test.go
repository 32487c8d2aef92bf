package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/signature"
)

// registryCase is a real registry to run a test against.
type registryCase struct {
	name   string
	start  func(t *testing.T) *testregistry.Registry
	hasAPI bool
}

var registryCases = []registryCase{
	{name: "ggcr referrers API", hasAPI: true, start: func(t *testing.T) *testregistry.Registry {
		return testregistry.New(t, testregistry.Options{Referrers: true})
	}},
	{name: "ggcr tag schema", start: func(t *testing.T) *testregistry.Registry {
		return testregistry.New(t, testregistry.Options{})
	}},
	{name: "distribution v3", start: func(t *testing.T) *testregistry.Registry {
		return testregistry.Distribution(t, testregistry.DistributionOptions{})
	}},
}

func newRemote(t testing.TB, ref string, opts RemoteOptions) *Repository {
	t.Helper()
	r, _, err := NewRepository(ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPlainHTTP is CFG-3: HTTPS unless asked, listed, or on localhost.
func TestPlainHTTP(t *testing.T) {
	tests := []struct {
		name     string
		registry string
		opts     RemoteOptions
		plain    bool
	}{
		{name: "remote host", registry: "registry.example:5000"},
		{name: "localhost any port", registry: "localhost:5000", plain: true},
		{name: "LOCALHOST without port", registry: "LOCALHOST", plain: true},
		{name: "127.0.0.1", registry: "127.0.0.1:1234", plain: true},
		{name: "::1", registry: "[::1]:1234", plain: true},
		{name: "other loopback address", registry: "127.0.0.2:443"},
		{name: "localhost as a subdomain", registry: "localhost.example.com"},
		{name: "flag", registry: "registry.example", opts: RemoteOptions{PlainHTTP: true}, plain: true},
		{name: "insecureRegistries", registry: "Registry.Example:5000", opts: RemoteOptions{InsecureRegistries: []string{"registry.example:5000"}}, plain: true},
		{name: "insecureRegistries port differs", registry: "registry.example:5001", opts: RemoteOptions{InsecureRegistries: []string{"registry.example:5000"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRemote(t, tc.registry+"/repo:tag", tc.opts)
			if r.PlainHTTP() != tc.plain {
				t.Fatalf("plain HTTP %v, want %v", r.PlainHTTP(), tc.plain)
			}
		})
	}
}

func TestNewRepository(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name      string
		ref       string
		opts      RemoteOptions
		repo, tag string
		isErr     bool
	}{
		{name: "tag", ref: "example.com/a/b:v1", repo: "example.com/a/b", tag: "v1"},
		{name: "digest", ref: "example.com/a@" + d, repo: "example.com/a", tag: d},
		{name: "none", ref: "example.com:5000/a", repo: "example.com:5000/a"},
		{name: "no repository", ref: "example.com", isErr: true},
		{name: "upper case repository", ref: "example.com/A:v1", isErr: true},
		{name: "bad digest", ref: "example.com/a@sha256:zz", isErr: true},
		{name: "unknown referrers mode", ref: "example.com/a", opts: RemoteOptions{Referrers: 7}, isErr: true},
		{name: "missing CA file", ref: "example.com/a", opts: RemoteOptions{CAFile: "/nonexistent/ca.pem"}, isErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ref, err := NewRepository(tc.ref, tc.opts)
			if tc.isErr {
				if err == nil {
					t.Fatalf("want error, got %s %q", r.Name(), ref)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Name() != tc.repo || ref != tc.tag {
				t.Fatalf("got %s %q", r.Name(), ref)
			}
		})
	}
}

func TestParseReferrersMode(t *testing.T) {
	for _, m := range []ReferrersMode{ReferrersAuto, ReferrersAPI, ReferrersTag} {
		got, err := ParseReferrersMode(m.String())
		if err != nil || got != m {
			t.Errorf("%s: %v %v", m, got, err)
		}
	}
	if _, err := ParseReferrersMode("both"); err == nil {
		t.Error("accepted an unknown mode")
	}
}

// TestRemotePushList pushes both manifest forms to each registry (PUSH-2,
// PUSH-3, MAN-1..7) and lists and fetches them back (DISC-1, DISC-2,
// MAN-8). Where the registry has the referrers API no tag index is written;
// where it has none, the index lists both with the notary artifactType.
func TestRemotePushList(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256").Certs()
	for _, rc := range registryCases {
		t.Run(rc.name, func(t *testing.T) {
			ctx := context.Background()
			reg := rc.start(t)
			r := newRemote(t, reg.Ref("app"), RemoteOptions{})
			subject := testregistry.PushImage(t, r, "app", "v1")
			resolved, err := ResolveManifest(ctx, r, "v1")
			if err != nil || resolved.Digest != subject.Digest {
				t.Fatalf("resolve: %v %v", resolved, err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			d1, err := PushSignature(ctx, r, subject, signature.MediaTypeJWS, []byte(`{"jws":1}`), chain, now, FormConfig)
			if err != nil {
				t.Fatal(err)
			}
			d2, err := PushSignature(ctx, r, subject, signature.MediaTypeCOSE, []byte("cose"), chain, now.Add(time.Second), FormArtifactType)
			if err != nil {
				t.Fatal(err)
			}
			if has, ok := r.referrersAPI(); !ok || has != rc.hasAPI {
				t.Fatalf("referrers API detected %v (known %v), want %v", has, ok, rc.hasAPI)
			}
			// A fresh repository finds them, detecting the mode from the listing.
			fresh := newRemote(t, reg.Ref("app"), RemoteOptions{})
			sigs, truncated, err := ListSignatures(ctx, fresh, subject, 0)
			if err != nil || truncated {
				t.Fatalf("list: %v (truncated %v)", err, truncated)
			}
			got := map[string]bool{}
			for _, s := range sigs {
				got[s.Digest.String()] = true
				if _, err := FetchSignature(ctx, fresh, s, subject); err != nil {
					t.Errorf("fetch %s: %v", s.Digest, err)
				}
			}
			if len(sigs) != 2 || !got[d1.Digest.String()] || !got[d2.Digest.String()] {
				t.Fatalf("listed %v, want %s and %s", sigs, d1.Digest, d2.Digest)
			}
			_, index, err := fresh.readReferrersIndex(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if rc.hasAPI {
				if index != nil {
					t.Fatalf("a referrers tag index was written although the registry has the API: %v", index)
				}
				return
			}
			if len(index) != 2 {
				t.Fatalf("tag index holds %d entries", len(index))
			}
			for _, e := range index {
				if e.ArtifactType != signature.ArtifactType || e.Annotations[AnnotationThumbprints] == "" {
					t.Errorf("tag index entry %+v: want the notary artifactType and the manifest annotations (PUSH-3)", e)
				}
			}
		})
	}
}

// TestReferrersModeForced: ReferrersTag writes the tag index even where the
// API exists (notation's --force-referrers-tag); ReferrersAPI refuses to
// list where it does not.
func TestReferrersModeForced(t *testing.T) {
	ctx := context.Background()
	chain := testpki.NewChain(t, "ec-256").Certs()
	withAPI := testregistry.New(t, testregistry.Options{Referrers: true})
	r := newRemote(t, withAPI.Ref("app"), RemoteOptions{Referrers: ReferrersTag})
	subject := testregistry.PushImage(t, r, "app", "")
	d, err := PushSignature(ctx, r, subject, signature.MediaTypeJWS, []byte("x"), chain, time.Now(), FormConfig)
	if err != nil {
		t.Fatal(err)
	}
	_, index, err := r.readReferrersIndex(ctx, subject)
	if err != nil || len(index) != 1 || index[0].Digest != d.Digest {
		t.Fatalf("tag index %v, %v", index, err)
	}

	noAPI := testregistry.New(t, testregistry.Options{})
	api := newRemote(t, noAPI.Ref("app"), RemoteOptions{Referrers: ReferrersAPI})
	subject = testregistry.PushImage(t, api, "app", "")
	if _, _, err := ListSignatures(ctx, api, subject, 0); !errors.Is(err, ErrReferrersUnsupported) {
		t.Fatalf("list with the API forced on a registry without it: %v", err)
	}
}

// TestConvergeReAdds makes a concurrent signer's stale write deterministic:
// right after our index update, the registry puts back the index as it was
// before (what a signer that read it before us and writes after us does).
// oras-go alone loses the signature; Push re-adds it.
func TestConvergeReAdds(t *testing.T) {
	ctx := context.Background()
	chain := testpki.NewChain(t, "ec-256").Certs()
	for _, converge := range []bool{false, true} {
		t.Run(fmt.Sprintf("converge=%v", converge), func(t *testing.T) {
			var stale staleWriter
			reg := testregistry.New(t, testregistry.Options{Middleware: stale.wrap})
			r := newRemote(t, reg.Ref("app"), RemoteOptions{})
			subject := testregistry.PushImage(t, r, "app", "")
			first, err := PushSignature(ctx, r, subject, signature.MediaTypeJWS, []byte("first"), chain, time.Now(), FormConfig)
			if err != nil {
				t.Fatal(err)
			}
			stale.arm(subject)
			var target content.Storage = r
			if !converge {
				target = orasOnly{r}
			}
			second, err := PushSignature(ctx, target, subject, signature.MediaTypeJWS, []byte("second"), chain, time.Now(), FormConfig)
			if err != nil {
				t.Fatal(err)
			}
			if !stale.fired() {
				t.Fatal("the stale write did not happen")
			}
			_, index, err := r.readReferrersIndex(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if !containsDigest(index, first) {
				t.Fatalf("the first signature is gone: %v", index)
			}
			if containsDigest(index, second) != converge {
				t.Fatalf("second signature present %v, want %v: %v", containsDigest(index, second), converge, index)
			}
		})
	}
}

// TestConcurrentSigners is the requirement: signers pushing to the
// same image at the same moment on a registry without the referrers API
// all end up in the referrers tag index. Each signer has its own
// Repository, as separate signet processes would.
func TestConcurrentSigners(t *testing.T) {
	const signers = 8
	const rounds = 3
	chain := testpki.NewChain(t, "ec-256").Certs()
	for _, rc := range registryCases {
		if rc.hasAPI {
			continue
		}
		t.Run(rc.name, func(t *testing.T) {
			ctx := context.Background()
			reg := rc.start(t)
			var readds countingHandler
			log := slog.New(&readds)
			for round := range rounds {
				subject := testregistry.PushImage(t, newRemote(t, reg.Ref("app"), RemoteOptions{}), fmt.Sprintf("app-%d", round), "")
				start := make(chan struct{})
				var wg sync.WaitGroup
				digests := make([]ocispec.Descriptor, signers)
				errs := make([]error, signers)
				for i := range signers {
					wg.Go(func() {
						r := newRemote(t, reg.Ref("app"), RemoteOptions{Logger: log})
						<-start
						digests[i], errs[i] = PushSignature(ctx, r, subject, signature.MediaTypeJWS, fmt.Appendf(nil, "signer %d round %d", i, round), chain, time.Now(), FormConfig)
					})
				}
				close(start)
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				r := newRemote(t, reg.Ref("app"), RemoteOptions{})
				_, index, err := r.readReferrersIndex(ctx, subject)
				if err != nil {
					t.Fatal(err)
				}
				for i, d := range digests {
					if !containsDigest(index, d) {
						t.Errorf("round %d: signer %d's signature %s is not in the referrers index (%d entries)", round, i, d.Digest, len(index))
					}
				}
				if len(index) != signers {
					t.Errorf("round %d: %d index entries, want %d", round, len(index), signers)
				}
				sigs, _, err := ListSignatures(ctx, r, subject, 0)
				if err != nil || len(sigs) != signers {
					t.Errorf("round %d: listed %d signatures, %v", round, len(sigs), err)
				}
			}
			t.Logf("%d signers x %d rounds: %d re-adds after concurrent updates dropped a signature", signers, rounds, readds.count())
		})
	}
}

// countingHandler is a slog.Handler counting re-add messages.
type countingHandler struct {
	mu sync.Mutex
	n  int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "adding it again") {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// staleWriter, once armed, answers the next PUT of the subject's referrers
// tag and then puts the previous index back under the tag, as a concurrent
// signer with an older read would.
type staleWriter struct {
	mu   sync.Mutex
	tag  string
	done bool
}

func (s *staleWriter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s.mu.Lock()
		tag, done := s.tag, s.done
		s.mu.Unlock()
		if tag == "" || done || req.Method != http.MethodPut || !strings.HasSuffix(req.URL.Path, "/manifests/"+tag) {
			h.ServeHTTP(w, req)
			return
		}
		prev := get(h, req.URL.Path)
		h.ServeHTTP(w, req)
		if prev != nil {
			put(h, req.URL.Path, ocispec.MediaTypeImageIndex, prev)
		}
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	})
}

func (s *staleWriter) arm(subject ocispec.Descriptor) {
	tag, _ := referrersTag(subject)
	s.mu.Lock()
	s.tag = tag
	s.mu.Unlock()
}

func (s *staleWriter) fired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// orasOnly pushes through oras-go's repository directly, without
// convergence.
type orasOnly struct{ *Repository }

func (o orasOnly) Push(ctx context.Context, d ocispec.Descriptor, rd io.Reader) error {
	return o.repo.Push(ctx, d, rd)
}

// get GETs path from h (nil unless 200).
func get(h http.Handler, path string) []byte {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageIndex+","+ocispec.MediaTypeImageManifest)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return nil
	}
	return rec.Body.Bytes()
}

// put PUTs body to path on h and returns the status code.
func put(h http.Handler, path, mediaType string, body []byte) int {
	req := httptest.NewRequest(http.MethodPut, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// Repositories made with shared options reuse one pool of connections:
// resolving a tag in two repositories of one registry, one after the
// other, opens one connection; without Share each repository opens its
// own.
func TestShare(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	shared, err := RemoteOptions{}.Share()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		testregistry.PushImage(t, newRemote(t, host+"/"+name, RemoteOptions{}), "image "+name, "v1")
	}
	for _, tc := range []struct {
		name  string
		opts  RemoteOptions
		conns int64
	}{
		{"shared", shared, 1},
		{"not shared", RemoteOptions{}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conns.Store(0)
			for _, name := range []string{"a", "b"} {
				if _, err := newRemote(t, host+"/"+name, tc.opts).Resolve(context.Background(), "v1"); err != nil {
					t.Fatal(err)
				}
			}
			if got := conns.Load(); got != tc.conns {
				t.Errorf("%d connections opened, want %d", got, tc.conns)
			}
		})
	}
	if _, err := (RemoteOptions{CAFile: "/nonexistent/ca.pem"}).Share(); !errors.Is(err, ErrCAFile) {
		t.Errorf("Share with a missing CA file: err = %v, want ErrCAFile", err)
	}
}
