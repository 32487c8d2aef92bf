package signer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/truststore"
)

// A configuration directory made by notation v1.3.2 `cert generate-test`
// is read unchanged by config, truststore and signer, and saving its
// signingkeys.json back gives the same bytes (§8.2, CFG-2, TS-*).
func TestInteropNotationGeneratedDirectory(t *testing.T) {
	bin := peer.Notation(t)
	cfg := t.TempDir()
	env := []string{"NOTATION_CONFIG=" + cfg}
	if out, errOut, err := peer.Run(t, bin, env, "cert", "generate-test", "--default", "wabbit-networks.io"); err != nil {
		t.Fatalf("notation cert generate-test: %v\n%s\n%s", err, out, errOut)
	}
	ctx := context.Background()
	dir := config.Dir{Path: cfg}
	keys, err := dir.LoadSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := keys.Get("")
	if err != nil {
		t.Fatal(err)
	}
	wantKey, wantCert := dir.LocalKeyPaths("wabbit-networks.io")
	if k.Name != "wabbit-networks.io" || k.KeyPath != wantKey || k.CertificatePath != wantCert {
		t.Fatalf("key suite %+v", k)
	}
	l, err := LoadLocal(dir.Abs(k.KeyPath), dir.Abs(k.CertificatePath))
	if err != nil {
		t.Fatal(err)
	}
	if spec, _ := l.KeySpec(ctx); spec != signature.KeySpecRSA2048 {
		t.Errorf("spec = %v", spec)
	}
	chain, _ := l.CertificateChain(ctx)
	if err := signature.ValidateCodeSigningChain(chain, time.Now()); err != nil {
		t.Errorf("notation's test certificate breaks §3.2: %v", err)
	}
	certs, err := truststore.NewFileStore(dir.TrustStore(), nil).GetCertificates(ctx, truststore.TypeCA, "wabbit-networks.io")
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 1 || !bytes.Equal(certs[0].Raw, chain[0].Raw) {
		t.Fatal("trust store does not hold notation's certificate")
	}
	before, _ := os.ReadFile(dir.SigningKeys())
	if err := dir.SaveSigningKeys(keys); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(dir.SigningKeys()); !bytes.Equal(before, after) {
		t.Errorf("signingkeys.json changed on save:\n%s\n---\n%s", before, after)
	}
}

// A configuration directory made by GenerateTest works with notation
// v1.3.2: it lists the key and the certificate, signs an artifact with the
// key, and verifies it against the trust store (EC-384 to exercise a
// non-default key).
func TestInteropSignetGeneratedDirectoryWithNotation(t *testing.T) {
	bin := peer.Notation(t)
	cfg := t.TempDir()
	env := []string{"NOTATION_CONFIG=" + cfg, "NOTATION_EXPERIMENTAL=1"}
	ctx := context.Background()
	dir := config.Dir{Path: cfg}
	const name = "signet.example"
	if _, err := GenerateTest(ctx, dir, name, GenerateOptions{KeySpec: signature.KeySpecEC384, Default: true}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		out, errOut, err := peer.Run(t, bin, env, args...)
		if err != nil {
			t.Fatalf("notation %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	if out := run("key", "list"); !strings.Contains(out, "* "+name) {
		t.Errorf("notation key list does not show %s as the default:\n%s", name, out)
	}
	if out := run("cert", "list", "--type", "ca", "--store", name); !strings.Contains(out, name+".crt") {
		t.Errorf("notation cert list:\n%s", out)
	}
	if out := run("cert", "show", "--type", "ca", "--store", name, name+".crt"); !strings.Contains(out, "CN="+name+",O=Notary,L=Seattle,ST=WA,C=US") {
		t.Errorf("notation cert show:\n%s", out)
	}

	layout := writeLayout(t)
	run("sign", "--oci-layout", layout+":v1")
	policy := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["local/app"],` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:` + name + `"],"trustedIdentities":["*"]}]}`
	if err := os.WriteFile(dir.TrustPolicyOCILegacy(), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := run("verify", "--oci-layout", layout+":v1", "--scope", "local/app"); !strings.Contains(out, "Successfully verified") {
		t.Errorf("notation verify:\n%s", out)
	}
}

// writeLayout writes a minimal OCI image layout holding one manifest
// tagged v1 and returns its directory.
func writeLayout(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	put := func(data []byte) (string, int) {
		sum := sha256.Sum256(data)
		hexd := hex.EncodeToString(sum[:])
		p := filepath.Join(root, "blobs", "sha256", hexd)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + hexd, len(data)
	}
	cfgDigest, cfgSize := put([]byte("{}"))
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfgDigest, "size": cfgSize},
		"layers":        []any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	mDigest, mSize := put(manifest)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mDigest, "size": mSize,
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "v1"},
		}},
	})
	for name, data := range map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`), "index.json": index} {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}
