package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"strings"
	"testing"
)

// cert add|list|show|delete manage publickey stores like certificate
// stores.
func TestCertPublicKeyStore(t *testing.T) {
	c := newCLI(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	sum := sha256.Sum256(der)
	src := writeFile(t, t.TempDir(), "cosign.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	c.must("cert", "add", "--type", "publickey", "--store", "vendor", src)
	var listed []struct{ Type, Store, File string }
	jsonOut(t, c.must("cert", "list", "-o", "json"), &listed)
	if len(listed) != 1 || listed[0].Type != "publickey" || listed[0].Store != "vendor" || listed[0].File != "cosign.pub" {
		t.Fatalf("list = %+v", listed)
	}
	var shown []struct{ Algorithm, SHA256Fingerprint string }
	jsonOut(t, c.must("cert", "show", "--type", "publickey", "--store", "vendor", "cosign.pub", "-o", "json"), &shown)
	if len(shown) != 1 || shown[0].Algorithm != "ecdsa-p256" || shown[0].SHA256Fingerprint != hex.EncodeToString(sum[:]) {
		t.Fatalf("show = %+v", shown)
	}
	if r := c.must("cert", "show", "-t", "publickey", "-s", "vendor", "cosign.pub"); !strings.Contains(r.stdout, hex.EncodeToString(sum[:])) {
		t.Fatalf("text show lacks the fingerprint:\n%s", r)
	}
	// A certificate file is not a key file.
	r := c.run("cert", "add", "--type", "publickey", "--store", "vendor", writeFile(t, t.TempDir(), "x.pub", []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")))
	if r.code != exitUsage || !strings.Contains(r.errorLine(), "PUBLIC KEY") {
		t.Fatalf("adding a certificate as a key:\n%s", r)
	}
	c.must("cert", "delete", "--type", "publickey", "--store", "vendor", "cosign.pub")
	jsonOut(t, c.must("cert", "list", "-o", "json"), &listed)
	if len(listed) != 0 {
		t.Fatalf("after delete: %+v", listed)
	}
}

// A publickey store that a statement names but that is missing is invalid
// configuration (TS-6): exit 2 before any signature is read.
func TestVerifyMissingPublicKeyStore(t *testing.T) {
	c := newCLI(t)
	dir, dg := newLayout(t)
	doc := `{"version":"signet/v1","trustPolicies":[{"name":"c","registryScopes":["example.com/app"],"signatureVerification":{"level":"strict"},"trustStores":["publickey:missing"],"trustedIdentities":["*"]}]}`
	if err := os.MkdirAll(c.cfg, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.cfg, "trustpolicy.oci.json", []byte(doc))
	r := c.run("verify", "--oci-layout", "--scope", "example.com/app", dir+"@"+dg.String())
	if r.code != exitUsage || !strings.Contains(r.errorLine(), "publickey:missing") {
		t.Fatalf("want exit 2 naming publickey:missing:\n%s", r)
	}
}
