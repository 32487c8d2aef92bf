package interop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
)

// TestVerifyManyVerdicts: one 'signet verify' of several references gives
// each the verdict notation gives it alone and signet gives it alone, on
// distribution v3 as configured by default and with its in-memory blob
// descriptor cache (the configuration the 1,000-reference benchmark also
// measures, docs/benchmarks.md), and on go-containerregistry with the
// referrers API. The references share a repository (one referrers probe
// serves them all) and cover trusted signatures by either tool, an
// unsigned image, an untrusted signer and a signature deleted after a
// first verify (which a stale cache could still serve).
func TestVerifyManyVerdicts(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	w.addKey("acme", "ec-256")
	w.addKey("stranger", "ec-256")
	regs := map[string]*testregistry.Registry{
		"ggcr-referrers-api":        testregistry.New(t, testregistry.Options{Referrers: true}),
		"distribution-v3":           testregistry.Distribution(t, testregistry.DistributionOptions{}),
		"distribution-v3-blobcache": testregistry.Distribution(t, testregistry.DistributionOptions{BlobDescriptorCache: true}),
	}
	for name, reg := range regs {
		t.Run(name, func(t *testing.T) {
			repo := reg.Ref("many/app")
			w.ociPolicy(repo, []string{"ca:acme"}, []string{"*"}, "strict", nil)
			bySignet := pushImage(t, repo, "by-signet")
			must(t, w.Signet("sign", "--key", "acme", bySignet), "signet sign")
			byNotation := pushImage(t, repo, "by-notation")
			must(t, w.Notation("sign", "--insecure-registry", "--key", "acme", byNotation), "notation sign")
			unsigned := pushImage(t, repo, "unsigned")
			stranger := pushImage(t, repo, "stranger")
			must(t, w.Signet("sign", "--key", "stranger", stranger), "signet sign")
			deleted := pushImage(t, repo, "deleted")
			must(t, w.Signet("sign", "--key", "acme", deleted), "signet sign")
			refs := []string{bySignet, unsigned, byNotation, stranger, deleted, bySignet}
			want := []string{"trusted", "", "trusted", "notTrusted", "notTrusted", "trusted"}

			// A first verify, so that the registry has seen the deleted
			// signature's blobs before it goes.
			must(t, w.Signet("verify", deleted), "signet verify before the delete")
			var l struct {
				Signatures []struct{ Digest string }
			}
			r := must(t, w.Signet("list", "-o", "json", deleted), "signet list")
			if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || len(l.Signatures) != 1 {
				t.Fatalf("signet list: %v %s", err, r)
			}
			must(t, w.Signet("delete", "-y", repo+"@"+l.Signatures[0].Digest), "signet delete of the signature")

			r = w.Signet(append([]string{"verify", "-o", "json"}, refs...)...)
			if r.code != 1 {
				t.Fatalf("signet verify of them all: exit %d, want 1 (some not trusted): %s", r.code, r)
			}
			var outs []struct{ Verdict, Artifact string }
			if err := json.Unmarshal([]byte(r.stdout), &outs); err != nil || len(outs) != len(refs) {
				t.Fatalf("signet verify -o json: %v %s", err, r)
			}
			for i, ref := range refs {
				digest := ref[strings.LastIndex(ref, "@")+1:]
				if !strings.HasSuffix(outs[i].Artifact, "@"+digest) {
					t.Errorf("outcome %d is for %s, want %s", i, outs[i].Artifact, ref)
				}
				alone := w.Signet("verify", "-o", "json", ref)
				var one struct{ Verdict string }
				if err := json.Unmarshal([]byte(alone.stdout), &one); err != nil {
					t.Fatalf("signet verify %s alone: %v %s", ref, err, alone)
				}
				notation := w.Notation("verify", "--insecure-registry", ref).code == 0
				if outs[i].Verdict != one.Verdict || (outs[i].Verdict == "trusted") != notation || (want[i] != "" && outs[i].Verdict != want[i]) {
					t.Errorf("%s: verdict %q in one call, %q alone, notation trusts it: %v; want %q", ref, outs[i].Verdict, one.Verdict, notation, want[i])
				}
			}
		})
	}
}
