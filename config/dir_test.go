package config

import (
	"errors"
	"path/filepath"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// §8.1: the configuration and cache directories follow os.UserConfigDir /
// os.UserCacheDir rules, with SIGNET_CONFIG / SIGNET_CACHE overriding.
func TestResolveDirTable(t *testing.T) {
	abs := func(p string) string { return filepath.Join(string(filepath.Separator), p) }
	cwdRel, err := filepath.Abs("rel/cfg")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		goos      string
		env       map[string]string
		wantCfg   string
		wantCache string
		wantErr   bool
	}{
		{name: "override wins", goos: "linux",
			env:     map[string]string{"SIGNET_CONFIG": abs("cfg"), "SIGNET_CACHE": abs("cache"), "XDG_CONFIG_HOME": abs("x"), "HOME": abs("h")},
			wantCfg: abs("cfg"), wantCache: abs("cache")},
		{name: "relative override made absolute", goos: "linux",
			env:     map[string]string{"SIGNET_CONFIG": "rel/cfg", "SIGNET_CACHE": "rel/cfg"},
			wantCfg: cwdRel, wantCache: cwdRel},
		{name: "xdg", goos: "linux",
			env:     map[string]string{"XDG_CONFIG_HOME": abs("xc"), "XDG_CACHE_HOME": abs("xk"), "HOME": abs("h")},
			wantCfg: filepath.Join(abs("xc"), "signet"), wantCache: filepath.Join(abs("xk"), "signet")},
		{name: "home fallback", goos: "linux",
			env:     map[string]string{"HOME": abs("h")},
			wantCfg: filepath.Join(abs("h"), ".config", "signet"), wantCache: filepath.Join(abs("h"), ".cache", "signet")},
		{name: "relative xdg rejected like os.UserConfigDir", goos: "linux",
			env: map[string]string{"XDG_CONFIG_HOME": "rel", "XDG_CACHE_HOME": "rel", "HOME": abs("h")}, wantErr: true},
		{name: "nothing set", goos: "linux", env: map[string]string{}, wantErr: true},
		{name: "darwin", goos: "darwin",
			env:     map[string]string{"HOME": abs("Users/u"), "XDG_CONFIG_HOME": abs("ignored")},
			wantCfg: filepath.Join(abs("Users/u"), "Library", "Application Support", "signet"), wantCache: filepath.Join(abs("Users/u"), "Library", "Caches", "signet")},
		{name: "windows", goos: "windows",
			env:     map[string]string{"AppData": abs("roaming"), "LocalAppData": abs("local")},
			wantCfg: filepath.Join(abs("roaming"), "signet"), wantCache: filepath.Join(abs("local"), "signet")},
		{name: "windows without AppData", goos: "windows", env: map[string]string{"HOME": abs("h")}, wantErr: true},
		{name: "plan9", goos: "plan9", env: map[string]string{"home": abs("usr/u")},
			wantCfg: filepath.Join(abs("usr/u"), "lib", "signet"), wantCache: filepath.Join(abs("usr/u"), "lib", "cache", "signet")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := resolve(env(tc.env), tc.goos, EnvConfig, userConfigBase)
			cache, cerr := resolve(env(tc.env), tc.goos, EnvCache, userCacheBase)
			if tc.wantErr {
				if !errors.Is(err, ErrNoConfigDir) || !errors.Is(cerr, ErrNoConfigDir) {
					t.Fatalf("errors = %v, %v; want ErrNoConfigDir", err, cerr)
				}
				return
			}
			if err != nil || cerr != nil {
				t.Fatal(err, cerr)
			}
			if cfg != tc.wantCfg {
				t.Errorf("config = %q, want %q", cfg, tc.wantCfg)
			}
			if cache != tc.wantCache {
				t.Errorf("cache = %q, want %q", cache, tc.wantCache)
			}
		})
	}
}

func TestResolveDirUsesGetenv(t *testing.T) {
	root := t.TempDir()
	d, err := ResolveDir(env(map[string]string{"SIGNET_CONFIG": root}))
	if err != nil || d.Path != root {
		t.Fatalf("ResolveDir = %q, %v", d.Path, err)
	}
	c, err := ResolveCacheDir(env(map[string]string{"SIGNET_CACHE": root}))
	if err != nil || c != root {
		t.Fatalf("ResolveCacheDir = %q, %v", c, err)
	}
	if _, err := ResolveDir(nil); err != nil && !errors.Is(err, ErrNoConfigDir) {
		t.Fatalf("nil getenv: %v", err)
	}
}

// §8.2: file names inside the configuration directory are notation's.
func TestDirPaths(t *testing.T) {
	d := Dir{Path: filepath.FromSlash("/cfg")}
	j := func(p string) string { return filepath.FromSlash("/cfg/" + p) }
	key, cert := d.LocalKeyPaths("k1")
	tests := []struct{ name, got, want string }{
		{"truststore", d.TrustStore(), j("truststore")},
		{"oci policy", d.TrustPolicyOCI(), j("trustpolicy.oci.json")},
		{"legacy policy", d.TrustPolicyOCILegacy(), j("trustpolicy.json")},
		{"blob policy", d.TrustPolicyBlob(), j("trustpolicy.blob.json")},
		{"signing keys", d.SigningKeys(), j("signingkeys.json")},
		{"config", d.ConfigFile(), j("config.json")},
		{"localkeys", d.LocalKeys(), j("localkeys")},
		{"local key", key, j("localkeys/k1.key")},
		{"local cert", cert, j("localkeys/k1.crt")},
		{"plugins", d.Plugins(), j("plugins")},
		{"abs relative", d.Abs("localkeys/a.key"), j("localkeys/a.key")},
		{"abs absolute", d.Abs(filepath.FromSlash("/elsewhere/a.key")), filepath.FromSlash("/elsewhere/a.key")},
		{"abs empty", d.Abs(""), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
