package truststore

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Add copies files verbatim (mode 0600, directories 0700) and the store
// then loads.
func TestAddThenGet(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rootPEM := writeTemp(t, "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	interDER := writeTemp(t, "inter.cer", f.chain.Intermediate.Cert.Raw)
	added, err := f.store.Add(ctx, TypeCA, "acme", rootPEM, interDER)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(f.root, "x509", "ca", "acme")
	want := []string{filepath.Join(dir, "root.pem"), filepath.Join(dir, "inter.cer")}
	if !reflect.DeepEqual(added, want) {
		t.Fatalf("added = %v, want %v", added, want)
	}
	for _, p := range want {
		assertMode(t, p, 0o600)
	}
	for _, d := range []string{dir, filepath.Join(f.root, "x509", "ca"), filepath.Join(f.root, "x509"), f.root} {
		assertMode(t, d, fs.ModeDir|0o700)
	}
	if got, _ := os.ReadFile(want[1]); !bytes.Equal(got, f.chain.Intermediate.Cert.Raw) {
		t.Error("DER file not copied verbatim")
	}
	certs, err := f.store.GetCertificates(ctx, TypeCA, "acme")
	if err != nil {
		t.Fatal(err)
	}
	// File name order: inter.cer before root.pem.
	sameCerts(t, certs, []*x509.Certificate{f.chain.Intermediate.Cert, f.chain.Root.Cert})
}

func TestAddSourceMayBeSymlink(t *testing.T) {
	f := newFixture(t)
	real := writeTemp(t, "real.pem", testpki.CertsPEM(f.chain.Root.Cert))
	link := filepath.Join(t.TempDir(), "link.pem")
	symlinkOrSkip(t, real, link)
	added, err := f.store.Add(context.Background(), TypeTSA, "ts", link)
	if err != nil {
		t.Fatal(err)
	}
	assertMode(t, added[0], 0o600) // a regular file, not a link
}

// Add refuses, writing nothing: an existing file name, a file without
// certificates, a certificate breaking the store rule, two sources with one
// base name, a symlinked store directory.
func TestAddRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	good := writeTemp(t, "good.pem", testpki.CertsPEM(f.chain.Root.Cert))
	garbage := writeTemp(t, "garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n"))
	leaf := writeTemp(t, "leaf.pem", testpki.CertsPEM(f.chain.Leaf.Cert))
	inter := writeTemp(t, "inter.pem", testpki.CertsPEM(f.chain.Intermediate.Cert))
	mixed := writeTemp(t, "mixed.pem", testpki.CertsPEM(f.chain.Root.Cert, f.chain.Leaf.Cert))
	otherGood := filepath.Join(t.TempDir(), "good.pem")
	if err := os.WriteFile(otherGood, testpki.CertsPEM(f.chain.Intermediate.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Add(ctx, TypeCA, "acme", good); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.root, "x509", "ca", "real"), 0o700); err != nil {
		t.Fatal(err)
	}
	haveLinks := os.Symlink(filepath.Join(f.root, "x509", "ca", "real"), filepath.Join(f.root, "x509", "ca", "linked")) == nil
	tests := []struct {
		name    string
		typ     Type
		store   string
		files   []string
		wantErr error
		links   bool
	}{
		{name: "existing file name", typ: TypeCA, store: "acme", files: []string{otherGood}, wantErr: ErrCertificateExists},
		{name: "garbage", typ: TypeCA, store: "new1", files: []string{good, garbage}, wantErr: ErrInvalidCertificate},
		{name: "issued leaf in ca store", typ: TypeCA, store: "new2", files: []string{leaf}, wantErr: ErrInvalidCertificate},
		{name: "root plus leaf in one file", typ: TypeCA, store: "new3", files: []string{mixed}, wantErr: ErrInvalidCertificate},
		{name: "intermediate in tsa store", typ: TypeTSA, store: "new4", files: []string{inter}, wantErr: ErrInvalidCertificate},
		{name: "same base name twice", typ: TypeCA, store: "new5", files: []string{good, otherGood}, wantErr: ErrCertificateExists},
		{name: "missing source", typ: TypeCA, store: "new6", files: []string{filepath.Join(t.TempDir(), "nope.pem")}, wantErr: fs.ErrNotExist},
		{name: "source is a directory", typ: TypeCA, store: "new7", files: []string{t.TempDir()}},
		{name: "no files", typ: TypeCA, store: "new8"},
		{name: "symlinked store", typ: TypeCA, store: "linked", files: []string{inter}, wantErr: ErrNotRegular, links: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.links && !haveLinks {
				t.Skip("symlinks unavailable")
			}
			_, err := f.store.Add(ctx, tc.typ, tc.store, tc.files...)
			if err == nil {
				t.Fatal("Add succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.store != "acme" && tc.store != "linked" {
				if _, err := os.Lstat(filepath.Join(f.root, "x509", string(tc.typ), tc.store)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("store directory was created: %v", err)
				}
			}
		})
	}
	// The existing file was not replaced, and nothing leaked into "real".
	certs, err := f.store.GetCertificates(ctx, TypeCA, "acme")
	if err != nil {
		t.Fatal(err)
	}
	sameCerts(t, certs, []*x509.Certificate{f.chain.Root.Cert})
	if entries, _ := os.ReadDir(filepath.Join(f.root, "x509", "ca", "real")); len(entries) != 0 {
		t.Errorf("files written through the symlinked store: %v", entries)
	}
}

func TestListShowDelete(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.put(t, TypeTSA, "ts", "tsa-root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	f.put(t, TypeCA, "b", "z.pem", testpki.CertsPEM(f.chain.Root.Cert))
	f.put(t, TypeCA, "b", "a.pem", testpki.CertsPEM(f.chain.Intermediate.Cert))
	f.put(t, TypeCA, "a", "root.crt", testpki.CertsPEM(f.chain.Root.Cert))
	f.put(t, TypeSigningAuthority, "sa", "garbage.txt", []byte("garbage")) // listed, not parsed
	if err := os.MkdirAll(filepath.Join(f.root, "x509", "ca", "a", "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	e := func(typ Type, store, file string) Entry {
		return Entry{Type: typ, Store: store, File: file, Path: filepath.Join(f.root, "x509", string(typ), store, file)}
	}
	tests := []struct {
		name  string
		typ   Type
		store string
		want  []Entry
	}{
		{name: "all", want: []Entry{e(TypeCA, "a", "root.crt"), e(TypeCA, "b", "a.pem"), e(TypeCA, "b", "z.pem"), e(TypeSigningAuthority, "sa", "garbage.txt"), e(TypeTSA, "ts", "tsa-root.pem")}},
		{name: "type", typ: TypeCA, want: []Entry{e(TypeCA, "a", "root.crt"), e(TypeCA, "b", "a.pem"), e(TypeCA, "b", "z.pem")}},
		{name: "type and store", typ: TypeCA, store: "b", want: []Entry{e(TypeCA, "b", "a.pem"), e(TypeCA, "b", "z.pem")}},
		{name: "store of any type", store: "ts", want: []Entry{e(TypeTSA, "ts", "tsa-root.pem")}},
		{name: "no match", store: "nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := f.store.List(ctx, tc.typ, tc.store)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if _, err := f.store.List(ctx, TypeCA, "absent"); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("List of a missing store = %v", err)
	}
	if _, err := f.store.List(ctx, "bogus", ""); !errors.Is(err, ErrInvalidStoreType) {
		t.Errorf("List bogus type = %v", err)
	}
	if got, err := NewFileStore(filepath.Join(t.TempDir(), "none"), nil).List(ctx, "", ""); err != nil || len(got) != 0 {
		t.Errorf("List of a missing trust store = %v, %v", got, err)
	}

	// Show parses without the store rule.
	certs, err := f.store.Show(ctx, TypeCA, "b", "a.pem")
	if err != nil {
		t.Fatal(err)
	}
	sameCerts(t, certs, []*x509.Certificate{f.chain.Intermediate.Cert})
	for _, bad := range []struct {
		file    string
		wantErr error
	}{
		{"missing.pem", ErrCertificateNotFound},
		{"../a/root.crt", ErrInvalidFileName},
		{"..", ErrInvalidFileName},
		{"", ErrInvalidFileName},
		{"sub/x", ErrInvalidFileName},
	} {
		if _, err := f.store.Show(ctx, TypeCA, "b", bad.file); !errors.Is(err, bad.wantErr) {
			t.Errorf("Show(%q) = %v, want %v", bad.file, err, bad.wantErr)
		}
	}
	if _, err := f.store.Show(ctx, TypeSigningAuthority, "sa", "garbage.txt"); !errors.Is(err, ErrInvalidCertificate) {
		t.Errorf("Show garbage = %v", err)
	}

	// Delete one file, then a whole store.
	if err := f.store.Delete(ctx, TypeCA, "b", "z.pem"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Delete(ctx, TypeCA, "b", "z.pem"); !errors.Is(err, ErrCertificateNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second delete = %v", err)
	}
	if err := f.store.Delete(ctx, TypeCA, "a", "sub"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("delete of a sub-directory = %v", err)
	}
	if err := f.store.Delete(ctx, TypeCA, "a", "../b/a.pem"); !errors.Is(err, ErrInvalidFileName) {
		t.Errorf("delete with traversal = %v", err)
	}
	if err := f.store.Delete(ctx, TypeCA, "a", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetCertificates(ctx, TypeCA, "a"); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("store a after delete-all: %v", err)
	}
	if err := f.store.Delete(ctx, TypeCA, "a", ""); !errors.Is(err, ErrStoreNotFound) {
		t.Errorf("delete-all of a missing store = %v", err)
	}
	got, err := f.store.List(ctx, TypeCA, "")
	if err != nil || !reflect.DeepEqual(got, []Entry{e(TypeCA, "b", "a.pem")}) {
		t.Fatalf("after deletes: %+v, %v", got, err)
	}
}

// Deleting a symlinked certificate removes the link, not its target; List
// skips the link with a warning.
func TestDeleteSymlinkRemovesLinkOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.put(t, TypeCA, "acme", "root.pem", testpki.CertsPEM(f.chain.Root.Cert))
	target := writeTemp(t, "outside.pem", testpki.CertsPEM(f.chain.Root.Cert))
	link := filepath.Join(f.root, "x509", "ca", "acme", "link.pem")
	symlinkOrSkip(t, target, link)
	entries, err := f.store.List(ctx, TypeCA, "acme")
	if err != nil || len(entries) != 1 || entries[0].File != "root.pem" {
		t.Fatalf("List = %+v, %v", entries, err)
	}
	if w := f.log.warnings(); len(w) != 1 || !strings.Contains(w[0], link) {
		t.Errorf("warnings = %q", w)
	}
	if _, err := f.store.Show(ctx, TypeCA, "acme", "link.pem"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Show link = %v", err)
	}
	if err := f.store.Delete(ctx, TypeCA, "acme", "link.pem"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, fs.ErrNotExist) {
		t.Error("link still present")
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("target removed: %v", err)
	}
	if _, err := f.store.GetCertificates(ctx, TypeCA, "acme"); err != nil {
		t.Errorf("store still broken: %v", err)
	}
}
