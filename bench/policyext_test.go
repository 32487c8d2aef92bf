package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// BenchmarkVerifyExtensions: one verify process of a signed image under a
// "1.0" statement (signet and notation v1.3.2) and under signet/v1
// statements with minSignatures 2, plus a counter-signer, plus tagBinding
// verified by tag (docs/policy-extensions.md), on go-containerregistry
// with the referrers API. requests/op counts the registry requests.
func BenchmarkVerifyExtensions(b *testing.B) {
	e := setup(b, registryGGCR)
	e.run(b, e.notation, "cert", "generate-test", "bench2")
	e.run(b, e.notation, "cert", "generate-test", "bench3")
	repo, _, err := registry.NewRepository(e.reg.Ref("bench/ext:x"), registry.RemoteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := testregistry.PushImage(b, repo, "ext", "v1")
	ref := e.reg.Ref("bench/ext") + "@" + d.Digest.String()
	e.run(b, e.signet, "sign", "--key", "bench", "--bind-tag", e.reg.Ref("bench/ext:v1"))
	e.run(b, e.signet, "sign", "--key", "bench2", ref)
	stmt := `{"name":"b","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:bench","ca:bench2"],"trustedIdentities":["*"]EXTRA}`
	write := func(version, extra string) {
		doc := `{"version":"` + version + `","trustPolicies":[` + strings.Replace(stmt, "EXTRA", extra, 1) + `]}`
		if err := os.WriteFile(filepath.Join(e.xdg, "notation", "trustpolicy.json"), []byte(doc), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	write("signet/v1", `,"minSignatures":2`)
	e.run(b, e.signet, "sign", "--key", "bench3", "--countersign", ref)
	cases := []struct {
		name, tool, version, extra, ref string
	}{
		{"1.0/notation", e.notation, "1.0", "", ref},
		{"1.0/signet", e.signet, "1.0", "", ref},
		{"minSignatures=2/signet", e.signet, "signet/v1", `,"minSignatures":2`, ref},
		{"minSignatures=2+counterSignatures/signet", e.signet, "signet/v1", `,"minSignatures":2,"counterSignatures":[{"name":"c","trustStores":["ca:bench3"],"trustedIdentities":["*"]}]`, ref},
		{"all-three-by-tag/signet", e.signet, "signet/v1", `,"minSignatures":2,"counterSignatures":[{"name":"c","trustStores":["ca:bench3"],"trustedIdentities":["*"]}],"tagBinding":{"maxAge":"24h"}`, e.reg.Ref("bench/ext:v1")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			write(c.version, c.extra)
			args := []string{"verify", c.ref}
			if c.tool == e.notation {
				args = []string{"verify", "--insecure-registry", c.ref}
			}
			e.run(b, c.tool, args...)
			e.requests.Store(0)
			for b.Loop() {
				e.run(b, c.tool, args...)
			}
			b.ReportMetric(float64(e.requests.Load())/float64(b.N), "requests/op")
		})
	}
}
