package admission

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFlightsSlots: a flight waits for its host's slot; when its last
// waiter leaves before it starts, it is cancelled and a new review starts
// a new flight; slots and hosts are given back.
func TestFlightsSlots(t *testing.T) {
	fs := newFlights(1)
	ctx := context.Background()
	f1, lead := fs.join("a")
	if !lead {
		t.Fatal("first join does not lead")
	}
	if f, lead := fs.join("a"); lead || f != f1 {
		t.Fatal("second join of a key does not share the flight")
	}
	ctx1, cancel1 := fs.start(ctx, f1, time.Minute)
	defer cancel1()
	release1, err := fs.acquire(ctx1, "reg", f1)
	if err != nil {
		t.Fatal(err)
	}

	f2, _ := fs.join("b")
	ctx2, cancel2 := fs.start(ctx, f2, time.Minute)
	defer cancel2()
	errc := make(chan error)
	go func() { _, err := fs.acquire(ctx2, "reg", f2); errc <- err }()
	for fs.busy("reg") != 2 {
		time.Sleep(time.Millisecond)
	}
	if started := fs.leave("b", f2); started {
		t.Fatal("queued flight reported started")
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued flight without waiters: %v", err)
	}
	if f, lead := fs.join("b"); !lead || f == f2 {
		t.Fatal("a cancelled flight was joined")
	}
	if fs.busy("reg") != 1 {
		t.Fatalf("busy %d after the queued flight left", fs.busy("reg"))
	}
	// f1 started: a waiter leaving does not cancel it.
	fs.leave("a", f1)
	if ctx1.Err() != nil {
		t.Fatal("a started flight was cancelled")
	}
	release1.release()
	fs.finish("a", f1, &Result{Allowed: true})
	<-f1.done
	if fs.busy("reg") != 0 || len(fs.hosts) != 0 {
		t.Fatalf("slots not given back: busy %d, hosts %d", fs.busy("reg"), len(fs.hosts))
	}
	if _, ok := fs.m["a"]; ok {
		t.Fatal("finished flight still listed")
	}
}

// TestFlightsAbandonedBeforeStart: a flight whose only waiter left before
// the leader gave it a context is cancelled at once.
func TestFlightsAbandonedBeforeStart(t *testing.T) {
	fs := newFlights(1)
	f, _ := fs.join("a")
	fs.leave("a", f)
	ctx, cancel := fs.start(context.Background(), f, time.Minute)
	defer cancel()
	if ctx.Err() == nil {
		t.Fatal("abandoned flight not cancelled")
	}
}

// TestSlotYield: a verification waiting on revocation responders gives its
// registry slot back (another flight takes it meanwhile) and takes one
// again when the last of its requests ends.
func TestSlotYield(t *testing.T) {
	fs := newFlights(1)
	ctx := context.Background()
	fa, _ := fs.join("a")
	a, err := fs.acquire(ctx, "reg", fa)
	if err != nil {
		t.Fatal(err)
	}
	a.yield() // two revocation requests at once
	a.yield()
	fb, _ := fs.join("b")
	b, err := fs.acquire(ctx, "reg", fb)
	if err != nil {
		t.Fatal(err)
	}
	a.reclaim(ctx) // one request ended: still yielded
	reclaimed := make(chan struct{})
	go func() { a.reclaim(ctx); close(reclaimed) }()
	select {
	case <-reclaimed:
		t.Fatal("reclaimed a slot another flight holds")
	case <-time.After(20 * time.Millisecond):
	}
	b.release()
	<-reclaimed
	if !a.held {
		t.Fatal("slot not held after the last request ended")
	}
	a.release()
	if fs.busy("reg") != 0 || len(fs.hosts) != 0 {
		t.Fatalf("slots not given back: busy %d", fs.busy("reg"))
	}
}
