package admission

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
	"github.com/signet-dev/signet/verifier"
)

// TestCacheExpiry: a trusted verdict is kept for the TTL, but never past
// the revocation evidence's nextUpdate, the signing chain's validity (when
// no timestamp vouches for the signing time) or the signature's expiry.
func TestCacheExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v := &Verifier{opts: VerifierOptions{CacheTTL: time.Hour}}
	chain := func(notAfter time.Duration) *signature.Content {
		return &signature.Content{CertificateChain: []*x509.Certificate{{NotAfter: now.Add(notAfter)}, {NotAfter: now.Add(48 * time.Hour)}}}
	}
	for _, tc := range []struct {
		name string
		res  *verifier.Result
		want time.Duration
	}{
		{name: "ttl", res: &verifier.Result{Content: chain(24 * time.Hour)}, want: time.Hour},
		{name: "leaf expires first", res: &verifier.Result{Content: chain(10 * time.Minute)}, want: 10 * time.Minute},
		{name: "timestamped: leaf expiry does not bound", res: &verifier.Result{Content: chain(-time.Hour), Timestamp: &timestamp.Range{}}, want: time.Hour},
		{name: "OCSP nextUpdate", res: &verifier.Result{Content: chain(24 * time.Hour), Revocation: []revocation.CertResult{
			{Result: revocation.OK, ValidUntil: now.Add(7 * time.Minute)}, {Result: revocation.NonRevokable}}}, want: 7 * time.Minute},
		{name: "TSA chain CRL nextUpdate", res: &verifier.Result{Content: chain(24 * time.Hour), Timestamp: &timestamp.Range{},
			TimestampRevocation: []revocation.CertResult{{Result: revocation.OK, ValidUntil: now.Add(3 * time.Minute)}}}, want: 3 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := v.expiry(now, tc.res).Sub(now); got != tc.want {
				t.Fatalf("kept %s, want %s", got, tc.want)
			}
		})
	}
	expiring := &verifier.Result{Content: chain(24 * time.Hour)}
	expiring.Content.Signed.Expiry = now.Add(2 * time.Minute)
	if got := v.expiry(now, expiring).Sub(now); got != 2*time.Minute {
		t.Fatalf("signature expiry: kept %s", got)
	}
}

// TestVerdictCacheBounded: the cache never holds more than its maximum and
// drops expired entries first.
func TestVerdictCacheBounded(t *testing.T) {
	now := time.Now()
	c := newVerdictCache(100)
	for i := range 1000 {
		c.put(cacheKey{digest: string(rune(i))}, Result{}, now.Add(time.Minute), now)
		if c.len() > 100 {
			t.Fatalf("%d entries", c.len())
		}
	}
	if _, ok := c.get(cacheKey{digest: string(rune(999))}, now); !ok {
		t.Fatal("the newest entry is gone")
	}
	if _, ok := c.get(cacheKey{digest: string(rune(999))}, now.Add(time.Minute)); ok {
		t.Fatal("an expired entry was returned")
	}
	c.put(cacheKey{digest: "past"}, Result{}, now, now)
	if _, ok := c.get(cacheKey{digest: "past"}, now); ok {
		t.Fatal("an entry already expired was stored")
	}
}
