package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables read by the benchmarks in this package.
const (
	// envSignet names a signet binary to measure instead of building
	// ./cmd/signet (to compare builds: CGO_ENABLED=0, -ldflags=-s -w, ...).
	envSignet = "SIGNET_BENCH_SIGNET"
	// envCallgrind = "1" also counts each measured command's instructions
	// under valgrind's callgrind (load-independent, unlike wall time); a
	// missing valgrind skips the count with a log line.
	envCallgrind = "SIGNET_BENCH_CALLGRIND"
)

var (
	signetOnce sync.Once
	signetBin  string
	signetErr  error
)

// buildSignet builds ./cmd/signet once per test binary (CGO_ENABLED=0 go
// build, as README.md documents) unless SIGNET_BENCH_SIGNET names a
// binary.
func buildSignet(b testing.TB) string {
	b.Helper()
	if p := os.Getenv(envSignet); p != "" {
		return p
	}
	signetOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signet-bench-")
		if err != nil {
			signetErr = err
			return
		}
		signetBin = filepath.Join(dir, "signet")
		c := exec.Command("go", "build", "-o", signetBin, "github.com/signet-dev/signet/cmd/signet")
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			signetErr = fmt.Errorf("build signet: %v\n%s", err, out)
		}
	})
	if signetErr != nil {
		b.Fatal(signetErr)
	}
	return signetBin
}

var (
	notationStaticOnce sync.Once
	notationStaticBin  string
	notationStaticErr  error
)

// notationStatic builds notation v1.3.2 (the version tools/go.mod pins, as
// scripts/install-peers.sh does) the way its releases are built:
// CGO_ENABLED=0 and -trimpath (notation's .goreleaser.yml), a static
// binary like signet's. The peer install-peers.sh builds uses cgo; the
// process benchmarks measure both.
func notationStatic(b testing.TB) string {
	b.Helper()
	notationStaticOnce.Do(func() {
		dir, err := os.MkdirTemp("", "signet-bench-notation-")
		if err != nil {
			notationStaticErr = err
			return
		}
		notationStaticBin = filepath.Join(dir, "notation")
		c := exec.Command("go", "build", "-trimpath", "-o", notationStaticBin, "github.com/notaryproject/notation/cmd/notation")
		c.Dir = filepath.Join("..", "tools")
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			notationStaticErr = fmt.Errorf("build notation (static): %v\n%s", err, out)
		}
	})
	if notationStaticErr != nil {
		b.Fatal(notationStaticErr)
	}
	return notationStaticBin
}

// buildHello builds a hello-world Go program (os.Stdout.WriteString, no
// other imports): the floor a Go process starts in on this machine.
func buildHello(b testing.TB) string {
	b.Helper()
	dir := b.TempDir()
	src := "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello\\n\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	c := exec.Command("go", "build", "-o", bin, ".")
	c.Dir = dir
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("build hello: %v\n%s", err, out)
	}
	return bin
}

// process is one command line measured by interleaved runs.
type process struct {
	name  string
	cmd   func() *exec.Cmd
	times []time.Duration
}

// runInterleaved runs every process once per b.Loop iteration, one after
// the other, so that the machine's load drifts over all of them alike
// (this machine is shared: compare within one run). It reports each
// process's median wall time as NAME-ms and returns the medians. Output
// goes to a file, not a pipe: no goroutine of this process copies it
// while the clock runs.
func runInterleaved(b *testing.B, procs []*process) map[string]time.Duration {
	b.Helper()
	out, err := os.Create(filepath.Join(b.TempDir(), "output"))
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	for b.Loop() {
		for _, p := range procs {
			c := p.cmd()
			if err := out.Truncate(0); err != nil {
				b.Fatal(err)
			}
			if _, err := out.Seek(0, 0); err != nil {
				b.Fatal(err)
			}
			c.Stdout, c.Stderr = out, out
			start := time.Now()
			err := c.Run()
			p.times = append(p.times, time.Since(start))
			if err != nil {
				data, _ := os.ReadFile(out.Name())
				b.Fatalf("%s: %v\n%s", p.name, err, data)
			}
		}
	}
	med := map[string]time.Duration{}
	for _, p := range procs {
		med[p.name] = median(p.times)
		b.ReportMetric(float64(med[p.name].Microseconds())/1000, p.name+"-ms")
	}
	return med
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// collected is callgrind's instruction count line ("Collected : N").
var collected = regexp.MustCompile(`Collected : (\d+)`)

// callgrindRuns is how many runs countInstructions takes the median of:
// the count moves by about 1 % between runs (goroutine scheduling).
const callgrindRuns = 3

// callgrindRetries bounds the failed runs countInstructions tolerates.
const callgrindRetries = 10

// countInstructions runs cmd under callgrind and returns the number of
// instructions the process executed (median of callgrindRuns runs), or 0
// when SIGNET_BENCH_CALLGRIND is not "1" or valgrind is missing. Go's
// asynchronous preemption signals trip callgrind's signal handling, so
// they are turned off (GODEBUG=asyncpreemptoff=1) for both tools alike.
func countInstructions(b *testing.B, name string, cmd func() *exec.Cmd) int64 {
	b.Helper()
	if os.Getenv(envCallgrind) != "1" {
		return 0
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		b.Logf("no valgrind on PATH: no instruction counts")
		return 0
	}
	var counts []int64
	for failures := 0; len(counts) < callgrindRuns; {
		c := cmd()
		log := filepath.Join(b.TempDir(), "callgrind.log")
		c.Args = append([]string{valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", "--log-file=" + log}, c.Args...)
		c.Path = valgrind
		if c.Env == nil {
			c.Env = os.Environ()
		}
		c.Env = append(c.Env, "GODEBUG=asyncpreemptoff=1")
		if out, err := c.CombinedOutput(); err != nil {
			// valgrind 3.19 does not know RDTSCP, which the Go runtime
			// executes now and then while spinning on a lock (SIGILL in
			// runtime.cputicks): retry a few times.
			if failures++; failures > callgrindRetries {
				b.Logf("callgrind %s failed %d times, no instruction count: %v\n%s", name, failures, err, firstLines(out, 5))
				return 0
			}
			continue
		}
		data, err := os.ReadFile(log)
		if err != nil {
			b.Fatal(err)
		}
		m := collected.FindSubmatch(data)
		if m == nil {
			b.Fatalf("callgrind %s: no instruction count in its log:\n%s", name, data)
		}
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		counts = append(counts, n)
	}
	slices.Sort(counts)
	n := counts[len(counts)/2]
	b.ReportMetric(float64(n)/1e6, name+"-Minstr")
	return n
}

// firstLines is the first n lines of out.
func firstLines(out []byte, n int) []byte {
	lines := bytes.SplitAfterN(out, []byte("\n"), n+1)
	return bytes.Join(lines[:min(n, len(lines))], nil)
}

// BenchmarkStartup measures how long a process takes to start and exit:
// `signet version` and `notation version` (the install-peers.sh build, and
// notation-static: built as its releases are) against a hello-world Go
// program built here, interleaved. hello-ms, signet-ms, notation-ms and
// notation-static-ms are medians; signet/hello and signet/notation are
// ratios of the medians. With SIGNET_BENCH_CALLGRIND=1 it also reports
// each one's instruction count.
func BenchmarkStartup(b *testing.B) {
	signet := buildSignet(b)
	hello := buildHello(b)
	notation := notationBin(b)
	static := notationStatic(b)
	procs := []*process{
		{name: "hello", cmd: func() *exec.Cmd { return exec.Command(hello) }},
		{name: "signet", cmd: func() *exec.Cmd { return exec.Command(signet, "version") }},
		{name: "notation", cmd: func() *exec.Cmd { return exec.Command(notation, "version") }},
		{name: "notation-static", cmd: func() *exec.Cmd { return exec.Command(static, "version") }},
	}
	med := runInterleaved(b, procs)
	b.ReportMetric(float64(med["signet"])/float64(med["hello"]), "signet/hello")
	reportRatios(b, med, procs)
}

// reportRatios reports signet's median against each notation build's
// (signet/NAME) and, with SIGNET_BENCH_CALLGRIND=1, the instruction counts
// and their ratios (signet/NAME-instr).
func reportRatios(b *testing.B, med map[string]time.Duration, procs []*process) {
	b.Helper()
	instr := map[string]int64{}
	for _, p := range procs {
		if p.name != "hello" {
			instr[p.name] = countInstructions(b, p.name, p.cmd)
		}
	}
	for _, p := range procs {
		if !strings.HasPrefix(p.name, "notation") {
			continue
		}
		b.ReportMetric(float64(med["signet"])/float64(med[p.name]), "signet/"+p.name)
		if instr["signet"] > 0 && instr[p.name] > 0 {
			b.ReportMetric(float64(instr["signet"])/float64(instr[p.name]), "signet/"+p.name+"-instr")
		}
	}
}

// verifyProcesses are one signet and one notation `verify` process of
// ref, for each notation build (install-peers.sh's and notation-static).
func (e *env) verifyProcesses(b testing.TB, ref string) []*process {
	static := notationStatic(b)
	return []*process{
		{name: "signet", cmd: func() *exec.Cmd { return e.cmd(e.signet, "verify", ref) }},
		{name: "notation", cmd: func() *exec.Cmd { return e.cmd(e.notation, "verify", "--insecure-registry", ref) }},
		{name: "notation-static", cmd: func() *exec.Cmd { return e.cmd(static, "verify", "--insecure-registry", ref) }},
	}
}

// BenchmarkVerifyProcess is one whole `verify` process of a signed image,
// signet and notation v1.3.2 (both builds, as BenchmarkStartup)
// interleaved in the same run, against a loopback registry:
// go-containerregistry's with the referrers API (in-process;
// NAME-requests counts the requests that reach it, per tool) and CNCF
// distribution v3 (referrers tag schema). NAME-ms are medians,
// signet/NAME their ratios (the goal of issue 9 is at most 0.5). With
// SIGNET_BENCH_CALLGRIND=1 it also reports each tool's instruction count
// for one verify, and their ratios.
func BenchmarkVerifyProcess(b *testing.B) {
	for _, kind := range []string{registryGGCR, registryDistribution} {
		b.Run(kind, func(b *testing.B) {
			e := setup(b, kind)
			ref := e.images(b, 1)[0]
			procs := e.verifyProcesses(b, ref)
			e.requests.Store(0)
			med := runInterleaved(b, procs)
			if kind == registryGGCR {
				// Count each tool's requests alone, outside the timed loop.
				for _, p := range procs[:2] {
					e.requests.Store(0)
					if out, err := p.cmd().CombinedOutput(); err != nil {
						b.Fatalf("%s: %v\n%s", p.name, err, out)
					}
					b.ReportMetric(float64(e.requests.Load()), p.name+"-requests")
				}
			}
			reportRatios(b, med, procs)
		})
	}
}
