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
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

func (e *env) run(b testing.TB, bin string, args ...string) {
	b.Helper()
	if out, err := e.cmd(bin, args...).CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// Registries the benchmarks run against.
const (
	// registryGGCR is go-containerregistry's registry with the referrers
	// API, in-process on loopback; env.requests counts its requests.
	registryGGCR = "ggcr-referrers"
	// registryDistribution is CNCF distribution v3 (its own process on
	// loopback), which has no referrers API: clients use the tag schema.
	registryDistribution = "distribution-tags"
	// registryDistributionCache is registryDistribution with its in-memory
	// blob descriptor cache on, as distribution's example configuration
	// (the one its container image ships) has it.
	registryDistributionCache = "distribution-tags-cache"
)

func notationBin(b testing.TB) string { return peer.Notation(b) }

func setup(b testing.TB, kind string) *env {
	b.Helper()
	e := &env{notation: notationBin(b), xdg: b.TempDir(), signet: buildSignet(b)}
	switch kind {
	case registryGGCR:
		e.reg = testregistry.New(b, testregistry.Options{Referrers: true, Middleware: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e.requests.Add(1)
				h.ServeHTTP(w, r)
			})
		}})
	case registryDistribution:
		e.reg = testregistry.Distribution(b, testregistry.DistributionOptions{})
	case registryDistributionCache:
		e.reg = testregistry.Distribution(b, testregistry.DistributionOptions{BlobDescriptorCache: true})
	default:
		b.Fatalf("unknown registry %q", kind)
	}
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
func (e *env) images(b testing.TB, n int) []string {
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

// BenchmarkVerifyMany verifies 1,000 signed images: one signet call with
// every reference (-o json), against one notation process per image, on
// each registry (go-containerregistry with the referrers API, distribution
// v3 with the tag schema, as configured by default and with its blob
// descriptor cache). Every iteration times both; signet-s and notation-s
// are medians (signet-cpu-s the median CPU time, user and system, of the
// signet process, notation-cpu-s that of an iteration's 1,000 notation
// processes), speedup-min the smallest notation/signet ratio of any
// iteration (the goal of issue 9 is at least 10 in every run) and
// speedup-median the ratio of the medians. On distribution, which runs as
// its own process on the same cores, registry-cpu-signet-s and
// registry-cpu-notation-s are the median CPU time the registry spent
// serving each tool's side of an iteration. load-start and load-end are
// the 1-minute load average before and after the benchmark (Linux).
// SIGNET_BENCH_SKIP_NOTATION=1 times signet alone; -bench
// 'VerifyMany/distribution' runs the distribution cases only.
func BenchmarkVerifyMany(b *testing.B) {
	const n = 1000
	for _, kind := range []string{registryGGCR, registryDistribution, registryDistributionCache} {
		b.Run(kind, func(b *testing.B) {
			e := setup(b, kind)
			refs := e.images(b, n)
			// One untimed pass first: the first reads of freshly pushed
			// content are slow on distribution's filesystem storage (its
			// first timed call took 4-5x the second in every run), and
			// whichever tool went first would pay for both.
			e.run(b, e.signet, append([]string{"verify", "-o", "json"}, refs...)...)
			skipNotation := os.Getenv("SIGNET_BENCH_SKIP_NOTATION") == "1"
			var signetTimes, notationTimes, signetCPU, notationCPU, regSignet, regNotation []time.Duration
			minSpeedup := 0.0
			loadStart := loadAverage()
			for b.Loop() {
				r0 := e.registryCPU()
				c := e.cmd(e.signet, append([]string{"verify", "-o", "json"}, refs...)...)
				start := time.Now()
				out, err := c.CombinedOutput()
				s := time.Since(start)
				if err != nil {
					b.Fatalf("signet verify: %v\n%s", err, firstLines(out, 20))
				}
				r1 := e.registryCPU()
				signetTimes = append(signetTimes, s)
				signetCPU = append(signetCPU, c.ProcessState.UserTime()+c.ProcessState.SystemTime())
				regSignet = append(regSignet, r1-r0)
				if skipNotation {
					continue
				}
				start = time.Now()
				var ncpu time.Duration
				for _, r := range refs {
					c := e.cmd(e.notation, "verify", "--insecure-registry", r)
					if out, err := c.CombinedOutput(); err != nil {
						b.Fatalf("notation verify %s: %v\n%s", r, err, out)
					}
					ncpu += c.ProcessState.UserTime() + c.ProcessState.SystemTime()
				}
				nt := time.Since(start)
				notationCPU = append(notationCPU, ncpu)
				regNotation = append(regNotation, e.registryCPU()-r1)
				notationTimes = append(notationTimes, nt)
				if r := float64(nt) / float64(s); minSpeedup == 0 || r < minSpeedup {
					minSpeedup = r
				}
			}
			b.ReportMetric(median(signetTimes).Seconds(), "signet-s")
			b.ReportMetric(median(signetCPU).Seconds(), "signet-cpu-s")
			if e.reg.Process != nil {
				b.ReportMetric(median(regSignet).Seconds(), "registry-cpu-signet-s")
			}
			if !skipNotation {
				b.ReportMetric(median(notationTimes).Seconds(), "notation-s")
				b.ReportMetric(median(notationCPU).Seconds(), "notation-cpu-s")
				b.ReportMetric(minSpeedup, "speedup-min")
				b.ReportMetric(float64(median(notationTimes))/float64(median(signetTimes)), "speedup-median")
				if e.reg.Process != nil {
					b.ReportMetric(median(regNotation).Seconds(), "registry-cpu-notation-s")
				}
			}
			if loadStart >= 0 {
				b.ReportMetric(loadStart, "load-start")
				b.ReportMetric(loadAverage(), "load-end")
			}
		})
	}
}

// registryCPU is the CPU time (user and system) the registry's own process
// has used so far, from /proc (0 for an in-process registry or elsewhere
// than Linux).
func (e *env) registryCPU() time.Duration {
	if e.reg.Process == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", e.reg.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after "(comm) ": state is the first, utime the 12th and
	// stime the 13th (proc(5)), in clock ticks of 1/100 s on Linux.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// loadAverage is the 1-minute load average (-1 where /proc/loadavg is not).
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// BenchmarkSignIndexRecursive signs an image index of 4 platform manifests
// and the index itself, each time onto a fresh index.
func BenchmarkSignIndexRecursive(b *testing.B) {
	e := setup(b, registryGGCR)
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
