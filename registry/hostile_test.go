package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/signature"
)

// hostileTimeout is the request timeout of the hostile-registry tests: a
// slow registry must fail within a few of these, never hang.
const hostileTimeout = 400 * time.Millisecond

// oversized is more than the 4 MiB metadata limit (§0.5, TC-21).
const oversized = 5 << 20

// rawPut PUTs a manifest straight to the registry, bypassing the client's
// own limits (a hostile party filled the registry).
func rawPut(t *testing.T, reg *testregistry.Registry, repo, ref, mediaType string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, reg.URL+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: %s", ref, resp.Status)
	}
}

// bigManifest is a well-formed manifest padded over the limit with an
// annotation of its config descriptor. (Padding in the manifest's own
// annotations would reach the referrers listing, which carries them, and
// make that too large instead.)
func bigManifest(t *testing.T, configMediaType string, subject *ocispec.Descriptor) []byte {
	t.Helper()
	env := content.NewDescriptorFromBytes(signature.MediaTypeJWS, []byte("env"))
	cfg := content.NewDescriptorFromBytes(configMediaType, []byte("{}"))
	cfg.Annotations = map[string]string{"pad": strings.Repeat("x", oversized)}
	raw, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config:  cfg,
		Layers:  []ocispec.Descriptor{env},
		Subject: subject,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// alterBody serves the request through h and flips the last byte of a 200
// body whose path contains part, keeping every header (Docker-Content-Digest
// and Content-Length included).
func alterBody(h http.Handler, part string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet || !strings.Contains(req.URL.Path, part) {
			h.ServeHTTP(w, req)
			return
		}
		body := get(h, req.URL.Path)
		if body == nil {
			h.ServeHTTP(w, req)
			return
		}
		rec := recordHeaders(h, req)
		for k, v := range rec {
			w.Header()[k] = v
		}
		body = bytes.Clone(body)
		body[len(body)-1] ^= 1
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// recordHeaders returns the headers h answers a HEAD of req's path with.
func recordHeaders(h http.Handler, req *http.Request) http.Header {
	head := req.Clone(req.Context())
	head.Method = http.MethodHead
	rw := &headerRecorder{h: http.Header{}}
	h.ServeHTTP(rw, head)
	return rw.h
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

// onReferrers answers GET .../referrers/... with f, everything else with h.
func onReferrers(f http.HandlerFunc) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/referrers/") {
				f(w, req)
				return
			}
			h.ServeHTTP(w, req)
		})
	}
}

func emptyIndexPage(w http.ResponseWriter, link string) {
	w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
	if link != "" {
		w.Header().Set("Link", link)
	}
	w.Write([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
}

// stall blocks until the client gives up (or 10 s pass).
func stall(req *http.Request) {
	select {
	case <-req.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// TestHostileRegistries is §4.3 DISC-6 and TC-21 against registries that
// misbehave: each case ends in a bounded, clear error, never a hang or a
// panic.
func TestHostileRegistries(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256").Certs()
	var pages atomic.Int64
	var lie ocispec.Descriptor
	tests := []struct {
		name       string
		opts       testregistry.Options
		setup      func(t *testing.T, reg *testregistry.Registry, r *Repository, subject ocispec.Descriptor)
		run        func(ctx context.Context, r *Repository, subject ocispec.Descriptor) error
		wantErr    error  // errors.Is target, when set
		wantSubstr string // in the message; neither: a timeout
	}{
		{
			name: "oversized subject manifest",
			setup: func(t *testing.T, reg *testregistry.Registry, _ *Repository, _ ocispec.Descriptor) {
				rawPut(t, reg, "app", "big", ocispec.MediaTypeImageManifest, bigManifest(t, ocispec.MediaTypeImageConfig, nil))
			},
			run: func(ctx context.Context, r *Repository, _ ocispec.Descriptor) error {
				_, err := ResolveManifest(ctx, r, "big")
				return err
			},
			wantSubstr: "over the limit of 4194304",
		},
		{
			name: "oversized signature manifest listed with its size",
			opts: testregistry.Options{Referrers: true},
			setup: func(t *testing.T, reg *testregistry.Registry, _ *Repository, subject ocispec.Descriptor) {
				raw := bigManifest(t, signature.ArtifactType, &subject)
				rawPut(t, reg, "app", digest.FromBytes(raw).String(), ocispec.MediaTypeImageManifest, raw)
			},
			run: func(ctx context.Context, r *Repository, subject ocispec.Descriptor) error {
				sigs, _, err := ListSignatures(ctx, r, subject, 0)
				if err != nil || len(sigs) != 1 {
					return fmt.Errorf("listed %d: %v", len(sigs), err)
				}
				_, err = FetchSignature(ctx, r, sigs[0], subject)
				return err
			},
			wantSubstr: "over the limit of 4194304",
		},
		{
			name: "oversized signature manifest listed as small",
			setup: func(t *testing.T, reg *testregistry.Registry, _ *Repository, subject ocispec.Descriptor) {
				raw := bigManifest(t, signature.ArtifactType, &subject)
				lie = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(raw), Size: 1000}
				rawPut(t, reg, "app", lie.Digest.String(), ocispec.MediaTypeImageManifest, raw)
			},
			run: func(ctx context.Context, r *Repository, subject ocispec.Descriptor) error {
				_, err := FetchSignature(ctx, r, lie, subject)
				return err
			},
			wantSubstr: "Content-Length",
		},
		{
			name: "oversized referrers response",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				w.Write([]byte(`{"schemaVersion":2,"manifests":[],"annotations":{"pad":"`))
				w.Write(bytes.Repeat([]byte("x"), oversized))
				w.Write([]byte(`"}}`))
			})},
			run:        listSignatures,
			wantSubstr: "larger than 4194304 bytes",
		},
		{
			name: "oversized referrers tag index",
			setup: func(t *testing.T, reg *testregistry.Registry, _ *Repository, subject ocispec.Descriptor) {
				tag, _ := referrersTag(subject)
				raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
					Annotations: map[string]string{"pad": strings.Repeat("x", oversized)}})
				rawPut(t, reg, "app", tag, ocispec.MediaTypeImageIndex, raw)
			},
			run:        listSignatures,
			wantSubstr: "over the limit of 4194304",
		},
		{
			name: "pagination loops back",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(w http.ResponseWriter, req *http.Request) {
				emptyIndexPage(w, fmt.Sprintf("<%s>; rel=\"next\"", req.URL.Path))
			})},
			run:        listSignatures,
			wantErr:    ErrTooManyReferrers,
			wantSubstr: "loops back",
		},
		{
			name: "pagination never ends",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(w http.ResponseWriter, req *http.Request) {
				n := pages.Add(1)
				emptyIndexPage(w, fmt.Sprintf("<%s?page=%d>; rel=\"next\"", req.URL.Path, n))
			})},
			run: func(ctx context.Context, r *Repository, subject ocispec.Descriptor) error {
				pages.Store(0)
				err := listSignatures(ctx, r, subject)
				if n := pages.Load(); n != MaxReferrersPages {
					return fmt.Errorf("%d pages requested, want %d: %w", n, MaxReferrersPages, err)
				}
				return err
			},
			wantErr:    ErrTooManyReferrers,
			wantSubstr: "beyond 100 pages",
		},
		{
			name: "pagination leads to another host",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(w http.ResponseWriter, req *http.Request) {
				emptyIndexPage(w, `<http://attacker.example/v2/app/referrers/x>; rel="next"`)
			})},
			run:        listSignatures,
			wantSubstr: "another registry",
		},
		{
			name: "repository unknown on the referrers endpoint",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
			})},
			run:        listSignatures,
			wantSubstr: "name unknown",
		},
		{
			name: "subject manifest altered under its digest",
			opts: testregistry.Options{Middleware: func(h http.Handler) http.Handler { return alterBody(h, "/manifests/v1") }},
			run: func(ctx context.Context, r *Repository, _ ocispec.Descriptor) error {
				_, err := ResolveManifest(ctx, r, "v1")
				return err
			},
			wantErr: ErrDigestMismatch,
		},
		{
			name: "signature envelope altered under its digest",
			opts: testregistry.Options{Referrers: true, Middleware: func(h http.Handler) http.Handler {
				return alterBody(h, "/blobs/"+content.NewDescriptorFromBytes(signature.MediaTypeJWS, []byte("envelope")).Digest.String())
			}},
			setup: func(t *testing.T, _ *testregistry.Registry, r *Repository, subject ocispec.Descriptor) {
				if _, err := PushSignature(context.Background(), r, subject, signature.MediaTypeJWS, []byte("envelope"), chain, time.Now(), FormConfig); err != nil {
					t.Fatal(err)
				}
			},
			run: func(ctx context.Context, r *Repository, subject ocispec.Descriptor) error {
				sigs, _, err := ListSignatures(ctx, r, subject, 0)
				if err != nil || len(sigs) != 1 {
					return fmt.Errorf("listed %d: %v", len(sigs), err)
				}
				_, err = FetchSignature(ctx, r, sigs[0], subject)
				return err
			},
			wantErr: ErrDigestMismatch,
		},
		{
			name: "referrers tag index altered under its digest",
			opts: testregistry.Options{Middleware: func(h http.Handler) http.Handler { return alterBody(h, "/manifests/sha256-") }},
			setup: func(t *testing.T, reg *testregistry.Registry, _ *Repository, subject ocispec.Descriptor) {
				tag, _ := referrersTag(subject)
				raw := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
				rawPut(t, reg, "app", tag, ocispec.MediaTypeImageIndex, raw)
			},
			run:     listSignatures,
			wantErr: ErrDigestMismatch,
		},
		{
			name: "registry never sends headers",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(_ http.ResponseWriter, req *http.Request) { stall(req) })},
			run:  listSignatures,
		},
		{
			name: "registry never answers a manifest request",
			opts: testregistry.Options{Middleware: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/manifests/v1") {
						stall(req)
						return
					}
					h.ServeHTTP(w, req)
				})
			}},
			run: func(ctx context.Context, r *Repository, _ ocispec.Descriptor) error {
				_, err := ResolveManifest(ctx, r, "v1")
				return err
			},
		},
		{
			name: "registry stalls in the body",
			opts: testregistry.Options{Referrers: true, Middleware: onReferrers(func(w http.ResponseWriter, req *http.Request) {
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				w.Write([]byte(`{"schemaVersion":2,"manifests":[`))
				w.(http.Flusher).Flush()
				stall(req)
			})},
			run: listSignatures,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Only the slow registries get the short timeout: the others must
			// fail on their own limits however slow the machine.
			slow := tc.wantErr == nil && tc.wantSubstr == ""
			timeout := 30 * time.Second
			if slow {
				timeout = hostileTimeout
			}
			reg := testregistry.New(t, tc.opts)
			r := newRemote(t, reg.Ref("app"), RemoteOptions{})
			subject := testregistry.PushImage(t, r, "app", "v1")
			if tc.setup != nil {
				tc.setup(t, reg, r, subject)
			}
			fresh := newRemote(t, reg.Ref("app"), RemoteOptions{Timeout: timeout})
			start := time.Now()
			err := tc.run(context.Background(), fresh, subject)
			took := time.Since(start)
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error does not wrap %v", tc.wantErr)
			}
			if tc.wantSubstr != "" && !strings.Contains(err.Error(), tc.wantSubstr) {
				t.Errorf("error does not say %q", tc.wantSubstr)
			}
			if slow && (!errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "within the request timeout of 400ms")) {
				t.Errorf("a slow registry should fail with a timeout that says so")
			}
			if slow && took > 5*hostileTimeout {
				t.Errorf("took %v", took)
			}
		})
	}
}

func listSignatures(ctx context.Context, r *Repository, subject ocispec.Descriptor) error {
	_, _, err := ListSignatures(ctx, r, subject, 0)
	return err
}
