package bench

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by the webhook benchmarks.
const (
	// envWebhookRate is the fixed request rate, requests/s (default 500).
	envWebhookRate = "SIGNET_BENCH_WEBHOOK_RATE"
	// envWebhookDuration is how long the warm and no-cache runs last
	// (default 10s).
	envWebhookDuration = "SIGNET_BENCH_WEBHOOK_DURATION"
	// envSoakRate is the soak run's rate, requests/s (default 100: a
	// steady load the 2-core machine sustains with three fifths of the
	// reviews waiting on hung peers, so that growth is not lost in
	// overload noise; the fault runs use the full rate).
	envSoakRate = "SIGNET_BENCH_SOAK_RATE"
	// envWebhookDistinct is how many distinct signed images the cold run
	// reviews, each once (default 10000: also the memory measurement).
	envWebhookDistinct = "SIGNET_BENCH_WEBHOOK_DISTINCT"
)

func envInt(b testing.TB, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(b testing.TB, name string, def time.Duration) time.Duration {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration (10s, 5m)", name, v)
	}
	return d
}

// openLoop sends n requests at a fixed rate: request i is due at
// start + i/rate and is sent then, in its own goroutine, whether or not
// earlier ones were answered (an open loop, as an API server admitting
// independent clients' Pods). Each answer's sched is its due time, so a
// stalled server shows in every latency it delays, not only in the one
// request a closed loop would have waiting (coordinated omission).
func openLoop(rate float64, n int, send func(i int) answer) []answer {
	out := make([]answer, n)
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now().Add(interval)
	var wg sync.WaitGroup
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			a := send(i)
			a.sched = at
			out[i] = a
		})
	}
	wg.Wait()
	return out
}

// summary is what a run's answers add up to.
type summary struct {
	n, allowed, denied, failed int
	// noReason counts refusals without a message naming the failed check.
	noReason int
	// late counts answers that took longer than the deadline from the
	// moment they were sent (or never came).
	late int
	// p50, p99, max: latency from the due time (queueing included).
	p50, p99, max time.Duration
	// lagMax is the longest a request was sent after its due time (the
	// load generator's own delay; it is inside the latencies).
	lagMax                    time.Duration
	firstFailure, firstDenial string
	firstNoReason             string
}

func summarize(ans []answer, deadline time.Duration) summary {
	s := summary{n: len(ans)}
	lat := make([]time.Duration, 0, len(ans))
	for _, a := range ans {
		lat = append(lat, a.done.Sub(a.sched))
		s.lagMax = max(s.lagMax, a.sent.Sub(a.sched))
		if a.done.Sub(a.sent) > deadline {
			s.late++
		}
		switch {
		case a.err != nil:
			s.failed++
			if s.firstFailure == "" {
				s.firstFailure = a.err.Error()
			}
		case a.allowed:
			s.allowed++
		default:
			s.denied++
			if s.firstDenial == "" {
				s.firstDenial = a.message
			}
			if !strings.Contains(a.message, "check failed") {
				s.noReason++
				if s.firstNoReason == "" {
					s.firstNoReason = a.message
				}
			}
		}
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	s.p50, s.p99, s.max = q(0.5), q(0.99), q(1)
	return s
}

// report records the latencies (ms, from the due time), the answers past
// the deadline and the failures as benchmark metrics.
func (s summary) report(b *testing.B) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(s.p50), "p50-ms")
	b.ReportMetric(ms(s.p99), "p99-ms")
	b.ReportMetric(ms(s.max), "max-ms")
	b.ReportMetric(float64(s.late), "late")
	b.ReportMetric(float64(s.failed), "failed")
	b.ReportMetric(float64(s.denied), "refused")
	b.ReportMetric(ms(s.lagMax), "send-lag-max-ms")
	b.Logf("%d reviews: %d allowed, %d denied (%d without a reason), %d failed, %d past the deadline; p50 %s p99 %s max %s; send lag max %s",
		s.n, s.allowed, s.denied, s.noReason, s.failed, s.late, s.p50, s.p99, s.max, s.lagMax)
	if s.firstFailure != "" {
		b.Logf("first failure: %s", s.firstFailure)
	}
	if s.firstDenial != "" {
		b.Logf("first denial: %s", s.firstDenial)
	}
}

// load runs openLoop against w and reports the summary, the CPU time per
// review of the webhook process and of the benchmark process (load
// generator, TLS client, in-process registry), and the 1-minute load
// average at the end (the machine is shared).
func (w *webhook) load(b *testing.B, rate float64, n int, send func(i int) answer) (summary, []answer) {
	b.Helper()
	c0, s0 := w.cpu(b), selfCPU()
	ans := openLoop(rate, n, send)
	if w.p.Exited() {
		b.Fatalf("signet-webhook exited during the run (%v):\n%s", w.p.Err(), w.p.LogTail())
	}
	s := summarize(ans, w.timeout)
	c1, s1 := w.cpu(b), selfCPU()
	s.report(b)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(c1-c0)/float64(n), "webhook-cpu-ms/review")
	b.ReportMetric(ms(s1-s0)/float64(n), "bench-cpu-ms/review")
	b.ReportMetric(loadavg(b), "loadavg-1m")
	longest, over := w.serverTimes(b, w.timeout)
	b.ReportMetric(ms(longest), "server-max-ms")
	b.ReportMetric(float64(over), "server-late")
	b.Logf("the webhook's own log: longest review %s, %d longer than --timeout %s", longest, over, w.timeout)
	return s, ans
}

// loadavg is the 1-minute load average.
func loadavg(b testing.TB) float64 {
	b.Helper()
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(data))[0], 64)
	return f
}

// checkAdmitted fails the benchmark when a review of a signed image was
// refused for another reason than the deadline (the webhook refuses what
// it cannot verify in time: overload is counted as refused, not a bug) or
// got no answer; it returns which reviews were admitted.
func checkAdmitted(b *testing.B, ans []answer) []bool {
	b.Helper()
	ok := make([]bool, len(ans))
	for i, a := range ans {
		ok[i] = a.allowed
		if a.err == nil && !a.allowed && !strings.Contains(a.message, "timeout check failed") {
			b.Errorf("signed image refused: %s", a.message)
			break
		}
	}
	return ok
}

// refs names images (REPOSITORY@DIGEST) in the registry at host.
func refs(host string, images []string) []string {
	out := make([]string, len(images))
	for i, img := range images {
		out[i] = host + "/" + img
	}
	return out
}

// BenchmarkWebhook measures the signet-webhook binary over HTTPS on
// loopback at a fixed rate (SIGNET_BENCH_WEBHOOK_RATE, 500/s), open loop,
// latency from each request's due time; the registry is
// go-containerregistry's in-process registry with the referrers API, the
// namespace labels come from a real kube-apiserver (skipped without one:
// scripts/install-k8s.sh). Run it with -benchtime 1x: each sub-benchmark
// is one timed run.
//
//   - warm: every review a two-container Pod whose two images (by
//     digest) were verified before the run (cache hits).
//   - cold-distinct: SIGNET_BENCH_WEBHOOK_DISTINCT (10,000) one-container
//     Pods, each image a distinct signed digest never seen before (every
//     review a full verification: manifest, referrers, signature, chain);
//     then the process's memory with those verdicts cached (VmRSS, VmHWM
//     from /proc, heap and cache entries from /metrics). setup-s is the
//     time to push and sign the images.
//   - cold-nocache: --cache-ttl 0s and the warm Pod: every review verifies
//     both images (concurrent reviews of one digest share a verification).
func BenchmarkWebhook(b *testing.B) {
	rate := float64(envInt(b, envWebhookRate, 500))
	dur := envDuration(b, envWebhookDuration, 10*time.Second)
	distinct := envInt(b, envWebhookDistinct, 10_000)
	e := newWhEnv(b)
	warm := refs(e.reg.Host, e.signImages(b, e.chain.Certs(), e.chain.Leaf.Key, 2))
	const timeout = 8 * time.Second // the shipped --timeout
	n := int(rate * dur.Seconds())

	b.Run("warm", func(b *testing.B) {
		w := e.startWebhook(b, timeout)
		if a := w.post(podReview("prime", warm)); !a.allowed {
			b.Fatalf("warm images refused: %v %s", a.err, a.message)
		}
		s, _ := w.load(b, rate, n, func(i int) answer { return w.post(podReview(fmt.Sprintf("warm-%d", i), warm)) })
		if s.allowed != s.n {
			b.Errorf("%d of %d reviews not allowed", s.n-s.allowed, s.n)
		}
	})

	b.Run("cold-distinct", func(b *testing.B) {
		start := time.Now()
		pool := refs(e.reg.Host, e.pool(b, distinct))
		setup := time.Since(start)
		w := e.startWebhook(b, timeout)
		bodies := make([][]byte, len(pool))
		for i, img := range pool {
			bodies[i] = podReview(fmt.Sprintf("cold-%d", i), []string{img})
		}
		_, ans := w.load(b, rate, len(pool), func(i int) answer { return w.post(bodies[i]) })
		// Reviews the webhook could not verify in time (it sheds what
		// it cannot do by the deadline) are sent again, 8 at a time, so
		// that the memory is that of every digest verified and cached.
		var again []int
		for i, a := range checkAdmitted(b, ans) {
			if !a {
				again = append(again, i)
			}
		}
		work := make(chan int)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range work {
					if a := w.post(bodies[i]); !a.allowed {
						b.Errorf("sent again, %s refused: %v %s", pool[i], a.err, a.message)
					}
				}
			})
		}
		for _, i := range again {
			work <- i
		}
		close(work)
		wg.Wait()
		b.ReportMetric(float64(len(again)), "sent-again")
		bodies = nil
		m := w.metrics(b)
		rss, hwm := w.status(b)
		b.ReportMetric(setup.Seconds(), "setup-s")
		b.ReportMetric(m["signet_webhook_cache_entries"], "cached")
		b.ReportMetric(rss, "rss-MiB")
		b.ReportMetric(hwm, "hwm-MiB")
		b.ReportMetric(m["go_memstats_heap_inuse_bytes"]/(1<<20), "heap-inuse-MiB")
		b.ReportMetric(m["go_goroutines"], "goroutines")
		b.Logf("setup (push + sign %d images): %s; after the run: %v verdicts cached, VmRSS %.1f MiB, VmHWM %.1f MiB, heap in use %.1f MiB, %v goroutines",
			len(pool), setup.Round(time.Millisecond), m["signet_webhook_cache_entries"], rss, hwm, m["go_memstats_heap_inuse_bytes"]/(1<<20), m["go_goroutines"])
	})

	b.Run("cold-nocache", func(b *testing.B) {
		w := e.startWebhook(b, timeout, "--cache-ttl", "0s")
		_, ans := w.load(b, rate, n, func(i int) answer { return w.post(podReview(fmt.Sprintf("nocache-%d", i), warm)) })
		checkAdmitted(b, ans)
	})

	// drainTime is how long after a run its last verifications may still
	// run: a review waits at most timeout; a verification that started
	// just before its waiters left runs at most timeout more.
	const drainTime = 2*timeout + time.Second

	// Faults: one-container Pods whose image cannot be verified in the
	// usual way; every review must be answered within --timeout, a
	// refusal naming the failed check. goroutines-before is the count
	// before the run, goroutines-after once every verification started by
	// the run has ended (--timeout later).
	faults := e.faults(b, e.pool(b, n))
	for _, f := range faults {
		b.Run(f.name, func(b *testing.B) {
			w := e.startWebhook(b, timeout)
			before := w.metrics(b)["go_goroutines"]
			_, ans := w.load(b, rate, n, func(i int) answer { return w.post(podReview(fmt.Sprintf("%s-%d", f.name, i), []string{f.image(i)})) })
			checkFaultAnswers(b, ans, f.reason)
			time.Sleep(drainTime)
			after := w.metrics(b)["go_goroutines"]
			b.ReportMetric(before, "goroutines-before")
			b.ReportMetric(after, "goroutines-after")
		})
	}

	// soak: every fault and the warm Pod in turn at SIGNET_BENCH_SOAK_RATE
	// (100/s) for SIGNET_BENCH_SOAK (30s; 5m for issue 11), the webhook's goroutines
	// (go_goroutines) and RSS sampled every 10 s. *-start is the sample at
	// a fifth of the run (connection pools and the cache filled), *-end the
	// last one during the load; goroutines-drained is the count once the
	// last verifications have ended.
	b.Run("soak", func(b *testing.B) {
		d := envDuration(b, envSoak, 30*time.Second)
		rate := float64(envInt(b, envSoakRate, 100))
		w := e.startWebhook(b, timeout)
		if a := w.post(podReview("prime", warm)); !a.allowed {
			b.Fatalf("warm images refused: %v %s", a.err, a.message)
		}
		base := w.metrics(b)["go_goroutines"]
		type sample struct {
			at         time.Duration
			goroutines float64
			rss        float64
		}
		var samples []sample
		stop := make(chan struct{})
		sampled := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(sampled)
			t := time.NewTicker(10 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					rss, _, err1 := w.readStatus()
					m, err2 := w.readMetrics()
					if err := errors.Join(err1, err2); err != nil {
						b.Errorf("sample: %v", err)
						return
					}
					samples = append(samples, sample{time.Since(start).Round(time.Second), m["go_goroutines"], rss})
				}
			}
		}()
		k := len(faults) + 1
		s, ans := w.load(b, rate, int(rate*d.Seconds()), func(i int) answer {
			if i%k == len(faults) {
				return w.post(podReview(fmt.Sprintf("soak-%d", i), warm))
			}
			return w.post(podReview(fmt.Sprintf("soak-%d", i), []string{faults[i%k].image(i / k)}))
		})
		close(stop)
		<-sampled
		for i, a := range ans {
			if i%k == len(faults) && !a.allowed {
				b.Errorf("warm Pod refused under faults: %v %s", a.err, a.message)
				break
			}
		}
		if s.failed > 0 || s.noReason > 0 {
			b.Errorf("%d reviews not answered, %d refusals without a reason", s.failed, s.noReason)
		}
		time.Sleep(drainTime)
		drained := w.metrics(b)["go_goroutines"]
		rss, hwm := w.status(b)
		for _, x := range samples {
			b.Logf("at %s: %v goroutines, VmRSS %.1f MiB", x.at, x.goroutines, x.rss)
		}
		b.Logf("before the load %v goroutines; drained %v goroutines, VmRSS %.1f MiB, VmHWM %.1f MiB", base, drained, rss, hwm)
		if len(samples) >= 2 {
			first, last := samples[len(samples)/5], samples[len(samples)-1]
			b.ReportMetric(first.goroutines, "goroutines-start")
			b.ReportMetric(last.goroutines, "goroutines-end")
			b.ReportMetric(first.rss, "rss-start-MiB")
			b.ReportMetric(last.rss, "rss-end-MiB")
		}
		b.ReportMetric(base, "goroutines-base")
		b.ReportMetric(drained, "goroutines-drained")
		b.ReportMetric(hwm, "hwm-MiB")
	})
}
