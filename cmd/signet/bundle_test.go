package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testrevocation"
)

// TestExportImport: export -r writes a layout tar with the whole graph
// (readable by oras-go's tar reader, the root tagged), import pushes it
// into a tag-schema registry where the signature verifies.
func TestExportImport(t *testing.T) {
	w := newCopyWorld(t)
	w.c.must("sign", "--recursive", w.src.Ref("build/app:v1"))
	file := filepath.Join(t.TempDir(), "app.tar")
	r := w.c.must("export", "-r", w.src.Ref("build/app:v1"), "-o", file, "--format", "json")
	var res struct {
		File  string
		Root  ocispec.Descriptor
		Nodes []graph.NodeState
	}
	jsonOut(t, r, &res)
	if res.File != file || res.Root.Digest != w.root.Digest || len(res.Nodes) != 7+3*2+1 {
		t.Fatalf("export: %+v\n%s", res, r)
	}
	store, err := oci.NewFromTar(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := store.Resolve(context.Background(), "v1"); err != nil || d.Digest != w.root.Digest {
		t.Fatalf("the archive does not tag the root v1: %v %v", d.Digest, err)
	}
	for _, n := range res.Nodes {
		if ok, err := store.Exists(context.Background(), ocispec.Descriptor{MediaType: n.MediaType, Digest: n.Digest, Size: n.Size}); !ok || err != nil {
			t.Errorf("%s %s missing from the archive: %v", n.Kind, n.Digest, err)
		}
	}
	// The archive verifies in place (--oci-layout reads tar archives).
	w.c.must("verify", "--oci-layout", "--scope", "example.com/app", file+"@"+w.root.Digest.String())

	dst := testregistry.Distribution(t, testregistry.DistributionOptions{})
	r = w.c.must("import", file, dst.Ref("prod/app:v1"))
	if !strings.Contains(r.stdout, "14 nodes: 14 copied") {
		t.Errorf("import:\n%s", r)
	}
	w.c.must("verify", dst.Ref("prod/app:v1"))
	r = w.c.must("import", file+":v1", dst.Ref("prod/app"))
	if !strings.Contains(r.stdout, "0 copied") {
		t.Errorf("second import:\n%s", r)
	}

	// Usage: -o is required; the archive must exist.
	if r := w.c.run("export", w.src.Ref("build/app:v1")); r.code != exitUsage {
		t.Errorf("export without -o: want exit 2\n%s", r)
	}
	if r := w.c.run("import", filepath.Join(t.TempDir(), "none.tar"), dst.Ref("prod/app")); r.code != exitIO {
		t.Errorf("import of a missing archive: want exit 3\n%s", r)
	}
}

// revocationWorld signs with a leaf of a real revocation PKI (openssl ocsp
// responder, openssl ca CRLs) whose root is trusted in ca:pki.
type revocationWorld struct {
	*copyWorld
	pki  *testrevocation.PKI
	leaf *testpki.Issued
}

func newRevocationWorld(t *testing.T, o testrevocation.LeafOptions) *revocationWorld {
	t.Helper()
	p := testrevocation.New(t)
	leaf := p.Leaf(t, "bundle signer", o)
	w := &revocationWorld{copyWorld: newCopyWorld(t), pki: p, leaf: leaf}
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "leaf.key", testpki.KeyPEM(t, leaf.Key))
	certFile := writeFile(t, dir, "leaf.crt", testpki.CertsPEM(p.Chain(leaf)...))
	rootFile := writeFile(t, dir, "root.crt", testpki.CertsPEM(p.Root.Cert))
	w.c.must("key", "add", "--key-file", keyFile, "--cert-file", certFile, "--default", "pki")
	w.c.must("cert", "add", "--type", "ca", "--store", "pki", rootFile)
	w.setLevel("strict")
	return w
}

func (w *revocationWorld) setLevel(level string) {
	w.c.ociPolicy(scoped(statement("pki", level, []string{"ca:pki"}, []string{"*"}), "*"))
}

// export signs the image and exports it with its revocation evidence.
func (w *revocationWorld) export(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "app.tar")
	w.c.must("export", "-r", "--with-revocation", w.srcRef(), "-o", file)
	return file
}

// TestVerifyBundle: verify --bundle uses the archive's evidence, offline:
// good, revoked, past nextUpdate under strict and permissive, none.
func TestVerifyBundle(t *testing.T) {
	t.Run("good, by OCSP and CRL evidence", func(t *testing.T) {
		w := newRevocationWorld(t, testrevocation.LeafOptions{})
		w.c.must("sign", w.srcRef())
		file := w.export(t)
		before := len(w.pki.OCSP.Requests())
		crls := w.pki.CRLs.Total()
		r := w.c.must("verify", "--bundle", file, "--scope", "example.com/app")
		for _, want := range []string{"Successfully verified", "revocation: CN=bundle signer ok (ocsp)", "revocation evidence: sha256:"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("missing %q\n%s", want, r)
			}
		}
		if len(w.pki.OCSP.Requests()) != before || w.pki.CRLs.Total() != crls {
			t.Error("verify --bundle asked the OCSP responder or the CRL server")
		}
		r = w.c.must("verify", "--bundle", file+"@"+w.root.Digest.String(), "--scope", "example.com/app", "-o", "json")
		var out struct {
			Verdict    string
			Signatures []struct {
				Revocation []struct{ Result, Method, Reason string }
			}
			Bundle struct {
				File     string
				Evidence struct{ OCSPResponses, CRLs int } `json:"evidence"`
			} `json:"bundle"`
		}
		jsonOut(t, r, &out)
		if out.Verdict != "trusted" || out.Bundle.File != file || out.Bundle.Evidence.OCSPResponses != 1 || out.Bundle.Evidence.CRLs != 1 {
			t.Errorf("json %+v", out)
		}
		if len(out.Signatures) != 1 || len(out.Signatures[0].Revocation) == 0 || !strings.Contains(out.Signatures[0].Revocation[0].Reason, "(from the evidence)") {
			t.Errorf("the leaf's revocation reason does not name the evidence: %+v", out.Signatures)
		}
	})
	t.Run("revoked at export time", func(t *testing.T) {
		w := newRevocationWorld(t, testrevocation.LeafOptions{})
		w.c.must("sign", w.srcRef())
		w.pki.Revoke(t, w.leaf, "keyCompromise")
		file := w.export(t)
		r := w.c.run("verify", "--bundle", file, "--scope", "example.com/app")
		if r.code != exitNotTrusted || !strings.Contains(r.stdout, "revoked") {
			t.Errorf("want exit 1, revoked\n%s", r)
		}
	})
	t.Run("evidence past nextUpdate", func(t *testing.T) {
		w := newRevocationWorld(t, testrevocation.LeafOptions{NoOCSP: true})
		w.pki.CRLs.Put(testrevocation.CRLPath, w.pki.CA.GenCRL(t, testrevocation.CRLOptions{NextUpdate: time.Now().Add(2 * time.Hour)}))
		w.c.must("sign", w.srcRef())
		file := w.export(t)
		w.c.now = func() time.Time { return time.Now().Add(3 * time.Hour) }
		r := w.c.run("verify", "--bundle", file, "--scope", "example.com/app")
		if r.code != exitNotTrusted || !strings.Contains(r.stdout+r.stderr, "nextUpdate") {
			t.Errorf("strict: want exit 1 naming nextUpdate\n%s", r)
		}
		w.setLevel("permissive")
		r = w.c.run("verify", "--bundle", file, "--scope", "example.com/app")
		if r.code != exitOK || !strings.Contains(r.stderr, "Warning: revocation") || !strings.Contains(r.stderr, "nextUpdate") || !strings.Contains(r.stdout, "unknown (crl)") {
			t.Errorf("permissive: want exit 0 with a warning naming nextUpdate\n%s", r)
		}
	})
	t.Run("no evidence in the archive", func(t *testing.T) {
		w := newRevocationWorld(t, testrevocation.LeafOptions{})
		w.c.must("sign", w.srcRef())
		file := filepath.Join(t.TempDir(), "app.tar")
		w.c.must("export", "-r", w.srcRef(), "-o", file)
		r := w.c.run("verify", "--bundle", file, "--scope", "example.com/app")
		if r.code != exitNotTrusted || !strings.Contains(r.stdout, "none in the archive") {
			t.Errorf("want exit 1 (revocation unknown at strict)\n%s", r)
		}
	})
}

// TestVerifyBundleNoNetwork runs verify --bundle in a new network
// namespace (unshare -n): any connection attempt fails, so passing proves
// none is needed. The OCSP responder and CRL server are stopped too.
func TestVerifyBundleNoNetwork(t *testing.T) {
	if out, err := exec.Command("unshare", "-n", "true").CombinedOutput(); err != nil {
		msg := "unshare -n is not available here (needs root or user namespaces): " + strings.TrimSpace(string(out)) + " " + err.Error()
		if os.Getenv("SIGNET_REQUIRE_PEERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	w := newRevocationWorld(t, testrevocation.LeafOptions{})
	w.c.must("sign", w.srcRef())
	file := w.export(t)
	w.pki.OCSP.Stop()
	bin := filepath.Join(t.TempDir(), "signet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command("unshare", append([]string{"-n", bin}, args...)...)
		cmd.Env = []string{"SIGNET_CONFIG=" + w.c.cfg, "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("verify", "--bundle", file, "--scope", "example.com/app")
	if err != nil || !strings.Contains(out, "Successfully verified") || !strings.Contains(out, "ok (ocsp)") {
		t.Fatalf("offline verify: %v\n%s", err, out)
	}
	// The namespace does cut the network: an online verify of the same
	// artifact fails there.
	if out, err := run("verify", w.srcRef()); err == nil {
		t.Fatalf("a registry verify succeeded inside unshare -n:\n%s", out)
	}
}
