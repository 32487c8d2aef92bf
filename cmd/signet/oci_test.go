package main

import (
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

const (
	notaryArtifactType = "application/vnd.cncf.notary.signature"
	emptyConfigType    = "application/vnd.oci.empty.v1+json"
	signWarning        = "Warning: always sign the artifact by digest"
	verifyWarning      = "Warning: always verify the artifact by digest"
)

// ociWorld is a configuration with the default test key "demo", an OCI
// policy whose statement "local" trusts ca:demo for example.com/app, and a
// layout with one image manifest tagged v1.
type ociWorld struct {
	c      *cli
	layout string
	dg     digest.Digest
}

func newOCIWorld(t *testing.T) *ociWorld {
	t.Helper()
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	c.ociPolicy(scoped(statement("local", "strict", []string{"ca:demo"}, []string{testIdentity("demo")}), "example.com/app"))
	layout, dg := newLayout(t)
	return &ociWorld{c: c, layout: layout, dg: dg}
}

func (w *ociWorld) byDigest() string { return w.layout + "@" + w.dg.String() }
func (w *ociWorld) byTag() string    { return w.layout + ":v1" }

// TestOCISignVerify signs a layout artifact by tag and by digest, in both
// signature manifest forms and both envelope formats, and verifies each
// signature alone (SIGN-1, MAN-2, MAN-8, PUSH-5).
func TestOCISignVerify(t *testing.T) {
	tests := []struct {
		name   string
		byTag  bool
		form   string // --signature-manifest; "" is the default (image)
		format string
	}{
		{name: "by digest, image form, jws", form: "image", format: "jws"},
		{name: "by tag, default form, cose", byTag: true, format: "cose"},
		{name: "by digest, artifact form, cose", form: "artifact", format: "cose"},
		{name: "by tag, artifact form, jws", byTag: true, form: "artifact", format: "jws"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOCIWorld(t)
			ref := w.byDigest()
			if tt.byTag {
				ref = w.byTag()
			}
			args := []string{"sign", "--oci-layout", "-o", "json", "--signature-format", tt.format}
			if tt.form != "" {
				args = append(args, "--signature-manifest", tt.form)
			}
			r := w.c.must(append(args, ref)...)
			// A tag is resolved once, with a warning; the digest is signed.
			if got := strings.Contains(r.stderr, signWarning); got != tt.byTag {
				t.Errorf("tag warning printed = %v, want %v\n%s", got, tt.byTag, r)
			}
			var signed obj
			jsonOut(t, r, &signed)
			if signed["reference"] != w.byDigest() {
				t.Errorf("signed reference %v, want the digest reference %s", signed["reference"], w.byDigest())
			}
			sigDigest := digest.Digest(field[string](t, signed, "signature"))

			m := signatureManifest(t, w.layout, sigDigest)
			if m.Subject == nil || m.Subject.Digest != w.dg {
				t.Errorf("signature manifest subject = %v, want %s", m.Subject, w.dg)
			}
			wantMT := map[string]string{"jws": "application/jose+json", "cose": "application/cose"}[tt.format]
			if len(m.Layers) != 1 || m.Layers[0].MediaType != wantMT {
				t.Errorf("signature manifest layers = %v, want one %s", m.Layers, wantMT)
			}
			switch tt.form {
			case "artifact":
				if m.ArtifactType != notaryArtifactType || m.Config.MediaType != emptyConfigType {
					t.Errorf("artifact form: artifactType %q, config %q", m.ArtifactType, m.Config.MediaType)
				}
			default:
				if m.ArtifactType != "" || m.Config.MediaType != notaryArtifactType {
					t.Errorf("image form: artifactType %q, config %q", m.ArtifactType, m.Config.MediaType)
				}
			}

			for _, vref := range []string{w.byDigest(), w.byTag()} {
				r := w.c.must("verify", "--oci-layout", "--scope", "example.com/app", vref)
				if got, want := strings.Contains(r.stderr, verifyWarning), vref == w.byTag(); got != want {
					t.Errorf("verify %s: tag warning = %v\n%s", vref, got, r)
				}
				if !strings.Contains(r.stdout, "Successfully verified signature for "+w.byDigest()) {
					t.Errorf("verify %s:\n%s", vref, r)
				}
			}

			r = w.c.must("list", "--oci-layout", ref)
			if !strings.Contains(r.stdout, w.byDigest()) || !strings.Contains(r.stdout, "└── "+sigDigest.String()) {
				t.Errorf("list:\n%s", r.stdout)
			}
			r = w.c.must("inspect", "--oci-layout", ref)
			if !strings.Contains(r.stdout, "signature "+sigDigest.String()) || !strings.Contains(r.stdout, "media type:          "+wantMT) {
				t.Errorf("inspect:\n%s", r.stdout)
			}
		})
	}
}

// TestOCIFailures: what verify refuses on a layout.
func TestOCIFailures(t *testing.T) {
	w := newOCIWorld(t)
	w.c.must("sign", "--oci-layout", "-m", "team=blue", w.byDigest())
	tests := []struct {
		name     string
		args     []string
		code     int
		wantErr  string
		wantHint string
	}{
		{name: "without --scope", args: []string{"verify", "--oci-layout", w.byDigest()}, code: exitUsage, wantErr: "--scope is required"},
		{name: "--max-signatures 0", args: []string{"verify", "--oci-layout", "--scope", "example.com/app", "--max-signatures", "0", w.byDigest()}, code: exitUsage, wantErr: "--max-signatures must be positive"},
		{name: "list --max-signatures -1", args: []string{"list", "--oci-layout", "--max-signatures", "-1", w.byDigest()}, code: exitUsage, wantErr: "--max-signatures must be positive, got -1"},
		{name: "inspect --max-signatures 0", args: []string{"inspect", "--oci-layout", "--max-signatures", "0", w.byDigest()}, code: exitUsage, wantErr: "--max-signatures must be positive, got 0"},
		{name: "unknown manifest form", args: []string{"sign", "--oci-layout", "--signature-manifest", "oci", w.byDigest()}, code: exitUsage, wantErr: `unsupported --signature-manifest "oci"`},
		{name: "unknown envelope format", args: []string{"sign", "--oci-layout", "--signature-format", "pgp", w.byDigest()}, code: exitUsage, wantErr: `unsupported signature format "pgp"`},
		{name: "digest not in the layout", args: []string{"verify", "--oci-layout", "--scope", "example.com/app", w.layout + "@" + digest.FromString("other").String()}, code: exitIO, wantErr: "resolve"},
		{name: "required metadata absent", args: []string{"verify", "--oci-layout", "--scope", "example.com/app", "-m", "team=red", w.byDigest()}, code: exitNotTrusted, wantErr: `(policy "local", userMetadata check)`, wantHint: "--user-metadata"},
		{name: "scope without a statement", args: []string{"verify", "--oci-layout", "--scope", "example.com/lib", w.byDigest()}, code: exitNotTrusted, wantErr: "no applicable trust policy statement"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFailure(t, w.c.run(tt.args...), tt.code, tt.wantErr, tt.wantHint)
		})
	}
	w.c.must("verify", "--oci-layout", "--scope", "example.com/app", "-m", "team=blue", w.byDigest())
}

// TestOCIMultipleSignatures: signatures are evaluated in the order the
// layout lists them (oldest first) and the first that verifies wins; with
// --max-signatures below the count, a failing first signature ends in the
// limit error (TC-19 shape, VER-4).
func TestOCIMultipleSignatures(t *testing.T) {
	w := newOCIWorld(t)
	// "rogue" signs first: its root is in no trust store.
	w.c.addChainKey("rogue", "ec-256")
	t0 := time.Now().UTC().Truncate(time.Second)
	w.c.now = func() time.Time { return t0.Add(time.Minute) }
	var rogue, good obj
	jsonOut(t, w.c.must("sign", "--oci-layout", "-o", "json", "--key", "rogue", w.byDigest()), &rogue)
	w.c.now = func() time.Time { return t0.Add(2 * time.Minute) }
	jsonOut(t, w.c.must("sign", "--oci-layout", "-o", "json", "--signature-manifest", "artifact", w.byDigest()), &good)
	w.c.now = func() time.Time { return t0.Add(3 * time.Minute) }

	var list obj
	jsonOut(t, w.c.must("list", "--oci-layout", "-o", "json", w.byDigest()), &list)
	sigs := field[[]any](t, list, "signatures")
	if len(sigs) != 2 || sigs[0].(obj)["digest"] != rogue["signature"] || sigs[1].(obj)["digest"] != good["signature"] {
		t.Fatalf("list = %v; want the rogue signature %v first, then %v", sigs, rogue["signature"], good["signature"])
	}
	jsonOut(t, w.c.must("list", "--oci-layout", "-o", "json", "--max-signatures", "1", w.byDigest()), &list)
	if sigs := field[[]any](t, list, "signatures"); len(sigs) != 1 || list["truncated"] != true {
		t.Errorf("list --max-signatures 1 = %v", list)
	}
	if r := w.c.must("list", "--oci-layout", "--max-signatures", "1", w.byDigest()); !strings.Contains(r.stderr, "Warning: only the first 1 signatures are listed") {
		t.Errorf("truncated list without a warning:\n%s", r)
	}
	var ins obj
	r := w.c.must("inspect", "--oci-layout", "-o", "json", "--max-signatures", "1", w.byDigest())
	jsonOut(t, r, &ins)
	if is := field[[]any](t, ins, "signatures"); len(is) != 1 || is[0].(obj)["source"] != rogue["signature"] || !strings.Contains(r.stderr, "Warning: only the first 1 signatures are inspected") {
		t.Errorf("inspect --max-signatures 1:\n%s", r)
	}

	tests := []struct {
		name    string
		max     string
		code    int
		verdict string
		// verified[i] is whether signature i (in evaluation order) verified.
		verified []bool
		wantErr  string
	}{
		{name: "default limit", max: "100", code: exitOK, verdict: "trusted", verified: []bool{false, true}},
		{name: "limit equal to the count", max: "2", code: exitOK, verdict: "trusted", verified: []bool{false, true}},
		{name: "limit below the count", max: "1", code: exitNotTrusted, verdict: "notTrusted", verified: []bool{false},
			wantErr: "the configured limit of 1 signatures to verify per artifact was exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"verify", "--oci-layout", "--scope", "example.com/app", "--max-signatures", tt.max, w.byDigest()}
			r := w.c.run(args...)
			if tt.code == exitOK {
				if r.code != exitOK || !strings.Contains(r.stdout, "Successfully verified") {
					t.Fatalf("want trusted\n%s", r)
				}
			} else {
				// The hint suggests raising the limit (ErrSignatureLimit),
				// not the first signature's own failure.
				checkFailure(t, r, tt.code, tt.wantErr, "raise --max-signatures")
			}

			r = w.c.run(append(args[:1:1], append([]string{"-o", "json"}, args[1:]...)...)...)
			if r.code != tt.code {
				t.Fatalf("-o json: exit %d, want %d\n%s", r.code, tt.code, r)
			}
			var out obj
			jsonOut(t, r, &out)
			if out["verdict"] != tt.verdict {
				t.Errorf("verdict %v", out["verdict"])
			}
			got := field[[]any](t, out, "signatures")
			if len(got) != len(tt.verified) {
				t.Fatalf("%d signatures evaluated, want %d: %v", len(got), len(tt.verified), got)
			}
			for i, s := range got {
				s := s.(obj)
				if s["verified"] != tt.verified[i] {
					t.Errorf("signature %d verified = %v, want %v", i, s["verified"], tt.verified[i])
				}
				want := rogue["signature"]
				if i == 1 {
					want = good["signature"]
				}
				if s["source"] != want {
					t.Errorf("signature %d source = %v, want %v", i, s["source"], want)
				}
			}
			rogueChecks := checkList(t, got[0].(obj))
			if c := rogueChecks["authenticity"]; c["status"] != "failed" || c["action"] != "enforce" {
				t.Errorf("rogue authenticity = %v", c)
			}
			if tt.code != exitOK && !strings.Contains(field[string](t, out, "reason"), "configured limit of 1") {
				t.Errorf("reason = %v", out["reason"])
			}
		})
	}
}
