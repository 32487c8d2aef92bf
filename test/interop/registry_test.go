package interop

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// registries are the real registries of the interop tests: go-containerregistry
// in-process with the referrers API, and CNCF distribution v3 (no referrers
// API: the referrers tag schema).
func registries(t *testing.T) map[string]*testregistry.Registry {
	return map[string]*testregistry.Registry{
		"ggcr-referrers-api": testregistry.New(t, testregistry.Options{Referrers: true}),
		"distribution-v3":    testregistry.Distribution(t, testregistry.DistributionOptions{}),
	}
}

// pushImage pushes a fresh image into repo and returns its digest reference.
func pushImage(t *testing.T, ref, name string) string {
	t.Helper()
	repo, _, err := registry.NewRepository(ref+":"+name, registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := testregistry.PushImage(t, repo, name, name)
	return ref + "@" + d.Digest.String()
}

// TestRegistryInterop (issue 4): on both registries, for JWS and COSE, RSA
// and EC keys, what signet signs notation verifies and lists, and what
// notation signs signet verifies and lists.
func TestRegistryInterop(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	keys := map[string]testpki.KeyType{"rsa": "rsa-3072", "ec": "ec-384"}
	var stores []string
	for name, kt := range keys {
		w.addKey(name, kt)
		stores = append(stores, "ca:"+name)
	}
	w.addKey("stranger", "ec-256")
	for regName, reg := range registries(t) {
		repo := reg.Ref("interop/app")
		w.ociPolicy(repo, stores, []string{"x509.subject: C=US, ST=WA, O=acme"}, "strict", nil)
		for keyName := range keys {
			for _, format := range []string{"jws", "cose"} {
				t.Run(fmt.Sprintf("%s/%s/%s", regName, keyName, format), func(t *testing.T) {
					ref := pushImage(t, repo, fmt.Sprintf("signet-%s-%s", keyName, format))
					must(t, w.Signet("sign", "--key", keyName, "--signature-format", format, ref), "signet sign")
					must(t, w.Notation("verify", "--insecure-registry", ref), "notation verify of signet's signature")
					r := must(t, w.Notation("list", "--insecure-registry", ref), "notation list")
					if !strings.Contains(r.stdout, "application/vnd.cncf.notary.signature") {
						t.Errorf("notation list does not show signet's signature: %s", r)
					}

					ref = pushImage(t, repo, fmt.Sprintf("notation-%s-%s", keyName, format))
					must(t, w.Notation("sign", "--insecure-registry", "--key", keyName, "--signature-format", format, ref), "notation sign")
					must(t, w.Signet("verify", ref), "signet verify of notation's signature")
					r = must(t, w.Signet("list", "-o", "json", ref), "signet list")
					var l struct{ Signatures []json.RawMessage }
					if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l.Signatures) != 1 {
						t.Errorf("signet list of notation's signature: %v %s", err, r)
					}
				})
			}
		}
		t.Run(regName+"/rejected by both", func(t *testing.T) {
			unsigned := pushImage(t, repo, "unsigned")
			if r := w.Notation("verify", "--insecure-registry", unsigned); r.code == 0 {
				t.Errorf("notation accepted an unsigned image: %s", r)
			}
			if r := w.Signet("verify", unsigned); r.code != 1 || !strings.Contains(r.stderr, "no signature") {
				t.Errorf("signet: %s", r)
			}
			// Trusted by a store the scope's statement does not name.
			stranger := pushImage(t, repo, "stranger")
			must(t, w.Signet("sign", "--key", "stranger", stranger), "signet sign")
			if r := w.Notation("verify", "--insecure-registry", stranger); r.code == 0 {
				t.Errorf("notation accepted an untrusted signer: %s", r)
			}
			if r := w.Signet("verify", stranger); r.code != 1 || !strings.Contains(r.stderr, "authenticity") {
				t.Errorf("signet: %s", r)
			}
		})
	}
}
