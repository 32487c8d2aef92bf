//go:build linux

package containerd

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Timeouts of the test's own calls; containerd's verifier timeout is its
// per_verifier_timeout below.
const (
	startTimeout = 30 * time.Second // containerd answering on its socket
	callTimeout  = 2 * time.Minute  // one ctr run or CRI call
	stopTimeout  = 15 * time.Second // containerd exiting after SIGTERM
)

// Peer versions: scripts/install-peers.sh builds them (CONTAINERD_VERSION there, and the registry
// version tools/registry/go.mod pins); internal/peer names the same.
const (
	containerdVersion = "v2.4.2"
	registryVersion   = "v3.1.0"
)

// world is what the test and the benchmark share: a distribution registry
// holding a signed and an unsigned image, a signet configuration trusting
// the signer for both repositories, and containerd with the verifier in
// its bin_dir.
type world struct {
	c                            *containerd
	work, regHost                string
	signedRef, unsignedRef       string
	signedDigest, unsignedDigest string
	// wrapper is the verifier wrapper in bin_dir and script its content.
	wrapper, script string
}

func setup(t testing.TB) *world {
	t.Helper()
	bins := containerdDir(t)
	registryBin := registryBinary(t)
	requireRoot(t)

	w := &world{work: workDir(t)}
	signet := buildTool(t, w.work, "signet")
	verifierBin := buildTool(t, w.work, "signet-containerd-verifier")
	w.regHost = startRegistry(t, registryBin, w.work)
	w.signedRef, w.unsignedRef = w.regHost+"/demo/signed:v1", w.regHost+"/demo/unsigned:v1"
	w.signedDigest = pushImage(t, w.regHost, "demo/signed", "v1", "signed content\n")
	w.unsignedDigest = pushImage(t, w.regHost, "demo/unsigned", "v1", "unsigned content\n")

	// The signet CLI makes the configuration and signs, as a user would.
	cfg := filepath.Join(w.work, "signet-config")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(signet, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(w.work, "home"), "SIGNET_CONFIG=" + cfg}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("signet %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("cert", "generate-test", "--default", "demo")
	run("policy", "init", "--name", "demo", "--scope", w.regHost+"/demo/signed", "--scope", w.regHost+"/demo/unsigned",
		"--trust-store", "ca:demo", "--trusted-identity", "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=demo")
	run("sign", w.regHost+"/demo/signed@"+w.signedDigest)

	// The documented install: the binary outside bin_dir, a wrapper in it
	// that names the configuration (docs/containerd.md).
	verifiers := filepath.Join(w.work, "verifiers")
	w.wrapper = filepath.Join(verifiers, "signet")
	w.script = fmt.Sprintf("#!/bin/sh\nexec %s -config %s \"$@\"\n", verifierBin, cfg)
	writeFile(t, w.wrapper, w.script, 0o755)

	w.c = startContainerd(t, bins, w.work, verifiers, w.regHost)
	return w
}

// TestContainerdVerifier pulls a signed and an unsigned image through a real
// containerd whose bindir image verifier is signet-containerd-verifier:
// the signed one is pulled, the unsigned one is blocked with signet's
// reason, through ctr (the transfer service) and the CRI image service.
func TestContainerdVerifier(t *testing.T) {
	w := setup(t)
	c, work := w.c, w.work
	signedRef, unsignedRef := w.signedRef, w.unsignedRef
	trusted := "signet: trusted " + w.regHost + "/demo/signed@" + w.signedDigest
	notTrusted := "signet: not trusted " + w.regHost + "/demo/unsigned@" + w.unsignedDigest

	t.Run("ctr pull of the signed image", func(t *testing.T) {
		out, err := c.ctr(t, "image", "pull", "--plain-http", signedRef)
		if err != nil {
			t.Fatalf("pull refused: %v\n%s\ncontainerd log:\n%s", err, out, c.logTail())
		}
		if !slices.Contains(c.images(t, "default"), signedRef) {
			t.Errorf("ctr image ls does not list %s", signedRef)
		}
		// containerd logs the verifier's reason at debug level: signet ran
		// and trusted the image (an empty or missing bin_dir also allows).
		if n := c.logCount(trusted); n != 1 {
			t.Errorf("containerd logged %d allowed pulls with reason %q, want 1:\n%s", n, trusted, c.logTail())
		}
		// Unpacked by the overlayfs snapshotter: mount it and read the file.
		mnt := filepath.Join(work, "mnt")
		if err := os.MkdirAll(mnt, 0o700); err != nil {
			t.Fatal(err)
		}
		if out, err := c.ctr(t, "image", "mount", signedRef, mnt); err != nil {
			t.Fatalf("ctr image mount: %v\n%s", err, out)
		}
		got, err := os.ReadFile(filepath.Join(mnt, "hello.txt"))
		if out, uerr := c.ctr(t, "image", "unmount", mnt); uerr != nil {
			t.Errorf("ctr image unmount: %v\n%s", uerr, out)
		}
		if err != nil || string(got) != "signed content\n" {
			t.Errorf("the unpacked image holds %q, %v; want %q", got, err, "signed content\n")
		}
	})

	t.Run("ctr pull of the unsigned image is blocked", func(t *testing.T) {
		out, err := c.ctr(t, "image", "pull", "--plain-http", unsignedRef)
		if err == nil {
			t.Fatalf("unsigned image pulled:\n%s", out)
		}
		for _, want := range []string{
			"image verifier bindir blocked pull of " + unsignedRef,
			"verifier signet rejected image (exit code 1)",
			notTrusted,
			`policy "demo"`,
			"no signature is associated with the image",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("ctr output does not contain %q:\n%s", want, out)
			}
		}
		if slices.Contains(c.images(t, "default"), unsignedRef) {
			t.Errorf("containerd stored the blocked image %s", unsignedRef)
		}
	})

	t.Run("CRI PullImage of the signed image", func(t *testing.T) {
		ref, err := c.criPull(t, signedRef)
		if err != nil {
			t.Fatalf("CRI pull refused: %v\ncontainerd log:\n%s", err, c.logTail())
		}
		if !strings.HasPrefix(ref, "sha256:") {
			t.Errorf("PullImage returned image ref %q", ref)
		}
		if !slices.Contains(c.images(t, "k8s.io"), signedRef) {
			t.Errorf("the k8s.io namespace does not list %s", signedRef)
		}
		if n := c.logCount(trusted); n != 2 {
			t.Errorf("containerd logged %d allowed pulls with reason %q, want 2 (ctr and CRI):\n%s", n, trusted, c.logTail())
		}
	})

	t.Run("CRI PullImage of the unsigned image is blocked", func(t *testing.T) {
		_, err := c.criPull(t, unsignedRef)
		if err == nil {
			t.Fatal("CRI pulled the unsigned image")
		}
		for _, want := range []string{
			"image verifier bindir blocked pull of " + unsignedRef,
			notTrusted,
			"no signature is associated with the image",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("CRI error does not contain %q: %v", want, err)
			}
		}
		if slices.Contains(c.images(t, "k8s.io"), unsignedRef) {
			t.Errorf("containerd stored the blocked image %s in k8s.io", unsignedRef)
		}
	})

	// Pinned because docs/containerd.md says so: a client-side pull does not
	// go through the transfer service, so no verifier runs.
	t.Run("ctr pull --local bypasses image verifiers", func(t *testing.T) {
		out, err := c.ctr(t, "image", "pull", "--local", "--plain-http", unsignedRef)
		if err != nil {
			t.Fatalf("ctr pull --local failed: %v\n%s", err, out)
		}
		if !slices.Contains(c.images(t, "default"), unsignedRef) {
			t.Errorf("ctr image ls does not list %s after pull --local", unsignedRef)
		}
	})
}

// requireRoot skips (or fails with SIGNET_REQUIRE_PEERS=1) unless the test
// runs as root on a kernel with overlayfs: containerd's snapshotter mounts.
func requireRoot(t testing.TB) {
	t.Helper()
	msg := ""
	if os.Geteuid() != 0 {
		msg = "the containerd e2e test runs containerd, which needs root (mounts); run it as root"
	} else if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !bytes.Contains(fs, []byte("\toverlay\n")) {
		msg = "the kernel has no overlay filesystem, which containerd's default snapshotter needs"
	}
	if msg == "" {
		return
	}
	need(t, msg)
}

// need skips the test with msg, or fails it when SIGNET_REQUIRE_PEERS=1
// (as CI sets it).
func need(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("SIGNET_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s (SIGNET_REQUIRE_PEERS=1)", msg)
	}
	t.Skip(msg)
}

// containerdDir is the directory holding containerd and ctr:
// $SIGNET_CONTAINERD_BIN, else ${SIGNET_CI_CACHE:-$HOME/.cache/signet-ci}/containerd-<version>.
func containerdDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("SIGNET_CONTAINERD_BIN")
	if dir == "" {
		base := os.Getenv("SIGNET_CI_CACHE")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache", "signet-ci")
		}
		dir = filepath.Join(base, "containerd-"+containerdVersion)
	}
	for _, f := range []string{"containerd", "ctr"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm()&0o111 == 0 {
			need(t, fmt.Sprintf("containerd %s not found: %s holds no executable %s; run scripts/install-peers.sh and source the env.sh it writes (SIGNET_CONTAINERD_BIN)", containerdVersion, dir, f))
		}
	}
	return dir
}

// registryBinary is the CNCF distribution registry: $SIGNET_REGISTRY, else
// ${SIGNET_PEERS:-$HOME/.cache/signet-ci/peers}/registry-<version>/registry.
func registryBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("SIGNET_REGISTRY")
	if bin == "" {
		peers := os.Getenv("SIGNET_PEERS")
		if peers == "" {
			home, _ := os.UserHomeDir()
			peers = filepath.Join(home, ".cache", "signet-ci", "peers")
		}
		bin = filepath.Join(peers, "registry-"+registryVersion, "registry")
	}
	if fi, err := os.Stat(bin); err != nil || fi.Mode().Perm()&0o111 == 0 {
		need(t, fmt.Sprintf("distribution registry %s not found at %s; run scripts/install-peers.sh and source the env.sh it writes (SIGNET_REGISTRY)", registryVersion, bin))
	}
	return bin
}

// startRegistry runs the distribution registry on a free loopback port with
// storage under work, until the test ends; it returns HOST:PORT.
func startRegistry(t testing.TB, bin, work string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := filepath.Join(work, "registry")
	cfg := writeFile(t, filepath.Join(dir, "config.yml"), fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), addr), 0o600)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "OTEL_TRACES_EXPORTER=none"}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start the registry: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	deadline := time.Now().Add(startTimeout)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("the registry exited:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the registry did not answer on %s within %s", addr, startTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// workDir makes a short private directory (a unix socket path must stay
// under 108 bytes) and removes it at the end, after unmounting whatever
// containerd left mounted under it.
func workDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "signet-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unmountUnder(t, dir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// unmountUnder unmounts every mount point below dir, deepest first.
func unmountUnder(t testing.TB, dir string) {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("list mounts: %v", err)
		return
	}
	defer f.Close()
	var points []string
	for s := bufio.NewScanner(f); s.Scan(); {
		fields := strings.Fields(s.Text())
		if len(fields) < 5 {
			continue
		}
		// Field 5 is the mount point, with space, tab, newline and
		// backslash octal-escaped.
		p := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(fields[4])
		if strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
	for _, p := range points {
		if err := syscall.Unmount(p, 0); err != nil {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", p, err)
			}
		}
	}
}

// buildTool builds ./cmd/NAME from this checkout into work/bin.
func buildTool(t testing.TB, work, name string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "bin", name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

// pushImage pushes, with the registry API over plain HTTP, a one-layer
// linux image whose layer is a tar holding hello.txt with text, tagged tag
// in repository repo of the registry at host, and returns the manifest's
// digest.
func pushImage(t testing.TB, host, repo, tag, text string) string {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(text))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	type desc struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	blob := func(mt string, data []byte) desc {
		t.Helper()
		d := desc{MediaType: mt, Digest: sha256Digest(data), Size: len(data)}
		resp := httpDo(t, http.MethodPost, "http://"+host+"/v2/"+repo+"/blobs/uploads/", "", nil, http.StatusAccepted)
		loc, err := url.Parse("http://" + host + "/v2/")
		if err == nil {
			loc, err = loc.Parse(resp.Header.Get("Location"))
		}
		if err != nil {
			t.Fatalf("upload location %q: %v", resp.Header.Get("Location"), err)
		}
		q := loc.Query()
		q.Set("digest", d.Digest)
		loc.RawQuery = q.Encode()
		httpDo(t, http.MethodPut, loc.String(), "application/octet-stream", data, http.StatusCreated)
		return d
	}
	layerDesc := blob("application/vnd.oci.image.layer.v1.tar", layer.Bytes())
	cfgJSON, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDesc.Digest}},
	})
	cfgDesc := blob("application/vnd.oci.image.config.v1+json", cfgJSON)
	const manifestType = "application/vnd.oci.image.manifest.v1+json"
	manifest, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": manifestType, "config": cfgDesc, "layers": []desc{layerDesc}})
	httpDo(t, http.MethodPut, "http://"+host+"/v2/"+repo+"/manifests/"+tag, manifestType, manifest, http.StatusCreated)
	return sha256Digest(manifest)
}

func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// httpDo sends one request and fails the test unless the status is want.
func httpDo(t testing.TB, method, u, contentType string, body []byte, want int) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s, want %d: %s", method, u, resp.Status, want, msg)
	}
	return resp
}

// containerd is a running containerd.
type containerd struct {
	bins, sock, logPath string
}

// startContainerd writes a private configuration under work (root, state,
// sockets, opt directory, CRI registry hosts for the plain-HTTP registry
// regHost, the verifier directory) and starts containerd; it is stopped by
// PID when the test ends.
func startContainerd(t testing.TB, bins, work, verifiers, regHost string) *containerd {
	t.Helper()
	c := &containerd{bins: bins, sock: filepath.Join(work, "containerd.sock"), logPath: filepath.Join(work, "containerd.log")}
	certs := filepath.Join(work, "certs.d")
	writeFile(t, filepath.Join(certs, regHost, "hosts.toml"), fmt.Sprintf("server = \"http://%s\"\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", regHost, regHost), 0o644)
	config := fmt.Sprintf(`version = 3
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[debug]
  level = "debug"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = %[5]q
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = %[6]q
  [plugins."io.containerd.image-verifier.v1.bindir"]
    bin_dir = %[7]q
    max_verifiers = 10
    per_verifier_timeout = "20s"
`, filepath.Join(work, "root"), filepath.Join(work, "state"), c.sock, c.sock+".ttrpc", filepath.Join(work, "opt"), certs, verifiers)
	cfgPath := writeFile(t, filepath.Join(work, "config.toml"), config, 0o600)

	logf, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bins, "containerd"), "--config", cfgPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(work, "home")}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start containerd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := exec.CommandContext(ctx, filepath.Join(bins, "ctr"), "--address", c.sock, "version").Run()
		cancel()
		if err == nil {
			return c
		}
		select {
		case werr := <-exited:
			exited <- werr
			t.Fatalf("containerd exited (%v):\n%s", werr, c.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer within %s:\n%s", startTimeout, c.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctr runs ctr against this containerd and returns its combined output.
func (c *containerd) ctr(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(c.bins, "ctr"), append([]string{"--address", c.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// images lists the image names in namespace ns.
func (c *containerd) images(t testing.TB, ns string) []string {
	t.Helper()
	out, err := c.ctr(t, "--namespace", ns, "image", "ls", "-q")
	if err != nil {
		t.Fatalf("ctr image ls: %v\n%s", err, out)
	}
	return strings.Fields(out)
}

// criPull asks the CRI image service, as the kubelet does, to pull ref.
func (c *containerd) criPull(t testing.TB, ref string) (string, error) {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+c.sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	resp, err := runtimeapi.NewImageServiceClient(conn).PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
	if err != nil {
		return "", err
	}
	return resp.ImageRef, nil
}

// logCount counts the lines of containerd's log that contain s.
func (c *containerd) logCount(s string) int {
	data, _ := os.ReadFile(c.logPath)
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// logTail is the end of containerd's log, for failure messages.
func (c *containerd) logTail() string {
	data, _ := os.ReadFile(c.logPath)
	const max = 8 << 10
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return string(data)
}

func writeFile(t testing.TB, path, data string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// BenchmarkCtrPull is one `ctr image pull` of a small signed image (removed
// again between pulls, outside the timer) with signet's verifier in bin_dir
// and with bin_dir empty: the difference is what the verifier adds to a
// pull (docs/benchmarks.md).
func BenchmarkCtrPull(b *testing.B) {
	w := setup(b)
	c, ref, wrapper, script := w.c, w.signedRef, w.wrapper, w.script
	for _, mode := range []string{"with-verifier", "empty-bin_dir"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "with-verifier" {
				writeFile(b, wrapper, script, 0o755)
			} else if err := os.Remove(wrapper); err != nil && !errors.Is(err, fs.ErrNotExist) {
				b.Fatal(err)
			}
			for b.Loop() {
				if out, err := c.ctr(b, "image", "pull", "--plain-http", ref); err != nil {
					b.Fatalf("pull: %v\n%s", err, out)
				}
				b.StopTimer()
				if out, err := c.ctr(b, "image", "rm", "--sync", ref); err != nil {
					b.Fatalf("rm: %v\n%s", err, out)
				}
				b.StartTimer()
			}
		})
	}
}
