package bench

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenLoopCountsQueueing: a server that answers one request at a time
// (2 ms each) at half the offered rate: the open loop keeps sending on
// schedule and measures from the due time, so the queue shows in the
// latencies (the last of 200 requests waits about 200 ms), where a closed
// loop would report 2 ms for every request.
func TestOpenLoopCountsQueueing(t *testing.T) {
	var mu sync.Mutex
	ans := openLoop(1000, 200, func(int) answer {
		a := answer{sent: time.Now()}
		mu.Lock()
		time.Sleep(2 * time.Millisecond)
		mu.Unlock()
		a.done, a.allowed = time.Now(), true
		return a
	})
	s := summarize(ans, time.Second)
	if s.n != 200 || s.allowed != 200 {
		t.Fatalf("summary %+v", s)
	}
	// 200 requests due within 200 ms take at least 400 ms to serve: the
	// last answer comes at least 200 ms after it was due.
	if s.max < 190*time.Millisecond {
		t.Fatalf("max latency %s: the queue is not counted", s.max)
	}
}

// TestOpenLoopDoesNotWait: every request is sent while none has been
// answered (the server answers only once all have arrived), so a slow
// answer never holds back the next request.
func TestOpenLoopDoesNotWait(t *testing.T) {
	const n = 50
	var arrived atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	allArrived := false
	watchdog := time.AfterFunc(30*time.Second, func() { once.Do(func() { close(release) }) })
	defer watchdog.Stop()
	ans := openLoop(1000, n, func(int) answer {
		a := answer{sent: time.Now()}
		if arrived.Add(1) == n {
			once.Do(func() { allArrived = true; close(release) })
		}
		<-release
		a.done, a.allowed = time.Now(), true
		return a
	})
	if !allArrived {
		t.Fatalf("only %d of %d requests were sent before the first answer", arrived.Load(), n)
	}
	if s := summarize(ans, time.Minute); s.n != n || s.allowed != n {
		t.Fatalf("summary %+v", s)
	}
}

// TestSummarize: answers are counted as allowed, denied (with or without a
// reason naming the failed check), failed, and late when they took longer
// than the deadline from their sending.
func TestSummarize(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := summarize([]answer{
		{sched: at(0), sent: at(0), done: at(10), allowed: true},
		{sched: at(0), sent: at(5), done: at(30), message: `image "x" is not trusted: registry check failed: down`},
		{sched: at(0), sent: at(0), done: at(20), message: "no reason"},
		{sched: at(0), sent: at(0), done: at(200), err: errors.New("timeout")},
		{sched: at(0), sent: at(0), done: at(150), allowed: true},
	}, 100*time.Millisecond)
	want := summary{n: 5, allowed: 2, denied: 2, failed: 1, noReason: 1, late: 2,
		p50: 30 * time.Millisecond, p99: 150 * time.Millisecond, max: 200 * time.Millisecond, lagMax: 5 * time.Millisecond}
	got := s
	got.firstFailure, got.firstDenial, got.firstNoReason = "", "", ""
	if got != want {
		t.Fatalf("summary\n got %+v\nwant %+v", got, want)
	}
	if s.firstNoReason != "no reason" || s.firstFailure != "timeout" {
		t.Fatalf("first messages: %+v", s)
	}
}
