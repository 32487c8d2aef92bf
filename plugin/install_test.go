package plugin_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/plugin"
)

// Installation tests (PLG-1..PLG-5): the test plugin, built for real,
// packaged at test time as a single executable, a .zip and a .tar.gz,
// installed and run through Manager.Get; and hostile packages made at test
// time, each refused with the plugin directory left exactly as it was.

// versioned returns the test plugin built to report version v, built once
// per test binary next to bins.test (removed with it by TestMain).
func versioned(t *testing.T, v string) string {
	t.Helper()
	versionedBins.Lock()
	defer versionedBins.Unlock()
	if versionedBins.m == nil {
		versionedBins.m = map[string]string{}
	}
	if p, ok := versionedBins.m[v]; ok {
		return p
	}
	out := filepath.Join(filepath.Dir(bins.test), "testplugin-"+v)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goTool, "build", "-ldflags", "-X main.version="+v, "-o", out, "./testdata/testplugin")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build test plugin version %s: %v\n%s", v, err, b)
	}
	versionedBins.m[v] = out
	return out
}

var versionedBins struct {
	sync.Mutex
	m map[string]string
}

// entry is one archive entry to write.
type entry struct {
	name string
	body []byte
	mode int64 // permission bits; 0 means 0644
	// typ is a tar type flag (tar.TypeReg when zero); for zip, TypeSymlink
	// and TypeDir are written as such.
	typ  byte
	link string
}

func (e entry) perm() int64 {
	if e.mode == 0 {
		return 0o644
	}
	return e.mode
}

func readBin(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeZip writes a zip archive of entries to dir/name. Regular entries
// are deflated, each distinct body once per test binary (deflated): the
// plugin executable is about 5 MiB, and deflating it again for each of
// dozens of packages cost minutes under -race on a loaded machine.
func writeZip(t testing.TB, dir, name string, entries ...entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		body := e.body
		switch e.typ {
		case tar.TypeSymlink:
			h.SetMode(fs.ModeSymlink | 0o777)
			body = []byte(e.link)
		case tar.TypeDir:
			h.SetMode(fs.ModeDir | 0o755)
		default:
			h.SetMode(fs.FileMode(e.perm()))
		}
		if e.typ == tar.TypeDir {
			if _, err := zw.CreateHeader(h); err != nil {
				t.Fatal(err)
			}
			continue
		}
		d, err := deflated(body)
		if err != nil {
			t.Fatal(err)
		}
		h.CRC32, h.CompressedSize64, h.UncompressedSize64 = d.crc, uint64(len(d.data)), uint64(len(body))
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(d.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deflatedBody is a zip entry's body, deflated, and its CRC-32.
type deflatedBody struct {
	data []byte
	crc  uint32
}

var deflatedBodies struct {
	sync.Mutex
	m map[[sha256.Size]byte]deflatedBody
}

// deflated deflates body as zip.Writer would, once per distinct body.
func deflated(body []byte) (deflatedBody, error) {
	key := sha256.Sum256(body)
	deflatedBodies.Lock()
	defer deflatedBodies.Unlock()
	if d, ok := deflatedBodies.m[key]; ok {
		return d, nil
	}
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		return deflatedBody{}, err
	}
	if _, err := fw.Write(body); err != nil {
		return deflatedBody{}, err
	}
	if err := fw.Close(); err != nil {
		return deflatedBody{}, err
	}
	d := deflatedBody{data: buf.Bytes(), crc: crc32.ChecksumIEEE(body)}
	if deflatedBodies.m == nil {
		deflatedBodies.m = map[[sha256.Size]byte]deflatedBody{}
	}
	deflatedBodies.m[key] = d
	return d, nil
}

// writeTarGz writes a gzip-compressed tar archive of entries to dir/name.
// The gzip stream is made of stored (uncompressed) deflate blocks: valid
// gzip, read by the same code, without deflating the ~5 MiB plugin
// executable again for each package (minutes under -race and load). The
// decompression bomb tests make their compressed streams themselves.
func writeTarGz(t testing.TB, dir, name string, entries ...entry) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewWriterLevel(f, gzip.NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.perm(), Size: int64(len(e.body)), Typeflag: e.typ, Linkname: e.link, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []io.Closer{tw, gz, f} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// snapshot records every path under root with its type, permissions and
// content digest.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		if fi.Mode().IsRegular() {
			sum := sha256.Sum256(readBin(t, p))
			v += " " + hex.EncodeToString(sum[:])
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSnapshot(t testing.TB, before, after map[string]string) {
	t.Helper()
	for p, v := range after {
		if before[p] != v {
			t.Errorf("after the refusal, %s is %q, was %q", p, v, before[p])
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("after the refusal, %s is gone", p)
		}
	}
}

// installEnv is a plugin directory inside its own base directory (Dir's
// parent, where Install stages), and a separate directory for packages.
type installEnv struct {
	base, pkgs string
	m          *plugin.Manager
}

func newInstallEnv(t *testing.T) *installEnv {
	t.Helper()
	base := t.TempDir()
	return &installEnv{base: base, pkgs: t.TempDir(), m: &plugin.Manager{Dir: filepath.Join(base, "plugins"), Timeout: 30 * time.Second}}
}

func sum256(t testing.TB, p string) string {
	s := sha256.Sum256(readBin(t, p))
	return hex.EncodeToString(s[:])
}

// checkInstalled checks that Get finds the plugin with the version given,
// and that the executable is a copy of bin with the user execute bit.
func checkInstalled(t *testing.T, m *plugin.Manager, name, version, bin string) {
	t.Helper()
	p, err := m.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("Get after Install: %v", err)
	}
	if md := p.Metadata(); md.Name != name || md.Version != version {
		t.Errorf("installed plugin reports %s %s, want %s %s", md.Name, md.Version, name, version)
	}
	exe := filepath.Join(m.Dir, name, plugin.ExecutableName(name))
	fi, err := os.Lstat(exe)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("installed executable mode %v has no user execute bit", fi.Mode())
	}
	if !bytes.Equal(readBin(t, exe), readBin(t, bin)) {
		t.Error("installed executable differs from the plugin built")
	}
}

// TestInstallPackages installs the test plugin from each package kind
// (PLG-5) and runs it through Get (PLG-3, PLG-4).
func TestInstallPackages(t *testing.T) {
	const name = "com.example.raw"
	exeName := plugin.ExecutableName(name)
	bin := readBin(t, bins.test)
	license := []byte("Apache License 2.0 (test)\n")
	tests := []struct {
		name      string
		pkg       func(dir string) string
		wantFiles []string // besides the executable
	}{
		{
			name: "single executable",
			pkg: func(dir string) string {
				p := filepath.Join(dir, exeName)
				copyFile(t, bins.test, p, 0o755)
				return p
			},
		},
		{
			name: "single file without execute bit",
			pkg: func(dir string) string {
				p := filepath.Join(dir, exeName)
				copyFile(t, bins.test, p, 0o644)
				return p
			},
		},
		{
			name: "zip with license and readme",
			pkg: func(dir string) string {
				return writeZip(t, dir, "plugin.zip",
					entry{name: "LICENSE", body: license},
					entry{name: exeName, body: bin, mode: 0o755},
					entry{name: "README.md", body: []byte("# readme\n")})
			},
			wantFiles: []string{"LICENSE", "README.md"},
		},
		{
			name: "zip with non-executable plugin file",
			pkg: func(dir string) string {
				return writeZip(t, dir, "plugin.zip", entry{name: exeName, body: bin, mode: 0o644})
			},
		},
		{
			name: "zip with directories ignored",
			pkg: func(dir string) string {
				return writeZip(t, dir, "plugin.zip",
					entry{name: "docs/", typ: tar.TypeDir},
					entry{name: "docs/guide.md", body: []byte("guide")},
					entry{name: exeName, body: bin, mode: 0o755})
			},
		},
		{
			name: "tar.gz with ./ names and non-executable plugin file",
			pkg: func(dir string) string {
				return writeTarGz(t, dir, "plugin.tar.gz",
					entry{name: "./", typ: tar.TypeDir, mode: 0o755},
					entry{name: "./" + exeName, body: bin, mode: 0o644},
					entry{name: "./LICENSE", body: license})
			},
			wantFiles: []string{"LICENSE"},
		},
		{
			name: "tar.gz named like something else",
			pkg: func(dir string) string {
				return writeTarGz(t, dir, "plugin.bin", entry{name: exeName, body: bin, mode: 0o755})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newInstallEnv(t)
			src := tc.pkg(env.pkgs)
			p, err := env.m.Install(context.Background(), plugin.InstallSource{File: src}, plugin.InstallOptions{})
			if err != nil {
				t.Fatalf("Install: %v", err)
			}
			if p.Name() != name || p.Metadata().Version != "1.2.3" {
				t.Errorf("Install returned %s %s", p.Name(), p.Metadata().Version)
			}
			if want := filepath.Join(env.m.Dir, name, exeName); p.Path() != want {
				t.Errorf("Path() = %s, want %s", p.Path(), want)
			}
			checkInstalled(t, env.m, name, "1.2.3", bins.test)
			des, err := os.ReadDir(filepath.Join(env.m.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, de := range des {
				if de.Name() != exeName {
					got = append(got, de.Name())
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.wantFiles, ",") {
				t.Errorf("installed files besides the executable: %v, want %v", got, tc.wantFiles)
			}
			// Staging leaves nothing beside Dir.
			des, err = os.ReadDir(env.base)
			if err != nil {
				t.Fatal(err)
			}
			if len(des) != 1 || des[0].Name() != "plugins" {
				t.Errorf("beside the plugin directory: %v", des)
			}
			// The installed plugin works beyond its metadata.
			_, err = p.DescribeKey(context.Background(), nil)
			if !errors.Is(err, plugin.ErrInvalidRequest) {
				t.Errorf("DescribeKey(nil) = %v", err)
			}
		})
	}
}

// TestInstallChecksum: a file's SHA-256 is checked when given, in either
// case; a wrong one refuses the install.
func TestInstallChecksum(t *testing.T) {
	env := newInstallEnv(t)
	src := writeTarGz(t, env.pkgs, "p.tar.gz", entry{name: plugin.ExecutableName("com.example.raw"), body: readBin(t, bins.test), mode: 0o755})
	sum := sum256(t, src)
	before := snapshot(t, env.base)
	wrong := strings.Repeat("0", 64)
	_, err := env.m.Install(context.Background(), plugin.InstallSource{File: src, SHA256: wrong}, plugin.InstallOptions{})
	if !errors.Is(err, plugin.ErrChecksum) || !strings.Contains(err.Error(), sum) {
		t.Fatalf("wrong checksum: %v", err)
	}
	sameSnapshot(t, before, snapshot(t, env.base))
	_, err = env.m.Install(context.Background(), plugin.InstallSource{File: src, SHA256: "abc"}, plugin.InstallOptions{})
	if !errors.Is(err, plugin.ErrChecksum) {
		t.Fatalf("malformed checksum: %v", err)
	}
	if _, err := env.m.Install(context.Background(), plugin.InstallSource{File: src, SHA256: strings.ToUpper(sum)}, plugin.InstallOptions{}); err != nil {
		t.Fatalf("right checksum: %v", err)
	}
	checkInstalled(t, env.m, "com.example.raw", "1.2.3", bins.test)
}

// TestInstallRefusedCreatesNothing: a package refused after it was
// staged (its metadata names another plugin, PLG-4) does not create the
// plugin directory, and leaves nothing beside it.
func TestInstallRefusedCreatesNothing(t *testing.T) {
	env := newInstallEnv(t)
	src := writeZip(t, env.pkgs, "p.zip", entry{name: plugin.ExecutableName("com.example.badname"), body: readBin(t, bins.test), mode: 0o755})
	_, err := env.m.Install(context.Background(), plugin.InstallSource{File: src}, plugin.InstallOptions{})
	if !errors.Is(err, plugin.ErrInvalidPlugin) {
		t.Fatalf("Install = %v", err)
	}
	if des, err := os.ReadDir(env.base); err != nil || len(des) != 0 {
		t.Errorf("base directory after the refusal: %v, %v", des, err)
	}
}

// TestInstallRefused: hostile and broken packages are refused before the
// plugin directory changes (PLG-5). The directory already holds a plugin.
func TestInstallRefused(t *testing.T) {
	const name = "com.example.raw"
	exe := plugin.ExecutableName(name)
	bin := readBin(t, bins.test)
	manyZip := func(dir string) []entry {
		es := make([]entry, 10000)
		for i := range es {
			es[i] = entry{name: fmt.Sprintf("f%05d", i)}
		}
		return append(es, entry{name: exe, body: bin, mode: 0o755})
	}
	tests := []struct {
		name string
		pkg  func(dir string) string
		want string // in the error message
		is   error
	}{
		{name: "zip traversal", want: "path traversal", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: exe, body: bin, mode: 0o755}, entry{name: "../LICENSE", body: []byte("x")})
		}},
		{name: "zip traversal inside a path", want: "path traversal", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: "docs/../../" + exe, body: bin, mode: 0o755})
		}},
		{name: "tar.gz traversal", want: "path traversal", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "../../.bashrc", body: []byte("evil")})
		}},
		{name: "zip absolute path", want: "absolute path", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: "/tmp/" + exe, body: bin, mode: 0o755})
		}},
		{name: "tar.gz absolute path", want: "absolute path", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "/etc/cron.d/x", body: []byte("x")})
		}},
		{name: "tar.gz windows drive path", want: "absolute path", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: "C:/Windows/" + exe, body: bin, mode: 0o755})
		}},
		{name: "zip backslash path", want: "backslash", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: `..\` + exe, body: bin, mode: 0o755})
		}},
		{name: "zip symlink", want: "symbolic link", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: exe, typ: tar.TypeSymlink, link: "/bin/sh"})
		}},
		{name: "tar.gz symlink next to the plugin", want: "symbolic link", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "LICENSE", typ: tar.TypeSymlink, link: "/etc/passwd"})
		}},
		{name: "tar.gz hard link", want: "hard link", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "LICENSE", typ: tar.TypeLink, link: exe})
		}},
		{name: "tar.gz character device", want: "character device", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "null", typ: tar.TypeChar})
		}},
		{name: "tar.gz block device", want: "device", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: "sda", typ: tar.TypeBlock}, entry{name: exe, body: bin, mode: 0o755})
		}},
		{name: "tar.gz fifo", want: "named pipe", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "pipe", typ: tar.TypeFifo})
		}},
		{name: "zip two executables", want: "more than one plugin executable", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: exe, body: bin, mode: 0o755}, entry{name: plugin.ExecutableName("com.example.other"), body: bin, mode: 0o755})
		}},
		{name: "tar.gz the executable twice", want: "twice", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: exe, body: bin, mode: 0o755}, entry{name: "./" + exe, body: []byte("#!/bin/sh\n"), mode: 0o755})
		}},
		{name: "zip license twice in different case", want: "case-insensitive", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: exe, body: bin, mode: 0o755}, entry{name: "LICENSE"}, entry{name: "license"})
		}},
		{name: "zip without executable", want: "no plugin executable", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: "LICENSE", body: []byte("x")}, entry{name: "plugin", body: bin, mode: 0o755})
		}},
		{name: "tar.gz executable only in a subdirectory", want: "in a subdirectory", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: "bin/" + exe, body: bin, mode: 0o755})
		}},
		{name: "zip with 10,000 entries", want: "more than 256 entries", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", manyZip(d)...)
		}},
		{name: "tar.gz with 10,000 entries", want: "more than 256 entries", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", manyZip(d)...)
		}},
		{name: "empty tar.gz", want: "empty", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz")
		}},
		{name: "gzip of something else", want: "not a valid tar.gz", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write(bytes.Repeat([]byte("not a tar archive "), 100))
			gz.Close()
			p := filepath.Join(d, "p.tar.gz")
			os.WriteFile(p, buf.Bytes(), 0o600)
			return p
		}},
		{name: "truncated zip", want: "not a valid zip", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			p := writeZip(t, d, "p.zip", entry{name: exe, body: bin, mode: 0o755})
			b := readBin(t, p)
			os.WriteFile(p, b[:len(b)/2], 0o600)
			return p
		}},
		{name: "single file not named notation-NAME", want: "must be the plugin executable itself", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			p := filepath.Join(d, "my-plugin")
			copyFile(t, bins.test, p, 0o755)
			return p
		}},
		{name: "metadata names another plugin (PLG-4)", want: "PLG-4", is: plugin.ErrInvalidPlugin, pkg: func(d string) string {
			p := filepath.Join(d, plugin.ExecutableName("com.example.badname"))
			copyFile(t, bins.test, p, 0o755)
			return p
		}},
		{name: "metadata names another plugin in a zip (PLG-4)", want: "PLG-4", is: plugin.ErrInvalidPlugin, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: plugin.ExecutableName("com.example.badname"), body: bin, mode: 0o755})
		}},
		{name: "contract version 2.0 only (PROC-5)", want: "PROC-5", is: plugin.ErrInvalidPlugin, pkg: func(d string) string {
			return writeZip(t, d, "p.zip", entry{name: plugin.ExecutableName("com.example.v2only"), body: bin, mode: 0o755})
		}},
		{name: "executable that is not a program", is: plugin.ErrExecutable, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: plugin.ExecutableName("com.example.junk"), body: []byte("\x00\x01garbage"), mode: 0o755})
		}},
		{name: "plugin that crashes", is: plugin.ErrExecutable, pkg: func(d string) string {
			return writeTarGz(t, d, "p.tar.gz", entry{name: plugin.ExecutableName("com.example.crash"), body: bin, mode: 0o755})
		}},
		{name: "directory", want: "not a regular file", is: plugin.ErrInvalidPackage, pkg: func(d string) string {
			p := filepath.Join(d, exe)
			os.Mkdir(p, 0o700)
			return p
		}},
		{name: "missing file", is: fs.ErrNotExist, pkg: func(d string) string {
			return filepath.Join(d, exe)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newInstallEnv(t)
			install(t, env.m.Dir, "com.example.envelope", bins.test)
			src := tc.pkg(env.pkgs)
			before := snapshot(t, env.base)
			_, err := env.m.Install(context.Background(), plugin.InstallSource{File: src}, plugin.InstallOptions{Force: true})
			if err == nil {
				t.Fatal("Install succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Install error %q, want %v containing %q", err, tc.is, tc.want)
			}
			var ie *plugin.InstallError
			if !errors.As(err, &ie) || ie.Source != src {
				t.Errorf("error %#v is not an *InstallError naming the source", err)
			}
			sameSnapshot(t, before, snapshot(t, env.base))
		})
	}
}

// The decompression bomb tests lower the expansion limit to bombLimit
// (plugin.SetMaxExpandedBytes): the refusal is the same as at
// MaxExpandedBytes (256 MiB), and making and inflating 300 MiB bombs cost
// minutes under -race on a loaded machine. bombSize is what a bomb expands
// to.
const (
	bombLimit = 8 << 20
	bombSize  = bombLimit + bombLimit/4
	// bombMessage is in the refusal of an archive over bombLimit.
	bombMessage = "8 MiB or more"
)

// bombData is bombSize of zeros, deflated once per test binary.
var bombData = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	zeros := make([]byte, 1<<20)
	for i := 0; i < bombSize>>20; i++ {
		if _, err := fw.Write(zeros); err != nil {
			return nil, err
		}
	}
	if err := fw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
})

// writeZipBomb writes a zip whose plugin entry inflates to bombSize of
// zeros while its headers state declared bytes.
func writeZipBomb(t *testing.T, dir string, declared uint64) string {
	t.Helper()
	data, err := bombData()
	if err != nil {
		t.Fatal(err)
	}
	crc := crc32.NewIEEE()
	zeros := make([]byte, 1<<20)
	for i := 0; i < bombSize>>20; i++ {
		crc.Write(zeros)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: plugin.ExecutableName("com.example.raw"), Method: zip.Deflate, CRC32: crc.Sum32(),
		CompressedSize64: uint64(len(data)), UncompressedSize64: declared}
	h.SetMode(0o755)
	w, err := zw.CreateRaw(h)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("bomb-%d.zip", declared))
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInstallDecompressionBomb: archives that expand past MaxExpandedBytes
// (lowered to bombLimit) are refused, whether their headers state the real
// size or lie about it, and nothing is written.
func TestInstallDecompressionBomb(t *testing.T) {
	tests := []struct {
		name string
		pkg  func(t *testing.T, dir string) string
		want string
	}{
		{name: "zip whose header says 1 KiB", want: "zip", pkg: func(t *testing.T, d string) string { return writeZipBomb(t, d, 1024) }},
		{name: "zip whose header says less than the limit", want: "zip", pkg: func(t *testing.T, d string) string { return writeZipBomb(t, d, bombLimit*200/256) }},
		{name: "zip whose header tells the truth", want: bombMessage, pkg: func(t *testing.T, d string) string { return writeZipBomb(t, d, bombSize) }},
		{name: "tar.gz of one file over the limit", want: bombMessage, pkg: func(t *testing.T, d string) string {
			p := filepath.Join(d, "bomb.tar.gz")
			f, _ := os.Create(p)
			gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
			tw := tar.NewWriter(gz)
			tw.WriteHeader(&tar.Header{Name: plugin.ExecutableName("com.example.raw"), Mode: 0o755, Size: bombSize, Typeflag: tar.TypeReg})
			zeros := make([]byte, 1<<20)
			for i := 0; i < bombSize>>20; i++ {
				tw.Write(zeros)
			}
			tw.Close()
			gz.Close()
			f.Close()
			return p
		}},
		{name: "tar.gz of 255 files adding up to more than the limit", want: bombMessage, pkg: func(t *testing.T, d string) string {
			p := filepath.Join(d, "bomb.tar.gz")
			f, _ := os.Create(p)
			gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
			tw := tar.NewWriter(gz)
			body := make([]byte, bombLimit/255*11/10) // each 1.1 times a 255th of the limit
			for i := 0; i < 255; i++ {
				tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("notes-%03d.txt", i), Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
				tw.Write(body)
			}
			tw.Close()
			gz.Close()
			f.Close()
			return p
		}},
	}
	plugin.SetMaxExpandedBytes(t, bombLimit)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newInstallEnv(t)
			src := tc.pkg(t, env.pkgs)
			if fi, err := os.Stat(src); err != nil || fi.Size() > 2<<20 {
				t.Fatalf("bomb file: %v, %d bytes", err, fi.Size())
			}
			before := snapshot(t, env.base)
			start := time.Now()
			_, err := env.m.Install(context.Background(), plugin.InstallSource{File: src}, plugin.InstallOptions{})
			t.Logf("refused in %v: %v", time.Since(start).Round(time.Millisecond), err)
			if !errors.Is(err, plugin.ErrInvalidPackage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Install = %v, want ErrInvalidPackage containing %q", err, tc.want)
			}
			sameSnapshot(t, before, snapshot(t, env.base))
		})
	}
}

// TestInstallVersions: the reference's version rules (PLG-5): an equal
// version is "already installed", a lower one a downgrade, both allowed
// with Force; a higher one upgrades; an invalid installed plugin is
// replaced only with Force.
func TestInstallVersions(t *testing.T) {
	const name = "com.example.raw"
	exe := plugin.ExecutableName(name)
	v1, v2 := versioned(t, "1.0.0"), versioned(t, "2.0.0-rc.1")
	ctx := context.Background()
	pkg := func(t *testing.T, dir, bin string) plugin.InstallSource {
		return plugin.InstallSource{File: writeTarGz(t, dir, filepath.Base(bin)+".tar.gz", entry{name: exe, body: readBin(t, bin), mode: 0o755})}
	}
	t.Run("upgrade, same version, downgrade, forced", func(t *testing.T) {
		env := newInstallEnv(t)
		if _, err := env.m.Install(ctx, pkg(t, env.pkgs, v1), plugin.InstallOptions{}); err != nil {
			t.Fatal(err)
		}
		checkInstalled(t, env.m, name, "1.0.0", v1)
		if _, err := env.m.Install(ctx, pkg(t, env.pkgs, v2), plugin.InstallOptions{}); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		checkInstalled(t, env.m, name, "2.0.0-rc.1", v2)

		before := snapshot(t, env.base)
		_, err := env.m.Install(ctx, pkg(t, env.pkgs, v2), plugin.InstallOptions{})
		if !errors.Is(err, plugin.ErrAlreadyInstalled) || !strings.Contains(err.Error(), "version 2.0.0-rc.1 is already installed") {
			t.Errorf("same version: %v", err)
		}
		sameSnapshot(t, before, snapshot(t, env.base))
		_, err = env.m.Install(ctx, pkg(t, env.pkgs, v1), plugin.InstallOptions{})
		if !errors.Is(err, plugin.ErrDowngrade) || !strings.Contains(err.Error(), "1.0.0 is lower than the installed 2.0.0-rc.1") {
			t.Errorf("downgrade: %v", err)
		}
		sameSnapshot(t, before, snapshot(t, env.base))

		if _, err := env.m.Install(ctx, pkg(t, env.pkgs, v2), plugin.InstallOptions{Force: true}); err != nil {
			t.Errorf("forced reinstall: %v", err)
		}
		checkInstalled(t, env.m, name, "2.0.0-rc.1", v2)
		if _, err := env.m.Install(ctx, pkg(t, env.pkgs, v1), plugin.InstallOptions{Force: true}); err != nil {
			t.Errorf("forced downgrade: %v", err)
		}
		checkInstalled(t, env.m, name, "1.0.0", v1)
		// A replacement leaves neither the old files nor staging behind.
		if got := snapshot(t, env.base); len(got) != 4 { // ., plugins, plugins/NAME, the executable
			t.Errorf("after replacements: %v", got)
		}
	})
	t.Run("pre-release is lower than its release", func(t *testing.T) {
		env := newInstallEnv(t)
		install(t, env.m.Dir, name, versioned(t, "2.0.0"))
		_, err := env.m.Install(ctx, pkg(t, env.pkgs, v2), plugin.InstallOptions{})
		if !errors.Is(err, plugin.ErrDowngrade) {
			t.Errorf("2.0.0-rc.1 over 2.0.0: %v", err)
		}
	})
	t.Run("installed plugin is invalid", func(t *testing.T) {
		env := newInstallEnv(t)
		broken := install(t, env.m.Dir, name, bins.test)
		if err := os.WriteFile(broken, []byte("#!/bin/false\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, env.base)
		_, err := env.m.Install(ctx, pkg(t, env.pkgs, v1), plugin.InstallOptions{})
		if !errors.Is(err, plugin.ErrAlreadyInstalled) || !strings.Contains(err.Error(), "invalid plugin is installed") {
			t.Errorf("over a broken plugin: %v", err)
		}
		sameSnapshot(t, before, snapshot(t, env.base))
		if _, err := env.m.Install(ctx, pkg(t, env.pkgs, v1), plugin.InstallOptions{Force: true}); err != nil {
			t.Fatalf("forced over a broken plugin: %v", err)
		}
		checkInstalled(t, env.m, name, "1.0.0", v1)
	})
	t.Run("installed plugin directory is a symbolic link", func(t *testing.T) {
		env := newInstallEnv(t)
		elsewhere := t.TempDir()
		install(t, elsewhere, name, bins.test)
		os.MkdirAll(env.m.Dir, 0o700)
		if err := os.Symlink(filepath.Join(elsewhere, name), filepath.Join(env.m.Dir, name)); err != nil {
			t.Fatal(err)
		}
		_, err := env.m.Install(ctx, pkg(t, env.pkgs, v2), plugin.InstallOptions{})
		if !errors.Is(err, plugin.ErrAlreadyInstalled) {
			t.Errorf("over a symlinked plugin: %v", err)
		}
		target := snapshot(t, elsewhere)
		if _, err := env.m.Install(ctx, pkg(t, env.pkgs, v2), plugin.InstallOptions{Force: true}); err != nil {
			t.Fatalf("forced over a symlinked plugin: %v", err)
		}
		checkInstalled(t, env.m, name, "2.0.0-rc.1", v2)
		sameSnapshot(t, target, snapshot(t, elsewhere)) // the link's target is not touched
	})
	t.Run("versions that are not SemVer", func(t *testing.T) {
		// The vverifier mode reports "v1.3.0".
		env := newInstallEnv(t)
		vname := "com.example.vverifier"
		install(t, env.m.Dir, vname, bins.test)
		src := writeZip(t, env.pkgs, "v.zip", entry{name: plugin.ExecutableName(vname), body: readBin(t, bins.test), mode: 0o755})
		_, err := env.m.Install(ctx, plugin.InstallSource{File: src}, plugin.InstallOptions{})
		if !errors.Is(err, plugin.ErrVersion) || !strings.Contains(err.Error(), "SemVer") {
			t.Errorf("non-SemVer versions: %v", err)
		}
		if _, err := env.m.Install(ctx, plugin.InstallSource{File: src}, plugin.InstallOptions{Force: true}); err != nil {
			t.Errorf("forced: %v", err)
		}
	})
}

// TestInstallConcurrent: of concurrent installations of a new plugin,
// at least one succeeds, the others fail cleanly, and what is installed is
// whole.
func TestInstallConcurrent(t *testing.T) {
	env := newInstallEnv(t)
	name := "com.example.raw"
	src := writeZip(t, env.pkgs, "p.zip", entry{name: plugin.ExecutableName(name), body: readBin(t, bins.test), mode: 0o755})
	var wg sync.WaitGroup
	var ok atomic.Int32
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := env.m.Install(context.Background(), plugin.InstallSource{File: src}, plugin.InstallOptions{})
			if err == nil {
				ok.Add(1)
				return
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	if ok.Load() < 1 {
		t.Fatal("no installation succeeded")
	}
	for err := range errs {
		t.Logf("concurrent install: %v", err)
	}
	checkInstalled(t, env.m, name, "1.2.3", bins.test)
	des, _ := os.ReadDir(env.base)
	if len(des) != 1 {
		t.Errorf("left beside the plugin directory: %v", des)
	}
}

// TestInstallURL downloads packages from an in-process TLS server (PLG-5:
// https only, SHA-256 required and checked before anything is written,
// bounded size and time).
func TestInstallURL(t *testing.T) {
	const name = "com.example.raw"
	exe := plugin.ExecutableName(name)
	pkgs := t.TempDir()
	tgz := readBin(t, writeTarGz(t, pkgs, "p.tar.gz", entry{name: exe, body: readBin(t, bins.test), mode: 0o755}, entry{name: "LICENSE", body: []byte("l")}))
	tgzSum := sha256.Sum256(tgz)
	binSum := sha256.Sum256(readBin(t, bins.test))
	var hits sync.Map // path → *atomic.Int32
	hit := func(p string) *atomic.Int32 {
		v, _ := hits.LoadOrStore(p, new(atomic.Int32))
		return v.(*atomic.Int32)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/releases/plugin.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(tgz) })
	mux.HandleFunc("/releases/"+exe, func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, bins.test) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/storage/0b7f3c?sig=abc", http.StatusFound)
	})
	mux.HandleFunc("/storage/0b7f3c", func(w http.ResponseWriter, r *http.Request) { w.Write(tgz) })
	mux.HandleFunc("/downgrade", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/releases/plugin.tar.gz", http.StatusFound)
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Write(tgz[:100])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/stall-headers", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/announce-huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(300<<20))
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 1<<20)
		for i := 0; i < 300 && r.Context().Err() == nil; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit(r.URL.Path).Add(1)
		mux.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case makes handshakes fail
	srv.StartTLS()
	defer srv.Close()
	tlsOpts := plugin.InstallOptions{HTTPClient: srv.Client()}
	hexSum := func(s [32]byte) string { return hex.EncodeToString(s[:]) }

	t.Run("tar.gz", func(t *testing.T) {
		env := newInstallEnv(t)
		p, err := env.m.Install(context.Background(), plugin.InstallSource{URL: srv.URL + "/releases/plugin.tar.gz", SHA256: hexSum(tgzSum)}, tlsOpts)
		if err != nil {
			t.Fatal(err)
		}
		checkInstalled(t, env.m, p.Name(), "1.2.3", bins.test)
	})
	t.Run("single executable named by the URL, not the redirect", func(t *testing.T) {
		env := newInstallEnv(t)
		if _, err := env.m.Install(context.Background(), plugin.InstallSource{URL: srv.URL + "/releases/" + exe, SHA256: hexSum(binSum)}, tlsOpts); err != nil {
			t.Fatal(err)
		}
		checkInstalled(t, env.m, name, "1.2.3", bins.test)
	})
	t.Run("archive behind a redirect", func(t *testing.T) {
		env := newInstallEnv(t)
		if _, err := env.m.Install(context.Background(), plugin.InstallSource{URL: srv.URL + "/redirect", SHA256: hexSum(tgzSum)}, tlsOpts); err != nil {
			t.Fatal(err)
		}
		checkInstalled(t, env.m, name, "1.2.3", bins.test)
	})

	refusals := []struct {
		name    string
		src     plugin.InstallSource
		opts    plugin.InstallOptions
		is      error
		want    string
		noFetch string // a path the server must not have been asked for
	}{
		{name: "no checksum", src: plugin.InstallSource{URL: srv.URL + "/releases/nochecksum.tar.gz"}, opts: tlsOpts,
			is: plugin.ErrChecksum, want: "requires the package's SHA-256", noFetch: "/releases/nochecksum.tar.gz"},
		{name: "http", src: plugin.InstallSource{URL: "http" + strings.TrimPrefix(srv.URL, "https") + "/releases/http.tar.gz", SHA256: hexSum(tgzSum)}, opts: tlsOpts,
			want: `only https URLs`, noFetch: "/releases/http.tar.gz"},
		{name: "file and URL", src: plugin.InstallSource{File: "x", URL: srv.URL + "/releases/both.tar.gz", SHA256: hexSum(tgzSum)}, opts: tlsOpts,
			want: "give one", noFetch: "/releases/both.tar.gz"},
		{name: "wrong checksum", src: plugin.InstallSource{URL: srv.URL + "/releases/plugin.tar.gz", SHA256: hexSum(binSum)}, opts: tlsOpts,
			is: plugin.ErrChecksum, want: hexSum(tgzSum)},
		{name: "redirect to http", src: plugin.InstallSource{URL: srv.URL + "/downgrade", SHA256: hexSum(tgzSum)}, opts: tlsOpts,
			is: plugin.ErrDownload, want: "only https URLs"},
		{name: "not found", src: plugin.InstallSource{URL: srv.URL + "/missing", SHA256: hexSum(tgzSum)}, opts: tlsOpts,
			is: plugin.ErrDownload, want: "404 Not Found"},
		{name: "untrusted server certificate", src: plugin.InstallSource{URL: srv.URL + "/releases/plugin.tar.gz", SHA256: hexSum(tgzSum)},
			is: plugin.ErrDownload, want: "certificate"},
		{name: "stalled body", src: plugin.InstallSource{URL: srv.URL + "/stall-body", SHA256: hexSum(tgzSum)},
			opts: plugin.InstallOptions{HTTPClient: srv.Client(), DownloadTimeout: 300 * time.Millisecond},
			is:   context.DeadlineExceeded, want: "no complete answer within 300ms"},
		{name: "stalled headers", src: plugin.InstallSource{URL: srv.URL + "/stall-headers", SHA256: hexSum(tgzSum)},
			opts: plugin.InstallOptions{HTTPClient: srv.Client(), DownloadTimeout: 300 * time.Millisecond},
			is:   plugin.ErrDownload, want: "no complete answer within 300ms"},
		{name: "announced too large", src: plugin.InstallSource{URL: srv.URL + "/announce-huge", SHA256: hexSum(tgzSum)}, opts: tlsOpts,
			is: plugin.ErrInvalidPackage, want: "under 256 MiB"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			env := newInstallEnv(t)
			install(t, env.m.Dir, "com.example.envelope", bins.test)
			before := snapshot(t, env.base)
			start := time.Now()
			_, err := env.m.Install(context.Background(), tc.src, tc.opts)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Install = %v, want %v containing %q", err, tc.is, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("refused after %v", d)
			}
			if tc.noFetch != "" && hit(tc.noFetch).Load() != 0 {
				t.Errorf("the server was asked for %s", tc.noFetch)
			}
			sameSnapshot(t, before, snapshot(t, env.base))
		})
	}
	t.Run("endless body", func(t *testing.T) {
		// The limit is lowered from MaxPackageBytes (256 MiB): the refusal
		// is the same, without streaming 256 MiB through TLS under -race.
		plugin.SetMaxPackageBytes(t, 4<<20)
		env := newInstallEnv(t)
		before := snapshot(t, env.base)
		_, err := env.m.Install(context.Background(), plugin.InstallSource{URL: srv.URL + "/endless", SHA256: hexSum(tgzSum)}, tlsOpts)
		if !errors.Is(err, plugin.ErrInvalidPackage) || !strings.Contains(err.Error(), "4 MiB or more") {
			t.Fatalf("Install = %v", err)
		}
		sameSnapshot(t, before, snapshot(t, env.base))
	})
}

// TestInstallLeavesNoTemporaryFiles: the private copy of the package is
// removed after a success and after refusals.
func TestInstallLeavesNoTemporaryFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	env := newInstallEnv(t)
	exe := plugin.ExecutableName("com.example.raw")
	good := writeZip(t, env.pkgs, "good.zip", entry{name: exe, body: readBin(t, bins.test), mode: 0o755})
	bad := writeZip(t, env.pkgs, "bad.zip", entry{name: "../" + exe, body: []byte("x")})
	for _, src := range []plugin.InstallSource{
		{File: good, SHA256: strings.Repeat("a", 64)},
		{File: bad},
		{File: good},
	} {
		env.m.Install(context.Background(), src, plugin.InstallOptions{})
	}
	checkInstalled(t, env.m, "com.example.raw", "1.2.3", bins.test)
	if des, _ := os.ReadDir(tmp); len(des) != 0 {
		t.Errorf("left in TMPDIR: %v", des)
	}
}

// TestUninstall removes a plugin directory, valid or not, and refuses
// names that are not plain names, symbolic links and files.
func TestUninstall(t *testing.T) {
	ctx := context.Background()
	env := newInstallEnv(t)
	install(t, env.m.Dir, "com.example.raw", bins.test)
	install(t, env.m.Dir, "com.example.envelope", bins.test)
	broken := install(t, env.m.Dir, "com.example.broken", bins.test)
	os.Remove(broken)
	elsewhere := t.TempDir()
	install(t, elsewhere, "com.example.linked", bins.test)
	if err := os.Symlink(filepath.Join(elsewhere, "com.example.linked"), filepath.Join(env.m.Dir, "com.example.linked")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(env.m.Dir, "com.example.file"), []byte("x"), 0o600)

	for _, name := range []string{"com.example.raw", "com.example.broken"} {
		if err := env.m.Uninstall(ctx, name); err != nil {
			t.Errorf("Uninstall(%s): %v", name, err)
		}
		if _, err := os.Lstat(filepath.Join(env.m.Dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", name, err)
		}
	}
	refused := []struct {
		name, plugin string
		is           error
		want         string
	}{
		{name: "not installed", plugin: "com.example.raw", is: plugin.ErrNotFound},
		{name: "symbolic link", plugin: "com.example.linked", is: plugin.ErrInvalidPlugin, want: "symbolic link"},
		{name: "file", plugin: "com.example.file", is: plugin.ErrInvalidPlugin, want: "not a directory"},
		{name: "parent", plugin: "..", is: plugin.ErrInvalidPlugin},
		{name: "path", plugin: "../plugins/com.example.envelope", is: plugin.ErrInvalidPlugin},
		{name: "empty", plugin: "", is: plugin.ErrInvalidPlugin},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, env.base)
			targetBefore := snapshot(t, elsewhere)
			err := env.m.Uninstall(ctx, tc.plugin)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Uninstall(%q) = %v, want %v containing %q", tc.plugin, err, tc.is, tc.want)
			}
			sameSnapshot(t, before, snapshot(t, env.base))
			sameSnapshot(t, targetBefore, snapshot(t, elsewhere))
		})
	}
	entries, err := env.m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "com.example.envelope,com.example.linked" {
		t.Errorf("left: %s", got)
	}
	if des, _ := os.ReadDir(env.base); len(des) != 1 {
		t.Errorf("left beside the plugin directory: %v", des)
	}
}

// TestInstallUninstallRoundTrip: what Install put in place, Uninstall
// removes, and the plugin can be installed again.
func TestInstallUninstallRoundTrip(t *testing.T) {
	ctx := context.Background()
	env := newInstallEnv(t)
	src := writeZip(t, env.pkgs, "p.zip", entry{name: plugin.ExecutableName("com.example.raw"), body: readBin(t, bins.test), mode: 0o755}, entry{name: "LICENSE"})
	for i := 0; i < 2; i++ {
		if _, err := env.m.Install(ctx, plugin.InstallSource{File: src}, plugin.InstallOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := env.m.Uninstall(ctx, "com.example.raw"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.m.Get(ctx, "com.example.raw"); !errors.Is(err, plugin.ErrNotFound) {
			t.Fatalf("Get after Uninstall: %v", err)
		}
	}
}
