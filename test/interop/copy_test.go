package interop

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// copySource is a 2-platform index in a registry with the referrers API,
// signed by signet (the index) and by notation (a platform manifest), with
// an SBOM attached by oras.
type copySource struct {
	index, platform string // digest references
	sbom            string // the SBOM manifest's digest
}

func newCopySource(t *testing.T, w *world, src *testregistry.Registry) copySource {
	t.Helper()
	repo, _, err := registry.NewRepository(src.Ref("build/app"), registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := testregistry.PushIndex(t, repo, "copy-interop", "v1", "linux/amd64", "linux/arm64")
	m, err := registry.FetchIndex(t.Context(), repo, idx)
	if err != nil {
		t.Fatal(err)
	}
	s := copySource{
		index:    src.Ref("build/app@" + idx.Digest.String()),
		platform: src.Ref("build/app@" + m.Manifests[0].Digest.String()),
	}
	must(t, w.Signet("sign", "--key", "acme", s.index), "signet sign")
	must(t, w.Notation("sign", "--insecure-registry", "--key", "acme", s.platform), "notation sign")
	sbom := writeFile(t, t.TempDir(), "sbom.spdx.json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
	r := must(t, oras(t, "attach", "--plain-http", "--disable-path-validation", "--artifact-type", "application/spdx+json", "--format", "json", s.index, sbom+":application/spdx+json"), "oras attach")
	var attached struct{ Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &attached); err != nil || attached.Digest == "" {
		t.Fatalf("oras attach output: %v\n%s", err, r)
	}
	s.sbom = attached.Digest
	return s
}

// TestCopyInterop (issue 10 items 3, 4 with real peers): signet copy -r
// --verify carries what oras attached and what notation and signet signed
// (an index's signature and a platform manifest's) into a registry with
// the referrers API (go-containerregistry) and one without (distribution
// v3, tag schema); at the destination notation v1.3.2 verifies both
// signatures and oras discover shows the SBOM.
func TestCopyInterop(t *testing.T) {
	peer.Oras(t)
	w := newWorld(t, peer.Notation(t))
	w.addKey("acme", "ec-256")
	w.ociPolicy("*", []string{"ca:acme"}, []string{"*"}, "strict", nil)
	src := testregistry.New(t, testregistry.Options{Referrers: true})
	s := newCopySource(t, w, src)
	for regName, reg := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			dstRepo := reg.Ref("prod/app")
			r := must(t, w.Signet("copy", "-r", "--verify", s.index, dstRepo+":v1"), "signet copy")
			if !strings.Contains(r.stdout, "verified at the destination: trusted") {
				t.Fatalf("copy report:\n%s", r)
			}
			dig := func(ref string) string { return dstRepo + "@" + ref[strings.LastIndex(ref, "@")+1:] }
			must(t, w.Notation("verify", "--insecure-registry", dig(s.index)), "notation verify of the copied index")
			must(t, w.Notation("verify", "--insecure-registry", dig(s.platform)), "notation verify of the copied platform manifest (notation's signature)")
			o := orasDiscover(t, "--plain-http", dig(s.index))
			if n := o.find(s.sbom); n == nil || n.ArtifactType != "application/spdx+json" {
				t.Errorf("oras discover at the destination does not show oras's SBOM: %+v", o)
			}
			// Idempotent: a second copy writes nothing new.
			r = must(t, w.Signet("copy", "-r", s.index, dstRepo), "second signet copy")
			if !strings.Contains(r.stdout, " 0 copied") {
				t.Errorf("second copy:\n%s", r)
			}
		})
	}
}

// TestExportInterop (issue 10 item 5 with real peers): oras reads the tar
// signet export writes as an OCI layout (--oci-layout), sees the graph with
// oras discover, and copies it into a registry where notation verifies it.
func TestExportInterop(t *testing.T) {
	peer.Oras(t)
	w := newWorld(t, peer.Notation(t))
	w.addKey("acme", "ec-256")
	w.ociPolicy("*", []string{"ca:acme"}, []string{"*"}, "strict", nil)
	src := testregistry.New(t, testregistry.Options{Referrers: true})
	s := newCopySource(t, w, src)
	file := filepath.Join(t.TempDir(), "app.tar")
	must(t, w.Signet("export", "-r", src.Ref("build/app:v1"), "-o", file), "signet export")

	o := orasDiscover(t, "--oci-layout", file+":v1")
	if n := o.find(s.sbom); n == nil {
		t.Errorf("oras discover --oci-layout does not show the SBOM in signet's archive: %+v", o)
	}
	sigs := 0
	for _, c := range o.Referrers {
		if c.ArtifactType == "application/vnd.cncf.notary.signature" {
			sigs++
		}
	}
	if sigs != 1 {
		t.Errorf("oras discover shows %d signatures on the index, want 1: %+v", sigs, o)
	}
	dst := testregistry.Distribution(t, testregistry.DistributionOptions{})
	must(t, oras(t, "cp", "-r", "--from-oci-layout", file+":v1", "--to-plain-http", dst.Ref("prod/app:v1")), "oras cp from signet's archive")
	must(t, w.Notation("verify", "--insecure-registry", dst.Ref("prod/app@"+s.index[strings.LastIndex(s.index, "@")+1:])), "notation verify after oras cp")
}

// TestCopyVerifyGraphInterop (issue 10 item 4 with real peers): notation
// v1.3.2 signs an SBOM that oras attached; signet copy -r --verify verifies
// it at both ends along with the index (signet's signature) and the
// platform manifest (notation's), reports the unsigned nodes, and
// notation verifies the copied SBOM at the destination. An SBOM notation
// signed with a key the policy does not trust stops the copy, named, as
// notation verify refuses it too. With --platform, the platform manifest
// is verified by its own signature; one without (only its index signed)
// is refused, as notation verify refuses its digest.
func TestCopyVerifyGraphInterop(t *testing.T) {
	peer.Oras(t)
	w := newWorld(t, peer.Notation(t))
	w.addKey("acme", "ec-256")
	w.addKey("rogue", "ec-256") // signs, but no statement trusts ca:rogue
	w.ociPolicy("*", []string{"ca:acme"}, []string{"*"}, "strict", nil)
	src := testregistry.New(t, testregistry.Options{Referrers: true})
	s := newCopySource(t, w, src)
	at := func(repo, ref string) string { return repo + "@" + ref[strings.LastIndex(ref, "@")+1:] }
	srcRepo := src.Ref("build/app")
	must(t, w.Notation("sign", "--insecure-registry", "--key", "acme", srcRepo+"@"+s.sbom), "notation sign of oras's SBOM")
	// The other platform manifest: not signed, only its index is.
	repo, _, err := registry.NewRepository(srcRepo, registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := registry.ResolveManifest(t.Context(), repo, s.index[strings.LastIndex(s.index, "@")+1:])
	if err != nil {
		t.Fatal(err)
	}
	idx, err := registry.FetchIndex(t.Context(), repo, root)
	if err != nil {
		t.Fatal(err)
	}
	other := srcRepo + "@" + idx.Manifests[1].Digest.String()

	type report struct {
		Verification struct {
			Refused bool
			Nodes   []struct {
				Digest, Verdict, ArtifactType string
				Signatures                    int
				Required                      bool
			}
		}
	}
	for regName, reg := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			dstRepo := reg.Ref("prod/app")
			var rep report
			r := must(t, w.Signet("copy", "-r", "--verify", "-o", "json", s.index, dstRepo), "signet copy --verify")
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("%v\n%s", err, r)
			}
			verdicts := map[string]string{}
			for _, n := range rep.Verification.Nodes {
				verdicts[n.Digest] = n.Verdict
			}
			want := map[string]string{
				s.index[strings.LastIndex(s.index, "@")+1:]:       "trusted", // signet's signature
				s.platform[strings.LastIndex(s.platform, "@")+1:]: "trusted", // notation's
				s.sbom:                           "trusted",  // notation's, on oras's SBOM
				idx.Manifests[1].Digest.String(): "unsigned", // covered by the index's signature only
			}
			for d, v := range want {
				if verdicts[d] != v {
					t.Errorf("node %s: verdict %q, want %q\n%s", d, verdicts[d], v, r)
				}
			}
			must(t, w.Notation("verify", "--insecure-registry", dstRepo+"@"+s.sbom), "notation verify of the copied SBOM")

			// --platform: the signed platform manifest is copied and
			// verifies with notation at the destination; the unsigned
			// one is refused, as notation refuses its digest.
			edge := reg.Ref("edge/app")
			r = must(t, w.Signet("copy", "-r", "--verify", "--platform", "linux/amd64", s.index, edge), "signet copy --verify --platform")
			if !strings.Contains(r.stdout, "verified at the destination: trusted") {
				t.Errorf("platform copy report:\n%s", r)
			}
			must(t, w.Notation("verify", "--insecure-registry", at(edge, s.platform)), "notation verify of the copied platform manifest")
			r = w.Signet("copy", "-r", "--verify", "--platform", "linux/arm64", s.index, reg.Ref("edge2/app"))
			if r.code != 1 || !strings.Contains(r.stderr, "its index's signature does not travel with it") {
				t.Errorf("unsigned platform manifest: want exit 1\n%s", r)
			}
		})
	}
	if r := w.Notation("verify", "--insecure-registry", other); r.code == 0 || !strings.Contains(r.stderr, "no signature") {
		t.Errorf("notation verify of a platform manifest whose index alone is signed: want a refusal for no signature\n%s", r)
	}

	// An SBOM signed by notation with a key no statement trusts.
	sbom := writeFile(t, t.TempDir(), "rogue.spdx.json", []byte(`{"spdxVersion":"SPDX-2.3","name":"rogue"}`))
	r := must(t, oras(t, "attach", "--plain-http", "--disable-path-validation", "--artifact-type", "application/spdx+json", "--format", "json", s.index, sbom+":application/spdx+json"), "oras attach")
	var attached struct{ Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &attached); err != nil || attached.Digest == "" {
		t.Fatalf("oras attach output: %v\n%s", err, r)
	}
	must(t, w.Notation("sign", "--insecure-registry", "--key", "rogue", srcRepo+"@"+attached.Digest), "notation sign with the rogue key")
	if r := w.Notation("verify", "--insecure-registry", srcRepo+"@"+attached.Digest); r.code == 0 {
		t.Errorf("notation verify trusts the rogue SBOM\n%s", r)
	}
	dst := testregistry.Distribution(t, testregistry.DistributionOptions{})
	r = w.Signet("copy", "-r", "--verify", s.index, dst.Ref("prod/app"))
	if r.code != 1 || !strings.Contains(r.stderr, attached.Digest) || !strings.Contains(r.stdout, "Not copied") {
		t.Errorf("copy with an SBOM signed by an untrusted key: want exit 1 naming it\n%s", r)
	}
	dstRepo, _, err := registry.NewRepository(dst.Ref("prod/app"), registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := dstRepo.Exists(t.Context(), root); ok || err != nil {
		t.Errorf("the refused copy wrote the index to the destination (%v)", err)
	}
}
