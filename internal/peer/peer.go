// Package peer finds and runs the programs signet's interoperability tests run against: notation
// v1.3.2 (the OCI peer), notation v2.0.0-alpha.1 (the blob peer), the CNCF distribution registry and
// the ORAS CLI v1.3.6, cosign v3.1.3, containerd v2.4.2 with ctr (Containerd), kube-apiserver,
// kubectl v1.37.2 and etcd v3.6.16 (Kubernetes), and helm v4.3.2. scripts/install-peers.sh builds
// them and writes env.sh naming them.
//
// A peer's path comes from its environment variable (SIGNET_NOTATION, SIGNET_NOTATION2,
// SIGNET_REGISTRY, SIGNET_ORAS), else from the cache install-peers.sh builds into
// (${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}/<name>-<version>/<name>). A missing peer skips the
// test, or fails it when SIGNET_REQUIRE_PEERS=1, as in CI.
package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Peer versions. They match tools/go.mod, tools/registry/go.mod, tools/oras/go.mod and
// scripts/install-peers.sh, which TestVersionsMatchInstaller checks.
const (
	NotationVersion  = "v1.3.2"
	Notation2Version = "v2.0.0-alpha.1"
	RegistryVersion  = "v3.1.0"
	OrasVersion      = "v1.3.6"
	CosignVersion    = "v3.1.3"
	// ContainerdVersion is containerd's (and ctr's), built with the CRI plugin by
	// scripts/install-containerd.sh, which install-peers.sh calls.
	ContainerdVersion = "v2.4.2"
	// KubernetesVersion is kube-apiserver's and kubectl's, and EtcdVersion etcd's, built by
	// scripts/install-k8s.sh, which install-peers.sh calls.
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
	// HelmVersion is helm's, pinned by tools/helm/go.mod.
	HelmVersion = "v4.3.2"
)

// Environment variables read by this package.
const (
	EnvNotation     = "SIGNET_NOTATION"       // path of notation v1.3.2
	EnvNotation2    = "SIGNET_NOTATION2"      // path of notation v2.0.0-alpha.1
	EnvRegistry     = "SIGNET_REGISTRY"       // path of the distribution registry
	EnvOras         = "SIGNET_ORAS"           // path of oras v1.3.6
	EnvCosign       = "SIGNET_COSIGN"         // path of cosign v3.1.3
	EnvPeers        = "SIGNET_PEERS"          // cache directory of install-peers.sh
	EnvContainerd   = "SIGNET_CONTAINERD_BIN" // directory holding containerd and ctr
	EnvKubernetes   = "SIGNET_K8S_BIN"        // directory holding kube-apiserver, kubectl and etcd
	EnvHelm         = "SIGNET_HELM"           // path of helm v4.3.2
	EnvCICache      = "SIGNET_CI_CACHE"       // parent of the peers cache and of containerd-<version>
	EnvRequirePeers = "SIGNET_REQUIRE_PEERS"  // "1": a missing peer fails the test instead of skipping it
)

// RunTimeout bounds one Run: notation puts no timeout on plugin calls or network I/O, so a stuck
// peer would otherwise hang the test binary until go test's own 10-minute panic.
const RunTimeout = 2 * time.Minute

// MaxOutput bounds what Run keeps of a peer's stdout and of its stderr (each). The peers print a
// few kilobytes at most; more means a runaway process.
const MaxOutput = 16 << 20

// runWaitDelay is how long Run waits for a killed peer's output pipes to close (a grandchild may
// hold them open) before giving up on them.
const runWaitDelay = 5 * time.Second

type program struct {
	env     string // environment variable naming the binary
	dir     string // directory under the cache, <name>-<version>
	file    string // file name in dir
	version string
}

// Notation returns the path of notation v1.3.2, the OCI peer.
func Notation(t testing.TB) string {
	t.Helper()
	return find(t, program{EnvNotation, "notation-" + NotationVersion, "notation", NotationVersion})
}

// Notation2 returns the path of notation v2.0.0-alpha.1, the blob peer.
func Notation2(t testing.TB) string {
	t.Helper()
	return find(t, program{EnvNotation2, "notation-" + Notation2Version, "notation", Notation2Version})
}

// Registry returns the path of the CNCF distribution registry (run as `registry serve CONFIG.yml`).
func Registry(t testing.TB) string {
	t.Helper()
	return find(t, program{EnvRegistry, "registry-" + RegistryVersion, "registry", RegistryVersion})
}

// Oras returns the path of the ORAS CLI v1.3.6.
func Oras(t testing.TB) string {
	t.Helper()
	return find(t, program{EnvOras, "oras-" + OrasVersion, "oras", OrasVersion})
}

// Cosign returns the path of cosign v3.1.3, the peer of cosign signature verification.
func Cosign(t testing.TB) string {
	t.Helper()
	return find(t, program{EnvCosign, "cosign-" + CosignVersion, "cosign", CosignVersion})
}

// Containerd returns the directory holding containerd and ctr ContainerdVersion: $SIGNET_CONTAINERD_BIN,
// else ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/containerd-<version>, where
// scripts/install-containerd.sh builds them. A missing one skips the test, or fails it when
// SIGNET_REQUIRE_PEERS=1.
func Containerd(t testing.TB) string {
	t.Helper()
	return findDir(t, dirProgram{EnvContainerd, "containerd-" + ContainerdVersion, "containerd " + ContainerdVersion,
		[]string{"containerd", "ctr"}, "scripts/install-containerd.sh"})
}

// Kubernetes returns the directory holding kube-apiserver and kubectl KubernetesVersion and etcd
// EtcdVersion: $SIGNET_K8S_BIN, else ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/k8s-<version>, where
// scripts/install-k8s.sh builds them. A missing one skips the test, or fails it when
// SIGNET_REQUIRE_PEERS=1.
func Kubernetes(t testing.TB) string {
	t.Helper()
	return findDir(t, dirProgram{EnvKubernetes, "k8s-" + KubernetesVersion, "kube-apiserver " + KubernetesVersion + " and etcd " + EtcdVersion,
		[]string{"kube-apiserver", "kubectl", "etcd"}, "scripts/install-k8s.sh"})
}

// Helm returns the path of helm HelmVersion.
func Helm(t testing.TB) string {
	t.Helper()
	return find(t, program{EnvHelm, "helm-" + HelmVersion, "helm", HelmVersion})
}

// dirProgram is a set of binaries installed together into one directory below the CI cache.
type dirProgram struct {
	env       string   // environment variable naming the directory
	dir       string   // directory under ciCache(), <name>-<version>
	what      string   // for messages
	files     []string // binaries the directory must hold
	installer string   // the script that builds them
}

func findDir(t testing.TB, p dirProgram) string {
	t.Helper()
	dir := os.Getenv(p.env)
	if dir != "" {
		for _, f := range p.files {
			if err := executable(filepath.Join(dir, f)); err != nil {
				t.Fatalf("%s=%s: %s: %v", p.env, dir, f, err)
				return ""
			}
		}
		return dir
	}
	msg := fmt.Sprintf("%s not found: $%s is unset", p.what, p.env)
	if base := ciCache(); base != "" {
		dir = filepath.Join(base, p.dir)
		all := true
		for _, f := range p.files {
			all = all && executable(filepath.Join(dir, f)) == nil
		}
		if all {
			return dir
		}
		msg += " and " + dir + " does not hold " + strings.Join(p.files, ", ")
	}
	msg += "; run scripts/install-peers.sh (or " + p.installer + ") and source the env.sh it writes"
	if os.Getenv(EnvRequirePeers) == "1" {
		t.Fatalf("%s (%s=1)", msg, EnvRequirePeers)
		return ""
	}
	t.Skip(msg)
	return ""
}

// ciCache is $SIGNET_CI_CACHE, else $HOME/.cache/signet-ci; empty when neither is known.
func ciCache() string {
	if d := os.Getenv(EnvCICache); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "signet-ci")
}

// CacheDir is the directory scripts/install-peers.sh builds into: $SIGNET_PEERS, else
// $HOME/.cache/signet-ci/peers. It is empty when neither is known.
func CacheDir() string {
	if d := os.Getenv(EnvPeers); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "signet-ci", "peers")
}

func find(t testing.TB, p program) string {
	t.Helper()
	if path := os.Getenv(p.env); path != "" {
		if err := executable(path); err != nil {
			t.Fatalf("%s=%s: %v", p.env, path, err)
			return ""
		}
		return path
	}
	msg := fmt.Sprintf("%s %s not found: $%s is unset", p.file, p.version, p.env)
	if d := CacheDir(); d != "" {
		path := filepath.Join(d, p.dir, p.file)
		if executable(path) == nil {
			return path
		}
		msg += " and " + path + " does not exist"
	}
	msg += "; run scripts/install-peers.sh and source the env.sh it writes"
	if os.Getenv(EnvRequirePeers) == "1" {
		t.Fatalf("%s (%s=1)", msg, EnvRequirePeers)
		return ""
	}
	t.Skip(msg)
	return ""
}

func executable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

// Run runs bin with args, waits at most RunTimeout (less if t's context ends first) and returns
// what it printed. The process sees only PATH, HOME set to a fresh temporary directory, and env:
// the caller sets HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, NOTATION_EXPERIMENTAL and the like there
// (a later entry overrides an earlier one). Nothing else leaks in from the test's environment.
// err is the *exec.ExitError of a run that exited non-zero (use errors.As), wraps
// context.DeadlineExceeded on timeout, and is non-nil when either output exceeded MaxOutput (what
// came before the limit is returned).
func Run(t testing.TB, bin string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return run(t, limits{RunTimeout, runWaitDelay, MaxOutput}, bin, env, args...)
}

// limits are Run's bounds, made parameters so that tests can shrink them.
type limits struct {
	timeout   time.Duration
	waitDelay time.Duration
	maxOutput int
}

func run(t testing.TB, lim limits, bin string, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), lim.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.WaitDelay = lim.waitDelay
	stdout := &limitedBuffer{max: lim.maxOutput}
	stderr := &limitedBuffer{max: lim.maxOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	t.Logf("run %s %s", filepath.Base(bin), strings.Join(args, " "))
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("%s %s: no result within %v: %w", bin, strings.Join(args, " "), lim.timeout, ctx.Err())
	case err == nil && (stdout.truncated || stderr.truncated):
		err = fmt.Errorf("%s %s: output beyond %d bytes", bin, strings.Join(args, " "), lim.maxOutput)
	}
	return stdout.String(), stderr.String(), err
}

// limitedBuffer keeps the first max bytes written to it and drops the rest, so that a runaway peer
// neither fills memory nor blocks on a full pipe. It must not embed bytes.Buffer: os/exec would
// copy through the embedded ReadFrom and bypass the limit.
type limitedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }
