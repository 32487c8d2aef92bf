package admission

import (
	"sync"
	"time"
)

// DefaultCacheTTL is VerifierOptions.CacheTTL's default.
const DefaultCacheTTL = 5 * time.Minute

// NegativeCacheTTL bounds how long a refusal (not trusted, no signature) is
// kept: an image signed after a refusal is admitted within this time.
// Errors (registry down, timeouts) are never kept.
const NegativeCacheTTL = 10 * time.Second

// DefaultMaxCacheEntries is VerifierOptions.MaxCacheEntries' default. An
// entry takes a few hundred bytes: 100,000 entries are tens of MiB.
const DefaultMaxCacheEntries = 100_000

// cacheKey is what a verdict depends on: the policy set as loaded (its name
// and generation: a reload starts afresh), the repository (trust policy
// statements are selected by repository, so one digest can be trusted in
// one repository and not in another) and the manifest digest.
type cacheKey struct {
	set    string
	gen    uint64
	repo   string
	digest string
}

type cacheEntry struct {
	res     Result
	expires time.Time
}

// verdictCache holds verdicts until they expire. When full, expired
// entries are removed, then the entries closest to expiry.
type verdictCache struct {
	mu      sync.Mutex
	max     int
	entries map[cacheKey]cacheEntry
}

func newVerdictCache(max int) *verdictCache {
	return &verdictCache{max: max, entries: make(map[cacheKey]cacheEntry)}
}

func (c *verdictCache) get(k cacheKey, now time.Time) (Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return Result{}, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, k)
		return Result{}, false
	}
	return e.res, true
}

func (c *verdictCache) put(k cacheKey, res Result, expires, now time.Time) {
	if !expires.After(now) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[k] = cacheEntry{res: res, expires: expires}
}

// evict makes room for one entry: every expired entry goes; if none has,
// a tenth of the entries, picked at random (map order), go.
func (c *verdictCache) evict(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) < c.max {
		return
	}
	n := max(1, c.max/10)
	for k := range c.entries { // map order: a random sample
		delete(c.entries, k)
		if n--; n == 0 {
			break
		}
	}
}

func (c *verdictCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
