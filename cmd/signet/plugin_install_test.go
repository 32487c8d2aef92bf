package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin"
)

// buildTestPlugin builds plugin/testdata/testplugin (the stdlib test
// plugin of package plugin) into dir.
func buildTestPlugin(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(dir, "testplugin")
	cmd := exec.Command(goTool, "build", "-o", out, "../../plugin/testdata/testplugin")
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, b)
	}
	return out
}

type archiveFile struct {
	name string
	body []byte
	mode int64
}

func tarGzFile(t *testing.T, p string, files ...archiveFile) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.body)
	}
	tw.Close()
	gz.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func zipFile(t *testing.T, p string, files ...archiveFile) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		h.SetMode(os.FileMode(f.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.body)
	}
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSHA256(t *testing.T, p string) string {
	s := sha256.Sum256(readFile(t, p))
	return hex.EncodeToString(s[:])
}

// listed returns the names `signet plugin list -o json` shows.
func (c *cli) listedPlugins() []pluginEntry {
	c.t.Helper()
	var out []pluginEntry
	jsonOut(c.t, c.must("plugin", "list", "-o", "json"), &out)
	return out
}

// TestPluginInstallCLI: `signet plugin install` and `plugin uninstall`
// with the real test plugin, packaged at test time (PLG-5), their
// refusals and exit codes (docs/exit-codes.md).
func TestPluginInstallCLI(t *testing.T) {
	pkgs := t.TempDir()
	bin := buildTestPlugin(t, t.TempDir())
	const name = "com.example.raw"
	exe := plugin.ExecutableName(name)
	single := filepath.Join(pkgs, exe)
	if err := os.WriteFile(single, readFile(t, bin), 0o755); err != nil {
		t.Fatal(err)
	}
	tgz := tarGzFile(t, filepath.Join(pkgs, "raw.tar.gz"), archiveFile{name: exe, body: readFile(t, bin), mode: 0o644}, archiveFile{name: "LICENSE", body: []byte("license"), mode: 0o644})

	t.Run("install, list, reinstall, force, uninstall", func(t *testing.T) {
		c := newCLI(t)
		r := c.must("plugin", "install", "--file", single)
		want := "Installed plugin com.example.raw, version 1.2.3, in " + c.path("plugins", name, exe)
		if strings.TrimSpace(r.stdout) != want {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
		if l := c.listedPlugins(); len(l) != 1 || l[0].Name != name || l[0].Version != "1.2.3" || l[0].Error != "" {
			t.Errorf("plugin list: %+v", l)
		}
		// The installed plugin signs: the plugin list shows its capability.
		if l := c.listedPlugins(); len(l[0].Capabilities) != 1 || l[0].Capabilities[0] != "SIGNATURE_GENERATOR.RAW" {
			t.Errorf("capabilities: %+v", l[0].Capabilities)
		}
		checkFailure(t, c.run("plugin", "install", "--file", tgz), exitUsage, "version 1.2.3 is already installed", "--force")
		r = c.must("plugin", "install", "--file", tgz, "--force", "-o", "json", "--sha256sum", fileSHA256(t, tgz))
		var got pluginInstalled
		jsonOut(t, r, &got)
		if got.Name != name || got.Version != "1.2.3" || got.Path != c.path("plugins", name, exe) || len(got.Capabilities) != 1 {
			t.Errorf("install -o json: %+v", got)
		}
		if _, err := os.Stat(c.path("plugins", name, "LICENSE")); err != nil {
			t.Errorf("the archive's license was not installed: %v", err)
		}
		checkFailure(t, c.run("plugin", "uninstall", name), exitUsage, `uninstalling plugin "com.example.raw" needs confirmation`, "signet plugin uninstall com.example.raw -y")
		if l := c.listedPlugins(); len(l) != 1 {
			t.Fatalf("uninstall without -y removed the plugin: %+v", l)
		}
		r = c.must("plugin", "uninstall", name, "-y")
		if strings.TrimSpace(r.stdout) != "Uninstalled plugin com.example.raw" {
			t.Errorf("stdout %q", r.stdout)
		}
		if l := c.listedPlugins(); len(l) != 0 {
			t.Errorf("after uninstall: %+v", l)
		}
		checkFailure(t, c.run("plugin", "rm", name, "-y"), exitUsage, "plugin not found", "signet plugin list")
	})

	t.Run("install from a zip, sign with it and verify", func(t *testing.T) {
		c := newCLI(t)
		z := zipFile(t, filepath.Join(t.TempDir(), "raw.zip"), archiveFile{name: exe, body: readFile(t, bin), mode: 0o755})
		c.must("plugin", "add", "--file", z)
		// The test plugin signs with KEYID.key / KEYID.crt from keydir.
		keydir := t.TempDir()
		chain := testpki.NewChain(t, "ec-256")
		writeFile(t, keydir, "k1.key", testpki.KeyPEM(t, chain.Leaf.Key))
		writeFile(t, keydir, "k1.crt", testpki.CertsPEM(chain.Certs()...))
		root := writeFile(t, t.TempDir(), "root.pem", testpki.CertsPEM(chain.Root.Cert))
		work := t.TempDir()
		blob := writeFile(t, work, "blob.txt", []byte("hello"))
		c.must("blob", "sign", "--plugin", name, "--id", "k1", "--plugin-config", "keydir="+keydir, "--signature-directory", work, blob)
		c.must("cert", "add", "--type", "ca", "--store", "plugins", root)
		c.blobPolicy(global(statement("all", "strict", []string{"ca:plugins"}, []string{"*"})))
		c.must("blob", "verify", "--signature", filepath.Join(work, "blob.txt.jws.sig"), blob)
	})

	t.Run("refusals", func(t *testing.T) {
		c := newCLI(t)
		tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(readFile(t, tgz)) }))
		tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
		tlsSrv.StartTLS()
		defer tlsSrv.Close()
		evil := tarGzFile(t, filepath.Join(t.TempDir(), "evil.tar.gz"), archiveFile{name: exe, body: readFile(t, bin), mode: 0o755}, archiveFile{name: "../../evil", body: []byte("x"), mode: 0o644})
		two := zipFile(t, filepath.Join(t.TempDir(), "two.zip"), archiveFile{name: exe, body: []byte("a"), mode: 0o755}, archiveFile{name: "notation-com.example.b", body: []byte("b"), mode: 0o755})
		badname := filepath.Join(t.TempDir(), plugin.ExecutableName("com.example.badname"))
		os.WriteFile(badname, readFile(t, bin), 0o755)
		tests := []struct {
			name       string
			args       []string
			code       int
			want, hint string
		}{
			{name: "no source", args: []string{"plugin", "install"}, code: exitUsage, want: "needs --file PATH or --url URL", hint: "--help"},
			{name: "positional source", args: []string{"plugin", "install", single}, code: exitUsage, want: "requires no arguments", hint: "--help"},
			{name: "file and url", args: []string{"plugin", "install", "--file", single, "--url", "https://example.com/p.zip"}, code: exitUsage, want: "cannot be used together", hint: "one package"},
			{name: "url without checksum", args: []string{"plugin", "install", "--url", tlsSrv.URL + "/p.tar.gz"}, code: exitUsage, want: "--url needs --sha256sum", hint: "publisher"},
			{name: "http url", args: []string{"plugin", "install", "--url", "http://example.com/p.tar.gz", "--sha256sum", fileSHA256(t, tgz)}, code: exitUsage, want: "only https URLs"},
			{name: "wrong checksum", args: []string{"plugin", "install", "--file", tgz, "--sha256sum", strings.Repeat("0", 64)}, code: exitUsage, want: "checksum mismatch", hint: "publisher"},
			{name: "missing file", args: []string{"plugin", "install", "--file", filepath.Join(pkgs, "absent.zip")}, code: exitIO, want: "no such file"},
			{name: "path traversal", args: []string{"plugin", "install", "--file", evil}, code: exitUsage, want: "path traversal", hint: "top level"},
			{name: "two executables", args: []string{"plugin", "install", "--file", two}, code: exitUsage, want: "more than one plugin executable", hint: "*"},
			{name: "metadata names another plugin", args: []string{"plugin", "install", "--file", badname}, code: exitUsage, want: "PLG-4", hint: "get-plugin-metadata"},
			{name: "untrusted server certificate", args: []string{"plugin", "install", "--url", tlsSrv.URL + "/p.tar.gz", "--sha256sum", fileSHA256(t, tgz)}, code: exitIO, want: "certificate", hint: "network"},
			{name: "bad output format", args: []string{"plugin", "install", "--file", single, "-o", "yaml"}, code: exitUsage, want: "unsupported output format"},
			{name: "uninstall a path", args: []string{"plugin", "uninstall", "../x", "-y"}, code: exitUsage, want: "not a valid plugin name"},
			{name: "uninstall without a name", args: []string{"plugin", "uninstall", "-y"}, code: exitUsage, want: "requires one plugin name", hint: "--help"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				checkFailure(t, c.run(tc.args...), tc.code, tc.want, tc.hint)
				if _, err := os.Stat(c.path("plugins")); !os.IsNotExist(err) {
					t.Errorf("the plugin directory exists after a refusal: %v", err)
				}
			})
		}
	})
}
