package admission

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// DefaultMaxVerificationsPerRegistry is
// VerifierOptions.MaxVerificationsPerRegistry's default: enough for a
// registry with 100 ms round trips to serve about 80 new digests a second,
// few enough that a burst of new digests on a 2-core node keeps the CPU for
// the reviews it can finish in time.
const DefaultMaxVerificationsPerRegistry = 32

// flight is one verification of a (policy set, repository, digest) that
// concurrent reviews share.
type flight struct {
	done chan struct{} // closed once res is set
	res  *Result

	// Under flights.mu:
	waiters int                // reviews waiting for res
	started bool               // holds a registry slot: verifying
	cancel  context.CancelFunc // ends the flight's context
}

// hostSlots bounds the verifications running against one registry host.
type hostSlots struct {
	sem   chan struct{}
	users int // flights holding or waiting for a slot (under flights.mu)
}

// flights shares verifications between reviews (one flight per key) and
// bounds how many run at once against each registry host. A registry that
// hangs then holds only its own slots; a burst of new digests queues
// instead of running all at once, each verification slowing the others
// until none finishes in time. A flight still waiting for a slot is
// cancelled when the last review waiting for it gives up; one that started
// runs to its end and its verdict is cached for the next review.
type flights struct {
	mu    sync.Mutex
	max   int
	m     map[string]*flight
	hosts map[string]*hostSlots
}

func newFlights(maxPerHost int) *flights {
	return &flights{max: maxPerHost, m: map[string]*flight{}, hosts: map[string]*hostSlots{}}
}

// join returns the flight for key, counting the caller as a waiter, and
// whether the caller must start it (start, then finish).
func (fs *flights) join(key string) (f *flight, lead bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		f.waiters++
		return f, false
	}
	f = &flight{done: make(chan struct{}), waiters: 1}
	fs.m[key] = f
	return f, true
}

// start gives the leader's flight its context: ctx's values, not its
// cancellation (others wait on the flight too), ending after timeout or
// when leave cancels it.
func (fs *flights) start(ctx context.Context, f *flight, timeout time.Duration) (context.Context, context.CancelFunc) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	fs.mu.Lock()
	f.cancel = cancel
	if f.waiters == 0 { // every waiter left before it started
		cancel()
	}
	fs.mu.Unlock()
	return fctx, cancel
}

// leave is called by a waiter that gives up: the last one cancels a flight
// that has not started, and a later review starts afresh.
func (fs *flights) leave(key string, f *flight) (started bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f.waiters--
	if f.waiters == 0 && !f.started {
		if f.cancel != nil {
			f.cancel()
		}
		if fs.m[key] == f {
			delete(fs.m, key)
		}
	}
	return f.started
}

// finish publishes the flight's result.
func (fs *flights) finish(key string, f *flight, res *Result) {
	fs.mu.Lock()
	if fs.m[key] == f {
		delete(fs.m, key)
	}
	fs.mu.Unlock()
	f.res = res
	close(f.done)
}

// acquire waits for one of host's slots for f, until ctx ends. The slot's
// release gives it back.
func (fs *flights) acquire(ctx context.Context, host string, f *flight) (*slot, error) {
	fs.mu.Lock()
	h := fs.hosts[host]
	if h == nil {
		h = &hostSlots{sem: make(chan struct{}, fs.max)}
		fs.hosts[host] = h
	}
	h.users++
	fs.mu.Unlock()
	done := func() {
		fs.mu.Lock()
		if h.users--; h.users == 0 {
			delete(fs.hosts, host)
		}
		fs.mu.Unlock()
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
	fs.mu.Lock()
	if err := ctx.Err(); err != nil { // cancelled as the slot came
		fs.mu.Unlock()
		<-h.sem
		done()
		return nil, err
	}
	f.started = true
	fs.mu.Unlock()
	return &slot{sem: h.sem, held: true, done: done}, nil
}

// slot is a registry host's verification slot held by one flight. While
// the verification waits on a revocation responder (slotYielder), it gives
// the slot back: a hung OCSP responder must not hold the slots of every
// image of the registry its signatures are in.
type slot struct {
	sem  chan struct{}
	done func()

	mu   sync.Mutex
	held bool // holds a token of sem
	out  int  // revocation requests in flight
}

// yield gives the token back for a revocation request.
func (s *slot) yield() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out++
	if s.held {
		<-s.sem
		s.held = false
	}
}

// reclaim takes a token again when the last revocation request ended
// (until ctx ends: the verification then fails on ctx anyway).
func (s *slot) reclaim(ctx context.Context) {
	s.mu.Lock()
	s.out--
	last := s.out == 0
	s.mu.Unlock()
	if !last {
		return
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out > 0 || s.held { // another request started meanwhile
		<-s.sem
		return
	}
	s.held = true
}

// release gives the slot back for good.
func (s *slot) release() {
	s.mu.Lock()
	if s.held {
		<-s.sem
		s.held = false
	}
	s.mu.Unlock()
	s.done()
}

type slotKey struct{}

// withSlot returns ctx carrying s for slotYielder.
func withSlot(ctx context.Context, s *slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

// slotYielder is the revocation HTTP client's transport: a request sent
// during a verification gives the verification's registry slot back until
// its answer's headers arrive.
type slotYielder struct{ rt http.RoundTripper }

func (y slotYielder) RoundTrip(r *http.Request) (*http.Response, error) {
	s, _ := r.Context().Value(slotKey{}).(*slot)
	if s == nil {
		return y.rt.RoundTrip(r)
	}
	s.yield()
	defer s.reclaim(r.Context())
	return y.rt.RoundTrip(r)
}

// busy returns how many flights hold or wait for host's slots.
func (fs *flights) busy(host string) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if h := fs.hosts[host]; h != nil {
		return h.users
	}
	return 0
}
