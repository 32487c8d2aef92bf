package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// layoutTar writes an OCI layout with one image tagged "app" as a tar.
func layoutTar(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	img := image(t, store, "app")
	if err := store.Tag(ctx, img, "app"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "layout.tar")
	if err := writeTar(dir, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpdateLayoutTar: a signature pushed into a tar archive is there when
// the archive is read again; a failing update leaves the archive untouched.
func TestUpdateLayoutTar(t *testing.T) {
	ctx := context.Background()
	p := layoutTar(t)
	if !IsLayoutTar(p) || IsLayoutTar(filepath.Dir(p)) {
		t.Fatal("IsLayoutTar")
	}
	chain := testpki.NewChain(t, "ec-256").Certs()
	err := UpdateLayoutTar(ctx, p, func(s *oci.Store) error {
		subject, err := ResolveManifest(ctx, s, "app")
		if err != nil {
			return err
		}
		_, err = PushSignature(ctx, s, subject, signature.MediaTypeJWS, []byte(`{"x":1}`), chain, time.Now(), FormConfig)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := OpenLayoutTar(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := ResolveManifest(ctx, ro, "app")
	if err != nil {
		t.Fatal(err)
	}
	sigs, _, err := ListSignatures(ctx, ro, subject, 0)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("signatures in the rewritten archive: %v %v", sigs, err)
	}

	before, _ := os.ReadFile(p)
	boom := errors.New("boom")
	if err := UpdateLayoutTar(ctx, p, func(*oci.Store) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	after, _ := os.ReadFile(p)
	if !bytes.Equal(before, after) {
		t.Error("a failed update changed the archive")
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".signet-layout-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestExtractTarRefusesEscapes: entries that leave the archive, links and
// devices are refused.
func TestExtractTarRefusesEscapes(t *testing.T) {
	tests := []struct {
		name string
		hdr  tar.Header
	}{
		{"parent directory", tar.Header{Name: "../evil", Typeflag: tar.TypeReg, Size: 1}},
		{"nested parent", tar.Header{Name: "blobs/../../evil", Typeflag: tar.TypeReg, Size: 1}},
		{"absolute", tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Size: 1}},
		{"symlink", tar.Header{Name: "index.json", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
		{"hard link", tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "y"}},
		{"device", tar.Header{Name: "dev", Typeflag: tar.TypeChar}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			tc.hdr.Mode = 0o644
			if err := tw.WriteHeader(&tc.hdr); err != nil {
				t.Fatal(err)
			}
			if tc.hdr.Size > 0 {
				tw.Write([]byte("x"))
			}
			tw.Close()
			src := filepath.Join(t.TempDir(), "evil.tar")
			if err := os.WriteFile(src, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "out")
			err := extractTar(src, dest)
			if err == nil {
				t.Fatal("extracted")
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "evil")); err == nil {
				t.Error("a file escaped the destination")
			}
		})
	}
	t.Run("not a tar", func(t *testing.T) {
		src := filepath.Join(t.TempDir(), "x.tar")
		os.WriteFile(src, []byte(strings.Repeat("garbage", 200)), 0o600)
		if err := extractTar(src, t.TempDir()); err == nil {
			t.Fatal("extracted garbage")
		}
	})
}
