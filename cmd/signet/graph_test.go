package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// graphWhere is one place artifacts live for the attach/discover/delete
// tests: a registry repository or an OCI layout.
type graphWhere struct {
	name string
	// open pushes an image tagged v1 and returns the reference prefix
	// (REPO or layout directory), the flags naming the place, the image
	// digest and the trust policy scope.
	open func(t *testing.T) (prefix string, flags []string, image digest.Digest, scope string)
}

func graphWheres() []graphWhere {
	remote := func(opts testregistry.Options) func(t *testing.T) (string, []string, digest.Digest, string) {
		return func(t *testing.T) (string, []string, digest.Digest, string) {
			reg := testregistry.New(t, opts)
			repo, _, err := registry.NewRepository(reg.Ref("app"), registry.RemoteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d := testregistry.PushImage(t, repo, "app", "v1")
			return reg.Ref("app"), nil, d.Digest, reg.Ref("app")
		}
	}
	return []graphWhere{
		{name: "ggcr-referrers-api", open: remote(testregistry.Options{Referrers: true})},
		{name: "ggcr-tag-schema", open: remote(testregistry.Options{})},
		{name: "oci-layout", open: func(t *testing.T) (string, []string, digest.Digest, string) {
			dir, d := testregistry.NewLayout(t, "app", "v1")
			return dir, []string{"--oci-layout"}, d.Digest, "example.com/app"
		}},
	}
}

// discovered is the JSON of signet discover.
type discovered struct {
	Reference    string            `json:"reference"`
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations"`
	Verification *struct {
		Verdict, Signer, Policy, Reason string
	} `json:"verification"`
	Referrers []*discovered `json:"referrers"`
}

func (d *discovered) find(dg string) *discovered {
	if d.Digest == dg {
		return d
	}
	for _, c := range d.Referrers {
		if f := c.find(dg); f != nil {
			return f
		}
	}
	return nil
}

func (d *discovered) types() []string {
	var ts []string
	for _, c := range d.Referrers {
		ts = append(ts, c.ArtifactType)
	}
	slices.Sort(ts)
	return ts
}

// TestAttachDiscoverDelete is the journey of issue 10 items 1, 2 and 6 on
// a registry with the referrers API, one without (tag schema), and an OCI
// layout: attach an SBOM (signed in the same call) and a report, sign the
// image, discover the graph with verdicts, refuse to orphan, dry-run,
// delete one signature, cascade.
func TestAttachDiscoverDelete(t *testing.T) {
	for _, w := range graphWheres() {
		t.Run(w.name, func(t *testing.T) {
			c := newCLI(t)
			c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
			prefix, flags, image, scope := w.open(t)
			c.ociPolicy(scoped(statement("graph", "strict", []string{"ca:demo"}, []string{testIdentity("demo")}), scope))
			ref := prefix + "@" + image.String()
			run := func(args ...string) result { return c.run(append(append(args[:1:1], flags...), args[1:]...)...) }
			must := func(args ...string) result {
				t.Helper()
				r := run(args...)
				if r.code != 0 {
					t.Fatalf("want exit 0:\n%s", r)
				}
				return r
			}
			dir := t.TempDir()
			sbomFile := writeFile(t, dir, "sbom.spdx.json", []byte(`{"spdxVersion":"SPDX-2.3"}`))
			report := writeFile(t, dir, "report.sarif", []byte(`{"runs":[]}`))

			// attach --sign: the SBOM and its signature in one call.
			var sbom struct {
				Reference, Digest, ArtifactType, Subject string
				Signature                                *struct{ Signature string }
			}
			jsonOut(t, must("attach", ref, "--artifact-type", "application/spdx+json", sbomFile+":application/spdx+json", "--sign", "-o", "json"), &sbom)
			if sbom.Subject != ref || sbom.ArtifactType != "application/spdx+json" || sbom.Signature == nil || sbom.Reference != prefix+"@"+sbom.Digest {
				t.Fatalf("attach result %+v", sbom)
			}
			r := must("attach", prefix+":v1", "--artifact-type", "application/sarif+json", "-a", "scanner=trivy", report)
			if !strings.Contains(r.stdout, "Attached to "+ref) || !strings.Contains(r.stderr, "Warning: attach to the artifact by digest") {
				t.Errorf("attach by tag:\n%s", r)
			}
			var signed struct{ Signature string }
			jsonOut(t, must("sign", "-o", "json", ref), &signed)

			// discover --verify: the whole graph, each signature verified.
			var g discovered
			verify := []string{"--verify"}
			if len(flags) > 0 {
				verify = append(verify, "--scope", scope)
			}
			jsonOut(t, must(append(append([]string{"discover"}, verify...), "-o", "json", ref)...), &g)
			if g.Reference != ref || !slices.Equal(g.types(), []string{"application/sarif+json", "application/spdx+json", notaryArtifactType}) {
				t.Fatalf("discover: %+v", g)
			}
			s := g.find(sbom.Digest)
			if s == nil || len(s.Referrers) != 1 || s.Referrers[0].Digest != sbom.Signature.Signature {
				t.Fatalf("the SBOM node lacks its signature: %+v", s)
			}
			for _, sig := range []*discovered{s.Referrers[0], g.find(signed.Signature)} {
				if v := sig.Verification; v == nil || v.Verdict != "verified" || !strings.Contains(v.Signer, "CN=demo") || v.Policy != "graph" {
					t.Errorf("signature %s verification = %+v", sig.Digest, sig.Verification)
				}
			}
			if s.Verification != nil {
				t.Errorf("a non-signature node has a verification: %+v", s.Verification)
			}
			if rep := g.types(); rep[0] != "application/sarif+json" {
				t.Fatal(rep)
			}
			for _, n := range g.Referrers {
				if n.ArtifactType == "application/sarif+json" && n.Annotations["scanner"] != "trivy" {
					t.Errorf("report annotations = %v", n.Annotations)
				}
			}

			// The tree: grouped by artifact type, digests, annotations,
			// verdicts.
			r = must(append(append([]string{"discover"}, verify...), ref)...)
			for _, want := range []string{ref + "\n", "── application/spdx+json\n", "── " + sbom.Digest + " (", "scanner: trivy", "[verified: signed by", "── " + notaryArtifactType + "\n"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("tree lacks %q:\n%s", want, r.stdout)
				}
			}

			// --artifact-type and --depth.
			var only discovered
			jsonOut(t, must("discover", "--artifact-type", "application/spdx+json", "--depth", "1", "-o", "json", ref), &only)
			if len(only.Referrers) != 1 || only.Referrers[0].Digest != sbom.Digest || len(only.Referrers[0].Referrers) != 0 {
				t.Errorf("filtered discover: %+v", only)
			}

			// delete refuses to orphan, and without -y off a terminal.
			r = run("delete", ref)
			if r.code != exitUsage || !strings.Contains(r.errorLine(), "orphan") || !strings.Contains(r.hintLine(), "--cascade") || !strings.Contains(r.stderr, sbom.Digest) {
				t.Errorf("delete without --cascade:\n%s", r)
			}
			r = run("delete", "--cascade", ref)
			if r.code != exitUsage || !strings.Contains(r.hintLine(), "-y") {
				t.Errorf("delete without -y:\n%s", r)
			}

			// --dry-run lists, children first, and deletes nothing.
			var dry struct {
				Reference string
				DryRun    bool
				Artifacts []struct{ Digest string }
			}
			jsonOut(t, must("delete", "--cascade", "--dry-run", "-o", "json", ref), &dry)
			if !dry.DryRun || len(dry.Artifacts) != 5 || dry.Artifacts[4].Digest != image.String() {
				t.Fatalf("dry run: %+v", dry)
			}
			order := map[string]int{}
			for i, a := range dry.Artifacts {
				order[a.Digest] = i
			}
			if order[sbom.Signature.Signature] > order[sbom.Digest] {
				t.Errorf("the SBOM's signature comes after the SBOM: %+v", dry.Artifacts)
			}
			jsonOut(t, must("discover", "-o", "json", ref), &g)
			if len(g.Referrers) != 3 {
				t.Fatalf("the dry run deleted something: %+v", g)
			}

			// One signature.
			r = must("delete", "-y", prefix+"@"+sbom.Signature.Signature)
			if !strings.Contains(r.stdout, "Deleted "+prefix+"@"+sbom.Signature.Signature) {
				t.Errorf("delete one signature:\n%s", r)
			}
			jsonOut(t, must("discover", "-o", "json", ref), &g)
			if s := g.find(sbom.Digest); s == nil || len(s.Referrers) != 0 || len(g.Referrers) != 3 {
				t.Errorf("after deleting the SBOM's signature: %+v", g)
			}

			// Cascade.
			var done struct{ Artifacts []struct{ Digest string } }
			jsonOut(t, must("delete", "--cascade", "-y", "-o", "json", ref), &done)
			if len(done.Artifacts) != 4 || done.Artifacts[3].Digest != image.String() {
				t.Errorf("cascade deleted %+v", done.Artifacts)
			}
			if r := run("discover", ref); r.code != exitIO {
				t.Errorf("discover after the cascade:\n%s", r)
			}
		})
	}
}

// A signature by a signer the policy does not trust shows as failed with
// its signer; discover still exits 0.
func TestDiscoverVerifyFailed(t *testing.T) {
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	c.must("cert", "generate-test", "--key-type", "ec-256", "stranger")
	dir, d := testregistry.NewLayout(t, "app", "v1")
	ref := dir + "@" + d.Digest.String()
	c.ociPolicy(scoped(statement("graph", "strict", []string{"ca:demo"}, []string{testIdentity("demo")}), "example.com/app"))
	c.must("sign", "--oci-layout", "--key", "stranger", ref)
	var g discovered
	jsonOut(t, c.must("discover", "--oci-layout", "--verify", "--scope", "example.com/app", "-o", "json", ref), &g)
	if len(g.Referrers) != 1 {
		t.Fatalf("%+v", g)
	}
	v := g.Referrers[0].Verification
	if v == nil || v.Verdict != "failed" || !strings.Contains(v.Signer, "CN=stranger") || v.Reason == "" {
		t.Errorf("verification = %+v", v)
	}
	r := c.must("discover", "--oci-layout", "--verify", "--scope", "example.com/app", ref)
	if !strings.Contains(r.stdout, "[failed: ") {
		t.Errorf("tree:\n%s", r.stdout)
	}
}

func TestGraphCommandsUsage(t *testing.T) {
	c := newCLI(t)
	dir, d := testregistry.NewLayout(t, "app", "v1")
	ref := dir + "@" + d.Digest.String()
	f := writeFile(t, t.TempDir(), "f.json", []byte("{}"))
	tests := []struct {
		name string
		args []string
		want string // in the error line
	}{
		{name: "attach without artifact type", args: []string{"attach", "--oci-layout", ref, f}, want: "--artifact-type is required"},
		{name: "attach bad artifact type", args: []string{"attach", "--oci-layout", ref, "--artifact-type", "sbom", f}, want: "not a media type"},
		{name: "attach bad file media type", args: []string{"attach", "--oci-layout", ref, "--artifact-type", "a/b", f + ":json"}, want: "not a media type"},
		{name: "attach nothing", args: []string{"attach", "--oci-layout", ref, "--artifact-type", "a/b"}, want: "nothing to attach"},
		{name: "attach bad annotation", args: []string{"attach", "--oci-layout", ref, "--artifact-type", "a/b", "-a", "novalue", f}, want: "annotation"},
		{name: "attach sign flags without sign", args: []string{"attach", "--oci-layout", ref, "--artifact-type", "a/b", "--key", "k", f}, want: "need --sign"},
		{name: "discover depth 0", args: []string{"discover", "--oci-layout", "--depth", "0", ref}, want: "--depth"},
		{name: "discover bad output", args: []string{"discover", "--oci-layout", "-o", "yaml", ref}, want: "output format"},
		{name: "discover verify layout without scope", args: []string{"discover", "--oci-layout", "--verify", ref}, want: "--scope is required"},
		{name: "discover scope without verify", args: []string{"discover", "--oci-layout", "--scope", "a/b", ref}, want: "--scope is only"},
		{name: "delete two references", args: []string{"delete", "--oci-layout", ref, ref}, want: "one artifact reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := c.run(tc.args...)
			if r.code != exitUsage || !strings.Contains(r.errorLine(), tc.want) {
				t.Errorf("want exit 2 with %q:\n%s", tc.want, r)
			}
		})
	}
	// Nothing was attached by the refusals.
	var g discovered
	jsonOut(t, c.must("discover", "--oci-layout", "-o", "json", ref), &g)
	if len(g.Referrers) != 0 {
		t.Errorf("referrers after refused attaches: %+v", g.Referrers)
	}
	// A missing file is I/O.
	if r := c.run("attach", "--oci-layout", ref, "--artifact-type", "a/b", filepath.Join(t.TempDir(), "missing")); r.code != exitIO {
		t.Errorf("missing file:\n%s", r)
	}
}

// In an OCI layout tar archive: attach (signed), discover, a dry run that
// leaves the archive as it was, and a cascade.
func TestGraphLayoutTar(t *testing.T) {
	w := newOCIWorld(t)
	archive := tarDir(t, w.layout)
	ref := archive + "@" + w.dg.String()
	f := writeFile(t, t.TempDir(), "sbom.json", []byte(`{}`))
	w.c.must("attach", "--oci-layout", ref, "--artifact-type", "application/spdx+json", f, "--sign")
	var g discovered
	jsonOut(t, w.c.must("discover", "--oci-layout", "--verify", "--scope", "example.com/app", "-o", "json", ref), &g)
	if len(g.Referrers) != 1 || len(g.Referrers[0].Referrers) != 1 || g.Referrers[0].Referrers[0].Verification.Verdict != "verified" {
		t.Fatalf("discover in the archive: %+v", g)
	}
	before := readFile(t, archive)
	w.c.must("delete", "--oci-layout", "--cascade", "--dry-run", ref)
	if string(readFile(t, archive)) != string(before) {
		t.Error("--dry-run rewrote the archive")
	}
	w.c.must("delete", "--oci-layout", "--cascade", "-y", ref)
	if r := w.c.run("discover", "--oci-layout", ref); r.code != exitIO {
		t.Errorf("discover after the cascade: %s", r)
	}
}
