package fsutil

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestWriteFileAtomicCreatesWithExactMode(t *testing.T) {
	dir := t.TempDir()
	for _, perm := range []fs.FileMode{0o600, 0o644} {
		path := filepath.Join(dir, "f"+perm.String())
		if err := WriteFileAtomic(path, []byte("hello"), perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != "hello" {
			t.Fatalf("content = %q, %v", got, err)
		}
		if runtime.GOOS != "windows" {
			info, _ := os.Stat(path)
			if info.Mode().Perm() != perm {
				t.Errorf("mode = %v, want %v", info.Mode().Perm(), perm)
			}
		}
	}
	assertNoTemp(t, dir)
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "new" {
		t.Fatalf("content = %q", got)
	}
	assertNoTemp(t, dir)
}

// A write that fails halfway leaves the old file intact and no temporary
// file behind.
func TestWriteAtomicFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signingkeys.json")
	if err := os.WriteFile(path, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := writeAtomic(path, 0o600, func(f *os.File) error {
		if _, err := f.Write([]byte("half of the new")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the write error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old content" {
		t.Fatalf("old file changed to %q", got)
	}
	assertNoTemp(t, dir)
}

// A rename that fails (the target is a non-empty directory) leaves no
// temporary file behind.
func TestWriteFileAtomicFailedRenameCleansUp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "child"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(target, []byte("x"), 0o600); err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	assertNoTemp(t, dir)
	if info, err := os.Stat(filepath.Join(target, "child")); err != nil || !info.IsDir() {
		t.Fatalf("directory changed: %v", err)
	}
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	if err := WriteFileAtomic(path, []byte("x"), 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestWriteFileAtomicReplacesSymlinkNotTarget(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := WriteFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep" {
		t.Fatalf("symlink target was written: %q", got)
	}
	info, err := os.Lstat(link)
	if err != nil || !info.Mode().IsRegular() {
		t.Fatalf("link not replaced by a regular file: %v %v", info.Mode(), err)
	}
}

func TestMkdirAllMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no POSIX modes")
	}
	path := filepath.Join(t.TempDir(), "a", "b", "c")
	if err := MkdirAll(path); err != nil {
		t.Fatal(err)
	}
	for p := path; p != filepath.Dir(filepath.Dir(filepath.Dir(path))); p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o700 {
			t.Errorf("%s mode = %v, want 0700", p, info.Mode().Perm())
		}
	}
}

func TestReadRegularFile(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	haveLinks := os.Symlink(regular, link) == nil
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		max     int64
		want    string
		wantErr error
		links   bool
	}{
		{name: "regular", path: regular, max: 100, want: "0123456789"},
		{name: "exactly at limit", path: regular, max: 10, want: "0123456789"},
		{name: "over limit", path: regular, max: 9, wantErr: ErrTooLarge},
		{name: "missing", path: filepath.Join(dir, "nope"), max: 10, wantErr: fs.ErrNotExist},
		{name: "directory", path: sub, max: 10, wantErr: ErrNotRegular},
		{name: "symlink to regular", path: link, max: 100, wantErr: ErrNotRegular, links: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.links && !haveLinks {
				t.Skip("symlinks unavailable")
			}
			got, err := ReadRegularFile(tc.path, tc.max)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) || pe.Path != tc.path {
					t.Errorf("error %v does not name the path %s", err, tc.path)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestReadFileFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, bytes.Repeat([]byte("a"), 50), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Skip("symlinks unavailable")
	}
	if got, err := ReadFile(link, 50); err != nil || len(got) != 50 {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if _, err := ReadFile(link, 49); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if _, err := ReadFile(dir, 49); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "nope"), 49); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}
