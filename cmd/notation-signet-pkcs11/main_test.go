package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin/proto"
)

// softKey is a tokenKey in memory, for tests of the protocol layer.
type softKey struct {
	key    crypto.Signer
	spec   proto.KeySpec
	cert   []byte
	closed *bool
}

func (k *softKey) Spec() proto.KeySpec { return k.spec }
func (k *softKey) Certificate() []byte { return k.cert }
func (k *softKey) Close() error {
	if k.closed != nil {
		*k.closed = true
	}
	return nil
}

func (k *softKey) SignDigest(digest []byte, h crypto.Hash) ([]byte, error) {
	switch key := k.key.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPSS(rand.Reader, key, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case *ecdsa.PrivateKey:
		der, err := ecdsa.SignASN1(rand.Reader, key, digest)
		if err != nil {
			return nil, err
		}
		return fixedRS(der, (key.Curve.Params().BitSize+7)/8) // DER in, r||s out
	}
	return nil, errors.New("unsupported key")
}

// fakeOpener returns an opener that hands out k and records the keyRef.
func fakeOpener(k tokenKey, got **keyRef) opener {
	return func(_ context.Context, ref *keyRef) (tokenKey, error) {
		if got != nil {
			*got = ref
		}
		return k, nil
	}
}

// call runs one command and decodes stdout into resp, or returns the
// plugin error from stderr.
func call(t *testing.T, command string, req any, resp any, getenv func(string) string, open opener) *proto.Error {
	t.Helper()
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	code := run(context.Background(), []string{command}, bytes.NewReader(in), &stdout, &stderr, getenv, open)
	return decodeOutcome(t, code, stdout.Bytes(), stderr.Bytes(), resp)
}

// decodeOutcome checks the PROC-1 contract: exit 0 with a response on
// stdout and nothing on stderr, or exit 1 with a valid error on stderr and
// nothing on stdout.
func decodeOutcome(t testing.TB, code int, stdout, stderr []byte, resp any) *proto.Error {
	t.Helper()
	switch code {
	case 0:
		if len(stderr) != 0 {
			t.Fatalf("exit 0 with stderr %q", stderr)
		}
		if resp != nil {
			if err := json.Unmarshal(stdout, resp); err != nil {
				t.Fatalf("stdout %q: %v", stdout, err)
			}
		}
		return nil
	case 1:
		if len(stdout) != 0 {
			t.Fatalf("exit 1 with stdout %q", stdout)
		}
		var perr proto.Error
		if err := proto.Decode(stderr, &perr); err != nil || !perr.Code.Known() {
			t.Fatalf("stderr %q is not a plugin error: %v", stderr, err)
		}
		return &perr
	}
	t.Fatalf("exit status %d", code)
	return nil
}

const testModule = "/usr/lib/test/libp11.so"

func testURI(extra string) string {
	return "pkcs11:token=t;object=k?module-path=" + testModule + extra
}

func TestMetadata(t *testing.T) {
	var md proto.GetMetadataResponse
	if perr := call(t, "get-plugin-metadata", map[string]any{}, &md, nil, nil); perr != nil {
		t.Fatal(perr)
	}
	if err := md.Validate(); err != nil {
		t.Fatal(err)
	}
	if md.Name != Name || !md.SupportsContractVersion("1.0") || !md.HasCapability(proto.CapabilitySignatureGenerator) || len(md.Capabilities) != 1 {
		t.Errorf("metadata %+v", md)
	}
}

// TestSignatures (ALG-2): the signature answered for each key spec verifies
// over the payload with the leaf's key under the key spec's algorithm, and
// the response names that algorithm.
func TestSignatures(t *testing.T) {
	for _, kt := range []testpki.KeyType{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"} {
		t.Run(string(kt), func(t *testing.T) {
			root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
			leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("leaf"), KeyType: kt, Key: testpki.Key(t, kt, false)}, root)
			spec := proto.KeySpec(strings.ToUpper(strings.Replace(string(kt), "ec-", "EC-", 1)))
			closed := false
			k := &softKey{key: leaf.Key, spec: spec, cert: leaf.Cert.Raw, closed: &closed}
			chain := filepath.Join(t.TempDir(), "chain.pem")
			if err := os.WriteFile(chain, testpki.CertsPEM(root.Cert), 0o600); err != nil {
				t.Fatal(err)
			}
			var dk proto.DescribeKeyResponse
			if perr := call(t, "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: testURI("")}, &dk, nil, fakeOpener(k, nil)); perr != nil {
				t.Fatal(perr)
			}
			if dk.KeySpec != spec || dk.KeyID != testURI("") {
				t.Errorf("describe-key: %+v", dk)
			}
			payload := []byte("header.payload " + string(kt))
			req := proto.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: testURI(""), KeySpec: spec,
				HashAlgorithm: spec.HashAlgorithm(), Payload: payload, PluginConfig: map[string]string{ConfigChain: chain}}
			var gs proto.GenerateSignatureResponse
			if perr := call(t, "generate-signature", req, &gs, nil, fakeOpener(k, nil)); perr != nil {
				t.Fatal(perr)
			}
			if !closed {
				t.Error("the key was not closed")
			}
			if gs.SigningAlgorithm != spec.SignatureAlgorithm() || gs.KeyID != req.KeyID {
				t.Errorf("response %+v", gs)
			}
			if len(gs.CertificateChain) != 2 || !bytes.Equal(gs.CertificateChain[0], leaf.Cert.Raw) || !bytes.Equal(gs.CertificateChain[1], root.Cert.Raw) {
				t.Errorf("chain has %d certificates, want leaf and root", len(gs.CertificateChain))
			}
			checkSignature(t, leaf.Cert, spec, payload, gs.Signature)
		})
	}
}

// checkSignature verifies sig independently of the plugin's own check:
// PSS with salt = hash length, or ECDSA r||s of the curve size.
func checkSignature(t *testing.T, cert *x509.Certificate, spec proto.KeySpec, payload, sig []byte) {
	t.Helper()
	h := map[proto.HashAlgorithm]crypto.Hash{"SHA-256": crypto.SHA256, "SHA-384": crypto.SHA384, "SHA-512": crypto.SHA512}[spec.HashAlgorithm()]
	hh := h.New()
	hh.Write(payload)
	digest := hh.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if err := rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: h.Size()}); err != nil {
			t.Errorf("PSS with salt length %d: %v", h.Size(), err)
		}
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			t.Fatalf("ECDSA signature is %d bytes, want r||s of %d", len(sig), 2*size)
		}
		if !ecdsa.Verify(pub, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])) {
			t.Error("ECDSA r||s does not verify")
		}
	default:
		t.Fatalf("key %T", pub)
	}
}

func TestRequestErrors(t *testing.T) {
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("leaf"), KeyType: "ec-256", Key: testpki.Key(t, "ec-256", false)}, root)
	other := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("other"), KeyType: "ec-256", Key: testpki.Key(t, "ec-256", true)}, root)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rootPEM := write("root.pem", testpki.CertsPEM(root.Cert))
	otherChain := write("other.pem", testpki.CertsPEM(other.Cert, root.Cert))
	keyPEM := write("key.pem", append(testpki.CertsPEM(root.Cert), testpki.KeyPEM(t, leaf.Key)...))
	junk := write("junk.pem", append(testpki.CertsPEM(root.Cert), "trailing junk"...))
	big := write("big.pem", bytes.Repeat([]byte("x"), maxChainFileBytes+1))
	sig := func(keyID string, spec proto.KeySpec, config map[string]string) proto.GenerateSignatureRequest {
		return proto.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: keyID, KeySpec: spec,
			HashAlgorithm: spec.HashAlgorithm(), Payload: []byte("p"), PluginConfig: config}
	}
	withCert := &softKey{key: leaf.Key, spec: proto.KeySpecEC256, cert: leaf.Cert.Raw}
	noCert := &softKey{key: leaf.Key, spec: proto.KeySpecEC256}
	tests := []struct {
		name    string
		command string
		req     any
		key     tokenKey
		code    proto.ErrorCode
		want    string
	}{
		{"unknown command", "generate-envelope", map[string]any{}, withCert, proto.ErrorCodeGeneric, "unsupported command"},
		{"bad contract version", "describe-key", proto.DescribeKeyRequest{ContractVersion: "2.0", KeyID: testURI("")}, withCert, proto.ErrorCodeUnsupportedContractVersion, "2.0"},
		{"key ID not a URI", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "release-key"}, withCert, proto.ErrorCodeValidation, `"pkcs11:"`},
		{"no object or id", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "pkcs11:token=t?module-path=/m.so"}, withCert, proto.ErrorCodeValidation, "object= or id="},
		{"type cert", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "pkcs11:object=k;type=cert?module-path=/m.so"}, withCert, proto.ErrorCodeValidation, "type=private"},
		{"no module", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "pkcs11:object=k"}, withCert, proto.ErrorCodeValidation, "no PKCS #11 module"},
		{"relative module", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "pkcs11:object=k?module-path=libsofthsm2.so"}, withCert, proto.ErrorCodeValidation, "not absolute"},
		{"module-name", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: "pkcs11:object=k?module-name=softhsm2"}, withCert, proto.ErrorCodeValidation, "module-name is not supported"},
		{"relative pin-source", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: testURI("&pin-source=pin.txt")}, withCert, proto.ErrorCodeValidation, "not an absolute file path"},
		{"command pin-source", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: testURI("&pin-source=|/bin/pin")}, withCert, proto.ErrorCodeValidation, "not an absolute file path"},
		{"missing pin-source", "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: testURI("&pin-source=/nonexistent/pin")}, withCert, proto.ErrorCodeValidation, "pin-source"},
		{"key spec mismatch", "generate-signature", sig(testURI(""), proto.KeySpecEC384, nil), withCert, proto.ErrorCodeValidation, "does not match the key"},
		{"no chain", "generate-signature", sig(testURI(""), proto.KeySpecEC256, nil), noCert, proto.ErrorCodeValidation, "no certificate chain"},
		{"chain file missing", "generate-signature", sig(testURI(""), proto.KeySpecEC256, map[string]string{ConfigChain: "/nonexistent.pem"}), withCert, proto.ErrorCodeValidation, "chain"},
		{"chain file with a key", "generate-signature", sig(testURI(""), proto.KeySpecEC256, map[string]string{ConfigChain: keyPEM}), withCert, proto.ErrorCodeValidation, `"PRIVATE KEY"`},
		{"chain file with junk", "generate-signature", sig(testURI(""), proto.KeySpecEC256, map[string]string{ConfigChain: junk}), withCert, proto.ErrorCodeValidation, "not PEM"},
		{"chain file too big", "generate-signature", sig(testURI(""), proto.KeySpecEC256, map[string]string{ConfigChain: big}), withCert, proto.ErrorCodeValidation, "over the limit"},
		{"chain file not continuing the token's certificate", "generate-signature", sig(testURI(""), proto.KeySpecEC256, map[string]string{ConfigChain: otherChain}), withCert, proto.ErrorCodeValidation, "does not continue"},
		{"chain of another key", "generate-signature", sig(testURI(""), proto.KeySpecEC256, map[string]string{ConfigChain: otherChain}), noCert, proto.ErrorCodeGeneric, "does not belong to the key"},
		{"hash does not match key spec", "generate-signature", proto.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: testURI(""), KeySpec: proto.KeySpecEC256,
			HashAlgorithm: proto.HashAlgorithmSHA512, Payload: []byte("p"), PluginConfig: map[string]string{ConfigChain: rootPEM}}, withCert, proto.ErrorCodeValidation, "does not match keySpec"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			perr := call(t, tc.command, tc.req, nil, nil, fakeOpener(tc.key, nil))
			if perr == nil {
				t.Fatal("succeeded")
			}
			if perr.Code != tc.code || !strings.Contains(perr.Message, tc.want) {
				t.Errorf("got %v, want %s mentioning %q", perr, tc.code, tc.want)
			}
		})
	}
	t.Run("invalid JSON", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"describe-key"}, strings.NewReader("{not json"), &stdout, &stderr, os.Getenv, nil)
		if perr := decodeOutcome(t, code, stdout.Bytes(), stderr.Bytes(), nil); perr == nil || perr.Code != proto.ErrorCodeValidation {
			t.Errorf("got %v", perr)
		}
	})
	t.Run("no command", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), nil, strings.NewReader("{}"), &stdout, &stderr, os.Getenv, nil)
		if perr := decodeOutcome(t, code, stdout.Bytes(), stderr.Bytes(), nil); perr == nil || !strings.Contains(perr.Message, "usage") {
			t.Errorf("got %v", perr)
		}
	})
}

// TestPINSources: pin-value, then pin-source in the URI, then pluginConfig
// pin-source, then $SIGNET_PKCS11_PIN; module-path before pluginConfig
// module.
func TestPINSources(t *testing.T) {
	dir := t.TempDir()
	uriPin := filepath.Join(dir, "uri-pin")
	cfgPin := filepath.Join(dir, "cfg-pin")
	os.WriteFile(uriPin, []byte("1111\r\nsecond line"), 0o600)
	os.WriteFile(cfgPin, []byte("2222"), 0o600)
	env := func(k string) string {
		if k == EnvPIN {
			return "3333"
		}
		return ""
	}
	noEnv := func(string) string { return "" }
	tests := []struct {
		name       string
		keyID      string
		config     map[string]string
		getenv     func(string) string
		pin        string
		hasPIN     bool
		wantModule string
	}{
		{"pin-value", testURI("&pin-value=0%30"), map[string]string{ConfigPinSource: cfgPin}, env, "00", true, testModule},
		{"pin-source in the URI", testURI("&pin-source=file://" + uriPin), map[string]string{ConfigPinSource: cfgPin}, env, "1111", true, testModule},
		{"pin-source in the configuration", testURI(""), map[string]string{ConfigPinSource: cfgPin}, env, "2222", true, testModule},
		{"environment", testURI(""), nil, env, "3333", true, testModule},
		{"none", testURI(""), nil, noEnv, "", false, testModule},
		{"module from the configuration", "pkcs11:object=k", map[string]string{ConfigModule: "/opt/hsm/lib.so"}, noEnv, "", false, "/opt/hsm/lib.so"},
		{"module-path wins", testURI(""), map[string]string{ConfigModule: "/opt/hsm/lib.so"}, noEnv, "", false, testModule},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got *keyRef
			k := &softKey{spec: proto.KeySpecEC256}
			if perr := call(t, "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: tc.keyID, PluginConfig: tc.config}, nil, tc.getenv, fakeOpener(k, &got)); perr != nil {
				t.Fatal(perr)
			}
			if got.pin != tc.pin || got.hasPIN != tc.hasPIN || got.module != tc.wantModule {
				t.Errorf("pin %q (%v), module %q; want %q (%v), %q", got.pin, got.hasPIN, got.module, tc.pin, tc.hasPIN, tc.wantModule)
			}
		})
	}
}

func TestFixedRS(t *testing.T) {
	der := func(r, s int64) []byte {
		b, _ := asn1.Marshal(struct{ R, S *big.Int }{big.NewInt(r), big.NewInt(s)})
		return b
	}
	want := func(size int, r, s int64) []byte {
		out := make([]byte, 2*size)
		big.NewInt(r).FillBytes(out[:size])
		big.NewInt(s).FillBytes(out[size:])
		return out
	}
	tests := []struct {
		name string
		in   []byte
		size int
		want []byte // nil: error
	}{
		{"r||s as is", want(32, 0x1234, 0x5678), 32, want(32, 0x1234, 0x5678)},
		{"short halves are padded", []byte{0x12, 0x34, 0x56, 0x78}, 32, want(32, 0x1234, 0x5678)},
		{"DER is converted", der(7, 9), 66, want(66, 7, 9)},
		{"odd length", []byte{1, 2, 3}, 32, nil},
		{"too long", make([]byte, 66), 32, nil},
		{"empty", nil, 32, nil},
		{"zero r", make([]byte, 64), 32, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixedRS(tc.in, tc.size)
			if tc.want == nil {
				if err == nil {
					t.Errorf("fixedRS = %x, want an error", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("fixedRS = %x, %v; want %x", got, err, tc.want)
			}
		})
	}
}

// FuzzRun: no request makes the plugin panic or break the PROC-1 contract
// (exit 0 with a response on stdout, or exit 1 with an error on stderr).
func FuzzRun(f *testing.F) {
	root, _ := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
	key, _ := testpki.GenerateKey("ec-256")
	leaf, _ := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("leaf"), Key: key}, root)
	k := &softKey{key: leaf.Key, spec: proto.KeySpecEC256, cert: leaf.Cert.Raw}
	for _, s := range []struct {
		cmd uint8
		in  string
	}{
		{0, `{}`},
		{1, `{"contractVersion":"1.0","keyId":"pkcs11:object=k?module-path=/m.so"}`},
		{2, `{"contractVersion":"1.0","keyId":"pkcs11:object=k?module-path=/m.so","keySpec":"EC-256","hashAlgorithm":"SHA-256","payload":"cA=="}`},
		{2, `{"contractVersion":"1.0","keyId":"pkcs11:object=k?module-path=/m.so","keySpec":"EC-256","hashAlgorithm":"SHA-256","payload":"cA==","pluginConfig":{"chain":"/nonexistent"}}`},
		{1, `{"contractVersion":"1.0","keyId":"pkcs11:object=k","pluginConfig":{"module":"/m.so","pin-source":"/nonexistent"}}`},
		{3, `[]`},
	} {
		f.Add(s.cmd, []byte(s.in))
	}
	commands := []string{"get-plugin-metadata", "describe-key", "generate-signature", "verify-signature"}
	f.Fuzz(func(t *testing.T, cmd uint8, in []byte) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{commands[int(cmd)%len(commands)]}, bytes.NewReader(in), &stdout, &stderr,
			func(string) string { return "" }, fakeOpener(k, nil))
		decodeOutcome(t, code, stdout.Bytes(), stderr.Bytes(), nil)
	})
}

// FuzzChainAndSignature: the chain file parser and the r||s conversion
// take any bytes without panicking, and what they accept is well formed.
func FuzzChainAndSignature(f *testing.F) {
	root, _ := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
	f.Add(testpki.CertsPEM(root.Cert), 32)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 48)
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x07, 0x02, 0x01, 0x09}, 66)
	f.Fuzz(func(t *testing.T, data []byte, size int) {
		if chain, err := parseChainPEM(data); err == nil {
			if len(chain) == 0 || len(chain) > maxChainCerts {
				t.Fatalf("%d certificates", len(chain))
			}
		}
		size = 1 + (size&0x7fffffff)%66
		if out, err := fixedRS(data, size); err == nil && len(out) != 2*size {
			t.Fatalf("fixedRS gave %d bytes for size %d", len(out), size)
		}
	})
}
