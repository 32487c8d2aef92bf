package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/signature"
)

// signedSubjects pushes n images into repo app, each with one signature,
// through a Repository of its own (the detection state of the one under
// test stays fresh).
func signedSubjects(t *testing.T, reg *testregistry.Registry, n int) (subjects, sigs []ocispec.Descriptor) {
	t.Helper()
	chain := testpki.NewChain(t, "ec-256").Certs()
	signer := newRemote(t, reg.Ref("app"), RemoteOptions{})
	for i := range n {
		s := testregistry.PushImage(t, signer, fmt.Sprintf("app-%d", i), "")
		d, err := PushSignature(context.Background(), signer, s, signature.MediaTypeJWS, []byte(fmt.Sprint(i)), chain, time.Now(), FormConfig)
		if err != nil {
			t.Fatal(err)
		}
		subjects, sigs = append(subjects, s), append(sigs, d)
	}
	return subjects, sigs
}

// listAll lists the signatures of every subject at once through r.
func listAll(r *Repository, subjects []ocispec.Descriptor) ([][]ocispec.Descriptor, []error) {
	got := make([][]ocispec.Descriptor, len(subjects))
	errs := make([]error, len(subjects))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, s := range subjects {
		wg.Go(func() {
			<-start
			got[i], _, errs[i] = ListSignatures(context.Background(), r, s, 0)
		})
	}
	close(start)
	wg.Wait()
	return got, errs
}

// TestReferrersProbedOncePerRepository: references into one repository
// listed at once ask the referrers API once where the registry has none
// (the first answer serves the rest), every one per reference where it
// has it, and each listing finds its own signature either way.
func TestReferrersProbedOncePerRepository(t *testing.T) {
	const n = 12
	for _, hasAPI := range []bool{false, true} {
		t.Run(fmt.Sprintf("api=%v", hasAPI), func(t *testing.T) {
			var probes atomic.Int64
			reg := testregistry.New(t, testregistry.Options{Referrers: hasAPI, Middleware: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if strings.Contains(req.URL.Path, "/referrers/") {
						probes.Add(1)
					}
					h.ServeHTTP(w, req)
				})
			}})
			subjects, sigs := signedSubjects(t, reg, n)
			probes.Store(0)
			got, errs := listAll(newRemote(t, reg.Ref("app"), RemoteOptions{}), subjects)
			for i := range subjects {
				if errs[i] != nil || len(got[i]) != 1 || got[i][0].Digest != sigs[i].Digest {
					t.Fatalf("subject %d: %v, %v; want %s", i, got[i], errs[i], sigs[i].Digest)
				}
			}
			want := int64(1)
			if hasAPI {
				want = n
			}
			if p := probes.Load(); p != want {
				t.Fatalf("%d referrers API requests, want %d", p, want)
			}
		})
	}
}

// TestReferrersFailedProbeNotQueued: when the first listing fails without
// an answer (a 403 from the referrers API), the listings waiting for it go
// on at once, not one after another (each would otherwise wait out the
// previous one's timeout): two of them are in the registry together.
func TestReferrersFailedProbeNotQueued(t *testing.T) {
	const n = 6
	var calls, inFlight atomic.Int64
	var armed atomic.Bool
	together := make(chan struct{})
	var once sync.Once
	reg := testregistry.New(t, testregistry.Options{Middleware: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if !armed.Load() || !strings.Contains(req.URL.Path, "/referrers/") {
				h.ServeHTTP(w, req)
				return
			}
			if calls.Add(1) == 1 {
				http.Error(w, "denied", http.StatusForbidden)
				return
			}
			if inFlight.Add(1) >= 2 {
				once.Do(func() { close(together) })
			}
			defer inFlight.Add(-1)
			select {
			case <-together:
				h.ServeHTTP(w, req)
			case <-time.After(10 * time.Second):
				http.Error(w, "no other listing came while this one waited", http.StatusInternalServerError)
			}
		})
	}})
	subjects, sigs := signedSubjects(t, reg, n)
	armed.Store(true)
	got, errs := listAll(newRemote(t, reg.Ref("app"), RemoteOptions{}), subjects)
	failed := 0
	for i := range subjects {
		if errs[i] != nil {
			failed++
			continue
		}
		if len(got[i]) != 1 || got[i][0].Digest != sigs[i].Digest {
			t.Fatalf("subject %d: %v; want %s", i, got[i], sigs[i].Digest)
		}
	}
	if failed != 1 {
		t.Fatalf("%d listings failed, want 1 (the first, answered 403): %v", failed, errs)
	}
}
