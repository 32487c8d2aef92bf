package interop

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/peer"
)

// orasNode is oras discover --format json's node.
type orasNode struct {
	Reference    string            `json:"reference"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Referrers    []*orasNode       `json:"referrers"`
	// Verification is signet's (discover --verify); oras has none.
	Verification *struct{ Verdict, Signer string } `json:"verification"`
}

func (n *orasNode) find(dg string) *orasNode {
	if n.Digest == dg {
		return n
	}
	for _, c := range n.Referrers {
		if f := c.find(dg); f != nil {
			return f
		}
	}
	return nil
}

// oras runs the ORAS CLI with its own HOME (no stored credentials).
func oras(t *testing.T, args ...string) result {
	t.Helper()
	return toResult(peer.Run(t, peer.Oras(t), nil, args...))
}

// signetDiscover runs signet discover -o json.
func signetDiscover(t *testing.T, w *world, args ...string) *orasNode {
	t.Helper()
	r := must(t, w.Signet(append([]string{"discover", "-o", "json"}, args...)...), "signet discover")
	var n orasNode
	if err := json.Unmarshal([]byte(r.stdout), &n); err != nil {
		t.Fatalf("signet discover JSON: %v\n%s", err, r)
	}
	return &n
}

func orasDiscover(t *testing.T, args ...string) *orasNode {
	t.Helper()
	r := must(t, oras(t, append([]string{"discover", "--format", "json"}, args...)...), "oras discover")
	var n orasNode
	if err := json.Unmarshal([]byte(r.stdout), &n); err != nil {
		t.Fatalf("oras discover JSON: %v\n%s", err, r)
	}
	return &n
}

var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// notationSignatures is the set of signature digests notation list shows.
func notationSignatures(t *testing.T, w *world, ref string) []string {
	t.Helper()
	r := must(t, w.Notation("list", "--insecure-registry", ref), "notation list")
	var ds []string
	for _, l := range strings.Split(r.stdout, "\n")[1:] {
		ds = append(ds, digestRE.FindAllString(l, -1)...)
	}
	slices.Sort(ds)
	return ds
}

// signetSignatures is the set of signature digests among subject's direct
// referrers in signet discover's graph.
func signetSignatures(n *orasNode) []string {
	var ds []string
	for _, c := range n.Referrers {
		if c.ArtifactType == "application/vnd.cncf.notary.signature" {
			ds = append(ds, c.Digest)
		}
	}
	slices.Sort(ds)
	return ds
}

// TestGraphInterop (issue 10 items 1, 2, 6 with real peers): on a registry
// with the referrers API (go-containerregistry) and one without
// (distribution v3, tag schema), what signet attaches oras discover shows,
// what oras attaches signet discover shows, notation list and signet
// discover agree about signatures (signet's and notation's), and what
// signet delete removes is gone for oras and notation too.
func TestGraphInterop(t *testing.T) {
	peer.Oras(t)
	w := newWorld(t, peer.Notation(t))
	w.addKey("acme", "ec-256")
	for regName, reg := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			repo := reg.Ref("graph/app")
			w.ociPolicy(repo, []string{"ca:acme"}, []string{"*"}, "strict", nil)
			ref := pushImage(t, repo, "graph-"+regName)
			dir := t.TempDir()
			sbom := writeFile(t, dir, "sbom.spdx.json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
			report := writeFile(t, dir, "report.sarif", []byte(`{"runs":[]}`))

			// signet attach (signed) → oras discover.
			r := must(t, w.Signet("attach", ref, "--artifact-type", "application/spdx+json", sbom+":application/spdx+json", "-a", "tool=syft", "--sign", "--key", "acme", "-o", "json"), "signet attach")
			var attached struct {
				Digest    string
				Signature struct{ Signature string }
			}
			if err := json.Unmarshal([]byte(r.stdout), &attached); err != nil {
				t.Fatal(err)
			}
			o := orasDiscover(t, "--plain-http", ref)
			n := o.find(attached.Digest)
			if n == nil || n.ArtifactType != "application/spdx+json" || n.Annotations["tool"] != "syft" {
				t.Fatalf("oras discover does not show signet's SBOM as attached: %+v", n)
			}
			if s := n.find(attached.Signature.Signature); s == nil || s.ArtifactType != "application/vnd.cncf.notary.signature" {
				t.Errorf("oras discover does not show the signature on signet's SBOM: %+v", n)
			}
			// oras pull gets the file back under its title.
			out := t.TempDir()
			must(t, oras(t, "pull", "--plain-http", "-o", out, strings.Split(ref, "@")[0]+"@"+attached.Digest), "oras pull")
			if b, err := os.ReadFile(filepath.Join(out, "sbom.spdx.json")); err != nil || string(b) != `{"spdxVersion":"SPDX-2.3"}` {
				t.Errorf("oras pull of signet's attachment: %q, %v", b, err)
			}

			// oras attach → signet discover.
			r = must(t, oras(t, "attach", "--plain-http", "--disable-path-validation", "--artifact-type", "application/sarif+json", "--format", "json", ref, report+":application/sarif+json"), "oras attach")
			var orasAttached struct{ Digest string }
			if err := json.Unmarshal([]byte(r.stdout), &orasAttached); err != nil || orasAttached.Digest == "" {
				t.Fatalf("oras attach output: %v %s", err, r)
			}
			g := signetDiscover(t, w, ref)
			if n := g.find(orasAttached.Digest); n == nil || n.ArtifactType != "application/sarif+json" {
				t.Errorf("signet discover does not show oras's attachment: %+v", g)
			}

			// Signatures by both tools: notation list and signet discover
			// agree.
			must(t, w.Signet("sign", "--key", "acme", ref), "signet sign")
			must(t, w.Notation("sign", "--insecure-registry", "--key", "acme", ref), "notation sign")
			g = signetDiscover(t, w, "--verify", ref)
			sigs := signetSignatures(g)
			if got := notationSignatures(t, w, ref); len(sigs) != 2 || !slices.Equal(got, sigs) {
				t.Errorf("notation list shows %v, signet discover %v", got, sigs)
			}
			for _, c := range g.Referrers {
				if c.ArtifactType != "application/vnd.cncf.notary.signature" {
					continue
				}
				if v := c.Verification; v == nil || v.Verdict != "verified" || !strings.Contains(v.Signer, "CN=acme") {
					t.Errorf("signature %s: verification %+v, want verified by acme", c.Digest, c.Verification)
				}
			}

			// signet delete of one signature: gone for notation and oras.
			must(t, w.Signet("delete", "-y", strings.Split(ref, "@")[0]+"@"+sigs[0]), "signet delete")
			if got := notationSignatures(t, w, ref); !slices.Equal(got, sigs[1:]) {
				t.Errorf("after deleting %s notation list shows %v", sigs[0], got)
			}
			if n := orasDiscover(t, "--plain-http", ref).find(sigs[0]); n != nil {
				t.Errorf("oras discover still shows the deleted signature")
			}
			must(t, w.Notation("verify", "--insecure-registry", ref), "notation verify with the other signature")

			// Cascade: nothing is left for oras.
			must(t, w.Signet("delete", "--cascade", "-y", ref), "signet delete --cascade")
			if r := oras(t, "discover", "--plain-http", ref); r.code == 0 {
				t.Errorf("oras discover of the deleted image succeeded: %s", r)
			}
			if regName == "distribution-v3" {
				// The tag schema's index tags are gone with them.
				r := must(t, oras(t, "repo", "tags", "--plain-http", repo), "oras repo tags")
				if strings.Contains(r.stdout, "sha256-") {
					t.Errorf("referrers index tags left behind: %s", r.stdout)
				}
			}
		})
	}
}

// TestGraphInteropLayout: in an OCI image layout, what signet attaches
// oras discover --oci-layout shows, and the reverse.
func TestGraphInteropLayout(t *testing.T) {
	peer.Oras(t)
	w := newWorld(t, peer.Notation(t))
	layout, dg := newLayout(t)
	ref := layout + "@" + dg.String()
	f := writeFile(t, t.TempDir(), "sbom.json", []byte(`{}`))
	r := must(t, w.Signet("attach", "--oci-layout", ref, "--artifact-type", "application/spdx+json", f, "-o", "json"), "signet attach")
	var attached struct{ Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &attached); err != nil {
		t.Fatal(err)
	}
	if n := orasDiscover(t, "--oci-layout", ref).find(attached.Digest); n == nil || n.ArtifactType != "application/spdx+json" {
		t.Errorf("oras discover --oci-layout does not show signet's attachment")
	}
	r = must(t, oras(t, "attach", "--oci-layout", "--disable-path-validation", "--artifact-type", "application/sarif+json", "--format", "json", ref, f), "oras attach")
	var orasAttached struct{ Digest string }
	if err := json.Unmarshal([]byte(r.stdout), &orasAttached); err != nil {
		t.Fatal(err)
	}
	g := signetDiscover(t, w, "--oci-layout", ref)
	if n := g.find(orasAttached.Digest); n == nil || n.ArtifactType != "application/sarif+json" {
		t.Errorf("signet discover --oci-layout does not show oras's attachment: %+v", g)
	}
	must(t, w.Signet("delete", "--oci-layout", "--cascade", "-y", ref), "signet delete --cascade")
	if r := oras(t, "discover", "--oci-layout", ref); r.code == 0 {
		t.Errorf("oras discover of the deleted image succeeded: %s", r)
	}
}

// TestDeletePromptOnTerminal: on a terminal, delete asks and deletes only
// on "y" (util-linux script(1) gives signet a pseudo-terminal).
func TestDeletePromptOnTerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("no script(1) to run signet on a pseudo-terminal")
	}
	w := newWorld(t, "")
	layout, dg := newLayout(t)
	ref := layout + "@" + dg.String()
	f := writeFile(t, t.TempDir(), "sbom.json", []byte(`{}`))
	must(t, w.Signet("attach", "--oci-layout", ref, "--artifact-type", "application/spdx+json", f), "signet attach")
	onTerminal := func(answer string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, scriptBin, "-qec", signetBin+" delete --oci-layout --cascade "+ref, "/dev/null")
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "SIGNET_CONFIG=" + w.Config(), "TERM=dumb"}
		c.Stdin = strings.NewReader(answer)
		var out strings.Builder
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		return toResult(out.String(), "", err)
	}
	r := onTerminal("n\n")
	if r.code != 2 || !strings.Contains(r.stdout, "Are you sure") || !strings.Contains(r.stdout, "cancelled") {
		t.Fatalf("answer n: %s", r)
	}
	if g := signetDiscover(t, w, "--oci-layout", ref); len(g.Referrers) != 1 {
		t.Fatalf("answer n deleted something: %+v", g)
	}
	r = onTerminal("y\n")
	if r.code != 0 || !strings.Contains(r.stdout, "Deleted "+ref) {
		t.Fatalf("answer y: %s", r)
	}
	if r := w.Signet("discover", "--oci-layout", ref); r.code != 3 {
		t.Errorf("discover after the delete: %s", r)
	}
}
