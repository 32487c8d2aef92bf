package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testrevocation"
	"github.com/signet-dev/signet/internal/testtsa"
)

// revEnv is one configuration directory shared by signet and notation, a
// PKI whose leaf names an `openssl ocsp` responder, and a TSA.
type revEnv struct {
	signet, notation string
	xdg              string
	pki              *testrevocation.PKI
}

// run runs bin with the cache directory cache (XDG_CACHE_HOME, which
// holds notation's CRL cache, and SIGNET_CACHE).
func (e *revEnv) run(b *testing.B, cache, bin string, args ...string) {
	b.Helper()
	c := exec.Command(bin, args...)
	c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.xdg, "XDG_CONFIG_HOME=" + e.xdg,
		"SIGNET_CONFIG=" + filepath.Join(e.xdg, "notation"), "NOTATION_EXPERIMENTAL=1",
		"XDG_CACHE_HOME=" + cache, "SIGNET_CACHE=" + filepath.Join(cache, "signet"),
		"SIGNET_CPUPROFILE=" + os.Getenv("SIGNET_CPUPROFILE")}
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

func (e *revEnv) write(b *testing.B, name string, data []byte) string {
	b.Helper()
	p := filepath.Join(e.xdg, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

// benchLayout writes an OCI layout holding one small image and returns its
// digest reference.
func benchLayout(b *testing.B) string {
	b.Helper()
	dir, d := testregistry.NewLayout(b, "bench layer", "")
	return dir + "@" + d.Digest.String()
}

// BenchmarkVerifyTimestampOCSP is one whole `verify` process of a
// timestamped signature (a real TSA: openssl ts -reply) in an OCI layout,
// whose RSA-3072 leaf names an `openssl ocsp` responder on loopback
// (root → intermediate → leaf; only the leaf names revocation
// information), signet and notation v1.3.2 in the same run. "cold" gives
// every process a new, empty cache directory; "warm" reuses one, filled by
// an untimed run first; "no-revocation" is warm under a policy that skips
// revocation (the baseline). ocsp/op counts the requests the responder
// answered.
func BenchmarkVerifyTimestampOCSP(b *testing.B) {
	e := &revEnv{notation: peer.Notation(b), xdg: b.TempDir(), pki: testrevocation.New(b)}
	e.signet = buildSignet(b)
	tsa := testtsa.Start(b)
	leaf := e.pki.Leaf(b, "bench", testrevocation.LeafOptions{NoCRL: true, KeyType: "rsa-3072"})
	setupCache := b.TempDir()
	tsaRoot := tsa.RootPEM(b, e.xdg)
	e.run(b, setupCache, e.notation, "cert", "add", "--type", "ca", "--store", "bench", e.write(b, "root.pem", testpki.CertsPEM(e.pki.Root.Cert)))
	e.run(b, setupCache, e.notation, "cert", "add", "--type", "tsa", "--store", "tsa", tsaRoot)
	e.run(b, setupCache, e.signet, "key", "add", "--key-file", e.write(b, "bench.key", testpki.KeyPEM(b, leaf.Key)),
		"--cert-file", e.write(b, "bench.crt", testpki.CertsPEM(e.pki.Chain(leaf)...)), "bench")
	// Two statements: revocation checked, and the same without it (the
	// baseline that shows what the OCSP check costs).
	const scope, skipScope = "localhost:5000/bench/app", "localhost:5000/bench/norevocation"
	doc := `{"version":"1.0","trustPolicies":[` +
		`{"name":"bench","registryScopes":["` + scope + `"],"signatureVerification":{"level":"strict"},"trustStores":["ca:bench","tsa:tsa"],"trustedIdentities":["*"]},` +
		`{"name":"norevocation","registryScopes":["` + skipScope + `"],"signatureVerification":{"level":"strict","override":{"revocation":"skip"}},"trustStores":["ca:bench","tsa:tsa"],"trustedIdentities":["*"]}]}`
	e.run(b, setupCache, e.notation, "policy", "import", "--force", e.write(b, "policy.json", []byte(doc)))
	ref := benchLayout(b)
	e.run(b, setupCache, e.signet, "sign", "--oci-layout", "--key", "bench", "--timestamp-url", tsa.URL, "--timestamp-root-cert", tsaRoot, ref)

	for _, tool := range []struct {
		name string
		bin  string
	}{{"signet", e.signet}, {"notation", e.notation}} {
		for _, mode := range []string{"cold", "warm", "no-revocation"} {
			args := []string{"verify", "--oci-layout", "--scope", scope, ref}
			if mode == "no-revocation" {
				args[3] = skipScope
			}
			b.Run(tool.name+"/"+mode, func(b *testing.B) {
				caches := b.TempDir()
				warm := filepath.Join(caches, "warm")
				if mode != "cold" {
					e.run(b, warm, tool.bin, args...)
				}
				before := len(e.pki.OCSP.Requests())
				i := 0
				for b.Loop() {
					cache := warm
					if mode == "cold" {
						i++
						cache = filepath.Join(caches, fmt.Sprint(i))
					}
					e.run(b, cache, tool.bin, args...)
				}
				b.ReportMetric(float64(len(e.pki.OCSP.Requests())-before)/float64(b.N), "ocsp/op")
			})
		}
	}
}
