package config

import (
	"fmt"
	"path/filepath"
	"runtime"
)

// Environment variables ResolveDir and ResolveCacheDir read.
const (
	// EnvConfig overrides the configuration directory.
	EnvConfig = "SIGNET_CONFIG"
	// EnvCache overrides the cache directory.
	EnvCache = "SIGNET_CACHE"
)

// appName is the directory name under the platform's user directories.
const appName = "signet"

// File and directory names inside the configuration directory (notation's
// names, digest §8.2).
const (
	ConfigFileName          = "config.json"
	SigningKeysFileName     = "signingkeys.json"
	TrustPolicyOCIFileName  = "trustpolicy.oci.json"
	TrustPolicyLegacyName   = "trustpolicy.json"
	TrustPolicyBlobFileName = "trustpolicy.blob.json"
	TrustStoreDirName       = "truststore"
	LocalKeysDirName        = "localkeys"
	PluginsDirName          = "plugins"
	// LocalKeyExtension and LocalCertificateExtension name the files of a
	// test key: localkeys/<name>.key and localkeys/<name>.crt.
	LocalKeyExtension         = ".key"
	LocalCertificateExtension = ".crt"
)

// Dir is the configuration directory; every path signet reads or writes
// derives from it. ResolveDir returns an absolute Path. The zero value
// refers to the current working directory and is rarely what you want.
type Dir struct {
	Path string
}

// ResolveDir finds the configuration directory:
//
//  1. $SIGNET_CONFIG when set (made absolute against the working directory);
//  2. else the platform's user configuration directory plus "signet", by the
//     rules of Go's os.UserConfigDir, evaluated with getenv:
//     - Linux and other Unix: $XDG_CONFIG_HOME/signet when set (it must be
//     absolute), else $HOME/.config/signet;
//     - macOS and iOS: $HOME/Library/Application Support/signet;
//     - Windows: %AppData%\signet;
//     - Plan 9: $home/lib/signet.
//
// It wraps ErrNoConfigDir when the variables needed are unset or relative.
// To use a directory that notation created, set SIGNET_CONFIG to it (e.g.
// ~/.config/notation); the files are compatible.
func ResolveDir(getenv func(string) string) (Dir, error) {
	p, err := resolve(getenv, runtime.GOOS, EnvConfig, userConfigBase)
	if err != nil {
		return Dir{}, err
	}
	return Dir{Path: p}, nil
}

// ResolveCacheDir finds the cache directory (CRL cache and the like):
// $SIGNET_CACHE when set, else the platform's user cache directory plus
// "signet" by the rules of os.UserCacheDir: Linux $XDG_CACHE_HOME/signet
// (absolute) or $HOME/.cache/signet; macOS $HOME/Library/Caches/signet;
// Windows %LocalAppData%\signet; Plan 9 $home/lib/cache/signet.
func ResolveCacheDir(getenv func(string) string) (string, error) {
	return resolve(getenv, runtime.GOOS, EnvCache, userCacheBase)
}

// resolve applies an override variable, then a platform base directory.
func resolve(getenv func(string) string, goos, override string, base func(func(string) string, string) (string, error)) (string, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if p := getenv(override); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("%w: $%s=%q: %v", ErrNoConfigDir, override, p, err)
		}
		return abs, nil
	}
	b, err := base(getenv, goos)
	if err != nil {
		return "", fmt.Errorf("%w: %v (set $%s)", ErrNoConfigDir, err, override)
	}
	return filepath.Join(b, appName), nil
}

// userConfigBase mirrors os.UserConfigDir with an injected environment.
func userConfigBase(getenv func(string) string, goos string) (string, error) {
	switch goos {
	case "windows":
		return need(getenv, "AppData", "")
	case "darwin", "ios":
		return need(getenv, "HOME", "Library/Application Support")
	case "plan9":
		return need(getenv, "home", "lib")
	}
	return xdg(getenv, "XDG_CONFIG_HOME", ".config")
}

// userCacheBase mirrors os.UserCacheDir with an injected environment.
func userCacheBase(getenv func(string) string, goos string) (string, error) {
	switch goos {
	case "windows":
		return need(getenv, "LocalAppData", "")
	case "darwin", "ios":
		return need(getenv, "HOME", "Library/Caches")
	case "plan9":
		return need(getenv, "home", "lib/cache")
	}
	return xdg(getenv, "XDG_CACHE_HOME", ".cache")
}

func need(getenv func(string) string, name, sub string) (string, error) {
	v := getenv(name)
	if v == "" {
		return "", fmt.Errorf("$%s is not set", name)
	}
	return filepath.Join(v, filepath.FromSlash(sub)), nil
}

func xdg(getenv func(string) string, name, homeSub string) (string, error) {
	if v := getenv(name); v != "" {
		if !filepath.IsAbs(v) {
			return "", fmt.Errorf("$%s=%q is relative", name, v)
		}
		return v, nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", fmt.Errorf("neither $%s nor $HOME is set", name)
	}
	return filepath.Join(home, homeSub), nil
}

// TrustStore is the trust store root, {CONFIG}/truststore (§5.1).
func (d Dir) TrustStore() string { return filepath.Join(d.Path, TrustStoreDirName) }

// TrustPolicyOCI is {CONFIG}/trustpolicy.oci.json, the spec's OCI policy.
func (d Dir) TrustPolicyOCI() string { return filepath.Join(d.Path, TrustPolicyOCIFileName) }

// TrustPolicyOCILegacy is {CONFIG}/trustpolicy.json, the OCI policy file
// notation v1.3 reads and writes; readers fall back to it when
// TrustPolicyOCI does not exist (§5.2).
func (d Dir) TrustPolicyOCILegacy() string { return filepath.Join(d.Path, TrustPolicyLegacyName) }

// TrustPolicyBlob is {CONFIG}/trustpolicy.blob.json.
func (d Dir) TrustPolicyBlob() string { return filepath.Join(d.Path, TrustPolicyBlobFileName) }

// SigningKeys is {CONFIG}/signingkeys.json.
func (d Dir) SigningKeys() string { return filepath.Join(d.Path, SigningKeysFileName) }

// ConfigFile is {CONFIG}/config.json.
func (d Dir) ConfigFile() string { return filepath.Join(d.Path, ConfigFileName) }

// LocalKeys is {CONFIG}/localkeys, where test keys live.
func (d Dir) LocalKeys() string { return filepath.Join(d.Path, LocalKeysDirName) }

// LocalKeyPaths returns {CONFIG}/localkeys/<name>.key and .crt.
func (d Dir) LocalKeyPaths(name string) (keyPath, certPath string) {
	base := filepath.Join(d.LocalKeys(), name)
	return base + LocalKeyExtension, base + LocalCertificateExtension
}

// Plugins is {CONFIG}/plugins. (notation allows a separate
// $NOTATION_LIBEXEC; signet keeps plugins under the configuration
// directory.)
func (d Dir) Plugins() string { return filepath.Join(d.Path, PluginsDirName) }

// Abs resolves a path from signingkeys.json: absolute paths (what notation
// and GenerateTest write) are returned cleaned; relative paths are taken as
// relative to the configuration directory, not the working directory. An
// empty path stays empty.
func (d Dir) Abs(p string) string {
	if p == "" {
		return ""
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.Path, p)
}
