package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
)

// graphImage pushes an image and builds its referrer graph with signet: 3
// signatures, an SBOM and a SARIF report each signed, and 2 more
// signatures on the SBOM: 9 referrers on 2 levels, 10 nodes.
func (e *env) graphImage(b *testing.B) string {
	b.Helper()
	ref := e.images(b, 1)[0]
	e.run(b, e.signet, "sign", ref)
	e.run(b, e.signet, "sign", ref)
	dir := b.TempDir()
	sbom := filepath.Join(dir, "sbom.spdx.json")
	report := filepath.Join(dir, "report.sarif")
	writeBenchFile(b, sbom, `{"spdxVersion":"SPDX-2.3"}`)
	writeBenchFile(b, report, `{"runs":[]}`)
	out, err := e.cmd(e.signet, "attach", ref, "--artifact-type", "application/spdx+json", sbom, "--sign", "-o", "json").CombinedOutput()
	if err != nil {
		b.Fatalf("attach: %v\n%s", err, out)
	}
	digest := strings.SplitN(strings.SplitN(string(out), `"digest": "`, 2)[1], `"`, 2)[0]
	sbomRef := strings.SplitN(ref, "@", 2)[0] + "@" + digest
	e.run(b, e.signet, "sign", sbomRef)
	e.run(b, e.signet, "sign", sbomRef)
	e.run(b, e.signet, "attach", ref, "--artifact-type", "application/sarif+json", report, "--sign")
	return ref
}

// BenchmarkDiscoverProcess is one whole `discover` process of an image
// with 9 referrers on 2 levels (graphImage), signet and oras v1.3.6
// interleaved in the same run, tree and JSON output, on go-containerregistry's
// registry with the referrers API and on distribution v3 (tag schema); plus
// signet discover --verify (7 signatures verified), which oras has no
// equivalent of. NAME-ms are medians; signet/oras the ratio of the tree
// medians. With SIGNET_BENCH_CALLGRIND=1 it also counts the instructions of
// one tree discover of each tool (load-independent) and their ratio.
func BenchmarkDiscoverProcess(b *testing.B) {
	oras := peer.Oras(b)
	for _, kind := range []string{registryGGCR, registryDistribution} {
		b.Run(kind, func(b *testing.B) {
			e := setup(b, kind)
			ref := e.graphImage(b)
			procs := []*process{
				{name: "signet", cmd: func() *exec.Cmd { return e.cmd(e.signet, "discover", ref) }},
				{name: "oras", cmd: func() *exec.Cmd { return e.cmd(oras, "discover", "--plain-http", ref) }},
				{name: "signet-json", cmd: func() *exec.Cmd { return e.cmd(e.signet, "discover", "-o", "json", ref) }},
				{name: "oras-json", cmd: func() *exec.Cmd { return e.cmd(oras, "discover", "--plain-http", "--format", "json", ref) }},
				{name: "signet-verify", cmd: func() *exec.Cmd { return e.cmd(e.signet, "discover", "--verify", ref) }},
			}
			med := runInterleaved(b, procs)
			b.ReportMetric(float64(med["signet"])/float64(med["oras"]), "signet/oras")
			s := countInstructions(b, "signet", procs[0].cmd)
			o := countInstructions(b, "oras", procs[1].cmd)
			if o > 0 {
				b.ReportMetric(float64(s)/float64(o), "signet/oras-instr")
			}
			if kind == registryGGCR {
				for _, p := range procs[:2] {
					e.requests.Store(0)
					if out, err := p.cmd().CombinedOutput(); err != nil {
						b.Fatalf("%s: %v\n%s", p.name, err, out)
					}
					b.ReportMetric(float64(e.requests.Load()), p.name+"-requests")
				}
			}
		})
	}
}

func writeBenchFile(b *testing.B, path, data string) {
	b.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		b.Fatal(err)
	}
}
