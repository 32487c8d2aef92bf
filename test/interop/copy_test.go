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
