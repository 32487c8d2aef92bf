// Package bench holds benchmarks that compare whole signet processes with
// notation v1.3.2 in the same run (docs/benchmarks.md). They need the peers
// (scripts/install-peers.sh) and are run by hand:
//
//	go test -run '^$' -bench . -benchtime 20x ./bench
package bench

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// env is a registry with signed images and one configuration directory
// shared by signet and notation.
type env struct {
	signet, notation string
	xdg              string
	reg              *testregistry.Registry
	requests         atomic.Int64
}

func (e *env) cmd(bin string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.xdg, "XDG_CONFIG_HOME=" + e.xdg, "SIGNET_CONFIG=" + filepath.Join(e.xdg, "notation"),
		"SIGNET_CPUPROFILE=" + os.Getenv("SIGNET_CPUPROFILE")}
	return c
}

func (e *env) run(b *testing.B, bin string, args ...string) {
	b.Helper()
	if out, err := e.cmd(bin, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

func setup(b *testing.B, referrers bool) *env {
	b.Helper()
	e := &env{notation: peer.Notation(b), xdg: b.TempDir()}
	e.signet = filepath.Join(b.TempDir(), "signet")
	if out, err := exec.Command("go", "build", "-o", e.signet, "github.com/signet-dev/signet/cmd/signet").CombinedOutput(); err != nil {
		b.Fatalf("build signet: %v\n%s", err, out)
	}
	e.reg = testregistry.New(b, testregistry.Options{Referrers: referrers, Middleware: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.requests.Add(1)
			h.ServeHTTP(w, r)
		})
	}})
	e.run(b, e.notation, "cert", "generate-test", "--default", "bench")
	policy := filepath.Join(e.xdg, "policy.json")
	doc := `{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`
	if err := os.WriteFile(policy, []byte(doc), 0o600); err != nil {
		b.Fatal(err)
	}
	e.run(b, e.notation, "policy", "import", "--force", policy)
	return e
}

// images pushes n images and signs each with signet; it returns their
// digest references. They are spread over repositories of at most 20
// images: go-containerregistry's registry scans every manifest of a
// repository on each referrers request, which would otherwise make the
// registry, not the clients, the thing measured.
func (e *env) images(b *testing.B, n int) []string {
	b.Helper()
	refs := make([]string, n)
	repos := map[string]*registry.Repository{}
	for i := range refs {
		name := fmt.Sprintf("bench/app-%d", i/20)
		repo, ok := repos[name]
		if !ok {
			var err error
			if repo, _, err = registry.NewRepository(e.reg.Ref(name+":x"), registry.RemoteOptions{}); err != nil {
				b.Fatal(err)
			}
			repos[name] = repo
		}
		d := testregistry.PushImage(b, repo, fmt.Sprintf("image-%d", i), "")
		refs[i] = e.reg.Ref(name) + "@" + d.Digest.String()
	}
	for i := 0; i < n; i += 200 {
		e.run(b, e.signet, append([]string{"sign"}, refs[i:min(i+200, n)]...)...)
	}
	return refs
}

// BenchmarkVerifyProcess is one whole `verify` process of a signed image
// against a loopback go-containerregistry registry with the referrers API,
// signet and notation in the same run; requests/op counts registry requests.
func BenchmarkVerifyProcess(b *testing.B) {
	e := setup(b, true)
	ref := e.images(b, 1)[0]
	for _, tool := range []struct {
		name string
		bin  string
		args []string
	}{
		{"signet", e.signet, []string{"verify", ref}},
		{"notation", e.notation, []string{"verify", "--insecure-registry", ref}},
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

// BenchmarkVerifyMany verifies 1,000 signed images: one signet call with
// every reference, against one notation process per image.
func BenchmarkVerifyMany(b *testing.B) {
	const n = 1000
	e := setup(b, true)
	refs := e.images(b, n)
	b.Run("signet-one-call", func(b *testing.B) {
		for b.Loop() {
			e.run(b, e.signet, append([]string{"verify", "-o", "json"}, refs...)...)
		}
	})
	if os.Getenv("SIGNET_BENCH_SKIP_NOTATION") == "1" {
		return
	}
	b.Run("notation-one-process-each", func(b *testing.B) {
		for b.Loop() {
			for _, r := range refs {
				e.run(b, e.notation, "verify", "--insecure-registry", r)
			}
		}
	})
}

// BenchmarkSignIndexRecursive signs an image index of 4 platform manifests
// and the index itself, each time onto a fresh index.
func BenchmarkSignIndexRecursive(b *testing.B) {
	e := setup(b, true)
	repo, _, err := registry.NewRepository(e.reg.Ref("bench/app:x"), registry.RemoteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		d := testregistry.PushIndex(b, repo, fmt.Sprintf("index-%d", i), "", "linux/amd64", "linux/arm64", "linux/s390x", "windows/amd64")
		e.run(b, e.signet, "sign", "--recursive", e.reg.Ref("bench/app")+"@"+d.Digest.String())
	}
}
