//go:build cgo

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testhsm"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin/proto"
)

// TestSoftHSM2 runs the plugin's commands in process against a real
// SoftHSM2 token: every key spec (ALG-2) signs in the token and the
// signature verifies independently; token and key selection, PINs and
// chains behave as documented; failures carry the right error codes
// (digest §7.5).
func TestSoftHSM2(t *testing.T) {
	tk := testhsm.New(t, "signet")
	t.Setenv("SOFTHSM2_CONF", tk.Conf)
	open := openToken
	noEnv := func(string) string { return "" }

	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("hsm root"), IsCA: true}, nil)
	dir := t.TempDir()
	rootPEM := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPEM, testpki.CertsPEM(root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	specs := []struct {
		kt   testpki.KeyType
		spec proto.KeySpec
	}{
		{"rsa-2048", proto.KeySpecRSA2048}, {"rsa-3072", proto.KeySpecRSA3072}, {"rsa-4096", proto.KeySpecRSA4096},
		{"ec-256", proto.KeySpecEC256}, {"ec-384", proto.KeySpecEC384}, {"ec-521", proto.KeySpecEC521},
	}
	leaves := map[testpki.KeyType]*testpki.Issued{}
	for i, s := range specs {
		leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("signer " + string(s.kt)), KeyType: s.kt, Key: testpki.Key(t, s.kt, false)}, root)
		leaves[s.kt] = leaf
		tk.ImportKey(t, string(s.kt), []byte{byte(i + 1)}, leaf.Key)
		tk.ImportCert(t, string(s.kt), []byte{byte(i + 1)}, leaf.Cert)
	}
	// A key with no certificate in the token, and two keys sharing a label.
	nocert := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("no cert"), KeyType: "ec-256", Key: testpki.Key(t, "ec-256", true)}, root)
	tk.ImportKey(t, "nocert", []byte{0x10}, nocert.Key)
	tk.ImportKey(t, "dup", []byte{0x20}, testpki.Key(t, "ec-256", true))
	tk.ImportKey(t, "dup", []byte{0x21}, testpki.Key(t, "ec-256", true))
	pin := "pin-value=" + testhsm.PIN

	sign := func(t *testing.T, keyID string, spec proto.KeySpec, config map[string]string, getenv func(string) string) (*proto.GenerateSignatureResponse, *proto.Error) {
		t.Helper()
		payload := []byte("payload for " + t.Name())
		req := proto.GenerateSignatureRequest{ContractVersion: "1.0", KeyID: keyID, KeySpec: spec,
			HashAlgorithm: spec.HashAlgorithm(), Payload: payload, PluginConfig: config}
		var resp proto.GenerateSignatureResponse
		if perr := call(t, "generate-signature", req, &resp, getenv, open); perr != nil {
			return nil, perr
		}
		return &resp, nil
	}

	for i, s := range specs {
		t.Run(string(s.kt), func(t *testing.T) {
			for _, keyID := range []string{
				tk.URI(string(s.kt), pin),
				// By CKA_ID alone, and with type=private.
				fmt.Sprintf("pkcs11:token=signet;id=%%%02x;type=private?module-path=%s&%s", i+1, tk.Module, pin),
			} {
				var dk proto.DescribeKeyResponse
				if perr := call(t, "describe-key", proto.DescribeKeyRequest{ContractVersion: "1.0", KeyID: keyID}, &dk, noEnv, open); perr != nil {
					t.Fatalf("%s: %v", keyID, perr)
				}
				if dk.KeySpec != s.spec {
					t.Errorf("describe-key: %s, want %s", dk.KeySpec, s.spec)
				}
				resp, perr := sign(t, keyID, s.spec, map[string]string{ConfigChain: rootPEM}, noEnv)
				if perr != nil {
					t.Fatalf("%s: %v", keyID, perr)
				}
				if resp.SigningAlgorithm != s.spec.SignatureAlgorithm() {
					t.Errorf("signingAlgorithm %s", resp.SigningAlgorithm)
				}
				if len(resp.CertificateChain) != 2 || !bytes.Equal(resp.CertificateChain[0], leaves[s.kt].Cert.Raw) || !bytes.Equal(resp.CertificateChain[1], root.Cert.Raw) {
					t.Errorf("chain of %d certificates, want the token's leaf and the file's root", len(resp.CertificateChain))
				}
				checkSignature(t, leaves[s.kt].Cert, s.spec, []byte("payload for "+t.Name()), resp.Signature)
			}
		})
	}

	t.Run("chain from the token alone", func(t *testing.T) {
		resp, perr := sign(t, tk.URI("ec-256", pin), proto.KeySpecEC256, nil, noEnv)
		if perr != nil {
			t.Fatal(perr)
		}
		if len(resp.CertificateChain) != 1 || !bytes.Equal(resp.CertificateChain[0], leaves["ec-256"].Cert.Raw) {
			t.Errorf("chain of %d certificates", len(resp.CertificateChain))
		}
	})
	t.Run("whole chain from the file", func(t *testing.T) {
		chain := filepath.Join(dir, "nocert.pem")
		if err := os.WriteFile(chain, testpki.CertsPEM(nocert.Cert, root.Cert), 0o600); err != nil {
			t.Fatal(err)
		}
		resp, perr := sign(t, tk.URI("nocert", pin), proto.KeySpecEC256, map[string]string{ConfigChain: chain}, noEnv)
		if perr != nil {
			t.Fatal(perr)
		}
		if len(resp.CertificateChain) != 2 || !bytes.Equal(resp.CertificateChain[0], nocert.Cert.Raw) {
			t.Errorf("chain of %d certificates", len(resp.CertificateChain))
		}
		checkSignature(t, nocert.Cert, proto.KeySpecEC256, []byte("payload for "+t.Name()), resp.Signature)
	})
	t.Run("no token attributes, one initialised token", func(t *testing.T) {
		if _, perr := sign(t, "pkcs11:object=ec-521?module-path="+tk.Module+"&"+pin, proto.KeySpecEC521, nil, noEnv); perr != nil {
			t.Fatal(perr)
		}
	})
	t.Run("PIN from the environment", func(t *testing.T) {
		env := func(k string) string {
			if k == EnvPIN {
				return testhsm.PIN
			}
			return ""
		}
		if _, perr := sign(t, tk.URI("ec-384"), proto.KeySpecEC384, nil, env); perr != nil {
			t.Fatal(perr)
		}
	})

	for _, tc := range []struct {
		name  string
		keyID string
		spec  proto.KeySpec
		code  proto.ErrorCode
		want  string
	}{
		{"wrong PIN", tk.URI("ec-256", "pin-value=9999"), proto.KeySpecEC256, proto.ErrorCodeAccessDenied, "CKR_PIN_INCORRECT"},
		{"no PIN", tk.URI("ec-256"), proto.KeySpecEC256, proto.ErrorCodeAccessDenied, "needs a user PIN"},
		{"unknown object", tk.URI("absent", pin), proto.KeySpecEC256, proto.ErrorCodeValidation, "no private key"},
		{"two keys match", tk.URI("dup", pin), proto.KeySpecEC256, proto.ErrorCodeValidation, "2 private keys match"},
		{"no such token", "pkcs11:token=other;object=ec-256?module-path=" + tk.Module + "&" + pin, proto.KeySpecEC256, proto.ErrorCodeValidation, "no token"},
		{"library does not match", "pkcs11:library-manufacturer=Nobody;object=ec-256?module-path=" + tk.Module + "&" + pin, proto.KeySpecEC256, proto.ErrorCodeValidation, "library-*"},
		{"module missing", "pkcs11:object=ec-256?module-path=/nonexistent/lib.so&" + pin, proto.KeySpecEC256, proto.ErrorCodeValidation, "not a file"},
		{"key spec mismatch", tk.URI("rsa-2048", pin), proto.KeySpecRSA3072, proto.ErrorCodeValidation, "does not match the key"},
		{"no chain", tk.URI("nocert", pin), proto.KeySpecEC256, proto.ErrorCodeValidation, "no certificate chain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := sign(t, tc.keyID, tc.spec, nil, noEnv)
			if perr == nil || perr.Code != tc.code || !strings.Contains(perr.Message, tc.want) {
				t.Errorf("got %v, want %s mentioning %q", perr, tc.code, tc.want)
			}
			if perr != nil && strings.Contains(perr.Message, testhsm.PIN) {
				t.Errorf("the error shows the PIN: %v", perr)
			}
		})
	}

	// Last: a second token makes a URI without token attributes ambiguous;
	// the PIN is not tried on either.
	t.Run("two tokens match", func(t *testing.T) {
		tk.Another(t, "second")
		_, perr := sign(t, "pkcs11:object=ec-256?module-path="+tk.Module+"&"+pin, proto.KeySpecEC256, nil, noEnv)
		if perr == nil || perr.Code != proto.ErrorCodeValidation || !strings.Contains(perr.Message, "2 tokens match") {
			t.Errorf("got %v", perr)
		}
		if _, perr := sign(t, tk.URI("ec-256", pin), proto.KeySpecEC256, nil, noEnv); perr != nil {
			t.Errorf("with token=signet: %v", perr)
		}
	})
}
