package truststore

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

// recorder is a slog.Handler that keeps every record, to assert warnings.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// warnings returns "message path=..." for each warning.
func (r *recorder) warnings() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		if rec.Level != slog.LevelWarn {
			continue
		}
		s := rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			s += " " + a.Key + "=" + a.Value.String()
			return true
		})
		out = append(out, s)
	}
	return out
}

// fixture is a trust store root with a test PKI.
type fixture struct {
	root  string
	store *FileStore
	log   *recorder
	chain *testpki.Chain
	// selfSigned is a self-signed code-signing leaf (no BC), like the
	// certificate `generate-test` makes.
	selfSigned *x509.Certificate
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := filepath.Join(t.TempDir(), "truststore")
	rec := &recorder{}
	chain := testpki.NewChain(t, "ec-256")
	ss := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("self"), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
		c.BasicConstraintsValid = false
	}}, nil)
	return &fixture{root: root, store: NewFileStore(root, slog.New(rec)), log: rec, chain: chain, selfSigned: ss.Cert}
}

// put writes a file into <root>/x509/<t>/<name>/<file>.
func (f *fixture) put(t *testing.T, typ Type, name, file string, data []byte) string {
	t.Helper()
	dir := filepath.Join(f.root, "x509", string(typ), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, file)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func symlinkOrSkip(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
}

func rawOf(certs []*x509.Certificate) [][]byte {
	var out [][]byte
	for _, c := range certs {
		out = append(out, c.Raw)
	}
	return out
}

func sameCerts(t *testing.T, got, want []*x509.Certificate) {
	t.Helper()
	g, w := rawOf(got), rawOf(want)
	if len(g) != len(w) {
		t.Fatalf("got %d certificates, want %d", len(g), len(w))
	}
	for i := range g {
		if !bytes.Equal(g[i], w[i]) {
			t.Fatalf("certificate %d differs", i)
		}
	}
}

// TS-1, TS-2: a store is the certificates of every regular file in it, in
// file name order; PEM (one or many blocks) or DER; any extension (the
// reference reads every file; the spec names .pem/.crt/.cer).
func TestGetCertificatesReadsEveryFile(t *testing.T) {
	f := newFixture(t)
	root, inter := f.chain.Root.Cert, f.chain.Intermediate.Cert
	f.put(t, TypeCA, "acme", "a-root.pem", testpki.CertsPEM(root))
	f.put(t, TypeCA, "acme", "b-inter.der", inter.Raw)
	f.put(t, TypeCA, "acme", "c-both.txt", testpki.CertsPEM(inter, root))
	f.put(t, TypeCA, "acme", "d-self.crt", append(append([]byte{}, f.selfSigned.Raw...), root.Raw...)) // concatenated DER
	got, err := f.store.GetCertificates(context.Background(), TypeCA, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sameCerts(t, got, []*x509.Certificate{root, inter, inter, root, f.selfSigned, root})
	if w := f.log.warnings(); len(w) != 0 {
		t.Errorf("unexpected warnings: %v", w)
	}
}

// §3.4 rules per store type.
func TestGetCertificatesStoreTypeRules(t *testing.T) {
	f := newFixture(t)
	leaf := f.chain.Leaf.Cert // issued by the intermediate: not CA, not self-signed
	tsaLeaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("tsa"), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}
	}}, f.chain.Intermediate).Cert
	tests := []struct {
		name    string
		typ     Type
		cert    *x509.Certificate
		wantErr bool
	}{
		{name: "ca: root", typ: TypeCA, cert: f.chain.Root.Cert},
		{name: "ca: intermediate CA", typ: TypeCA, cert: f.chain.Intermediate.Cert},
		{name: "ca: self-signed leaf", typ: TypeCA, cert: f.selfSigned},
		{name: "ca: issued leaf", typ: TypeCA, cert: leaf, wantErr: true},
		{name: "signingAuthority: root", typ: TypeSigningAuthority, cert: f.chain.Root.Cert},
		{name: "signingAuthority: self-signed leaf", typ: TypeSigningAuthority, cert: f.selfSigned},
		{name: "signingAuthority: issued leaf", typ: TypeSigningAuthority, cert: leaf, wantErr: true},
		{name: "tsa: root", typ: TypeTSA, cert: f.chain.Root.Cert},
		{name: "tsa: intermediate is not a root", typ: TypeTSA, cert: f.chain.Intermediate.Cert, wantErr: true},
		{name: "tsa: self-signed non-CA", typ: TypeTSA, cert: f.selfSigned, wantErr: true},
		{name: "tsa: issued TSA leaf", typ: TypeTSA, cert: tsaLeaf, wantErr: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "s" + string(rune('a'+i))
			f.put(t, tc.typ, name, "cert.pem", testpki.CertsPEM(tc.cert))
			got, err := f.store.GetCertificates(context.Background(), tc.typ, name)
			if !tc.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				sameCerts(t, got, []*x509.Certificate{tc.cert})
				return
			}
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("err = %v, want ErrInvalidCertificate", err)
			}
			var se *StoreError
			if !errors.As(err, &se) || se.File != "cert.pem" || se.Type != tc.typ || se.Name != name {
				t.Fatalf("error %v does not name the store and file", err)
			}
			if !strings.Contains(err.Error(), "cert.pem") {
				t.Errorf("message %q does not name the file", err)
			}
		})
	}
}

// TS-3: a symlinked store directory or certificate file fails the load.
func TestGetCertificatesRejectsSymlinks(t *testing.T) {
	ctx := context.Background()
	t.Run("store directory", func(t *testing.T) {
		f := newFixture(t)
		f.put(t, TypeCA, "real", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
		symlinkOrSkip(t, filepath.Join(f.root, "x509", "ca", "real"), filepath.Join(f.root, "x509", "ca", "linked"))
		_, err := f.store.GetCertificates(ctx, TypeCA, "linked")
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("err = %v, want ErrNotRegular", err)
		}
		if !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("message %q does not say symbolic link", err)
		}
	})
	t.Run("certificate file", func(t *testing.T) {
		f := newFixture(t)
		f.put(t, TypeCA, "acme", "a.pem", testpki.CertsPEM(f.chain.Root.Cert))
		target := filepath.Join(t.TempDir(), "outside.pem")
		if err := os.WriteFile(target, testpki.CertsPEM(f.chain.Root.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
		symlinkOrSkip(t, target, filepath.Join(f.root, "x509", "ca", "acme", "b.pem"))
		_, err := f.store.GetCertificates(ctx, TypeCA, "acme")
		var se *StoreError
		if !errors.Is(err, ErrNotRegular) || !errors.As(err, &se) || se.File != "b.pem" {
			t.Fatalf("err = %v, want ErrNotRegular naming b.pem", err)
		}
	})
	t.Run("symlinked sub-directory is an error, not ignored", func(t *testing.T) {
		f := newFixture(t)
		f.put(t, TypeCA, "acme", "a.pem", testpki.CertsPEM(f.chain.Root.Cert))
		symlinkOrSkip(t, t.TempDir(), filepath.Join(f.root, "x509", "ca", "acme", "dirlink"))
		if _, err := f.store.GetCertificates(ctx, TypeCA, "acme"); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("err = %v, want ErrNotRegular", err)
		}
	})
}

// TS-4: sub-directories inside a named store, and the certificates in them,
// are ignored with a warning. Known divergence (digest §10 item 7): the
// reference fails the load instead.
func TestGetCertificatesIgnoresSubdirectoryWithWarning(t *testing.T) {
	f := newFixture(t)
	f.put(t, TypeCA, "acme", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	sub := filepath.Join(f.root, "x509", "ca", "acme", "nested")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	// What is inside is never read: garbage and a valid cert alike.
	if err := os.WriteFile(filepath.Join(sub, "garbage.pem"), []byte("not a cert"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "inter.pem"), testpki.CertsPEM(f.chain.Intermediate.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := f.store.GetCertificates(context.Background(), TypeCA, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sameCerts(t, got, []*x509.Certificate{f.chain.Root.Cert})
	w := f.log.warnings()
	if len(w) != 1 || !strings.Contains(w[0], "TS-4") || !strings.Contains(w[0], sub) || !strings.Contains(w[0], "ca:acme") {
		t.Fatalf("warnings = %q, want one TS-4 warning naming %s", w, sub)
	}
	// A nil logger discards the warning and still loads.
	if _, err := NewFileStore(f.root, nil).GetCertificates(context.Background(), TypeCA, "acme"); err != nil {
		t.Fatal(err)
	}
}

// TS-2, TS-6: a non-certificate file, an empty store, a store holding only
// a sub-directory and a missing store are errors.
func TestGetCertificatesFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.put(t, TypeCA, "garbage", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	f.put(t, TypeCA, "garbage", "readme.txt", []byte("these are my roots\n"))
	f.put(t, TypeCA, "truncated", "root.pem", testpki.CertsPEM(f.chain.Root.Cert)[:200])
	f.put(t, TypeCA, "keyfile", "key.pem", testpki.KeyPEM(t, f.chain.Leaf.Key))
	f.put(t, TypeCA, "zero", "empty.pem", nil)
	if err := os.MkdirAll(filepath.Join(f.root, "x509", "ca", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.root, "x509", "ca", "onlysub", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.put(t, TypeCA, "notadir", "x", nil)
	if err := os.Rename(filepath.Join(f.root, "x509", "ca", "notadir", "x"), filepath.Join(f.root, "x509", "ca", "plainfile")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		store    string
		wantErr  error
		wantFile string
	}{
		{name: "garbage file", store: "garbage", wantErr: ErrInvalidCertificate, wantFile: "readme.txt"},
		{name: "truncated PEM", store: "truncated", wantErr: ErrInvalidCertificate, wantFile: "root.pem"},
		{name: "private key file", store: "keyfile", wantErr: ErrInvalidCertificate, wantFile: "key.pem"},
		{name: "empty file", store: "zero", wantErr: ErrInvalidCertificate, wantFile: "empty.pem"},
		{name: "empty store", store: "empty", wantErr: ErrEmptyStore},
		{name: "only a sub-directory", store: "onlysub", wantErr: ErrEmptyStore},
		{name: "missing store", store: "absent", wantErr: ErrStoreNotFound},
		{name: "store is a file", store: "plainfile", wantErr: ErrNotRegular},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.store.GetCertificates(ctx, TypeCA, tc.store)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			var se *StoreError
			if !errors.As(err, &se) || se.File != tc.wantFile || se.Name != tc.store {
				t.Fatalf("error %v: StoreError file %q, want %q", err, se.File, tc.wantFile)
			}
			if tc.wantFile != "" && !strings.Contains(err.Error(), tc.wantFile) {
				t.Errorf("message %q does not name %s", err, tc.wantFile)
			}
		})
	}
	_, err := f.store.GetCertificates(ctx, TypeCA, "absent")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing store does not wrap fs.ErrNotExist: %v", err)
	}
}

// TS-6 names and TS-1 types; names that would traverse out of the type
// directory are rejected before any file system access.
func TestInvalidTypesAndNames(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	// A store reachable by traversal, to prove it is never read.
	f.put(t, TypeCA, "x", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	f.put(t, TypeTSA, "x", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	tests := []struct {
		name    string
		typ     Type
		store   string
		wantErr error
	}{
		{name: "empty name", typ: TypeCA, store: "", wantErr: ErrInvalidStoreName},
		{name: "dot", typ: TypeCA, store: ".", wantErr: ErrInvalidStoreName},
		{name: "dot dot", typ: TypeCA, store: "..", wantErr: ErrInvalidStoreName},
		{name: "traversal", typ: TypeCA, store: "../tsa/x", wantErr: ErrInvalidStoreName},
		{name: "parent traversal", typ: TypeCA, store: "../x", wantErr: ErrInvalidStoreName},
		{name: "absolute", typ: TypeCA, store: "/etc", wantErr: ErrInvalidStoreName},
		{name: "backslash", typ: TypeCA, store: `..\x`, wantErr: ErrInvalidStoreName},
		{name: "space", typ: TypeCA, store: "a b", wantErr: ErrInvalidStoreName},
		{name: "colon", typ: TypeCA, store: "ca:x", wantErr: ErrInvalidStoreName},
		{name: "NUL", typ: TypeCA, store: "x\x00", wantErr: ErrInvalidStoreName},
		{name: "newline", typ: TypeCA, store: "x\n", wantErr: ErrInvalidStoreName},
		{name: "unicode", typ: TypeCA, store: "é", wantErr: ErrInvalidStoreName},
		{name: "empty type", typ: "", store: "x", wantErr: ErrInvalidStoreType},
		{name: "wrong case type", typ: "CA", store: "x", wantErr: ErrInvalidStoreType},
		{name: "unknown type", typ: "x509", store: "x", wantErr: ErrInvalidStoreType},
		{name: "type traversal", typ: "../ca", store: "x", wantErr: ErrInvalidStoreType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.store.GetCertificates(ctx, tc.typ, tc.store); !errors.Is(err, tc.wantErr) {
				t.Errorf("GetCertificates: err = %v, want %v", err, tc.wantErr)
			}
			if _, err := f.store.Add(ctx, tc.typ, tc.store, "unused.pem"); !errors.Is(err, tc.wantErr) {
				t.Errorf("Add: err = %v, want %v", err, tc.wantErr)
			}
			if _, err := f.store.Show(ctx, tc.typ, tc.store, "root.pem"); !errors.Is(err, tc.wantErr) {
				t.Errorf("Show: err = %v, want %v", err, tc.wantErr)
			}
			if err := f.store.Delete(ctx, tc.typ, tc.store, ""); !errors.Is(err, tc.wantErr) {
				t.Errorf("Delete: err = %v, want %v", err, tc.wantErr)
			}
		})
	}
	// Nothing was deleted by the traversal attempts.
	for _, typ := range []Type{TypeCA, TypeTSA} {
		if _, err := f.store.GetCertificates(ctx, typ, "x"); err != nil {
			t.Errorf("%s:x damaged: %v", typ, err)
		}
	}
	for _, ok := range []string{"a", "A-b_c.d", "wabbit-networks.io", "..x", "x.."} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
}

func TestGetCertificatesHonoursContext(t *testing.T) {
	f := newFixture(t)
	f.put(t, TypeCA, "acme", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.store.GetCertificates(ctx, TypeCA, "acme"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestStoreEntryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("creates many files")
	}
	f := newFixture(t)
	data := testpki.CertsPEM(f.chain.Root.Cert)
	for i := 0; i <= MaxStoreEntries; i++ {
		f.put(t, TypeCA, "big", fmt.Sprintf("c%05d.pem", i), data)
	}
	if _, err := f.store.GetCertificates(context.Background(), TypeCA, "big"); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v, want an entry limit error", err)
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode() & (fs.ModePerm | fs.ModeDir | fs.ModeSymlink); got != want {
		t.Errorf("%s mode = %v, want %v", path, got, want)
	}
}

// countingStore counts GetCertificates calls.
type countingStore struct {
	Store
	calls int
}

func (c *countingStore) GetCertificates(ctx context.Context, t Type, name string) ([]*x509.Certificate, error) {
	c.calls++
	return c.Store.GetCertificates(ctx, t, name)
}

// TestCache: a store is read once; errors are not cached.
func TestCache(t *testing.T) {
	root := t.TempDir()
	fs := NewFileStore(root, nil)
	chain := testpki.NewChain(t, "ec-256")
	src := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(src, testpki.CertsPEM(chain.Root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: fs}
	c := NewCache(cs)
	ctx := context.Background()
	if _, err := c.GetCertificates(ctx, TypeCA, "acme"); err == nil {
		t.Fatal("missing store read")
	}
	if _, err := fs.Add(ctx, TypeCA, "acme", src); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		certs, err := c.GetCertificates(ctx, TypeCA, "acme")
		if err != nil || len(certs) != 1 {
			t.Fatalf("%v %v", certs, err)
		}
	}
	if cs.calls != 2 {
		t.Errorf("underlying store read %d times, want 2 (one failure, one success)", cs.calls)
	}
}
