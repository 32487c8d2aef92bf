package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarDir archives a layout directory as an OCI layout tar.
func tarDir(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "layout.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		_, err = io.Copy(tw, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// TestOCILayoutTar signs an artifact inside an OCI layout tar archive
// (issue 4 item 3), then lists, inspects and verifies it there.
func TestOCILayoutTar(t *testing.T) {
	w := newOCIWorld(t)
	archive := tarDir(t, w.layout)
	ref := archive + "@" + w.dg.String()
	if r := w.c.run("verify", "--oci-layout", "--scope", "example.com/app", ref); r.code != exitNotTrusted {
		t.Fatalf("unsigned archive: %s", r)
	}
	w.c.must("sign", "--oci-layout", ref)
	r := w.c.must("list", "--oci-layout", ref)
	if !strings.Contains(r.stdout, "sha256:") {
		t.Fatalf("list: %s", r)
	}
	w.c.must("inspect", "--oci-layout", ref)
	r = w.c.must("verify", "--oci-layout", "--scope", "example.com/app", archive+":v1")
	if !strings.Contains(r.stdout, "Successfully verified") {
		t.Fatalf("verify: %s", r)
	}
	// The directory it came from is untouched.
	if r := w.c.run("verify", "--oci-layout", "--scope", "example.com/app", w.byDigest()); r.code != exitNotTrusted {
		t.Fatalf("the source directory changed: %s", r)
	}
}
