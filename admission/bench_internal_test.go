package admission

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkCacheMemory: the heap taken by 10,000 cached verdicts, each as
// a real trusted Result carries (image, repository, digest, set,
// statement).
func BenchmarkCacheMemory(b *testing.B) {
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := newVerdictCache(DefaultMaxCacheEntries)
		now := time.Now()
		for i := range 10_000 {
			d := fmt.Sprintf("sha256:%064x", i)
			repo := fmt.Sprintf("registry.example.com/team/app-%d", i%100)
			c.put(cacheKey{set: DefaultSetName, gen: 1, repo: repo, digest: d},
				Result{Image: repo + "@" + d, Repository: repo, Digest: d, PolicySet: DefaultSetName, Statement: "acme-everywhere", Allowed: true},
				now.Add(time.Hour), now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/10k")
		runtime.KeepAlive(c)
	}
}
