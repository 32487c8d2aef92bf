package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testrevocation"
	"github.com/signet-dev/signet/registry"
)

// graphEnv is the artifact-graph benchmarks' source: a 4-platform index
// with 12 referrers (issue 10): the index's signature, SBOM and signature
// on the SBOM; each platform manifest's SBOM and signature; a scan report
// on the first. Signing is by a leaf of a real revocation PKI (openssl
// ocsp, openssl ca CRLs) trusted for every repository.
type graphEnv struct {
	*env
	src  *testregistry.Registry
	root string // the index, by digest
	pki  *testrevocation.PKI
}

func (g *graphEnv) output(b testing.TB, args ...string) []byte {
	b.Helper()
	out, err := g.cmd(g.signet, args...).Output()
	if err != nil {
		b.Fatalf("signet %v: %v", args, err)
	}
	return out
}

func (g *graphEnv) attach(b testing.TB, ref, artifactType, data string) string {
	b.Helper()
	f := filepath.Join(b.TempDir(), "artifact.json")
	if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
		b.Fatal(err)
	}
	var out struct{ Digest string }
	if err := json.Unmarshal(g.output(b, "attach", ref, "--artifact-type", artifactType, "-o", "json", f+":"+artifactType), &out); err != nil {
		b.Fatal(err)
	}
	return out.Digest
}

func setupGraph(b *testing.B) *graphEnv {
	b.Helper()
	g := &graphEnv{env: &env{signet: buildSignet(b), xdg: b.TempDir()}}
	g.src = testregistry.New(b, testregistry.Options{Referrers: true})
	p := testrevocation.New(b)
	g.pki = p
	leaf := p.Leaf(b, "bench signer", testrevocation.LeafOptions{})
	dir := b.TempDir()
	keyFile := filepath.Join(dir, "leaf.key")
	certFile := filepath.Join(dir, "leaf.crt")
	rootFile := filepath.Join(dir, "root.crt")
	for f, data := range map[string][]byte{keyFile: testpki.KeyPEM(b, leaf.Key), certFile: testpki.CertsPEM(p.Chain(leaf)...), rootFile: testpki.CertsPEM(p.Root.Cert)} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	cfg := filepath.Join(g.xdg, "notation")
	if err := os.MkdirAll(cfg, 0o700); err != nil {
		b.Fatal(err)
	}
	doc := `{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`
	if err := os.WriteFile(filepath.Join(cfg, "trustpolicy.json"), []byte(doc), 0o600); err != nil {
		b.Fatal(err)
	}
	g.run(b, g.signet, "key", "add", "--key-file", keyFile, "--cert-file", certFile, "--default", "bench")
	g.run(b, g.signet, "cert", "add", "--type", "ca", "--store", "bench", rootFile)

	repo, _, err := registry.NewRepository(g.src.Ref("build/app"), registry.RemoteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	idx := testregistry.PushIndex(b, repo, "bench", "v1", "linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x")
	g.root = g.src.Ref("build/app@" + idx.Digest.String())
	at := func(d string) string { return g.src.Ref("build/app@" + d) }
	g.run(b, g.signet, "sign", g.root)
	sbom := g.attach(b, g.root, "application/spdx+json", `{"spdxVersion":"SPDX-2.3","name":"index"}`)
	g.run(b, g.signet, "sign", at(sbom))
	m, err := registry.FetchIndex(b.Context(), repo, idx)
	if err != nil {
		b.Fatal(err)
	}
	for i, pm := range m.Manifests {
		ref := at(pm.Digest.String())
		g.attach(b, ref, "application/spdx+json", fmt.Sprintf(`{"spdxVersion":"SPDX-2.3","name":"%d"}`, i))
		g.run(b, g.signet, "sign", ref)
		if i == 0 {
			g.attach(b, ref, "application/sarif+json", `{"version":"2.1.0","runs":[]}`)
		}
	}
	return g
}

// envBaseline, when set, names another signet binary (an earlier build)
// that BenchmarkCopyRecursive and BenchmarkCopyRequests also run, in the
// same iterations: before and after a change, measured together.
const envBaseline = "SIGNET_BENCH_BASELINE"

// BenchmarkCopyRecursive copies the graph between two loopback registries
// (go-containerregistry with the referrers API, in-process), each
// iteration into fresh repositories: `signet copy -r`, `signet copy -r
// --verify` and `oras copy -r` in the same run (and the SIGNET_BENCH_BASELINE
// binary's copies); and into distribution v3 (the referrers tag schema),
// where signet makes every referrer's index entry converge. Reported:
// medians in ms.
func BenchmarkCopyRecursive(b *testing.B) {
	g := setupGraph(b)
	oras := peer.Oras(b)
	for _, kind := range []string{registryGGCR, registryDistribution} {
		b.Run(kind, func(b *testing.B) {
			var dst *testregistry.Registry
			if kind == registryGGCR {
				dst = testregistry.New(b, testregistry.Options{Referrers: true})
			} else {
				dst = testregistry.Distribution(b, testregistry.DistributionOptions{})
			}
			var plain, verified, orasT, plainCPU, verifiedCPU, orasCPU, basePlain, baseVerified, basePlainCPU, baseVerifiedCPU []time.Duration
			base := os.Getenv(envBaseline)
			i := 0
			for b.Loop() {
				i++
				w, c := g.timedBin(b, g.signet, "copy", "-r", g.root, dst.Ref(fmt.Sprintf("prod/signet-%d", i)))
				plain, plainCPU = append(plain, w), append(plainCPU, c)
				w, c = g.timedBin(b, g.signet, "copy", "-r", "--verify", g.root, dst.Ref(fmt.Sprintf("prod/verified-%d", i)))
				verified, verifiedCPU = append(verified, w), append(verifiedCPU, c)
				w, c = g.timedBin(b, oras, "cp", "-r", "--from-plain-http", "--to-plain-http", g.root, dst.Ref(fmt.Sprintf("prod/oras-%d", i)))
				orasT, orasCPU = append(orasT, w), append(orasCPU, c)
				if base != "" {
					w, c = g.timedBin(b, base, "copy", "-r", g.root, dst.Ref(fmt.Sprintf("prod/base-%d", i)))
					basePlain, basePlainCPU = append(basePlain, w), append(basePlainCPU, c)
					w, c = g.timedBin(b, base, "copy", "-r", "--verify", g.root, dst.Ref(fmt.Sprintf("prod/base-verified-%d", i)))
					baseVerified, baseVerifiedCPU = append(baseVerified, w), append(baseVerifiedCPU, c)
				}
			}
			if base != "" {
				b.ReportMetric(ms(median(basePlain)), "base-ms")
				b.ReportMetric(ms(median(baseVerified)), "base-verify-ms")
				b.ReportMetric(ms(median(basePlainCPU)), "base-cpu-ms")
				b.ReportMetric(ms(median(baseVerifiedCPU)), "base-verify-cpu-ms")
			}
			b.ReportMetric(ms(median(plain)), "signet-ms")
			b.ReportMetric(ms(median(verified)), "signet-verify-ms")
			b.ReportMetric(ms(median(orasT)), "oras-ms")
			b.ReportMetric(ms(median(plainCPU)), "signet-cpu-ms")
			b.ReportMetric(ms(median(verifiedCPU)), "signet-verify-cpu-ms")
			b.ReportMetric(ms(median(orasCPU)), "oras-cpu-ms")
		})
	}
}

// BenchmarkExportImport exports the graph to a tar archive (with the
// revocation evidence: one OCSP response and one CRL per signing chain,
// fetched from openssl ocsp and the CRL server) and imports it into a
// fresh repository; oras's nearest equivalent, `oras cp -r` to an OCI
// layout directory and back, in the same run.
func BenchmarkExportImport(b *testing.B) {
	g := setupGraph(b)
	oras := peer.Oras(b)
	dst := testregistry.New(b, testregistry.Options{Referrers: true})
	var exp, expRev, imp, orasOut, orasIn []time.Duration
	i := 0
	for b.Loop() {
		i++
		dir := b.TempDir()
		start := time.Now()
		g.run(b, g.signet, "export", "-r", g.root, "-o", filepath.Join(dir, "plain.tar"))
		exp = append(exp, time.Since(start))
		start = time.Now()
		g.run(b, g.signet, "export", "-r", "--with-revocation", g.root, "-o", filepath.Join(dir, "app.tar"))
		expRev = append(expRev, time.Since(start))
		start = time.Now()
		g.run(b, g.signet, "import", filepath.Join(dir, "app.tar"), dst.Ref(fmt.Sprintf("prod/signet-%d", i)))
		imp = append(imp, time.Since(start))
		layout := filepath.Join(dir, "layout")
		start = time.Now()
		g.run(b, oras, "cp", "-r", "--from-plain-http", g.root, "--to-oci-layout", layout+":v1")
		orasOut = append(orasOut, time.Since(start))
		start = time.Now()
		g.run(b, oras, "cp", "-r", "--from-oci-layout", layout+":v1", "--to-plain-http", dst.Ref(fmt.Sprintf("prod/oras-%d", i)))
		orasIn = append(orasIn, time.Since(start))
	}
	b.ReportMetric(ms(median(exp)), "export-ms")
	b.ReportMetric(ms(median(expRev)), "export-revocation-ms")
	b.ReportMetric(ms(median(imp)), "import-ms")
	b.ReportMetric(ms(median(orasOut)), "oras-to-layout-ms")
	b.ReportMetric(ms(median(orasIn)), "oras-from-layout-ms")
}

// BenchmarkVerifyBundle runs one offline `signet verify --bundle` process
// per iteration on the exported graph, with its revocation evidence (goal:
// under 20 ms), and `signet version` (process start) in the same
// iteration; with SIGNET_BENCH_BASELINE, that binary's verify --bundle of
// the same archive too (before and after a change, measured together).
func BenchmarkVerifyBundle(b *testing.B) {
	g := setupGraph(b)
	file := filepath.Join(b.TempDir(), "app.tar")
	g.run(b, g.signet, "export", "-r", "--with-revocation", g.root, "-o", file)
	base := os.Getenv(envBaseline)
	var times, cpu, baseline, baseCPU, before, beforeCPU []time.Duration
	for b.Loop() {
		w, c := g.timed(b, "verify", "--bundle", file, "--scope", "example.com/app")
		times, cpu = append(times, w), append(cpu, c)
		w, c = g.timed(b, "version")
		baseline, baseCPU = append(baseline, w), append(baseCPU, c)
		if base != "" {
			w, c = g.timedBin(b, base, "verify", "--bundle", file, "--scope", "example.com/app")
			before, beforeCPU = append(before, w), append(beforeCPU, c)
		}
	}
	b.ReportMetric(ms(median(times)), "verify-bundle-ms")
	b.ReportMetric(ms(median(cpu)), "verify-bundle-cpu-ms")
	b.ReportMetric(ms(median(baseline)), "version-ms")
	b.ReportMetric(ms(median(baseCPU)), "version-cpu-ms")
	if base != "" {
		b.ReportMetric(ms(median(before)), "base-verify-bundle-ms")
		b.ReportMetric(ms(median(beforeCPU)), "base-verify-bundle-cpu-ms")
	}
}

// timed runs signet with args and returns its wall time and its CPU time
// (user + system): the CPU time moves less with the machine's load.
func (g *graphEnv) timed(b testing.TB, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	return g.timedBin(b, g.signet, args...)
}

// timedBin is timed for any program (oras).
func (g *graphEnv) timedBin(b testing.TB, bin string, args ...string) (wall, cpu time.Duration) {
	b.Helper()
	c := g.cmd(bin, args...)
	start := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return time.Since(start), c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
