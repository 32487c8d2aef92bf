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
