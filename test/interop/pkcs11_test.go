package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testhsm"
	"github.com/signet-dev/signet/internal/testpki"
)

// pkcs11Plugin is the name of the PKCS #11 plugin built from
// cmd/notation-signet-pkcs11.
const pkcs11Plugin = "io.signet.pkcs11"

// TestPKCS11Interop (issue 6, item 5; ALG-2, PLG-1, PLG-2, PROC-1, PCFG-1):
// the PKCS #11 plugin, built from this module into the configuration
// directory both tools share, signs with an RSA-3072 and an EC-256 key held
// in a real SoftHSM2 token. What signet signs through it (with --plugin
// --id, and with a key registered by `signet key add --plugin`) notation
// v1.3.2 verifies, in JWS and COSE; what notation signs through it signet
// verifies; a blob signed through it signet verifies. The RSA key's
// certificate is in the token (the chain file adds the root); the EC key's
// token has no certificate (the chain file holds the whole chain).
func TestPKCS11Interop(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	tk := testhsm.New(t, "signet")

	pdir := filepath.Join(w.Config(), "plugins", pkcs11Plugin)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(pdir, "notation-"+pkcs11Plugin), "github.com/signet-dev/signet/cmd/notation-signet-pkcs11")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the PKCS #11 plugin: %v\n%s", err, out)
	}

	// Both tools run with the token's SOFTHSM2_CONF, which they pass on to
	// the plugin.
	signet := func(args ...string) result {
		t.Helper()
		env := append([]string{"SIGNET_CONFIG=" + w.Config(), "XDG_CACHE_HOME=" + w.cacheHome()}, tk.Env()...)
		return toResult(peer.Run(t, signetBin, env, args...))
	}
	notation := func(args ...string) result {
		t.Helper()
		env := append([]string{"XDG_CONFIG_HOME=" + w.xdg, "XDG_CACHE_HOME=" + w.cacheHome(), "NOTATION_EXPERIMENTAL=1"}, tk.Env()...)
		return toResult(peer.Run(t, w.notation, env, args...))
	}

	keydir := t.TempDir()
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("hsm root"), IsCA: true, KeyType: "ec-384"}, nil)
	rsaLeaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("hsm rsa signer"), KeyType: "rsa-3072", Key: testpki.Key(t, "rsa-3072", true)}, root)
	ecLeaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("hsm ec signer"), KeyType: "ec-256", Key: testpki.Key(t, "ec-256", true)}, root)
	tk.ImportKey(t, "release-rsa", []byte{0x01}, rsaLeaf.Key)
	tk.ImportCert(t, "release-rsa", []byte{0x01}, rsaLeaf.Cert)
	tk.ImportKey(t, "release-ec", []byte{0x02}, ecLeaf.Key)
	pinFile := writeFile(t, keydir, "pin", []byte(testhsm.PIN+"\n"))

	type hsmKey struct {
		name   string
		uri    string
		config []string // --plugin-config values
		alg    string   // the envelope's signature algorithm
	}
	keys := []hsmKey{
		{
			name:   "rsa-3072",
			uri:    tk.URI("release-rsa", "pin-value="+testhsm.PIN),
			config: []string{"chain=" + writeFile(t, keydir, "rsa-rest.pem", testpki.CertsPEM(root.Cert))},
			alg:    "RSASSA-PSS-SHA-384",
		},
		{
			name:   "ec-256",
			uri:    tk.URI("release-ec"),
			config: []string{"chain=" + writeFile(t, keydir, "ec-chain.pem", testpki.CertsPEM(ecLeaf.Cert, root.Cert)), "pin-source=" + pinFile},
			alg:    "ECDSA-SHA-256",
		},
	}
	must(t, notation("cert", "add", "--type", "ca", "--store", "hsm", writeFile(t, keydir, "root.pem", testpki.CertsPEM(root.Cert))), "notation cert add")
	w.ociPolicy(scope, []string{"ca:hsm"}, []string{"*"}, "strict", nil)

	r := must(t, signet("plugin", "list"), "signet plugin list")
	if !strings.Contains(r.stdout, pkcs11Plugin) || !strings.Contains(r.stdout, "SIGNATURE_GENERATOR.RAW") {
		t.Errorf("plugin list does not show the PKCS #11 plugin: %s", r)
	}

	pluginArgs := func(k hsmKey) []string {
		args := []string{"--plugin", pkcs11Plugin, "--id", k.uri}
		for _, c := range k.config {
			args = append(args, "--plugin-config", c)
		}
		return args
	}
	for _, k := range keys {
		named := "hsm-" + k.name
		must(t, signet(append([]string{"key", "add", named}, pluginArgs(k)...)...), "signet key add --plugin")
		for _, format := range []string{"jws", "cose"} {
			t.Run(k.name+"/"+format, func(t *testing.T) {
				dir, dg := newLayout(t)
				ref := dir + "@" + dg.String()
				args := append([]string{"sign", "--oci-layout", "--signature-format", format}, pluginArgs(k)...)
				must(t, signet(append(args, ref)...), "signet sign --plugin --id")
				must(t, notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")
				r := must(t, signet("inspect", "--oci-layout", "-o", "json", ref), "signet inspect")
				if !strings.Contains(r.stdout, k.alg) {
					t.Errorf("the signature does not use %s: %s", k.alg, r.stdout)
				}

				dir, dg = newLayout(t)
				ref = dir + "@" + dg.String()
				must(t, signet("sign", "--oci-layout", "--signature-format", format, "--key", named, ref), "signet sign --key (plugin key)")
				must(t, notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")

				dir, dg = newLayout(t)
				ref = dir + "@" + dg.String()
				must(t, notation("sign", "--oci-layout", "--signature-format", format, "--key", named, ref), "notation sign with signet's plugin key")
				must(t, signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")

				dir, dg = newLayout(t)
				ref = dir + "@" + dg.String()
				args = append([]string{"sign", "--oci-layout", "--signature-format", format}, pluginArgs(k)...)
				must(t, notation(append(args, ref)...), "notation sign --plugin --id")
				must(t, signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")
			})
		}
	}

	t.Run("blob", func(t *testing.T) {
		must(t, signet("blob", "policy", "init", "--name", "hsm", "--global", "--trust-store", "ca:hsm", "--trusted-identity", "*"), "signet blob policy init")
		for _, k := range keys {
			dir := t.TempDir()
			blob := writeFile(t, dir, "artifact-"+k.name+".bin", []byte("release "+k.name))
			args := append([]string{"blob", "sign", "--signature-directory", dir}, pluginArgs(k)...)
			must(t, signet(append(args, blob)...), "signet blob sign --plugin")
			must(t, signet("blob", "verify", "--signature", blob+".jws.sig", blob), "signet blob verify")
			if err := os.WriteFile(blob, []byte("tampered "+k.name), 0o600); err != nil {
				t.Fatal(err)
			}
			if r := signet("blob", "verify", "--signature", blob+".jws.sig", blob); r.code == 0 {
				t.Errorf("a changed blob verified: %s", r)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		dir, dg := newLayout(t)
		ref := dir + "@" + dg.String()
		for _, tc := range []struct {
			name string
			args []string
			want string // in stderr
		}{
			{"wrong PIN", []string{"--plugin", pkcs11Plugin, "--id", tk.URI("release-rsa", "pin-value=9999")}, "CKR_PIN_INCORRECT"},
			{"unknown object", []string{"--plugin", pkcs11Plugin, "--id", tk.URI("absent", "pin-value="+testhsm.PIN)}, "no private key"},
			{"not a PKCS #11 URI", []string{"--plugin", pkcs11Plugin, "--id", "release-rsa"}, "pkcs11:"},
			// The EC key has no certificate in the token and no chain file.
			{"no chain", []string{"--plugin", pkcs11Plugin, "--id", tk.URI("release-ec", "pin-value="+testhsm.PIN)}, "no certificate chain"},
			// The RSA key's token certificate, continued by a file
			// starting with the EC leaf.
			{"chain file not continuing the token's certificate", append(pluginArgs(keys[0])[:4], "--plugin-config", keys[1].config[0]), "does not continue"},
			// The EC key with the RSA key's chain.
			{"chain of another key", []string{"--plugin", pkcs11Plugin, "--id", tk.URI("release-ec", "pin-value="+testhsm.PIN),
				"--plugin-config", "chain=" + writeFile(t, keydir, "rsa-chain.pem", testpki.CertsPEM(rsaLeaf.Cert, root.Cert))}, "does not belong to the key"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := signet(append(append([]string{"sign", "--oci-layout"}, tc.args...), ref)...)
				if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("want a failure mentioning %q: %s", tc.want, r)
				}
			})
		}
		if _, _, preds := signatureManifests(t, dir, dg); len(preds) != 0 {
			t.Errorf("%d signatures were written by refused signings", len(preds))
		}
	})
}
