package plugin

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tarGz(t testing.TB, entries ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range entries {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write(bytes.Repeat([]byte{'x'}, int(h.Size)))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t testing.TB, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, n)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBudgetCountsTarStream: the budget counts every decompressed byte of
// a tar stream, PAX headers included, not the sizes headers state: a
// 600-byte file behind 2,000 bytes of PAX records does not fit in 1,500.
func TestBudgetCountsTarStream(t *testing.T) {
	pax := map[string]string{"comment": strings.Repeat("c", 2000)}
	data := tarGz(t, &tar.Header{Name: "notation-x", Mode: 0o755, Size: 600, Typeflag: tar.TypeReg, PAXRecords: pax, Format: tar.FormatPAX})
	visit := func(e archiveEntry, r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
	b := &budget{left: 1500}
	err := walkTarGz(bytes.NewReader(data), int64(len(data)), b, visit)
	if err == nil || !b.over || !strings.Contains(err.Error(), "decompression bomb") {
		t.Fatalf("walkTarGz = %v, over = %v", err, b.over)
	}
	b = &budget{left: 1 << 20}
	if err := walkTarGz(bytes.NewReader(data), int64(len(data)), b, visit); err != nil {
		t.Fatalf("with room: %v", err)
	}
	if used := 1<<20 - b.left; used < 2600 {
		t.Errorf("budget used %d bytes, want at least the PAX records and the file", used)
	}
}

// TestZipEntryCountNotTrusted: the entry count the end record states is
// not what bounds the entries; the records are walked.
func TestZipEntryCountNotTrusted(t *testing.T) {
	names := make([]string, MaxArchiveEntries+44)
	for i := range names {
		names[i] = fmt.Sprintf("f%d", i)
	}
	data := zipOf(t, names...)
	if err := checkZipEntryCount(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "more than 256 entries") {
		t.Fatalf("honest count: %v", err)
	}
	end := bytes.LastIndex(data, []byte("PK\x05\x06"))
	binary.LittleEndian.PutUint16(data[end+8:], 44)
	binary.LittleEndian.PutUint16(data[end+10:], 44) // 300 mod 256... any small number
	if err := checkZipEntryCount(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "more than 256 entries") {
		t.Fatalf("understated count: %v", err)
	}
	binary.LittleEndian.PutUint16(data[end+10:], 0xffff)
	if err := checkZipEntryCount(bytes.NewReader(data), int64(len(data))); err == nil || !strings.Contains(err.Error(), "ZIP64") {
		t.Fatalf("ZIP64 marker: %v", err)
	}
	small := zipOf(t, "notation-x", "LICENSE")
	if err := checkZipEntryCount(bytes.NewReader(small), int64(len(small))); err != nil {
		t.Fatalf("small archive: %v", err)
	}
	// Bytes prepended to the archive (a self-extractor) move the records.
	prefixed := append(bytes.Repeat([]byte{'#'}, 1000), data...)
	if err := checkZipEntryCount(bytes.NewReader(prefixed), int64(len(prefixed))); err == nil {
		t.Fatal("prepended archive with 300 records accepted")
	}
}

// TestCheckEntry covers the name and type rules one by one.
func TestCheckEntry(t *testing.T) {
	tests := []struct {
		name, entry string
		dir         bool
		want        string // "" = accepted, with this cleaned name in wantName
		wantName    string
	}{
		{name: "plain", entry: "notation-x", wantName: "notation-x"},
		{name: "dot slash", entry: "./notation-x", wantName: "notation-x"},
		{name: "nested", entry: "a/./b", wantName: "a/b"},
		{name: "root dir", entry: "./", dir: true, wantName: "."},
		{name: "dots in a name", entry: "notation-x..y", wantName: "notation-x..y"},
		{name: "parent", entry: "../x", want: "path traversal"},
		{name: "parent inside", entry: "a/../../x", want: "path traversal"},
		{name: "parent that stays inside", entry: "a/../x", want: "path traversal"},
		{name: "absolute", entry: "/x", want: "absolute"},
		{name: "drive", entry: "c:x", want: "absolute"},
		{name: "backslash", entry: `a\x`, want: "backslash"},
		{name: "NUL", entry: "x\x00y", want: "NUL"},
		{name: "empty", entry: "", want: "empty name"},
		{name: "dot file", entry: ".", want: "without a name"},
		{name: "long", entry: strings.Repeat("a", maxEntryName+1), want: "longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mode := os.FileMode(0o644)
			if tc.dir {
				mode |= os.ModeDir
			}
			e, err := checkEntry(tc.entry, mode)
			if tc.want == "" {
				if err != nil || e.name != tc.wantName {
					t.Errorf("checkEntry(%q) = %q, %v; want %q", tc.entry, e.name, err, tc.wantName)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkEntry(%q) = %v, want an error containing %q", tc.entry, err, tc.want)
			}
		})
	}
}

// FuzzPlanPackage plans and extracts arbitrary packages: no panic, and a
// package that is accepted holds exactly one executable, named for the
// plugin, and extracts to exactly the planned top-level files, within the
// limits.
func FuzzPlanPackage(f *testing.F) {
	f.Add(zipOf(f, "notation-a", "LICENSE"))
	f.Add(zipOf(f, "notation-a", "notation-b"))
	f.Add(zipOf(f, "../notation-a"))
	f.Add(zipOf(f, "dir/notation-a", "dir/"))
	f.Add(tarGz(f, &tar.Header{Name: "./notation-a", Mode: 0o644, Size: 10, Typeflag: tar.TypeReg}, &tar.Header{Name: "LICENSE", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg}))
	f.Add(tarGz(f, &tar.Header{Name: "notation-a", Typeflag: tar.TypeSymlink, Linkname: "/bin/sh"}))
	f.Add(tarGz(f, &tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755}, &tar.Header{Name: "/abs", Size: 1, Typeflag: tar.TypeReg}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("#!/bin/sh\necho\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		plan, err := planPackage(bytes.NewReader(data), int64(len(data)), "notation-fuzz")
		if err != nil {
			return
		}
		if plan.name == "" || pluginNameOf(plan.executable) != plan.name {
			t.Fatalf("plan %+v names no plugin", plan)
		}
		if plan.kind == kindExecutable {
			return
		}
		exes := 0
		for _, e := range plan.files {
			if !e.topLevel() || e.mode.IsDir() || strings.ContainsAny(e.name, `/\`) || e.name == "." || e.name == ".." {
				t.Fatalf("planned file %q", e.name)
			}
			if strings.HasPrefix(e.name, "notation-") {
				exes++
			}
		}
		if exes != 1 || len(plan.files) > MaxArchiveEntries {
			t.Fatalf("plan %+v", plan)
		}
		dir := t.TempDir()
		spool := filepath.Join(dir, "pkg")
		if err := os.WriteFile(spool, data, 0o600); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Open(spool)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		out := filepath.Join(dir, "out")
		os.Mkdir(out, 0o700)
		if err := extractPackage(plan, &spooled{f: fh, size: int64(len(data))}, out); err != nil {
			t.Fatalf("planned package does not extract: %v", err)
		}
		des, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(des) != len(plan.files) {
			t.Fatalf("extracted %d files, planned %d", len(des), len(plan.files))
		}
		for _, de := range des {
			if !de.Type().IsRegular() {
				t.Fatalf("extracted %s of type %v", de.Name(), de.Type())
			}
		}
	})
}
