package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"

	"github.com/signet-dev/signet/internal/testregistry"
)

// TestReferrersUpdateFirstListing: a reader of a subject's referrers after
// an update of its referrers tag index gets them from the first read of the
// index the update's convergence makes, after the settle delay, without a
// request of its own (the convergence makes its usual two reads, no more);
// that read shows what a concurrent writer left (here: an older index put
// back, without our entry), and the convergence still adds the entry again.
// An update that wrote nothing has no such read: the reader lists.
func TestReferrersUpdateFirstListing(t *testing.T) {
	ctx := context.Background()
	// entry pushes a referrer of subject, unlisted, and returns its
	// index entry.
	entry := func(t *testing.T, r *Repository, subject ocispec.Descriptor, note string) ocispec.Descriptor {
		t.Helper()
		empty := content.NewDescriptorFromBytes(ocispec.MediaTypeEmptyJSON, []byte("{}"))
		if err := r.PushDeferred(ctx, empty, bytes.NewReader([]byte("{}"))); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			t.Fatal(err)
		}
		raw, err := json.Marshal(ocispec.Manifest{
			Versioned:    specs.Versioned{SchemaVersion: 2},
			MediaType:    ocispec.MediaTypeImageManifest,
			ArtifactType: "application/vnd.test",
			Config:       empty,
			Layers:       []ocispec.Descriptor{empty},
			Subject:      &subject,
			Annotations:  map[string]string{"note": note},
		})
		if err != nil {
			t.Fatal(err)
		}
		desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
		if err := r.PushDeferred(ctx, desc, bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		e, _ := referrerEntry(desc, raw)
		return e
	}
	for _, stale := range []bool{false, true} {
		name := "quiet"
		if stale {
			name = "stale"
		}
		t.Run(name, func(t *testing.T) {
			var sw staleWriter
			var reads atomic.Int64 // GETs of referrers tags
			reg := testregistry.New(t, testregistry.Options{Middleware: func(h http.Handler) http.Handler {
				h = sw.wrap(h)
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256-") {
						reads.Add(1)
					}
					h.ServeHTTP(w, r)
				})
			}})
			r := newRemote(t, reg.Ref("app"), RemoteOptions{})
			subject := testregistry.PushImage(t, r, "app", "")
			first, mine := entry(t, r, subject, "first"), entry(t, r, subject, "mine")
			if err := r.EnsureReferrers(ctx, subject, []ocispec.Descriptor{first}); err != nil {
				t.Fatal(err)
			}
			if stale {
				sw.arm(subject)
			}
			start := time.Now()
			u, err := r.AddReferrers(ctx, subject, []ocispec.Descriptor{mine})
			if err != nil {
				t.Fatal(err)
			}
			if stale && !sw.fired() {
				t.Fatal("the stale write did not happen")
			}
			before := reads.Load()
			type listing struct {
				list []ocispec.Descriptor
				ok   bool
				err  error
				at   time.Duration
			}
			got := make(chan listing, 1)
			go func() {
				list, ok, err := u.FirstListing(ctx)
				got <- listing{list, ok, err, time.Since(start)}
			}()
			if err := u.Converge(ctx); err != nil {
				t.Fatal(err)
			}
			l := <-got
			if l.err != nil || !l.ok {
				t.Fatalf("FirstListing: ok %v, %v", l.ok, l.err)
			}
			if l.at < minSettle {
				t.Errorf("the listing came %v after the update began, before the least settle delay %v", l.at, minSettle)
			}
			if containsDigest(l.list, mine) == stale || !containsDigest(l.list, first) {
				t.Errorf("listing %v: want the first entry, and ours unless a stale write dropped it", l.list)
			}
			// Without a re-add, the convergence reads twice; after the
			// first read a re-add costs a read of its own (the
			// read-modify-write) and two more reads.
			want := int64(2)
			if stale {
				want = 4
			}
			if n := reads.Load() - before; n != want {
				t.Errorf("%d reads of the index during the convergence, want %d", n, want)
			}
			_, index, err := r.readReferrersIndex(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if !containsDigest(index, mine) || !containsDigest(index, first) {
				t.Errorf("index after the convergence: %v", index)
			}
			// Nothing to add: no update, no read to share.
			u, err = r.AddReferrers(ctx, subject, []ocispec.Descriptor{mine})
			if err != nil {
				t.Fatal(err)
			}
			if list, ok, err := u.FirstListing(ctx); ok || err != nil || list != nil {
				t.Errorf("FirstListing of an update that wrote nothing: %v %v %v", list, ok, err)
			}
		})
	}
}
