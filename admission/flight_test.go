package admission_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/admission"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signer"
)

// stalledRegistry answers no request until release is called; it records
// the paths asked for.
type stalledRegistry struct {
	host    string
	release func()
	mu      sync.Mutex
	paths   []string
}

func newStalledRegistry(t *testing.T) *stalledRegistry {
	t.Helper()
	stall := make(chan struct{})
	s := &stalledRegistry{}
	var once sync.Once
	s.release = func() { once.Do(func() { close(stall) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		select {
		case <-stall:
			http.NotFound(w, r)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(s.release)
	s.host = strings.TrimPrefix(srv.URL, "http://")
	return s
}

// asked returns the distinct digests whose manifests were requested.
func (s *stalledRegistry) asked() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, p := range s.paths {
		if _, d, ok := strings.Cut(p, "/manifests/"); ok {
			out[d] = true
		}
	}
	return out
}

// TestRegistryBulkhead: verifications against one registry are bounded
// (MaxVerificationsPerRegistry); reviews beyond the bound wait for a slot
// and, at their deadline, are refused saying so; a registry that hangs does
// not delay images from another one; a queued verification nobody waits
// for any more never reaches the registry.
func TestRegistryBulkhead(t *testing.T) {
	e := newTestEnv(t)
	stalled := newStalledRegistry(t)
	v := newVerifier(t, e, func(o *admission.VerifierOptions) { o.MaxVerificationsPerRegistry = 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	results := make([]*admission.Result, 6)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			results[i] = v.VerifyImage(ctx, "", fmt.Sprintf("%s/team/app@sha256:%064x", stalled.host, i))
		})
	}
	// Two verifications hold the stalled registry's slots: the healthy
	// registry's image is verified meanwhile.
	if !waitFor(5*time.Second, func() bool { return len(stalled.asked()) == 2 }) {
		t.Fatalf("registry asked for %d manifests, want 2 (the slots)", len(stalled.asked()))
	}
	if r := v.VerifyImage(context.Background(), "", e.signed); !r.Allowed {
		t.Fatalf("healthy registry's image held up: %+v", r)
	}
	wg.Wait()
	var notStarted, notFinished int
	for _, r := range results {
		switch {
		case r.Allowed || r.Check != admission.CheckTimeout:
			t.Fatalf("stalled image: %+v", r)
		case strings.Contains(r.Reason, "did not start") && strings.Contains(r.Reason, "at most 2 run at once"):
			notStarted++
		case strings.Contains(r.Reason, "did not finish"):
			notFinished++
		default:
			t.Fatalf("reason %q", r.Reason)
		}
	}
	if notStarted != 4 || notFinished != 2 {
		t.Fatalf("%d refused waiting for a slot, %d verifying; want 4 and 2", notStarted, notFinished)
	}
	// The four queued verifications were cancelled with their reviews:
	// the registry answering now, only the two running ones carry on.
	stalled.release()
	time.Sleep(200 * time.Millisecond)
	if n := len(stalled.asked()); n != 2 {
		t.Fatalf("registry asked for %d manifests after the reviews gave up, want 2", n)
	}
}

// answerDeadline records the deadline the handler gives the verifier.
type answerDeadline struct{ deadline time.Time }

func (a *answerDeadline) VerifyImage(ctx context.Context, set, image string) *admission.Result {
	a.deadline, _ = ctx.Deadline()
	return &admission.Result{Image: image, Allowed: true}
}

// TestAnswerMargin: verification gets the request's Timeout less a margin
// (a tenth, at most 500 ms), so that the refusal is written before Timeout.
func TestAnswerMargin(t *testing.T) {
	for _, tc := range []struct {
		name            string
		timeout, margin time.Duration
	}{
		{"short timeout: a tenth", 2 * time.Second, 200 * time.Millisecond},
		{"default timeout: 500 ms", admission.DefaultTimeout, 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &answerDeadline{}
			h := admission.New(rec, admission.Options{Timeout: tc.timeout})
			before := time.Now()
			review(t, h, "/validate", admissionv1.Create, podKind, "ns", pod("example.com/app:v1"), nil)
			after := time.Now()
			budget := tc.timeout - tc.margin
			if rec.deadline.Before(before.Add(budget)) || rec.deadline.After(after.Add(budget)) {
				t.Fatalf("verification deadline %s after the request, want %s", rec.deadline.Sub(before), budget)
			}
		})
	}
}

// TestRevocationWaitYieldsSlot: a verification waiting on a revocation
// responder that hangs does not hold its registry's only slot: another
// image of the registry is verified meanwhile.
func TestRevocationWaitYieldsSlot(t *testing.T) {
	e := newTestEnv(t)
	hung, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hung.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := hung.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		for len(accepted) > 0 {
			(<-accepted).Close()
		}
	})
	url := "http://" + hung.Addr().String()
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer with a hung responder"), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
		c.OCSPServer = []string{url + "/ocsp"}
		c.CRLDistributionPoints = []string{url + "/ca.crl"}
	}}, e.chain.Intermediate)
	app, _, err := registry.NewRepository(e.reg.Ref("team/app"), registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := testregistry.PushImage(t, app, "revocation hangs", "")
	s, err := signer.NewLocal(leaf.Key, []*x509.Certificate{leaf.Cert, e.chain.Intermediate.Cert, e.chain.Root.Cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signet.SignOCI(context.Background(), app, d.Digest.String(), signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: s}}); err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, e, func(o *admission.VerifierOptions) { o.MaxVerificationsPerRegistry, o.Timeout = 1, 2*time.Second })
	done := make(chan *admission.Result, 1)
	go func() { done <- v.VerifyImage(context.Background(), "", e.reg.Ref("team/app@"+d.Digest.String())) }()
	select {
	case c := <-accepted: // the verification holds the slot and waits on the responder
		accepted <- c
	case <-time.After(10 * time.Second):
		t.Fatal("the revocation responder was never asked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if r := v.VerifyImage(ctx, "", e.signed); !r.Allowed {
		t.Fatalf("the registry's other image waited for the slot: %+v", r)
	}
	// OCSP (2 s) then the CRL: the verification's 2 s end first.
	if r := <-done; r.Allowed || (r.Check != "revocation" && r.Check != admission.CheckTimeout) {
		t.Fatalf("image whose revocation cannot be checked: %+v", r)
	}
}
