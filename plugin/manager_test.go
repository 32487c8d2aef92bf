package plugin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
)

// PLG-2, PLG-3: a correctly installed plugin is found and its metadata
// kept.
func TestGetFindsPlugin(t *testing.T) {
	m := newManager(t, "com.example.raw")
	p, err := m.Get(context.Background(), "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "com.example.raw" {
		t.Errorf("Name = %q", p.Name())
	}
	if want := filepath.Join(m.Dir, "com.example.raw", "notation-com.example.raw"); p.Path() != want {
		t.Errorf("Path = %q, want %q", p.Path(), want)
	}
	md := p.Metadata()
	if md.Name != "com.example.raw" || md.Version != "1.2.3" || !slices.Equal(md.SupportedContractVersions, []string{"1.0"}) {
		t.Errorf("metadata = %+v", md)
	}
	if !p.HasCapability(proto.CapabilitySignatureGenerator) || p.HasCapability(proto.CapabilityEnvelopeGenerator) {
		t.Errorf("capabilities = %v", md.Capabilities)
	}
	// Metadata returns a copy.
	md.Capabilities[0] = "changed"
	if !p.HasCapability(proto.CapabilitySignatureGenerator) {
		t.Error("changing Metadata()'s result changed the plugin")
	}
}

// PROC-5: a plugin of a newer minor version may declare capabilities and
// members this host does not know; it is still usable.
func TestGetToleratesNewerPlugin(t *testing.T) {
	m := newManager(t, "com.example.future")
	p, err := m.Get(context.Background(), "com.example.future")
	if err != nil {
		t.Fatal(err)
	}
	if !p.HasCapability("SIGNATURE_GENERATOR.QUANTUM") || !p.HasCapability(proto.CapabilitySignatureGenerator) {
		t.Errorf("capabilities = %v", p.Metadata().Capabilities)
	}
}

// PLG-3, PLG-4, PROC-5: every way a candidate can fail.
func TestGetCandidateRules(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permission bits and symbolic links")
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) // dir is the plugin directory
		plugin  string
		wantErr error
		wantMsg string
	}{
		{
			name:    "not installed",
			plugin:  "com.example.absent",
			wantErr: plugin.ErrNotFound,
			wantMsg: `plugin "com.example.absent"`,
		},
		{
			name: "directory without executable",
			setup: func(t *testing.T, dir string) {
				mkdir(t, filepath.Join(dir, "com.example.empty"))
			},
			plugin:  "com.example.empty",
			wantErr: plugin.ErrNotFound,
			wantMsg: "notation-com.example.empty",
		},
		{
			name: "executable is a symbolic link to a valid plugin (spec; notation accepts it)",
			setup: func(t *testing.T, dir string) {
				real := install(t, t.TempDir(), "com.example.raw", bins.test)
				mkdir(t, filepath.Join(dir, "com.example.raw"))
				symlink(t, real, filepath.Join(dir, "com.example.raw", "notation-com.example.raw"))
			},
			plugin:  "com.example.raw",
			wantErr: plugin.ErrInvalidPlugin,
			wantMsg: "symbolic link",
		},
		{
			name: "plugin directory is a symbolic link",
			setup: func(t *testing.T, dir string) {
				other := t.TempDir()
				install(t, other, "com.example.raw", bins.test)
				mkdir(t, dir)
				symlink(t, filepath.Join(other, "com.example.raw"), filepath.Join(dir, "com.example.raw"))
			},
			plugin:  "com.example.raw",
			wantErr: plugin.ErrInvalidPlugin,
			wantMsg: "symbolic link",
		},
		{
			name: "executable bit not set",
			setup: func(t *testing.T, dir string) {
				exe := install(t, dir, "com.example.raw", bins.test)
				if err := os.Chmod(exe, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			plugin:  "com.example.raw",
			wantErr: plugin.ErrInvalidPlugin,
			wantMsg: "not executable",
		},
		{
			name: "executable is a directory",
			setup: func(t *testing.T, dir string) {
				mkdir(t, filepath.Join(dir, "com.example.raw", "notation-com.example.raw"))
			},
			plugin:  "com.example.raw",
			wantErr: plugin.ErrInvalidPlugin,
			wantMsg: "not a regular file",
		},
		{
			name:    "metadata name differs from the directory name",
			setup:   func(t *testing.T, dir string) { install(t, dir, "com.example.badname", bins.test) },
			plugin:  "com.example.badname",
			wantErr: plugin.ErrInvalidPlugin,
			wantMsg: `executable must be "notation-com.example.other"`,
		},
		{
			name:    "contract version 1.0 not supported",
			setup:   func(t *testing.T, dir string) { install(t, dir, "com.example.v2only", bins.test) },
			plugin:  "com.example.v2only",
			wantErr: plugin.ErrInvalidPlugin,
			wantMsg: "supports contract versions [2.0], not 1.0",
		},
		{
			name:    "no capabilities",
			setup:   func(t *testing.T, dir string) { install(t, dir, "com.example.nocaps", bins.test) },
			plugin:  "com.example.nocaps",
			wantErr: plugin.ErrMalformedResponse,
			wantMsg: "capabilities cannot be empty",
		},
		{
			name:    "metadata is not JSON",
			setup:   func(t *testing.T, dir string) { install(t, dir, "com.example.garbage", bins.test) },
			plugin:  "com.example.garbage",
			wantErr: plugin.ErrMalformedResponse,
		},
		{
			name:    "metadata followed by trailing data",
			setup:   func(t *testing.T, dir string) { install(t, dir, "com.example.trailing", bins.test) },
			plugin:  "com.example.trailing",
			wantErr: plugin.ErrMalformedResponse,
		},
		{
			name:    "metadata command crashes",
			setup:   func(t *testing.T, dir string) { install(t, dir, "com.example.crash", bins.test) },
			plugin:  "com.example.crash",
			wantErr: plugin.ErrExecutable,
		},
		{name: "name with a path separator", plugin: "com.example/raw", wantErr: plugin.ErrInvalidPlugin},
		{name: "name is a parent reference", plugin: "..", wantErr: plugin.ErrInvalidPlugin},
		{name: "empty name", plugin: "", wantErr: plugin.ErrInvalidPlugin},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "plugins")
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			m := &plugin.Manager{Dir: dir}
			p, err := m.Get(ctx, tc.plugin)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Get = %v, %v; want %v", p, err, tc.wantErr)
			}
			var pe *plugin.Error
			if !errors.As(err, &pe) || pe.Plugin != tc.plugin {
				t.Errorf("error %v is not a *plugin.Error for %q", err, tc.plugin)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tc.wantMsg)
			}
		})
	}
}

// PLG-3: List examines each directory, ignores files, and reports the
// reason each invalid candidate fails.
func TestList(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links")
	}
	ctx := context.Background()
	m := newManager(t, "com.example.raw", "com.example.envelope", "com.example.badname")
	mkdir(t, filepath.Join(m.Dir, "com.example.empty"))
	if err := os.WriteFile(filepath.Join(m.Dir, "README"), []byte("not a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	install(t, other, "com.example.linked", bins.test)
	symlink(t, filepath.Join(other, "com.example.linked"), filepath.Join(m.Dir, "com.example.linked"))

	entries, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name  string
		valid bool
		err   error
	}
	want := []row{
		{"com.example.badname", false, plugin.ErrInvalidPlugin},
		{"com.example.empty", false, plugin.ErrNotFound},
		{"com.example.envelope", true, nil},
		{"com.example.linked", false, plugin.ErrInvalidPlugin},
		{"com.example.raw", true, nil},
	}
	if len(entries) != len(want) {
		t.Fatalf("List = %d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		e := entries[i]
		if e.Name != w.name || (e.Plugin != nil) != w.valid || (e.Err == nil) != w.valid || (w.err != nil && !errors.Is(e.Err, w.err)) {
			t.Errorf("entry %d = {%s %v %v}, want %+v", i, e.Name, e.Plugin != nil, e.Err, w)
		}
	}

	empty := &plugin.Manager{Dir: filepath.Join(t.TempDir(), "missing")}
	if entries, err := empty.List(ctx); err != nil || len(entries) != 0 {
		t.Errorf("List of a missing directory = %v, %v; want nothing", entries, err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
