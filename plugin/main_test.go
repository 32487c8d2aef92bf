package plugin_test

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin"
)

// Test plugins are real executables, built once per test binary:
//
//   - testplugin (testdata/testplugin, package main in this module, standard
//     library only) plays every good and hostile part, chosen by the name
//     it is installed under and by pluginConfig["mode"];
//   - sdkplugin (testdata/sdkplugin, its own module) is built on the public
//     SDK github.com/notaryproject/notation-plugin-framework-go.
var bins struct {
	test   string
	sdk    string
	sdkErr error // why sdk could not be built, if it could not
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if slices.Contains(os.Args, "-test.fuzzworker=true") || slices.Contains(os.Args, "-test.fuzzworker") {
		// Fuzz workers run only fuzz targets, which need no plugins.
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "signet-plugin-bins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bins.test = filepath.Join(dir, "testplugin")
	if out, err := goBuild(goTool, ".", bins.test, "./testdata/testplugin"); err != nil {
		fmt.Fprintf(os.Stderr, "build testdata/testplugin: %v\n%s", err, out)
		return 1
	}
	bins.sdk = filepath.Join(dir, "sdkplugin")
	if out, err := goBuild(goTool, "testdata/sdkplugin", bins.sdk, "."); err != nil {
		bins.sdkErr = fmt.Errorf("build testdata/sdkplugin (needs github.com/notaryproject/notation-plugin-framework-go from the module cache or proxy): %v\n%s", err, out)
	}
	return m.Run()
}

func goBuild(goTool, dir, out, pkg string) ([]byte, error) {
	cmd := exec.Command(goTool, "build", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

// needSDK skips when the SDK plugin could not be built (no module cache
// and no proxy); everything else still runs.
func needSDK(t *testing.T) {
	t.Helper()
	if bins.sdkErr != nil {
		t.Skip(bins.sdkErr)
	}
}

// install copies bin into dir as the plugin name's executable, mode 0755.
// Each install is a copy, so that tests may change one plugin's file.
func install(t testing.TB, dir, name, bin string) string {
	t.Helper()
	pdir := filepath.Join(dir, name)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(pdir, plugin.ExecutableName(name))
	copyFile(t, bin, dst, 0o755)
	return dst
}

func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// newManager installs the test plugin under each name in a fresh plugin
// directory. Names are com.example.MODE (see testdata/testplugin).
func newManager(t testing.TB, names ...string) *plugin.Manager {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	for _, n := range names {
		install(t, dir, n, bins.test)
	}
	return &plugin.Manager{Dir: dir, Timeout: 30 * time.Second}
}

// keyDir writes a key and chain (root, intermediate, leaf) per id in a
// fresh directory, in the layout the test plugins read: ID.key, ID.crt.
// ids maps key ID to key type ("rsa-2048", "ec-256", ...).
func keyDir(t testing.TB, ids map[string]testpki.KeyType) (string, map[string]*testpki.Chain) {
	t.Helper()
	dir := t.TempDir()
	chains := map[string]*testpki.Chain{}
	for id, kt := range ids {
		c := testpki.NewChain(t, kt)
		chains[id] = c
		if err := os.WriteFile(filepath.Join(dir, id+".key"), testpki.KeyPEM(t, c.Leaf.Key), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, id+".crt"), testpki.CertsPEM(c.Certs()...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, chains
}
