package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

// signingKeys reads signingkeys.json as the key list -o json shape.
func (c *cli) signingKeys() (def string, names []string) {
	c.t.Helper()
	var doc struct {
		Default string `json:"default"`
		Keys    []struct {
			Name string `json:"name"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(readFile(c.t, c.path("signingkeys.json")), &doc); err != nil {
		c.t.Fatal(err)
	}
	for _, k := range doc.Keys {
		names = append(names, k.Name)
	}
	return doc.Default, names
}

func parseCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestCertGenerateTest: generate-test makes the key, the certificate, the
// ca store entry and the signingkeys.json entry (§8.2), for the key types
// asked for, and the key signs with the digest its size implies (PAY-4).
func TestCertGenerateTest(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		check     func(t *testing.T, cert *x509.Certificate)
		alg       string // signatureAlgorithm of a signature made with the key
		digest    string // digest algorithm of the signed blob
		isDefault bool
	}{
		{
			name: "ec-256", args: []string{"--key-type", "ec-256", "--default"}, alg: "ECDSA-SHA-256", digest: "sha256:", isDefault: true,
			check: func(t *testing.T, cert *x509.Certificate) {
				if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
					t.Errorf("public key %T, want EC P-256", cert.PublicKey)
				}
			},
		},
		{
			// notation's flag: -b/--bits N means rsa-N.
			name: "bits 3072", args: []string{"--bits", "3072"}, alg: "RSASSA-PSS-SHA-384", digest: "sha384:",
			check: func(t *testing.T, cert *x509.Certificate) {
				if k, ok := cert.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 3072 {
					t.Errorf("public key %T, want RSA-3072", cert.PublicKey)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			name := "gen-" + strings.ReplaceAll(tt.name, " ", "")
			r := c.must(append([]string{"cert", "generate-test"}, append(tt.args, name)...)...)
			if !strings.Contains(r.stdout, "ca:"+name) {
				t.Errorf("stdout does not name the store:\n%s", r)
			}
			keyFile, certFile := c.path("localkeys", name+".key"), c.path("localkeys", name+".crt")
			if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file: %v, mode %v, want 0600", err, fi.Mode().Perm())
			}
			cert := parseCertFile(t, certFile)
			tt.check(t, cert)
			if got := cert.Subject.String(); got != "CN="+name+",O=Notary,L=Seattle,ST=WA,C=US" {
				t.Errorf("subject %s", got)
			}
			if cert.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}) {
				t.Errorf("key usage %v / %v", cert.KeyUsage, cert.ExtKeyUsage)
			}
			stored := readFile(t, c.path("truststore", "x509", "ca", name, name+".crt"))
			if !bytes.Equal(stored, readFile(t, certFile)) {
				t.Error("the trust store copy differs from localkeys/NAME.crt")
			}
			def, names := c.signingKeys()
			if !slices.Equal(names, []string{name}) || (def == name) != tt.isDefault {
				t.Errorf("signingkeys.json: default %q, keys %v", def, names)
			}

			// The key signs; the signature verifies against ca:NAME.
			dir := t.TempDir()
			blob := writeFile(t, dir, "b", []byte("generated"))
			var signed obj
			jsonOut(t, c.must("blob", "sign", "-o", "json", "--key", name, "--signature-directory", dir, blob), &signed)
			art := field[obj](t, signed, "signedArtifact")
			if !strings.HasPrefix(field[string](t, art, "digest"), tt.digest) {
				t.Errorf("signed digest %v, want %s...", art["digest"], tt.digest)
			}
			checkKeys(t, "blob sign", signed, "file", "signature", "signedArtifact", "signingTime")
			var in obj
			jsonOut(t, c.must("blob", "inspect", "-o", "json", blob+".jws.sig"), &in)
			if in["signatureAlgorithm"] != tt.alg {
				t.Errorf("signatureAlgorithm %v, want %s", in["signatureAlgorithm"], tt.alg)
			}
			c.blobPolicy(global(statement("p", "strict", []string{"ca:" + name}, []string{testIdentity(name)})))
			c.must("blob", "verify", "--signature", blob+".jws.sig", blob)
		})
	}
}

// TestCertGenerateTestRefused: bad key types and names are usage errors
// that leave no trace.
func TestCertGenerateTestRefused(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "EC P-224", args: []string{"--key-type", "ec-224", "k"}, wantErr: `unsupported key type "ec-224"`},
		{name: "RSA 1024 bits", args: []string{"--bits", "1024", "k"}, wantErr: `unsupported key type "rsa-1024"`},
		{name: "name with a slash", args: []string{"a/b"}, wantErr: "a/b"},
		{name: "no name", args: nil, wantErr: "requires one name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			r := c.run(append([]string{"cert", "generate-test"}, tt.args...)...)
			if r.code != exitUsage || !strings.Contains(r.errorLine(), tt.wantErr) {
				t.Fatalf("want exit 2 with %q\n%s", tt.wantErr, r)
			}
			for _, p := range []string{"signingkeys.json", "localkeys", "truststore"} {
				if _, err := os.Lstat(c.path(p)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s left behind: %v", p, err)
				}
			}
		})
	}
}

// TestKeyCommands: key add (CFG-2: the key must match the leaf), list,
// update/set/set-default and delete, and what each refuses.
func TestKeyCommands(t *testing.T) {
	c := newCLI(t)
	a := c.addChainKey("alpha", "ec-256", "--default")
	b := c.addChainKey("beta", "rsa-2048")
	if def, names := c.signingKeys(); def != "alpha" || !slices.Equal(names, []string{"alpha", "beta"}) {
		t.Fatalf("after add: default %q, keys %v", def, names)
	}
	if r := c.must("key", "list"); !strings.Contains(r.stdout, "* alpha") || strings.Contains(r.stdout, "* beta") || !strings.Contains(r.stdout, b.keyFile) {
		t.Errorf("key list:\n%s", r.stdout)
	}

	// Refusals leave signingkeys.json byte for byte as it was.
	other := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("other"), KeyType: "ec-256", Key: testpki.Key(t, "ec-256", true)}, a.chain.Intermediate)
	mismatched := writeFile(t, t.TempDir(), "other.crt", testpki.CertsPEM(other.Cert, a.chain.Intermediate.Cert, a.chain.Root.Cert))
	before := readFile(t, c.path("signingkeys.json"))
	refused := []struct {
		name    string
		args    []string
		code    int // 0 means exitUsage
		wantErr string
		hint    string
	}{
		{name: "key does not match the leaf", args: []string{"key", "add", "--key-file", a.keyFile, "--cert-file", mismatched, "gamma"}, wantErr: `key "gamma"`},
		{name: "RSA key with an EC leaf", args: []string{"key", "add", "--key-file", b.keyFile, "--cert-file", a.certFile, "gamma"}, wantErr: `key "gamma"`},
		{name: "certificate file is a key", args: []string{"key", "add", "--key-file", a.keyFile, "--cert-file", a.keyFile, "gamma"}, wantErr: `key "gamma"`},
		// A named file that is not there is an I/O failure (docs/exit-codes.md).
		{name: "missing key file", args: []string{"key", "add", "--key-file", filepath.Join(t.TempDir(), "none.key"), "--cert-file", a.certFile, "gamma"}, code: exitIO, wantErr: "none.key: no such file"},
		{name: "missing certificate file", args: []string{"key", "add", "--key-file", a.keyFile, "--cert-file", filepath.Join(t.TempDir(), "none.crt"), "gamma"}, code: exitIO, wantErr: "none.crt: no such file"},
		{name: "no --cert-file", args: []string{"key", "add", "--key-file", a.keyFile, "gamma"}, wantErr: "needs --key-file and --cert-file"},
		{name: "name taken", args: []string{"key", "add", "--key-file", b.keyFile, "--cert-file", b.certFile, "alpha"}, wantErr: `"alpha"`},
		{name: "plugin key without --id", args: []string{"key", "add", "--plugin", "p", "gamma"}, wantErr: "--plugin and --id go together"},
		{name: "plugin key of a plugin not installed", args: []string{"key", "add", "--plugin", "com.example.absent", "--id", "k", "gamma"}, wantErr: "com.example.absent", hint: "signet plugin list"},
		{name: "update without --default", args: []string{"key", "update", "beta"}, wantErr: "pass --default"},
		{name: "set-default of an unknown key", args: []string{"key", "set-default", "gamma"}, wantErr: `"gamma"`},
		{name: "delete an unknown key among known ones", args: []string{"key", "delete", "beta", "gamma"}, wantErr: `"gamma"`},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			code := tt.code
			if code == 0 {
				code = exitUsage
			}
			checkFailure(t, c.run(tt.args...), code, tt.wantErr, tt.hint)
			if got := readFile(t, c.path("signingkeys.json")); !bytes.Equal(got, before) {
				t.Errorf("signingkeys.json changed:\n%s\nwas\n%s", got, before)
			}
		})
	}

	changes := []struct {
		name    string
		args    []string
		def     string
		names   []string
		message string
	}{
		{name: "update --default", args: []string{"key", "update", "--default", "beta"}, def: "beta", names: []string{"alpha", "beta"}, message: `Key "beta" is now the default`},
		{name: "set --default", args: []string{"key", "set", "--default", "alpha"}, def: "alpha", names: []string{"alpha", "beta"}, message: `Key "alpha" is now the default`},
		{name: "set-default", args: []string{"key", "set-default", "beta"}, def: "beta", names: []string{"alpha", "beta"}, message: `Key "beta" is now the default`},
		{name: "delete the non-default key", args: []string{"key", "delete", "alpha"}, def: "beta", names: []string{"beta"}, message: `Removed key "alpha"`},
		{name: "delete the default key clears the default", args: []string{"key", "rm", "beta"}, def: "", names: nil, message: `Removed key "beta"`},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			r := c.must(tt.args...)
			if !strings.Contains(r.stdout, tt.message) {
				t.Errorf("stdout %q, want %q", r.stdout, tt.message)
			}
			if def, names := c.signingKeys(); def != tt.def || !slices.Equal(names, tt.names) {
				t.Errorf("default %q, keys %v; want %q, %v", def, names, tt.def, tt.names)
			}
		})
	}
	// key delete leaves the key files in place.
	for _, p := range []string{a.keyFile, a.certFile, b.keyFile} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("key delete removed %s: %v", p, err)
		}
	}
	// With no default key, signing without --key is a usage error.
	checkFailure(t, c.run("blob", "sign", "--signature-directory", t.TempDir(), a.certFile), exitUsage, "signet key update --default NAME", "signet key add")
}

// TestCertCommands: cert add/list/show/delete over a named store (TS-1,
// TS-6), including --all needing --yes.
func TestCertCommands(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	r1 := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root one"), IsCA: true}, nil)
	r2 := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root two"), IsCA: true}, nil)
	one := writeFile(t, dir, "one.pem", testpki.CertsPEM(r1.Cert))
	two := writeFile(t, dir, "two.crt", testpki.CertsPEM(r2.Cert))
	// A DER file is read too (TS-2).
	der := writeFile(t, dir, "three.cer", r2.Cert.Raw)
	storeDir := c.path("truststore", "x509", "ca", "acme")

	r := c.must("cert", "add", "--type", "ca", "--store", "acme", one, two)
	if !strings.Contains(r.stdout, "one.pem") || !strings.Contains(r.stdout, "two.crt") {
		t.Errorf("add:\n%s", r)
	}
	c.must("cert", "add", "-t", "ca", "-s", "acme", der)
	if !bytes.Equal(readFile(t, filepath.Join(storeDir, "one.pem")), readFile(t, one)) {
		t.Error("stored file differs from the added one")
	}

	refusals := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "file name already in the store", args: []string{"cert", "add", "--type", "ca", "--store", "acme", one}, wantErr: "one.pem"},
		{name: "store name with a slash", args: []string{"cert", "add", "--type", "ca", "--store", "a/b", one}, wantErr: "a/b"},
		{name: "add without --store", args: []string{"cert", "add", "--type", "ca", one}, wantErr: `"store" not set`},
		{name: "delete --all without --yes", args: []string{"cert", "delete", "--type", "ca", "--store", "acme", "--all"}, wantErr: "needs --yes"},
		{name: "delete with neither a file nor --all", args: []string{"cert", "delete", "--type", "ca", "--store", "acme"}, wantErr: "one certificate file name, or --all"},
		{name: "delete a file and --all", args: []string{"cert", "delete", "--type", "ca", "--store", "acme", "--all", "--yes", "one.pem"}, wantErr: "one certificate file name, or --all"},
		{name: "show a file not in the store", args: []string{"cert", "show", "--type", "ca", "--store", "acme", "none.pem"}, wantErr: "none.pem"},
		{name: "list an unknown type", args: []string{"cert", "list", "--type", "root"}, wantErr: `unsupported trust store type "root"`},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			checkFailure(t, c.run(tt.args...), exitUsage, tt.wantErr, "")
			entries, err := os.ReadDir(storeDir)
			if err != nil || len(entries) != 3 {
				t.Errorf("store holds %d files (%v), want 3", len(entries), err)
			}
		})
	}

	r = c.must("cert", "list", "--store", "acme")
	for _, f := range []string{"one.pem", "two.crt", "three.cer"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("list lacks %s:\n%s", f, r.stdout)
		}
	}
	if r := c.must("cert", "list", "--type", "tsa"); !strings.Contains(r.stdout, "No certificates") {
		t.Errorf("list --type tsa:\n%s", r.stdout)
	}
	r = c.must("cert", "show", "--type", "ca", "--store", "acme", "two.crt")
	if !strings.Contains(r.stdout, "Subject:     "+r2.Cert.Subject.String()) || !strings.Contains(r.stdout, "CA:          true") {
		t.Errorf("show:\n%s", r.stdout)
	}

	r = c.must("cert", "delete", "--type", "ca", "--store", "acme", "one.pem")
	if !strings.Contains(r.stdout, "Deleted one.pem from trust store ca:acme") {
		t.Errorf("delete:\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(storeDir, "one.pem")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("one.pem still there: %v", err)
	}
	c.must("cert", "delete", "--type", "ca", "--store", "acme", "--all", "--yes")
	var left []obj
	jsonOut(t, c.must("cert", "list", "-o", "json"), &left)
	if len(left) != 0 {
		t.Errorf("after delete --all: %v", left)
	}
}
