package peer

import (
	"bufio"
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

// fakeTB records Fatalf and Skip instead of ending the goroutine, so that find's failure paths can
// be observed. find returns right after either.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skip(a ...any)                  { f.skip = fmt.Sprint(a...) }

func writeFile(t *testing.T, path, content string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFind(t *testing.T) {
	peers := []struct {
		name  string
		find  func(testing.TB) string
		env   string
		cache string // path under the cache directory
	}{
		{"notation", Notation, EnvNotation, "notation-v1.3.2/notation"},
		{"notation2", Notation2, EnvNotation2, "notation-v2.0.0-alpha.1/notation"},
		{"registry", Registry, EnvRegistry, "registry-v3.1.0/registry"},
		{"helm", Helm, EnvHelm, "helm-v4.3.2/helm"},
	}
	const (
		fromEnv   = "env"
		fromCache = "cache"
	)
	tests := []struct {
		name      string
		envFile   string // written with envMode and named by the peer's variable; "" leaves it unset
		envMode   os.FileMode
		envAbsent bool // the variable names a file that does not exist
		inCache   bool
		require   string
		want      string // fromEnv, fromCache or ""
		fatal     string // substring of the Fatalf message; "" means no Fatalf
		skip      string // substring of the Skip message; "" means no Skip
	}{
		{name: "env var wins over cache", envFile: "bin", envMode: 0o755, inCache: true, want: fromEnv},
		{name: "env var names a missing file", envAbsent: true, inCache: true, fatal: "no such file"},
		{name: "env var names a non-executable file", envFile: "bin", envMode: 0o644, inCache: true, fatal: "not an executable"},
		{name: "cache when env var unset", inCache: true, want: fromCache},
		{name: "cache when env var unset and peers required", inCache: true, require: "1", want: fromCache},
		{name: "missing and required fails", require: "1", fatal: "scripts/install-peers.sh"},
		{name: "missing and not required skips", skip: "scripts/install-peers.sh"},
		{name: "missing and required=0 skips", require: "0", skip: "scripts/install-peers.sh"},
	}
	for _, p := range peers {
		for _, tc := range tests {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				dir := t.TempDir()
				cacheDir := filepath.Join(dir, "cache")
				t.Setenv(EnvPeers, cacheDir)
				t.Setenv(EnvRequirePeers, tc.require)
				for _, q := range peers {
					t.Setenv(q.env, "")
				}
				var envPath string
				switch {
				case tc.envFile != "":
					envPath = writeFile(t, filepath.Join(dir, tc.envFile), "#!/bin/sh\n", tc.envMode)
					t.Setenv(p.env, envPath)
				case tc.envAbsent:
					t.Setenv(p.env, filepath.Join(dir, "absent"))
				}
				cachePath := filepath.Join(cacheDir, p.cache)
				if tc.inCache {
					writeFile(t, cachePath, "#!/bin/sh\n", 0o755)
				}

				f := &fakeTB{TB: t}
				got := p.find(f)

				want := map[string]string{fromEnv: envPath, fromCache: cachePath}[tc.want]
				if got != want {
					t.Errorf("path = %q, want %q", got, want)
				}
				check := func(what, msg, wantSub string) {
					if wantSub == "" && msg != "" || wantSub != "" && !strings.Contains(msg, wantSub) {
						t.Errorf("%s message = %q, want one containing %q", what, msg, wantSub)
					}
				}
				check("Fatalf", f.fatal, tc.fatal)
				check("Skip", f.skip, tc.skip)
			})
		}
	}
}

func TestCacheDirDefault(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv(EnvPeers, "")
	if got, want := CacheDir(), filepath.Join(home, ".cache", "signet-ci", "peers"); got != want {
		t.Errorf("CacheDir() = %q, want %q", got, want)
	}
}

func script(t *testing.T, body string) string {
	t.Helper()
	return writeFile(t, filepath.Join(t.TempDir(), "peer.sh"), "#!/bin/sh\n"+body, 0o755)
}

func TestRunIsolatesEnvironment(t *testing.T) {
	t.Setenv("SIGNET_PEER_TEST_LEAK", "leaked")
	bin := script(t, `echo "home=$HOME cfg=$XDG_CONFIG_HOME leak=$SIGNET_PEER_TEST_LEAK"; echo "args=$*"; echo oops >&2; exit 3`)

	stdout, stderr, err := Run(t, bin, []string{"XDG_CONFIG_HOME=/cfg", "XDG_CONFIG_HOME=/cfg2"}, "a b", "c")

	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("err = %v, want exit status 3", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout = %q, want two lines", stdout)
	}
	fields := strings.Fields(lines[0])
	home := strings.TrimPrefix(fields[0], "home=")
	if home == "" || home == os.Getenv("HOME") || !filepath.IsAbs(home) {
		t.Errorf("HOME = %q, want a fresh temporary directory", home)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		t.Errorf("HOME %q is not a directory: %v", home, err)
	}
	if got := strings.Join(fields[1:], " "); got != "cfg=/cfg2 leak=" {
		t.Errorf("environment = %q, want the caller's last XDG_CONFIG_HOME and nothing leaked", got)
	}
	if lines[1] != "args=a b c" {
		t.Errorf("args line = %q", lines[1])
	}
	if stderr != "oops\n" {
		t.Errorf("stderr = %q, want %q", stderr, "oops\n")
	}
}

func TestRunCallerHomeOverrides(t *testing.T) {
	bin := script(t, `echo "$HOME"`)
	stdout, _, err := Run(t, bin, []string{"HOME=/nowhere"})
	if err != nil {
		t.Fatal(err)
	}
	if stdout != "/nowhere\n" {
		t.Errorf("stdout = %q, want the caller's HOME", stdout)
	}
}

func TestRunTimeout(t *testing.T) {
	// The grandchild sleep holds the output pipes open after sh is killed: waitDelay must end the
	// wait anyway.
	bin := script(t, "sleep 30\n")
	lim := limits{timeout: 200 * time.Millisecond, waitDelay: 300 * time.Millisecond, maxOutput: MaxOutput}
	start := time.Now()
	_, _, err := run(t, lim, bin, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v, want about %v", d, lim.timeout+lim.waitDelay)
	}
}

func TestRunOutputLimit(t *testing.T) {
	bin := script(t, `printf 0123456789abcdef; printf xyz >&2`)
	tests := []struct {
		name       string
		max        int
		wantStdout string
		wantStderr string
		wantErr    bool
	}{
		{name: "under the limit", max: 16, wantStdout: "0123456789abcdef", wantStderr: "xyz"},
		{name: "stdout over the limit", max: 10, wantStdout: "0123456789", wantStderr: "xyz", wantErr: true},
		{name: "both over the limit", max: 2, wantStdout: "01", wantStderr: "xy", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := run(t, limits{RunTimeout, runWaitDelay, tc.max}, bin, nil)
			if stdout != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("output = %q, %q; want %q, %q", stdout, stderr, tc.wantStdout, tc.wantStderr)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestVersionsMatchInstaller keeps this package's versions in step with the files that pin the
// builds: tools/go.mod, tools/registry/go.mod, tools/oras/go.mod and scripts/install-peers.sh.
func TestVersionsMatchInstaller(t *testing.T) {
	tests := []struct {
		name string
		file string
		key  string // first field of the pinning line
		want string
	}{
		{name: "notation", file: "../../tools/go.mod", key: "github.com/notaryproject/notation", want: NotationVersion},
		{name: "registry", file: "../../tools/registry/go.mod", key: "github.com/distribution/distribution/v3", want: RegistryVersion},
		{name: "notation2", file: "../../scripts/install-peers.sh", key: "NOTATION2_VERSION", want: Notation2Version},
		{name: "oras", file: "../../tools/oras/go.mod", key: "oras.land/oras", want: OrasVersion},
		{name: "cosign", file: "../../tools/cosign/go.mod", key: "github.com/sigstore/cosign/v3", want: CosignVersion},
		{name: "containerd", file: "../../scripts/install-peers.sh", key: "CONTAINERD_VERSION", want: ContainerdVersion},
		{name: "kubernetes", file: "../../scripts/install-peers.sh", key: "K8S_VERSION", want: KubernetesVersion},
		{name: "etcd", file: "../../scripts/install-peers.sh", key: "ETCD_VERSION", want: EtcdVersion},
		{name: "helm", file: "../../tools/helm/go.mod", key: "helm.sh/helm/v4", want: HelmVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got string
			for s := bufio.NewScanner(f); s.Scan() && got == ""; {
				line := strings.TrimSpace(s.Text())
				if v, ok := strings.CutPrefix(line, tc.key+"="); ok {
					got = v
				} else if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == tc.key {
					got = fields[1]
				}
			}
			if got != tc.want {
				t.Errorf("%s pins %s at %q, want %q", tc.file, tc.key, got, tc.want)
			}
		})
	}
}

// TestPeersReportVersion runs each installed peer: it is the proof that install-peers.sh built the
// versions this package names.
func TestPeersReportVersion(t *testing.T) {
	tests := []struct {
		name string
		find func(testing.TB) string
		args []string
		want string
	}{
		{name: "notation", find: Notation, args: []string{"version"}, want: "Version:     " + NotationVersion},
		{name: "notation2", find: Notation2, args: []string{"version"}, want: "Version:     " + Notation2Version},
		{name: "registry", find: Registry, args: []string{"--version"}, want: " " + RegistryVersion},
		{name: "cosign", find: Cosign, args: []string{"version"}, want: CosignVersion},
		{name: "oras", find: Oras, args: []string{"version"}, want: "Version:    " + strings.TrimPrefix(OrasVersion, "v")},
		// go install leaves the version's build metadata "+unknown".
		{name: "containerd", find: func(t testing.TB) string { return filepath.Join(Containerd(t), "containerd") }, args: []string{"--version"}, want: " " + strings.TrimPrefix(ContainerdVersion, "v") + "+"},
		{name: "ctr", find: func(t testing.TB) string { return filepath.Join(Containerd(t), "ctr") }, args: []string{"--version"}, want: " " + strings.TrimPrefix(ContainerdVersion, "v") + "+"},
		{name: "kube-apiserver", find: func(t testing.TB) string { return filepath.Join(Kubernetes(t), "kube-apiserver") }, args: []string{"--version"}, want: "Kubernetes " + KubernetesVersion},
		{name: "kubectl", find: func(t testing.TB) string { return filepath.Join(Kubernetes(t), "kubectl") }, args: []string{"version", "--client"}, want: "Client Version: " + KubernetesVersion},
		{name: "etcd", find: func(t testing.TB) string { return filepath.Join(Kubernetes(t), "etcd") }, args: []string{"--version"}, want: "etcd Version: " + strings.TrimPrefix(EtcdVersion, "v")},
		{name: "helm", find: Helm, args: []string{"version"}, want: HelmVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bin := tc.find(t)
			stdout, stderr, err := Run(t, bin, nil, tc.args...)
			if err != nil {
				t.Fatalf("%v\nstderr: %s", err, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout = %q, want it to contain %q", stdout, tc.want)
			}
		})
	}
}

// TestFindDir: the containerd and Kubernetes directories come from their variable
// ($SIGNET_CONTAINERD_BIN, $SIGNET_K8S_BIN; every binary must be there), else from
// ${SIGNET_CI_CACHE}/<name>-<version>; missing skips, or fails when required.
func TestFindDir(t *testing.T) {
	peers := []struct {
		name      string
		find      func(testing.TB) string
		env       string
		cache     string // directory under the CI cache
		files     []string
		installer string
	}{
		{"containerd", Containerd, EnvContainerd, "containerd-" + ContainerdVersion, []string{"containerd", "ctr"}, "scripts/install-containerd.sh"},
		{"kubernetes", Kubernetes, EnvKubernetes, "k8s-" + KubernetesVersion, []string{"kube-apiserver", "kubectl", "etcd"}, "scripts/install-k8s.sh"},
	}
	all, first := []string{"all"}, []string{"first"} // markers: every binary, or all but the last
	tests := []struct {
		name    string
		env     []string // all, first or nil (unset)
		cache   []string
		require string
		fromEnv bool
		fromCI  bool
		fatal   string // "LAST" stands for the last binary's name
		skip    string
	}{
		{name: "env dir wins over cache", env: all, cache: all, fromEnv: true},
		{name: "env dir missing a binary fails", env: first, cache: all, fatal: "LAST"},
		{name: "cache when env unset", cache: all, fromCI: true},
		{name: "cache missing a binary and required fails", cache: first, require: "1", fatal: "does not hold"},
		{name: "missing and not required skips", skip: "INSTALLER"},
	}
	for _, p := range peers {
		for _, tc := range tests {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				files := func(which []string) []string {
					switch {
					case which == nil:
						return nil
					case which[0] == "first":
						return p.files[:len(p.files)-1]
					}
					return p.files
				}
				dir := t.TempDir()
				ci := filepath.Join(dir, "ci")
				t.Setenv(EnvCICache, ci)
				t.Setenv(EnvRequirePeers, tc.require)
				t.Setenv(p.env, "")
				envDir := filepath.Join(dir, "env")
				if tc.env != nil {
					t.Setenv(p.env, envDir)
					for _, b := range files(tc.env) {
						writeFile(t, filepath.Join(envDir, b), "#!/bin/sh\n", 0o755)
					}
				}
				cacheDir := filepath.Join(ci, p.cache)
				for _, b := range files(tc.cache) {
					writeFile(t, filepath.Join(cacheDir, b), "#!/bin/sh\n", 0o755)
				}
				f := &fakeTB{TB: t}
				got := p.find(f)
				want := ""
				if tc.fromEnv {
					want = envDir
				} else if tc.fromCI {
					want = cacheDir
				}
				if got != want {
					t.Errorf("%s() = %q, want %q", p.name, got, want)
				}
				r := strings.NewReplacer("LAST", p.files[len(p.files)-1], "INSTALLER", p.installer)
				for _, c := range []struct{ what, msg, want string }{{"Fatalf", f.fatal, r.Replace(tc.fatal)}, {"Skip", f.skip, r.Replace(tc.skip)}} {
					if c.want == "" && c.msg != "" || c.want != "" && !strings.Contains(c.msg, c.want) {
						t.Errorf("%s message = %q, want one containing %q", c.what, c.msg, c.want)
					}
				}
			})
		}
	}
}
