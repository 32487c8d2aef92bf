package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

var allSpecs = []struct {
	kt   testpki.KeyType
	spec signature.KeySpec
}{
	{"rsa-2048", signature.KeySpecRSA2048},
	{"rsa-3072", signature.KeySpecRSA3072},
	{"rsa-4096", signature.KeySpecRSA4096},
	{"ec-256", signature.KeySpecEC256},
	{"ec-384", signature.KeySpecEC384},
	{"ec-521", signature.KeySpecEC521},
}

// ALG-1/ALG-2: a Local signer signs with the algorithm bound to its leaf
// key, and the signature verifies.
func TestLocalSignsEveryKeySpec(t *testing.T) {
	ctx := context.Background()
	for _, tc := range allSpecs {
		t.Run(string(tc.kt), func(t *testing.T) {
			chain := testpki.NewChain(t, tc.kt)
			l, err := NewLocal(chain.Leaf.Key, chain.Certs())
			if err != nil {
				t.Fatal(err)
			}
			spec, err := l.KeySpec(ctx)
			if err != nil || spec != tc.spec {
				t.Fatalf("KeySpec = %v, %v; want %v", spec, err, tc.spec)
			}
			msg := []byte("signing input")
			sig, err := l.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := signature.VerifyMessage(spec.Algorithm(), chain.Leaf.Cert.PublicKey, msg, sig, false); err != nil {
				t.Fatalf("signature does not verify: %v", err)
			}
			if err := signature.VerifyMessage(spec.Algorithm(), chain.Leaf.Cert.PublicKey, []byte("other"), sig, false); err == nil {
				t.Fatal("signature verifies over another message")
			}
			got, _ := l.CertificateChain(ctx)
			got[0] = nil // the signer keeps its own copy
			again, _ := l.CertificateChain(ctx)
			if again[0] == nil || len(again) != 3 {
				t.Fatal("CertificateChain exposes the signer's slice")
			}
		})
	}
}

func TestNewLocalRejects(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256")
	other := testpki.Key(t, "ec-256", true)
	weak := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("weak"), KeyType: "rsa-1024"}, nil)
	tests := []struct {
		name    string
		key     crypto.Signer
		chain   []*x509.Certificate
		wantErr error
	}{
		{name: "other key", key: other, chain: chain.Certs(), wantErr: ErrKeyMismatch},
		{name: "no chain", key: chain.Leaf.Key, chain: nil, wantErr: ErrInvalidCertificate},
		{name: "nil cert", key: chain.Leaf.Key, chain: []*x509.Certificate{chain.Leaf.Cert, nil}, wantErr: ErrInvalidCertificate},
		{name: "nil key", key: nil, chain: chain.Certs(), wantErr: ErrInvalidKey},
		{name: "RSA-1024 leaf (ALG-3)", key: weak.Key, chain: []*x509.Certificate{weak.Cert}, wantErr: signature.ErrUnsupportedKey},
		{name: "key of the intermediate", key: chain.Intermediate.Key, chain: chain.Certs(), wantErr: ErrKeyMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLocal(tc.key, tc.chain)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestLocalSignHonoursContext(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256")
	l, err := NewLocal(chain.Leaf.Key, chain.Certs())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Sign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func pkcs1(t *testing.T, k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func sec1(t *testing.T, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// CFG-2: key files in the three PEM forms; certificate file leaf first.
func TestLoadLocalFiles(t *testing.T) {
	dir := t.TempDir()
	ecChain := testpki.NewChain(t, "ec-384")
	rsaChain := testpki.NewChain(t, "rsa-2048")
	ecKey := ecChain.Leaf.Key.(*ecdsa.PrivateKey)
	rsaKey := rsaChain.Leaf.Key.(*rsa.PrivateKey)
	ecParams := []byte("-----BEGIN EC PARAMETERS-----\nBgUrgQQAIg==\n-----END EC PARAMETERS-----\n")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ecCerts := write("ec.crt", testpki.CertsPEM(ecChain.Certs()...))
	rsaCerts := write("rsa.crt", testpki.CertsPEM(rsaChain.Certs()...))
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte{1, 2, 3}})
	tests := []struct {
		name     string
		key      []byte
		certs    string
		wantSpec signature.KeySpec
		wantErr  error
	}{
		{name: "PKCS#8 EC", key: testpki.KeyPEM(t, ecKey), certs: ecCerts, wantSpec: signature.KeySpecEC384},
		{name: "PKCS#8 RSA", key: testpki.KeyPEM(t, rsaKey), certs: rsaCerts, wantSpec: signature.KeySpecRSA2048},
		{name: "SEC 1 EC", key: sec1(t, ecKey), certs: ecCerts, wantSpec: signature.KeySpecEC384},
		{name: "SEC 1 EC after EC PARAMETERS", key: append(append([]byte{}, ecParams...), sec1(t, ecKey)...), certs: ecCerts, wantSpec: signature.KeySpecEC384},
		{name: "PKCS#1 RSA", key: pkcs1(t, rsaKey), certs: rsaCerts, wantSpec: signature.KeySpecRSA2048},
		{name: "key and chain in one file", key: append(testpki.KeyPEM(t, ecKey), testpki.CertsPEM(ecChain.Certs()...)...), certs: ecCerts, wantSpec: signature.KeySpecEC384},
		{name: "mismatched key", key: testpki.KeyPEM(t, rsaKey), certs: ecCerts, wantErr: ErrKeyMismatch},
		{name: "encrypted key", key: encrypted, certs: rsaCerts, wantErr: ErrInvalidKey},
		{name: "encrypted PKCS#8", key: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), certs: rsaCerts, wantErr: ErrInvalidKey},
		{name: "two keys", key: append(testpki.KeyPEM(t, ecKey), testpki.KeyPEM(t, ecKey)...), certs: ecCerts, wantErr: ErrInvalidKey},
		{name: "no key block", key: testpki.CertsPEM(ecChain.Leaf.Cert), certs: ecCerts, wantErr: ErrInvalidKey},
		{name: "DER key", key: ecParams[:0], certs: ecCerts, wantErr: ErrInvalidKey},
		{name: "OpenSSH key", key: pem.EncodeToMemory(&pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte{1}}), certs: ecCerts, wantErr: ErrInvalidKey},
		{name: "wrong content in PRIVATE KEY", key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("junk")}), certs: ecCerts, wantErr: ErrInvalidKey},
		{name: "truncated key PEM", key: testpki.KeyPEM(t, ecKey)[:60], certs: ecCerts, wantErr: ErrInvalidKey},
		{name: "key file too large", key: append(testpki.KeyPEM(t, ecKey), make([]byte, MaxKeyFileBytes)...), certs: ecCerts},
		{name: "DER certificate file", key: testpki.KeyPEM(t, ecKey), certs: write("der.crt", ecChain.Leaf.Cert.Raw), wantErr: ErrInvalidCertificate},
		{name: "certificate file with only a key", key: testpki.KeyPEM(t, ecKey), certs: write("key-only.crt", testpki.KeyPEM(t, ecKey)), wantErr: ErrInvalidCertificate},
		{name: "chain in wrong order puts another leaf first", key: testpki.KeyPEM(t, ecKey), certs: write("rev.crt", testpki.CertsPEM(ecChain.Root.Cert, ecChain.Leaf.Cert)), wantErr: ErrKeyMismatch},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keyPath := write("key"+string(rune('a'+i))+".pem", tc.key)
			l, err := LoadLocal(keyPath, tc.certs)
			if tc.wantSpec == (signature.KeySpec{}) {
				if err == nil {
					t.Fatal("LoadLocal succeeded")
				}
				if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			spec, _ := l.KeySpec(context.Background())
			if spec != tc.wantSpec {
				t.Fatalf("spec = %v, want %v", spec, tc.wantSpec)
			}
			chain, _ := l.CertificateChain(context.Background())
			if len(chain) != 3 || !bytes.Equal(chain[0].Raw, ecOrRSALeaf(ecChain, rsaChain, spec).Raw) {
				t.Fatal("chain not read leaf first")
			}
		})
	}
}

func ecOrRSALeaf(ec, rsaC *testpki.Chain, spec signature.KeySpec) *x509.Certificate {
	if spec.Type == signature.KeyTypeEC {
		return ec.Leaf.Cert
	}
	return rsaC.Leaf.Cert
}

// Key and certificate files may be symbolic links (notation follows them).
func TestLoadLocalFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	chain := testpki.NewChain(t, "ec-256")
	key := filepath.Join(dir, "real.key")
	cert := filepath.Join(dir, "real.crt")
	if err := os.WriteFile(key, testpki.KeyPEM(t, chain.Leaf.Key), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, testpki.CertsPEM(chain.Certs()...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(key, filepath.Join(dir, "link.key")); err != nil {
		t.Skip("symlinks unavailable")
	}
	if err := os.Symlink(cert, filepath.Join(dir, "link.crt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLocal(filepath.Join(dir, "link.key"), filepath.Join(dir, "link.crt")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLocal(filepath.Join(dir, "missing.key"), cert); err == nil || !strings.Contains(err.Error(), "missing.key") {
		t.Fatalf("missing key file: %v", err)
	}
	if _, err := LoadLocal("", cert); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("empty key path: %v", err)
	}
	if _, err := LoadLocal(key, ""); !errors.Is(err, ErrInvalidCertificate) {
		t.Fatalf("empty cert path: %v", err)
	}
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	chain := testpki.NewChain(f, "ec-256")
	f.Add(testpki.KeyPEM(f, chain.Leaf.Key))
	f.Add(testpki.CertsPEM(chain.Leaf.Cert))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKeyPEM(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v does not wrap ErrInvalidKey", err)
			}
			return
		}
		if k == nil || k.Public() == nil {
			t.Fatal("nil key without an error")
		}
	})
}

func FuzzParseCertificateChainPEM(f *testing.F) {
	chain := testpki.NewChain(f, "ec-256")
	f.Add(testpki.CertsPEM(chain.Certs()...))
	f.Add(append(testpki.KeyPEM(f, chain.Leaf.Key), testpki.CertsPEM(chain.Leaf.Cert)...))
	f.Add(chain.Leaf.Cert.Raw)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificateChainPEM(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidCertificate) {
				t.Fatalf("error %v does not wrap ErrInvalidCertificate", err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("no certificates without an error")
		}
		for _, c := range certs {
			if c == nil {
				t.Fatal("nil certificate")
			}
		}
	})
}
