package admission_test

import (
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/signet-dev/signet/admission"
)

// benchLatency runs b.N reviews of a one-container pod from 8 goroutines
// and reports p50/p99/max latency per review.
func benchLatency(b *testing.B, cacheTTL time.Duration) {
	e := newTestEnv(b)
	v := newVerifier(b, e, func(o *admission.VerifierOptions) { o.CacheTTL = cacheTTL })
	h := admission.New(v, admission.Options{})
	review(b, h, "/validate", admissionv1.Create, podKind, "ns", pod(e.signed), nil) // warm connections (and cache)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	b.SetParallelism(4) // 4 x GOMAXPROCS goroutines
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			start := time.Now()
			r := review(b, h, "/validate", admissionv1.Create, podKind, "ns", pod(e.signed), nil)
			d := time.Since(start)
			if !r.Allowed {
				b.Errorf("refused: %s", message(r))
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	})
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}

// BenchmarkValidateWarm: every review answered from the verdict cache
// (digest references: no registry request).
func BenchmarkValidateWarm(b *testing.B) { benchLatency(b, time.Hour) }

// BenchmarkValidateCold: the cache disabled, every review verifies against
// the loopback registry (resolve, referrers, signature fetch, verify).
func BenchmarkValidateCold(b *testing.B) { benchLatency(b, -1) }

// BenchmarkRegistryDown: every review refused because the registry does
// not answer (connection refused), with its reason.
func BenchmarkRegistryDown(b *testing.B) {
	e := newTestEnv(b)
	h := admission.New(newVerifier(b, e, nil), admission.Options{Timeout: 2 * time.Second})
	image := "127.0.0.1:1/team/app@" + e.signedDesc.Digest.String()
	for b.Loop() {
		if r := review(b, h, "/validate", admissionv1.Create, podKind, "ns", pod(image), nil); r.Allowed {
			b.Fatal("admitted")
		}
	}
	runtime.GC()
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
}
