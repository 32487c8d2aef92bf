// Package fsutil holds the few file-system primitives every package that
// touches the configuration directory shares: atomic writes, private
// directories and bounded reads that refuse symbolic links (STYLE B2.7,
// digest CFG-1 and TS-3).
//
// Nothing here keeps state; every function is safe for concurrent use as far
// as the underlying file system is. Concurrent writers of the same path do
// not corrupt it (each rename is atomic) but the last rename wins.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
)

// Sentinel errors, wrapped in an *fs.PathError that names the path.
var (
	// ErrNotRegular: the path is a symbolic link, a directory or another
	// non-regular file where a regular file is required.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than the caller's limit.
	ErrTooLarge = errors.New("file too large")
)

// PrivateDirMode is the mode of directories MkdirAll creates: only the
// owner may list or enter them (they hold keys and trust anchors).
const PrivateDirMode fs.FileMode = 0o700

// WriteFileAtomic writes data to path so that readers see either the old
// content or the new one, never a mix: it writes a temporary file in the
// same directory, syncs it, sets perm (exactly, regardless of the umask),
// and renames it over path. The directory must exist. On any failure the
// temporary file is removed and path is left as it was.
//
// A symbolic link at path is replaced by the regular file, not followed.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return writeAtomic(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeAtomic is WriteFileAtomic with the content written by fill, so that
// tests can make the write fail halfway.
func writeAtomic(path string, perm fs.FileMode, fill func(*os.File) error) (err error) {
	dir, base := filepath.Split(path)
	if base == "" {
		return &fs.PathError{Op: "write", Path: path, Err: errors.New("no file name")}
	}
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	if err = f.Sync(); err != nil {
		return &fs.PathError{Op: "sync", Path: path, Err: err}
	}
	if err = f.Chmod(perm); err != nil {
		return &fs.PathError{Op: "chmod", Path: path, Err: err}
	}
	if err = f.Close(); err != nil {
		return &fs.PathError{Op: "close", Path: path, Err: err}
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable where the platform allows it; failure is
// not an error (Windows cannot open directories for syncing).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// MkdirAll creates path and any missing parents with mode 0700. Existing
// directories keep their mode.
func MkdirAll(path string) error {
	return os.MkdirAll(path, PrivateDirMode)
}

// ReadRegularFile reads path, which must be a regular file and not a
// symbolic link (CFG-1, TS-3), of at most max bytes. A missing file gives an
// error for which errors.Is(err, fs.ErrNotExist) holds; a symbolic link, a
// directory or a device wraps ErrNotRegular; a file over max bytes wraps
// ErrTooLarge.
//
// The file is checked with lstat, opened, and checked again to be the same
// file, so swapping in a symbolic link between the two steps is detected.
func ReadRegularFile(path string, max int64) ([]byte, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, info); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(info, opened) {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: the file changed while it was opened", ErrNotRegular)}
	}
	return readBounded(f, path, max)
}

// ReadFile reads path of at most max bytes, following symbolic links; the
// final target must be a regular file. It is for files the user names
// explicitly (a key, a certificate to import), where links are allowed.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %s", ErrNotRegular, describe(info.Mode()))}
	}
	return readBounded(f, path, max)
}

func checkRegular(path string, info fs.FileInfo) error {
	if info.Mode().IsRegular() {
		return nil
	}
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %s", ErrNotRegular, describe(info.Mode()))}
}

// describe names a non-regular file mode for error messages.
func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "it is a symbolic link, and symbolic links are not supported"
	case m.IsDir():
		return "it is a directory"
	default:
		return fmt.Sprintf("it is a special file (mode %s)", m)
	}
}

func readBounded(r io.Reader, path string, max int64) ([]byte, error) {
	if max < 0 {
		max = 0
	}
	limit := max
	if limit < math.MaxInt64 {
		limit++ // one byte more tells "exactly max" from "over max"
	}
	data, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	if int64(len(data)) > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
	}
	return data, nil
}
