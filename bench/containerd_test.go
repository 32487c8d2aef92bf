package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/registry"
)

// BenchmarkContainerdVerifierProcess is one whole signet-containerd-verifier
// process as containerd runs it before a pull (arguments, the descriptor on
// stdin, one reason line), next to one `signet verify` and one `notation
// verify` process of the same signed image, against a loopback
// go-containerregistry registry with the referrers API, warm (binaries in
// the page cache, the trust store read by each process).
func BenchmarkContainerdVerifierProcess(b *testing.B) {
	e := setup(b, registryGGCR)
	ref := e.images(b, 1)[0]
	verifierBin := filepath.Join(b.TempDir(), "signet-containerd-verifier")
	if out, err := exec.Command("go", "build", "-o", verifierBin, "github.com/signet-dev/signet/cmd/signet-containerd-verifier").CombinedOutput(); err != nil {
		b.Fatalf("build the verifier: %v\n%s", err, out)
	}
	repo, dgst, _ := strings.Cut(ref, "@")
	r, _, err := registry.NewRepository(ref, registry.RemoteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d, err := r.Resolve(context.Background(), dgst)
	if err != nil {
		b.Fatal(err)
	}
	desc, err := json.Marshal(ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size})
	if err != nil {
		b.Fatal(err)
	}
	stdin := append(desc, '\n')
	b.Run("containerd-verifier", func(b *testing.B) {
		e.requests.Store(0)
		for b.Loop() {
			cmd := e.cmd(verifierBin, "-name", repo+":v1", "-digest", dgst, "-stdin-media-type", ocispec.MediaTypeDescriptor)
			cmd.Stdin = bytes.NewReader(stdin)
			if out, err := cmd.CombinedOutput(); err != nil || !bytes.HasPrefix(out, []byte("signet: trusted ")) {
				b.Fatalf("verifier: %v\n%s", err, out)
			}
		}
		b.ReportMetric(float64(e.requests.Load())/float64(b.N), "requests/op")
	})
	for _, tool := range []struct {
		name string
		bin  string
		args []string
	}{
		{"signet-verify", e.signet, []string{"verify", ref}},
		{"notation-verify", e.notation, []string{"verify", "--insecure-registry", ref}},
	} {
		b.Run(tool.name, func(b *testing.B) {
			e.requests.Store(0)
			for b.Loop() {
				e.run(b, tool.bin, tool.args...)
			}
			b.ReportMetric(float64(e.requests.Load())/float64(b.N), "requests/op")
		})
	}
}
