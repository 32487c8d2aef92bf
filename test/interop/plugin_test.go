package interop

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// TestPluginInterop (issue 6, first slice): a RAW signing plugin (a real
// executable built from plugin/testdata/testplugin) installed once in the
// shared configuration directory signs for both tools: a plugin key
// registered by `signet key add --plugin` is used by notation v1.3.2 from
// signingkeys.json, and what either tool signs through the plugin the other
// verifies.
func TestPluginInterop(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	const name = "com.example.raw"
	pdir := filepath.Join(w.Config(), "plugins", name)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(pdir, "notation-"+name), "github.com/signet-dev/signet/plugin/testdata/testplugin")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the test plugin: %v\n%s", err, out)
	}
	// The plugin's keys: keydir/KEYID.key and KEYID.crt (chain, leaf first).
	keydir := t.TempDir()
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("plugin root"), IsCA: true}, nil)
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("plugin signer"), KeyType: "rsa-3072"}, root)
	writeFile(t, keydir, "k1.key", testpki.KeyPEM(t, leaf.Key))
	writeFile(t, keydir, "k1.crt", testpki.CertsPEM(leaf.Cert, root.Cert))
	must(t, w.Notation("cert", "add", "--type", "ca", "--store", "plugin", writeFile(t, t.TempDir(), "root.pem", testpki.CertsPEM(root.Cert))), "notation cert add")
	w.ociPolicy(scope, []string{"ca:plugin"}, []string{"*"}, "strict", nil)

	must(t, w.Signet("key", "add", "--plugin", name, "--id", "k1", "--plugin-config", "keydir="+keydir, "pk"), "signet key add --plugin")
	r := must(t, w.Signet("plugin", "list"), "signet plugin list")
	if !strings.Contains(r.stdout, name) || !strings.Contains(r.stdout, "SIGNATURE_GENERATOR.RAW") {
		t.Errorf("plugin list: %s", r)
	}

	for _, format := range []string{"jws", "cose"} {
		t.Run(format, func(t *testing.T) {
			dir, dg := newLayout(t)
			ref := dir + "@" + dg.String()
			must(t, w.Signet("sign", "--oci-layout", "--key", "pk", "--signature-format", format, ref), "signet sign through the plugin")
			must(t, w.Notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")

			dir, dg = newLayout(t)
			ref = dir + "@" + dg.String()
			// notation reads the plugin key signet registered.
			must(t, w.Notation("sign", "--oci-layout", "--key", "pk", "--signature-format", format, ref), "notation sign with signet's plugin key")
			must(t, w.Signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")

			dir, dg = newLayout(t)
			ref = dir + "@" + dg.String()
			must(t, w.Notation("sign", "--oci-layout", "--plugin", name, "--id", "k1", "--plugin-config", "keydir="+keydir, "--signature-format", format, ref), "notation sign --plugin")
			must(t, w.Signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")
		})
	}
	t.Run("envelope plugin", func(t *testing.T) {
		// The same test plugin installed as an envelope generator
		// (SIGNATURE_GENERATOR.ENVELOPE, JWS): it builds the whole envelope.
		const env = "com.example.envelope"
		edir := filepath.Join(w.Config(), "plugins", env)
		if err := os.MkdirAll(edir, 0o755); err != nil {
			t.Fatal(err)
		}
		b := exec.Command("go", "build", "-o", filepath.Join(edir, "notation-"+env), "github.com/signet-dev/signet/plugin/testdata/testplugin")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		dir, dg := newLayout(t)
		ref := dir + "@" + dg.String()
		must(t, w.Signet("sign", "--oci-layout", "--plugin", env, "--id", "k1", "--plugin-config", "keydir="+keydir, "-e", "1h", "-m", "team=blue", ref), "signet sign with an envelope plugin")
		must(t, w.Notation("verify", "--oci-layout", "--scope", scope, "-m", "team=blue", ref), "notation verify")
		must(t, w.Signet("verify", "--oci-layout", "--scope", scope, "-m", "team=blue", ref), "signet verify")
		r := must(t, w.Signet("inspect", "--oci-layout", "-o", "json", ref), "signet inspect")
		if !strings.Contains(r.stdout, "expiry") {
			t.Errorf("the plugin's envelope lost the requested expiry: %s", r.stdout)
		}
		// The plugin's annotation reaches the signature manifest.
		store, _, preds := signatureManifests(t, dir, dg)
		if len(preds) != 1 {
			t.Fatalf("%d signature manifests", len(preds))
		}
		raw, err := content.FetchAll(t.Context(), store, preds[0])
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil || m.Annotations["com.example.signed-by"] != "test-plugin" || m.Annotations["io.cncf.notary.x509chain.thumbprint#S256"] == "" {
			t.Errorf("signature manifest annotations: %v %v", m.Annotations, err)
		}

		dir, dg = newLayout(t)
		ref = dir + "@" + dg.String()
		must(t, w.Notation("sign", "--oci-layout", "--plugin", env, "--id", "k1", "--plugin-config", "keydir="+keydir, ref), "notation sign with an envelope plugin")
		must(t, w.Signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")
	})
	t.Run("SDK plugin", func(t *testing.T) {
		// A plugin written with the public plugin author SDK
		// (notation-plugin-framework-go, plugin/testdata/sdkplugin, its own
		// module): installed once, used by both tools.
		const sdk = "io.signet.sdktest"
		sdir := filepath.Join(w.Config(), "plugins", sdk)
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			t.Fatal(err)
		}
		b := exec.Command("go", "build", "-o", filepath.Join(sdir, "notation-"+sdk), ".")
		b.Dir = filepath.Join("..", "..", "plugin", "testdata", "sdkplugin")
		b.Env = append(os.Environ(), "GOWORK=off")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build the SDK plugin: %v\n%s", err, out)
		}
		for _, format := range []string{"jws", "cose"} {
			dir, dg := newLayout(t)
			ref := dir + "@" + dg.String()
			must(t, w.Signet("sign", "--oci-layout", "--plugin", sdk, "--id", "k1", "--plugin-config", "keydir="+keydir, "--signature-format", format, ref), "signet sign through the SDK plugin")
			must(t, w.Notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")
			dir, dg = newLayout(t)
			ref = dir + "@" + dg.String()
			must(t, w.Notation("sign", "--oci-layout", "--plugin", sdk, "--id", "k1", "--plugin-config", "keydir="+keydir, "--signature-format", format, ref), "notation sign through the SDK plugin")
			must(t, w.Signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")
		}
		blob := writeFile(t, t.TempDir(), "b.txt", []byte("blob through a plugin"))
		must(t, w.Signet("blob", "sign", "--signature-directory", filepath.Dir(blob), "--plugin", sdk, "--id", "k1", "--plugin-config", "keydir="+keydir, blob), "signet blob sign through the SDK plugin")
	})
	install := func(t *testing.T, name string) {
		t.Helper()
		dir := filepath.Join(w.Config(), "plugins", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		b := exec.Command("go", "build", "-o", filepath.Join(dir, "notation-"+name), "github.com/signet-dev/signet/plugin/testdata/testplugin")
		if out, err := b.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	t.Run("signing authority through an envelope plugin", func(t *testing.T) {
		// The plugin answers as a signing authority (notary.x509.signingAuthority,
		// authentic signing time): only signingAuthority stores authenticate it (TS-7).
		const sa = "com.example.envelopesa"
		install(t, sa)
		dir, dg := newLayout(t)
		ref := dir + "@" + dg.String()
		must(t, w.Signet("sign", "--oci-layout", "--plugin", sa, "--id", "k1", "--plugin-config", "keydir="+keydir, ref), "signet sign through a signing authority")
		for _, r := range []result{w.Notation("verify", "--oci-layout", "--scope", scope, ref), w.Signet("verify", "--oci-layout", "--scope", scope, ref)} {
			if r.code == 0 {
				t.Errorf("a signing-authority signature verified against a ca store: %s", r)
			}
		}
		must(t, w.Notation("cert", "add", "--type", "signingAuthority", "--store", "sa", writeFile(t, t.TempDir(), "root.pem", testpki.CertsPEM(root.Cert))), "notation cert add signingAuthority")
		w.ociPolicy(scope, []string{"signingAuthority:sa"}, []string{"*"}, "strict", nil)
		defer w.ociPolicy(scope, []string{"ca:plugin"}, []string{"*"}, "strict", nil)
		must(t, w.Notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify with a signingAuthority store")
		r := must(t, w.Signet("verify", "--oci-layout", "--scope", scope, "-o", "json", ref), "signet verify with a signingAuthority store")
		if !strings.Contains(r.stdout, `"verdict": "trusted"`) || !strings.Contains(r.stdout, `"authenticSigningTime"`) && !strings.Contains(r.stdout, `"signingTime"`) {
			t.Errorf("verdict: %s", r)
		}
		must(t, w.Signet("inspect", "--oci-layout", ref), "signet inspect")
	})
	t.Run("blob through an ENVELOPE_FOR_BLOB plugin", func(t *testing.T) {
		const eb = "com.example.envelopeblob"
		install(t, eb)
		dir := t.TempDir()
		blob := writeFile(t, dir, "b.bin", []byte("blob signed by an envelope plugin"))
		must(t, w.Signet("blob", "sign", "--signature-directory", dir, "--plugin", eb, "--id", "k1", "--plugin-config", "keydir="+keydir, blob), "signet blob sign")
		policy := writeFile(t, t.TempDir(), "blob.json", []byte(`{"version":"1.0","trustPolicies":[{"name":"p","globalPolicy":true,"signatureVerification":{"level":"strict"},"trustStores":["ca:plugin"],"trustedIdentities":["*"]}]}`))
		must(t, w.Signet("blob", "policy", "import", "--force", policy), "signet blob policy import")
		r := must(t, w.Signet("blob", "inspect", "-o", "json", blob+".jws.sig"), "signet blob inspect")
		if !strings.Contains(r.stdout, `"sha384:`) {
			t.Errorf("the blob digest does not follow the RSA-3072 key (describe-key): %s", r.stdout)
		}
		must(t, w.Signet("blob", "verify", "--signature", blob+".jws.sig", blob), "signet blob verify")
	})
	t.Run("on-demand key and errors", func(t *testing.T) {
		dir, dg := newLayout(t)
		ref := dir + "@" + dg.String()
		must(t, w.Signet("sign", "--oci-layout", "--plugin", name, "--id", "k1", "--plugin-config", "keydir="+keydir, ref), "signet sign --plugin --id")
		must(t, w.Notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")
		for _, args := range [][]string{
			{"sign", "--oci-layout", "--plugin", name, ref},
			{"sign", "--oci-layout", "--plugin", "com.example.absent", "--id", "k1", ref},
			{"sign", "--oci-layout", "--plugin", name, "--id", "nokey", "--plugin-config", "keydir=" + keydir, ref},
		} {
			if r := w.Signet(args...); r.code == 0 || !strings.Contains(r.stderr, "Error:") {
				t.Errorf("signet %v: %s", args, r)
			}
		}
	})
}
