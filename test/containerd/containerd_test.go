//go:build linux

package containerd

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testsign"
	"github.com/signet-dev/signet/registry"
)

// Timeouts of the test's own calls; containerd's verifier timeout is its
// per_verifier_timeout below.
const (
	startTimeout = 30 * time.Second // containerd answering on its socket
	callTimeout  = 2 * time.Minute  // one ctr run or CRI call
	stopTimeout  = 15 * time.Second // containerd exiting after SIGTERM
)

// TestContainerdVerifier pulls a signed and an unsigned image through a real
// containerd whose bindir image verifier is signet-containerd-verifier:
// the signed one is pulled, the unsigned one is blocked with signet's
// reason, through ctr (the transfer service) and the CRI image service.
func TestContainerdVerifier(t *testing.T) {
	bins := peer.Containerd(t)
	requireRoot(t)

	work := workDir(t)
	verifierBin := buildVerifier(t, work)

	reg := testregistry.Distribution(t, testregistry.DistributionOptions{})
	signedRef, unsignedRef := reg.Ref("demo/signed:v1"), reg.Ref("demo/unsigned:v1")
	cfg := testsign.NewConfig(t, "demo", reg.Ref("demo/signed"), reg.Ref("demo/unsigned"))
	signed := pushImage(t, reg.Ref("demo/signed"), "v1", "signed content\n")
	unsigned := pushImage(t, reg.Ref("demo/unsigned"), "v1", "unsigned content\n")
	repo, _, err := registry.NewRepository(reg.Ref("demo/signed"), registry.RemoteOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sign(t, repo, signed.Digest.String())

	// The documented install: the binary outside bin_dir, a wrapper in it
	// that names the configuration (docs/containerd.md).
	verifiers := filepath.Join(work, "verifiers")
	writeFile(t, filepath.Join(verifiers, "signet"), fmt.Sprintf("#!/bin/sh\nexec %s -config %s \"$@\"\n", verifierBin, cfg.Dir), 0o755)

	c := startContainerd(t, bins, work, verifiers, reg.Host)
	trusted := "signet: trusted " + reg.Ref("demo/signed") + "@" + signed.Digest.String()

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
			"signet: not trusted " + reg.Ref("demo/unsigned") + "@" + unsigned.Digest.String(),
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
		if ref != signed.Digest.String() && !strings.Contains(ref, "sha256:") {
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
			"signet: not trusted " + reg.Ref("demo/unsigned") + "@" + unsigned.Digest.String(),
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
	if os.Getenv(peer.EnvRequirePeers) == "1" {
		t.Fatalf("%s (%s=1)", msg, peer.EnvRequirePeers)
	}
	t.Skip(msg)
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

// buildVerifier builds cmd/signet-containerd-verifier from this checkout.
func buildVerifier(t testing.TB, work string) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "bin", "signet-containerd-verifier")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/signet-containerd-verifier")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build the verifier: %v\n%s", err, out)
	}
	return bin
}

// pushImage pushes a one-layer linux image whose layer is a tar holding
// hello.txt with text, tagged tag in repository ref, and returns the
// manifest's descriptor.
func pushImage(t testing.TB, ref, tag, text string) ocispec.Descriptor {
	t.Helper()
	repo, _, err := registry.NewRepository(ref, registry.RemoteOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte(text))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	layerDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageLayer, layer.Bytes())
	img := ocispec.Image{
		Platform: ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{layerDesc.Digest}},
	}
	cfgJSON, _ := json.Marshal(img)
	cfgDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageConfig, cfgJSON)
	manifest, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: []ocispec.Descriptor{layerDesc}})
	mDesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, manifest)
	ctx := context.Background()
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{layerDesc, layer.Bytes()}, {cfgDesc, cfgJSON}, {mDesc, manifest}} {
		if err := repo.Push(ctx, b.d, bytes.NewReader(b.data)); err != nil {
			t.Fatalf("push %s: %v", b.d.MediaType, err)
		}
	}
	if err := repo.Tag(ctx, mDesc, tag); err != nil {
		t.Fatal(err)
	}
	return mDesc
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
	bins := peer.Containerd(b)
	requireRoot(b)
	work := workDir(b)
	verifierBin := buildVerifier(b, work)
	reg := testregistry.Distribution(b, testregistry.DistributionOptions{})
	ref := reg.Ref("demo/signed:v1")
	cfg := testsign.NewConfig(b, "demo", reg.Ref("demo/signed"))
	signed := pushImage(b, reg.Ref("demo/signed"), "v1", "signed content\n")
	repo, _, err := registry.NewRepository(reg.Ref("demo/signed"), registry.RemoteOptions{PlainHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Sign(b, repo, signed.Digest.String())
	verifiers := filepath.Join(work, "verifiers")
	wrapper := filepath.Join(verifiers, "signet")
	script := fmt.Sprintf("#!/bin/sh\nexec %s -config %s \"$@\"\n", verifierBin, cfg.Dir)
	writeFile(b, wrapper, script, 0o755)
	c := startContainerd(b, bins, work, verifiers, reg.Host)
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
