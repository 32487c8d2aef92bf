package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"oras.land/oras-go/v2/content/oci"
)

// Limits on an OCI layout tar archive extracted for signing: a tar is
// untrusted input.
const (
	// MaxLayoutTarEntries bounds the entries of an archive.
	MaxLayoutTarEntries = 100_000
	// MaxLayoutTarBytes bounds the total size of the files extracted
	// (64 GiB: large images fit, a tar bomb does not fill the disk).
	MaxLayoutTarBytes = 64 << 30
)

// IsLayoutTar reports whether p names a regular file (an OCI layout tar
// archive) rather than a layout directory.
func IsLayoutTar(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// OpenLayoutTar opens an OCI image layout tar archive read-only, without
// extracting it (LayoutTar).
func OpenLayoutTar(ctx context.Context, p string) (*LayoutTar, error) {
	s, err := openLayoutTar(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout tar archive: %w", p, err)
	}
	return s, nil
}

// UpdateLayoutTar extracts the archive at p into a temporary directory
// beside it, calls fn with the layout, and, when fn succeeds, replaces the
// archive atomically with one of the updated layout. On any failure the
// archive is left as it was.
func UpdateLayoutTar(ctx context.Context, p string, fn func(*oci.Store) error) error {
	tmp, err := os.MkdirTemp(filepath.Dir(p), ".signet-layout-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "layout")
	if err := extractTar(p, dir); err != nil {
		return fmt.Errorf("extract %s: %w", p, err)
	}
	store, err := OpenLayout(ctx, dir)
	if err != nil {
		return err
	}
	if err := fn(store); err != nil {
		return err
	}
	out := filepath.Join(tmp, "layout.tar")
	if err := writeTar(dir, out); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if fi, err := os.Stat(p); err == nil {
		_ = os.Chmod(out, fi.Mode().Perm())
	}
	return os.Rename(out, p)
}

// extractTar unpacks regular files and directories only; names must be
// relative and stay inside dir.
func extractTar(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tr := tar.NewReader(f)
	var entries int
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if entries++; entries > MaxLayoutTarEntries {
			return fmt.Errorf("more than %d entries", MaxLayoutTarEntries)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("entry %q leaves the archive", h.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if total += h.Size; total > MaxLayoutTarBytes {
				return fmt.Errorf("content over %d bytes", int64(MaxLayoutTarBytes))
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			if err := writeEntry(target, tr, h.Size); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q is not a regular file or directory", h.Name)
		}
	}
}

func writeEntry(target string, r io.Reader, size int64) error {
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(out, r, size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// WriteLayoutTar archives the OCI image layout directory dir as the tar
// archive dst, which must not exist (write it beside its final name and
// rename it into place for atomicity): regular files only, relative names,
// sorted, so the same layout gives the same archive, which oras-go's
// oci.NewFromTar (oras --oci-layout) and OpenLayoutTar read.
func WriteLayoutTar(dir, dst string) error { return writeTar(dir, dst) }

// writeTar archives dir with sorted names, so the same layout gives the
// same archive.
func writeTar(dir, dst string) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	for _, p := range files {
		if err := addFile(tw, dir, p); err != nil {
			out.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func addFile(tw *tar.Writer, dir, p string) error {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	h := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: fi.Size(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
