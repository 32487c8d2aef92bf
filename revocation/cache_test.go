package revocation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// testBundle makes a bundle of Go-made CRLs from ca; delta adds a delta.
func testBundle(t testing.TB, ca *testpki.Issued, number int64, delta bool) *Bundle {
	t.Helper()
	now := time.Now()
	base, err := x509.ParseRevocationList(goCRL(t, ca, number, now.Add(-time.Minute), now.Add(time.Hour), nil))
	if err != nil {
		t.Fatal(err)
	}
	b := &Bundle{BaseCRL: base}
	if delta {
		d, err := x509.ParseRevocationList(goCRL(t, ca, number+1, now.Add(-time.Minute), now.Add(time.Hour), nil, deltaIndicator(t, number)))
		if err != nil {
			t.Fatal(err)
		}
		b.DeltaCRL = d
	}
	return b
}

// TestFileCacheFormat: one file per URL named by the hex SHA-256 of the
// URL, JSON {"baseCRL","deltaCRL"} of base64 DER, mode 0600 in a 0700
// directory (REV-8, the reference tool's format).
func TestFileCacheFormat(t *testing.T) {
	ca := newCA(t, "ca", nil, nil)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache", "crl")
	c := &FileCache{Dir: dir}
	const url = "http://crl.example.com/ca.crl"
	sum := sha256.Sum256([]byte(url))
	wantPath := filepath.Join(dir, hex.EncodeToString(sum[:]))
	if c.Path(url) != wantPath {
		t.Fatalf("Path = %s, want %s", c.Path(url), wantPath)
	}
	if _, err := c.Get(ctx, url); !errors.Is(err, ErrCacheMiss) {
		t.Fatalf("Get before Set: %v, want ErrCacheMiss", err)
	}

	for _, withDelta := range []bool{false, true} {
		t.Run(fmt.Sprintf("delta=%v", withDelta), func(t *testing.T) {
			b := testBundle(t, ca, 5, withDelta)
			if err := c.Set(ctx, url, b); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]string
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, data)
			}
			if raw["baseCRL"] != base64.StdEncoding.EncodeToString(b.BaseCRL.Raw) {
				t.Errorf("baseCRL is not the base64 DER of the base CRL")
			}
			_, hasDelta := raw["deltaCRL"]
			if hasDelta != withDelta || withDelta && raw["deltaCRL"] != base64.StdEncoding.EncodeToString(b.DeltaCRL.Raw) {
				t.Errorf("deltaCRL = %q, want the delta's base64 DER or no key", raw["deltaCRL"])
			}
			if len(raw) != 1+btoi(withDelta) {
				t.Errorf("unexpected keys in %s", data)
			}
			got, err := c.Get(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.BaseCRL.Raw, b.BaseCRL.Raw) || (got.DeltaCRL != nil) != withDelta ||
				withDelta && !bytes.Equal(got.DeltaCRL.Raw, b.DeltaCRL.Raw) {
				t.Errorf("Get does not return what Set stored")
			}
			for path, want := range map[string]os.FileMode{wantPath: 0o600, dir: 0o700} {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
				}
			}
		})
	}

	t.Run("an entry written by hand in the reference format", func(t *testing.T) {
		b := testBundle(t, ca, 9, false)
		other := "http://crl.example.com/other.crl"
		doc := `{"baseCRL":"` + base64.StdEncoding.EncodeToString(b.BaseCRL.Raw) + `"}`
		if err := os.WriteFile(c.Path(other), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := c.Get(ctx, other)
		if err != nil || got.BaseCRL.Number.Int64() != 9 || got.DeltaCRL != nil {
			t.Fatalf("Get = %+v, %v", got, err)
		}
	})

	faults := []struct {
		name    string
		content string
	}{
		{"not JSON", "garbage"},
		{"no baseCRL", `{"deltaCRL":""}`},
		{"baseCRL not a CRL", `{"baseCRL":"` + base64.StdEncoding.EncodeToString([]byte("x")) + `"}`},
		{"baseCRL not base64", `{"baseCRL":"%%%"}`},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			u := "http://crl.example.com/" + f.name
			if err := os.WriteFile(c.Path(u), []byte(f.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctx, u); err == nil || errors.Is(err, ErrCacheMiss) {
				t.Errorf("Get = %v, want an error that is not a miss", err)
			}
		})
	}
	t.Run("no directory", func(t *testing.T) {
		if err := (&FileCache{}).Set(ctx, url, testBundle(t, ca, 1, false)); err == nil {
			t.Error("Set without Dir succeeded")
		}
		if _, err := (&FileCache{}).Get(ctx, url); err == nil || errors.Is(err, ErrCacheMiss) {
			t.Errorf("Get without Dir = %v", err)
		}
	})
	t.Run("no base CRL", func(t *testing.T) {
		if err := c.Set(ctx, url, &Bundle{}); err == nil {
			t.Error("Set of an empty bundle succeeded")
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFileCacheValidator: the Validator reads CRLs from the cache while
// they are current, downloads and replaces them when their nextUpdate has
// passed, never trusts a cached CRL it cannot verify, and survives a
// broken cache with one warning (REV-8).
func TestFileCacheValidator(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	stranger := newCA(t, "intermediate", root, nil)
	srv := newCRLServer(t)
	now := time.Now()
	setup := func(t *testing.T, name string) (*testpki.Issued, *opensslCA, string) {
		url := srv.URL + "/" + name + ".crl"
		leaf := newLeaf(t, "leaf", inter, urls(nil, url))
		ca := newOpenSSLCA(t, inter)
		ca.writeIndex(t, good(leaf))
		return leaf, ca, url
	}

	t.Run("second process reads the cache", func(t *testing.T) {
		dir := t.TempDir()
		leaf, ca, url := setup(t, "hit")
		srv.put("/hit.crl", ca.genCRL(t, crlOptions{}))
		first := validate(t, &Validator{Cache: &FileCache{Dir: dir}}, time.Time{}, leaf, inter, root)
		wantCert(t, first[0], OK, MethodCRL, nil)
		second := validate(t, &Validator{Cache: &FileCache{Dir: dir}}, time.Time{}, leaf, inter, root)
		wantCert(t, second[0], OK, MethodCRL, nil)
		if n := srv.count("/hit.crl"); n != 1 {
			t.Errorf("CRL downloaded %d times, want 1", n)
		}
		if !strings.Contains(second[0].Reason, "(cached)") || strings.Contains(first[0].Reason, "(cached)") {
			t.Errorf("reasons %q, %q do not tell the cached answer apart", first[0].Reason, second[0].Reason)
		}
		if _, err := os.Stat((&FileCache{Dir: dir}).Path(url)); err != nil {
			t.Error(err)
		}
	})

	t.Run("expired entry is downloaded again", func(t *testing.T) {
		dir := t.TempDir()
		cache := &FileCache{Dir: dir}
		leaf, ca, url := setup(t, "expiry")
		srv.put("/expiry.crl", ca.genCRL(t, crlOptions{lastUpdate: now.Add(-time.Minute), nextUpdate: now.Add(time.Hour)}))
		validate(t, &Validator{Cache: cache}, time.Time{}, leaf, inter, root)
		fresh := ca.genCRL(t, crlOptions{lastUpdate: now.Add(-time.Minute), nextUpdate: now.Add(48 * time.Hour)})
		srv.put("/expiry.crl", fresh)
		// An hour and a half on, the cached CRL has expired.
		later := func() time.Time { return now.Add(90 * time.Minute) }
		res := validate(t, &Validator{Cache: cache, Now: later}, time.Time{}, leaf, inter, root)
		wantCert(t, res[0], OK, MethodCRL, nil)
		if n := srv.count("/expiry.crl"); n != 2 {
			t.Errorf("CRL downloaded %d times, want 2", n)
		}
		got, err := cache.Get(context.Background(), url)
		if err != nil || !bytes.Equal(got.BaseCRL.Raw, fresh) {
			t.Errorf("the cache does not hold the new CRL: %v", err)
		}
	})

	t.Run("cached CRL signed by another key is not used", func(t *testing.T) {
		dir := t.TempDir()
		cache := &FileCache{Dir: dir}
		leaf, ca, url := setup(t, "forged")
		srv.put("/forged.crl", ca.genCRL(t, crlOptions{}))
		forged, err := x509.ParseRevocationList(goCRL(t, stranger, 99, now.Add(-time.Minute), now.Add(time.Hour),
			[]x509.RevocationListEntry{{SerialNumber: leaf.Cert.SerialNumber, RevocationTime: now}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.Set(context.Background(), url, &Bundle{BaseCRL: forged}); err != nil {
			t.Fatal(err)
		}
		res := validate(t, &Validator{Cache: cache}, time.Time{}, leaf, inter, root)
		wantCert(t, res[0], OK, MethodCRL, nil)
		if n := srv.count("/forged.crl"); n != 1 {
			t.Errorf("CRL downloaded %d times, want 1", n)
		}
	})

	t.Run("unreadable entries: one warning", func(t *testing.T) {
		dir := t.TempDir()
		cache := &FileCache{Dir: dir}
		interURL := srv.URL + "/broken-root.crl"
		inter2 := newCA(t, "intermediate", root, urls(nil, interURL))
		leafURL := srv.URL + "/broken.crl"
		leaf := newLeaf(t, "leaf", inter2, urls(nil, leafURL))
		for _, x := range []struct {
			ca   *testpki.Issued
			cert *testpki.Issued
			path string
		}{{inter2, leaf, "/broken.crl"}, {root, inter2, "/broken-root.crl"}} {
			c := newOpenSSLCA(t, x.ca)
			c.writeIndex(t, good(x.cert))
			srv.put(x.path, c.genCRL(t, crlOptions{}))
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{interURL, leafURL} {
			if err := os.WriteFile(cache.Path(u), []byte("{broken"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		var logs logBuffer
		res := validate(t, &Validator{Cache: cache, Logger: newLogger(&logs)}, time.Time{}, leaf, inter2, root)
		wantCert(t, res[0], OK, MethodCRL, nil)
		wantCert(t, res[1], OK, MethodCRL, nil)
		if n := strings.Count(logs.String(), "CRL cache error discarded"); n != 1 {
			t.Errorf("%d cache warnings, want 1:\n%s", n, logs.String())
		}
		if _, err := cache.Get(context.Background(), leafURL); err != nil {
			t.Errorf("the broken entry was not replaced: %v", err)
		}
	})

	t.Run("unwritable cache: one warning", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-dir")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		leaf, ca, _ := setup(t, "unwritable")
		srv.put("/unwritable.crl", ca.genCRL(t, crlOptions{}))
		var logs logBuffer
		res := validate(t, &Validator{Cache: &FileCache{Dir: file}, Logger: newLogger(&logs)}, time.Time{}, leaf, inter, root)
		wantCert(t, res[0], OK, MethodCRL, nil)
		if n := strings.Count(logs.String(), "CRL cache error discarded"); n != 1 {
			t.Errorf("%d cache warnings, want 1:\n%s", n, logs.String())
		}
	})

	t.Run("base and delta are cached together", func(t *testing.T) {
		dir := t.TempDir()
		leaf, ca, url := setup(t, "withdelta")
		srv.put("/withdelta.crl", ca.genCRL(t, crlOptions{exts: []string{"freshestCRL = URI:" + srv.URL + "/withdelta-delta.crl"}}))
		srv.put("/withdelta-delta.crl", goCRL(t, inter, 0x11, now.Add(-time.Minute), now.Add(time.Hour), nil, deltaIndicator(t, 0x10)))
		for range 2 {
			res := validate(t, &Validator{Cache: &FileCache{Dir: dir}}, time.Time{}, leaf, inter, root)
			wantCert(t, res[0], OK, MethodCRL, nil)
		}
		if a, b := srv.count("/withdelta.crl"), srv.count("/withdelta-delta.crl"); a != 1 || b != 1 {
			t.Errorf("downloads: base %d, delta %d; want 1 each", a, b)
		}
		got, err := (&FileCache{Dir: dir}).Get(context.Background(), url)
		if err != nil || got.DeltaCRL == nil {
			t.Errorf("the cached bundle has no delta: %v", err)
		}
	})
}

// TestFileCacheConcurrentWriters: writers in goroutines and in other
// processes replace one entry again and again while readers read it; every
// read sees one whole entry, never a mix or a partial file, and no
// temporary file is left behind.
func TestFileCacheConcurrentWriters(t *testing.T) {
	ca := newCA(t, "ca", nil, nil)
	dir := t.TempDir()
	cache := &FileCache{Dir: dir}
	const url = "http://crl.example.com/shared.crl"
	bundles := []*Bundle{testBundle(t, ca, 1, false), testBundle(t, ca, 2, true), testBundle(t, ca, 3, false), testBundle(t, ca, 4, true)}
	known := map[string]bool{}
	for _, b := range bundles {
		key := string(b.BaseCRL.Raw)
		if b.DeltaCRL != nil {
			key += string(b.DeltaCRL.Raw)
		}
		known[key] = true
	}
	const rounds = 150

	// Two writer processes: this test binary re-run as a helper.
	var procs []*exec.Cmd
	for i, b := range bundles[2:] {
		crlFile := filepath.Join(t.TempDir(), "bundle.json")
		data, _ := json.Marshal(fileCacheContent{BaseCRL: b.BaseCRL.Raw, DeltaCRL: rawOrNil(b.DeltaCRL)})
		if err := os.WriteFile(crlFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestFileCacheWriterProcess$")
		cmd.Env = append(os.Environ(), envCacheWriter+"="+strings.Join([]string{dir, url, crlFile, strconv.Itoa(rounds)}, "\n"))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs = append(procs, cmd)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("writer process %d:\n%s", i, out.String())
			}
		})
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var reads, hits int
	var mu sync.Mutex
	for _, b := range bundles[:2] {
		wg.Go(func() {
			for range rounds {
				if err := cache.Set(context.Background(), url, b); err != nil {
					mu.Lock()
					readErr = fmt.Errorf("Set: %w", err)
					mu.Unlock()
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := cache.Get(context.Background(), url)
				mu.Lock()
				reads++
				switch {
				case errors.Is(err, ErrCacheMiss):
				case err != nil:
					readErr = fmt.Errorf("Get: %w", err)
				default:
					hits++
					key := string(got.BaseCRL.Raw)
					if got.DeltaCRL != nil {
						key += string(got.DeltaCRL.Raw)
					}
					if !known[key] {
						readErr = errors.New("Get returned a bundle nobody wrote")
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for i, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("writer process %d: %v", i, err)
		}
	}
	close(stop)
	readers.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if hits == 0 {
		t.Fatalf("no read saw an entry (%d reads)", reads)
	}
	t.Logf("%d reads, %d entries seen, during %d writes", reads, hits, 4*rounds)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(cache.Path(url)) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("cache directory holds %q, want only the entry", names)
	}
}

func rawOrNil(c *x509.RevocationList) []byte {
	if c == nil {
		return nil
	}
	return c.Raw
}

// envCacheWriter makes TestFileCacheWriterProcess a cache writer: the
// value is dir, url, bundle file and rounds, newline-separated.
const envCacheWriter = "SIGNET_TEST_REVOCATION_CACHE_WRITER"

// TestFileCacheWriterProcess is the writer process of
// TestFileCacheConcurrentWriters; it does nothing on its own.
func TestFileCacheWriterProcess(t *testing.T) {
	spec := os.Getenv(envCacheWriter)
	if spec == "" {
		t.Skip("helper process of TestFileCacheConcurrentWriters")
	}
	parts := strings.Split(spec, "\n")
	data, err := os.ReadFile(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	var content fileCacheContent
	if err := json.Unmarshal(data, &content); err != nil {
		t.Fatal(err)
	}
	b := &Bundle{}
	if b.BaseCRL, err = x509.ParseRevocationList(content.BaseCRL); err != nil {
		t.Fatal(err)
	}
	if content.DeltaCRL != nil {
		if b.DeltaCRL, err = x509.ParseRevocationList(content.DeltaCRL); err != nil {
			t.Fatal(err)
		}
	}
	rounds, _ := strconv.Atoi(parts[3])
	cache := &FileCache{Dir: parts[0]}
	for range rounds {
		if err := cache.Set(context.Background(), parts[1], b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOCSPCache: good and revoked answers are reused until their
// nextUpdate, unknown answers are not kept, and without a cache every
// check asks (issue 5 item 3).
func TestOCSPCache(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	var goodLeaf, revokedLeaf, unlistedLeaf *testpki.Issued
	resp := startOCSP(t, root, ocspOptions{}, func(url string) []indexEntry {
		goodLeaf = newLeaf(t, "good", root, urls([]string{url}))
		revokedLeaf = newLeaf(t, "revoked", root, urls([]string{url}))
		unlistedLeaf = newLeaf(t, "unlisted", root, urls([]string{url}))
		return []indexEntry{good(goodLeaf), revoked(revokedLeaf, "keyCompromise", "")}
	})
	asked := 0
	expectAsked := func(t *testing.T, n int) {
		t.Helper()
		asked += n
		if got := len(resp.waitRequests(asked)); got != asked {
			t.Fatalf("responder asked %d times, want %d", got, asked)
		}
	}
	cache := &OCSPCache{}
	for _, c := range []struct {
		name string
		leaf *testpki.Issued
		want Result
		errI error
	}{{"good", goodLeaf, OK, nil}, {"revoked", revokedLeaf, Revoked, nil}} {
		t.Run(c.name, func(t *testing.T) {
			first := validate(t, &Validator{OCSPCache: cache}, time.Time{}, c.leaf, root)
			second := validate(t, &Validator{OCSPCache: cache}, time.Time{}, c.leaf, root)
			wantCert(t, first[0], c.want, MethodOCSP, nil)
			wantCert(t, second[0], c.want, MethodOCSP, nil)
			expectAsked(t, 1)
			if !strings.Contains(second[0].Reason, "(cached)") {
				t.Errorf("reason %q does not say the answer was cached", second[0].Reason)
			}
		})
	}
	t.Run("unknown is not cached", func(t *testing.T) {
		for range 2 {
			res := validate(t, &Validator{OCSPCache: cache}, time.Time{}, unlistedLeaf, root)
			wantCert(t, res[0], Unknown, MethodOCSP, ErrOCSPUnknownStatus)
		}
		expectAsked(t, 2)
	})
	t.Run("no cache", func(t *testing.T) {
		for range 2 {
			validate(t, &Validator{}, time.Time{}, goodLeaf, root)
		}
		expectAsked(t, 2)
	})
	t.Run("expired answers are asked again", func(t *testing.T) {
		// Two days on, the cached answer (nextUpdate one day ahead) has
		// expired; so has the responder's fresh one, judged at that time.
		later := func() time.Time { return time.Now().Add(48 * time.Hour) }
		res := validate(t, &Validator{OCSPCache: cache, Now: later}, time.Time{}, goodLeaf, root)
		wantCert(t, res[0], Unknown, MethodOCSP, ErrExpired)
		expectAsked(t, 1)
	})
	if cache.Len() != 1 {
		t.Errorf("cache holds %d answers, want 1 (the revoked one)", cache.Len())
	}
}

// TestOCSPCacheBound: the cache never holds more than MaxOCSPCacheEntries
// answers and drops expired ones first.
func TestOCSPCacheBound(t *testing.T) {
	now := time.Now()
	cert := func(i int) *x509.Certificate { return &x509.Certificate{Raw: []byte(strconv.Itoa(i))} }
	issuer := &x509.Certificate{Raw: []byte("issuer")}
	c := &OCSPCache{}
	for i := range MaxOCSPCacheEntries {
		next := now.Add(time.Hour)
		if i%2 == 0 {
			next = now.Add(-time.Hour)
		}
		c.put(cert(i), issuer, ocspAnswer{nextUpdate: next}, now)
	}
	if c.Len() != MaxOCSPCacheEntries {
		t.Fatalf("Len = %d", c.Len())
	}
	c.put(cert(-1), issuer, ocspAnswer{nextUpdate: now.Add(time.Hour)}, now)
	if c.Len() != MaxOCSPCacheEntries/2+1 {
		t.Errorf("after one more: Len = %d, want the %d current answers plus the new one", c.Len(), MaxOCSPCacheEntries/2)
	}
	for i := range MaxOCSPCacheEntries {
		if _, ok := c.get(cert(i), issuer, now); ok != (i%2 == 1) {
			t.Fatalf("entry %d present: %v", i, ok)
		}
	}
	for i := range MaxOCSPCacheEntries {
		c.put(cert(MaxOCSPCacheEntries+i), issuer, ocspAnswer{nextUpdate: now.Add(time.Hour)}, now)
	}
	if c.Len() != MaxOCSPCacheEntries {
		t.Errorf("Len = %d, want the bound %d", c.Len(), MaxOCSPCacheEntries)
	}
	var nilCache *OCSPCache
	nilCache.put(cert(1), issuer, ocspAnswer{nextUpdate: now.Add(time.Hour)}, now)
	if _, ok := nilCache.get(cert(1), issuer, now); ok || nilCache.Len() != 0 {
		t.Error("a nil cache kept an answer")
	}
}
