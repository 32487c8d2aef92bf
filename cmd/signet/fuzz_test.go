package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzCommands are the command shapes FuzzCLI runs; SIG, BLOB, DIR and ARG
// are replaced by the fuzzed signature file, the blob, the run's directory
// and the fuzzed argument. None can write outside the run's directory.
var fuzzCommands = [][]string{
	{"blob", "inspect", "SIG.jws.sig"},
	{"blob", "inspect", "-o", "json", "SIG.cose.sig"},
	{"blob", "verify", "--signature", "SIG.jws.sig", "BLOB"},
	{"blob", "verify", "-o", "json", "--signature", "SIG.cose.sig", "--policy-name", "ARG", "BLOB"},
	{"blob", "verify", "--signature", "SIG.jws.sig", "-m", "ARG", "--media-type", "ARG", "BLOB"},
	{"blob", "policy", "show"},
	{"policy", "show"},
	{"cert", "list", "--store", "ARG"},
	{"key", "list", "-o", "json"},
	{"ARG"},
	// If ARG becomes "sign", the signature goes to the run's directory.
	{"blob", "ARG", "--signature-directory", "DIR", "BLOB"},
	{"__complete", "blob", "sign", "--key", "ARG"},
}

// FuzzCLI runs read-only commands against fuzzed signature files, trust
// policies, signingkeys.json and arguments: whatever the input, Main
// returns a documented exit code, never panics, and every failure prints
// exactly one Error: line (docs/exit-codes.md).
func FuzzCLI(f *testing.F) {
	// Seeds: a real signature of each format with its trust store and a
	// policy that trusts it, so mutations start from a verifying run.
	dir := f.TempDir()
	cfg := filepath.Join(dir, "config")
	run := func(args ...string) {
		var out, errb bytes.Buffer
		env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
			if k == "SIGNET_CONFIG" {
				return cfg
			}
			return ""
		}}
		if code := Main(context.Background(), args, env); code != 0 {
			f.Fatalf("seed setup %v: exit %d: %s", args, code, errb.String())
		}
	}
	run("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	blob := filepath.Join(dir, "blob")
	if err := os.WriteFile(blob, []byte("fuzz"), 0o600); err != nil {
		f.Fatal(err)
	}
	run("blob", "sign", "--signature-directory", dir, "-m", "a=b", blob)
	run("blob", "sign", "--signature-directory", dir, "--signature-format", "cose", blob)
	jws, err := os.ReadFile(blob + ".jws.sig")
	if err != nil {
		f.Fatal(err)
	}
	cose, err := os.ReadFile(blob + ".cose.sig")
	if err != nil {
		f.Fatal(err)
	}
	storeCert, err := os.ReadFile(filepath.Join(cfg, "truststore", "x509", "ca", "demo", "demo.crt"))
	if err != nil {
		f.Fatal(err)
	}
	keys, err := os.ReadFile(filepath.Join(cfg, "signingkeys.json"))
	if err != nil {
		f.Fatal(err)
	}
	policy := []byte(`{"version":"1.0","trustPolicies":[{"name":"p","globalPolicy":true,"registryScopes":["*"],"signatureVerification":{"level":"audit","override":{"expiry":"enforce"}},"trustStores":["ca:demo"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Notary"]}]}`)
	for i := range fuzzCommands {
		f.Add(uint8(i), "p", jws, cose, policy, keys)
	}
	f.Add(uint8(4), "a=b", jws, cose, policy, keys)
	f.Add(uint8(3), "", cose, jws, []byte(`{"version":"1.0","trustPolicies":[{"name":"","signatureVerification":{"level":"skip"}}]}`), []byte(`{"default":"x","keys":[]}`))
	f.Add(uint8(9), "--help", []byte{}, []byte{0xd2, 0x84}, []byte("null"), []byte("[]"))

	f.Fuzz(func(t *testing.T, which uint8, arg string, sig1, sig2, policyData, keysData []byte) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config")
		store := filepath.Join(cfg, "truststore", "x509", "ca", "demo")
		if err := os.MkdirAll(store, 0o700); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{
			filepath.Join(store, "demo.crt"):            storeCert,
			filepath.Join(cfg, "trustpolicy.blob.json"): policyData,
			filepath.Join(cfg, "trustpolicy.oci.json"):  policyData,
			filepath.Join(cfg, "signingkeys.json"):      keysData,
			filepath.Join(dir, "s.jws.sig"):             sig1,
			filepath.Join(dir, "s.cose.sig"):            sig2,
			filepath.Join(dir, "blob"):                  []byte("fuzz"),
		}
		for p, data := range files {
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		shape := fuzzCommands[int(which)%len(fuzzCommands)]
		args := make([]string, len(shape))
		for i, a := range shape {
			a = strings.ReplaceAll(a, "SIG", filepath.Join(dir, "s"))
			a = strings.ReplaceAll(a, "BLOB", filepath.Join(dir, "blob"))
			a = strings.ReplaceAll(a, "DIR", dir)
			args[i] = strings.ReplaceAll(a, "ARG", arg)
		}
		var stdout, stderr bytes.Buffer
		env := &Env{Stdin: bytes.NewReader(nil), Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string {
			if k == "SIGNET_CONFIG" {
				return cfg
			}
			return ""
		}}
		code := Main(context.Background(), args, env)
		if code < exitOK || code > exitIO {
			t.Fatalf("%v: exit %d", args, code)
		}
		if code != exitOK {
			if n := strings.Count("\n"+stderr.String(), "\nError: "); n != 1 {
				t.Fatalf("%v: exit %d with %d Error: lines:\n%s", args, code, n, stderr.String())
			}
		}
	})
}
