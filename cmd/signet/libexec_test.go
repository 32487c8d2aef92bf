package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSignetLibexec: SIGNET_LIBEXEC points signet at another plugin
// directory (as NOTATION_LIBEXEC does for notation), e.g. notation's.
func TestSignetLibexec(t *testing.T) {
	libexec := t.TempDir()
	const name = "com.example.raw"
	dir := filepath.Join(libexec, "plugins", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "notation-"+name), "github.com/signet-dev/signet/plugin/testdata/testplugin").CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	c := newCLI(t)
	if r := c.must("plugin", "list"); strings.Contains(r.stdout, name) {
		t.Fatalf("plugin found without SIGNET_LIBEXEC: %s", r.stdout)
	}
	c.env = map[string]string{"SIGNET_CONFIG": c.cfg, "SIGNET_LIBEXEC": libexec}
	if r := c.must("plugin", "list"); !strings.Contains(r.stdout, name) {
		t.Fatalf("plugin not found with SIGNET_LIBEXEC: %s", r.stdout)
	}
}
