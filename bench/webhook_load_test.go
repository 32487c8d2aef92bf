package bench

import (
	"errors"
	"sync"
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
	if s.lagMax > 100*time.Millisecond {
		// Sends are not held back by slow answers (generous bound for a
		// loaded machine: the loop only sleeps and starts goroutines).
		t.Fatalf("send lag %s: requests waited for earlier answers", s.lagMax)
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
