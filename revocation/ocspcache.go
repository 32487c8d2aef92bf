package revocation

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"
)

// MaxOCSPCacheEntries bounds an OCSPCache. When it is full, expired
// answers are dropped first, then arbitrary ones.
const MaxOCSPCacheEntries = 4096

// OCSPCache keeps good and revoked OCSP answers in memory until their
// nextUpdate (issue 5 item 3), keyed by the exact certificate and issuer.
// Unknown answers and failures are not kept. The zero value is an empty
// cache; an OCSPCache is safe for concurrent use and must not be copied
// after first use.
type OCSPCache struct {
	mu sync.Mutex
	m  map[ocspKey]ocspAnswer
}

type ocspKey struct {
	cert, issuer [sha256.Size]byte
}

func keyOf(cert, issuer *x509.Certificate) ocspKey {
	return ocspKey{cert: sha256.Sum256(cert.Raw), issuer: sha256.Sum256(issuer.Raw)}
}

// get returns the answer for cert while now is not after its nextUpdate.
// A nil cache holds nothing.
func (c *OCSPCache) get(cert, issuer *x509.Certificate, now time.Time) (ocspAnswer, bool) {
	if c == nil {
		return ocspAnswer{}, false
	}
	k := keyOf(cert, issuer)
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[k]
	if !ok {
		return ocspAnswer{}, false
	}
	if now.After(a.nextUpdate) {
		delete(c.m, k)
		return ocspAnswer{}, false
	}
	return a, true
}

// put stores an answer. A nil cache ignores it.
func (c *OCSPCache) put(cert, issuer *x509.Certificate, a ocspAnswer, now time.Time) {
	if c == nil {
		return
	}
	k := keyOf(cert, issuer)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[ocspKey]ocspAnswer)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= MaxOCSPCacheEntries {
		for key, old := range c.m {
			if now.After(old.nextUpdate) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < MaxOCSPCacheEntries {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = a
}

// Len returns the number of answers held, expired ones included.
func (c *OCSPCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
