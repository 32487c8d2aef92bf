package truststore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

func pubPEM(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestParsePublicKeys(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	f := newFixture(t)
	tests := []struct {
		name    string
		data    []byte
		want    []string // algorithms; nil: an error
		wantErr error
	}{
		{name: "ecdsa p-256", data: pubPEM(t, p256.Public()), want: []string{"ecdsa-p256"}},
		{name: "ecdsa p-384 and ed25519 in one file", data: append(pubPEM(t, p384.Public()), pubPEM(t, edPub)...), want: []string{"ecdsa-p384", "ed25519"}},
		{name: "rsa 2048", data: pubPEM(t, rsa2048.Public()), want: []string{"rsa-2048"}},
		{name: "rsa 1024 is too short", data: pubPEM(t, rsa1024.Public()), wantErr: ErrInvalidPublicKey},
		{name: "ecdsa p-224 is not supported", data: pubPEM(t, p224.Public()), wantErr: ErrInvalidPublicKey},
		{name: "a certificate is not a key", data: testpki.CertsPEM(f.chain.Root.Cert), wantErr: ErrInvalidPublicKey},
		{name: "a private key is refused", data: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), wantErr: ErrInvalidPublicKey},
		{name: "no PEM", data: []byte("hello"), wantErr: ErrInvalidPublicKey},
		{name: "truncated second block", data: append(pubPEM(t, p256.Public()), []byte("-----BEGIN PUBLIC KEY-----\nAAAA")...), wantErr: ErrInvalidPublicKey},
		{name: "too large", data: make([]byte, MaxCertificateFileBytes+1), wantErr: ErrInvalidPublicKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParsePublicKeys(tc.data)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, k.Algorithm())
				if len(k.Fingerprint()) != 64 {
					t.Errorf("fingerprint %q", k.Fingerprint())
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("algorithms %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("algorithms %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// A publickey store is managed like a certificate store, under
// <root>/publickey/<name>, with the same symbolic-link rules.
func TestPublicKeyStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	src := writeTemp(t, "cosign.pub", pubPEM(t, k.Public()))

	if _, err := f.store.GetPublicKeys(ctx, "vendor"); !errors.Is(err, ErrStoreNotFound) {
		t.Fatalf("missing store: %v, want ErrStoreNotFound", err)
	}
	added, err := f.store.Add(ctx, TypePublicKey, "vendor", src)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(f.root, "publickey", "vendor", "cosign.pub")
	if len(added) != 1 || added[0] != want {
		t.Fatalf("added %v, want %s", added, want)
	}
	assertMode(t, want, 0o600)
	keys, err := f.store.GetPublicKeys(ctx, "vendor")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !k.PublicKey.Equal(keys[0].Key) || keys[0].Store != "vendor" || keys[0].File != "cosign.pub" {
		t.Fatalf("keys = %+v", keys)
	}
	// The cache answers the same.
	c := NewCache(f.store)
	if got, err := c.GetPublicKeys(ctx, "vendor"); err != nil || len(got) != 1 {
		t.Fatalf("cache: %v, %v", got, err)
	}
	// Listed beside certificate stores.
	entries, err := f.store.List(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range entries {
		if e.Type == TypePublicKey && e.Store == "vendor" && e.File == "cosign.pub" {
			found = true
		}
	}
	if !found {
		t.Fatalf("List does not show the key file: %+v", entries)
	}
	shown, err := f.store.ShowPublicKeys(ctx, "vendor", "cosign.pub")
	if err != nil || len(shown) != 1 || shown[0].Fingerprint() != keys[0].Fingerprint() {
		t.Fatalf("show: %v, %v", shown, err)
	}
	if _, err := f.store.ShowPublicKeys(ctx, "vendor", "missing.pub"); !errors.Is(err, ErrCertificateNotFound) {
		t.Fatalf("show missing: %v", err)
	}
	// Certificates are not keys, and keys are not certificates.
	if _, err := f.store.GetCertificates(ctx, TypePublicKey, "vendor"); !errors.Is(err, ErrInvalidStoreType) {
		t.Fatalf("GetCertificates(publickey): %v", err)
	}
	if _, err := f.store.Add(ctx, TypePublicKey, "vendor", writeTemp(t, "root.pub", testpki.CertsPEM(f.chain.Root.Cert))); !errors.Is(err, ErrInvalidPublicKey) {
		t.Fatalf("adding a certificate as a key: %v", err)
	}
	if _, err := f.store.Add(ctx, TypePublicKey, "vendor", writeTemp(t, "key.pem", pubPEM(t, k.Public()))); !errors.Is(err, ErrInvalidFileName) {
		t.Fatalf("adding a file without .pub: %v", err)
	}
	// Files without .pub are skipped; a symbolic link fails the load.
	if err := os.WriteFile(filepath.Join(f.root, "publickey", "vendor", "README"), []byte("notes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if keys, err := f.store.GetPublicKeys(ctx, "vendor"); err != nil || len(keys) != 1 {
		t.Fatalf("with a README: %v, %v", keys, err)
	}
	if err := os.Symlink(src, filepath.Join(f.root, "publickey", "vendor", "linked.pub")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetPublicKeys(ctx, "vendor"); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("symlinked key file: %v, want ErrNotRegular", err)
	}
	if err := f.store.Delete(ctx, TypePublicKey, "vendor", "linked.pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("deleting the link removed its target: %v", err)
	}
	if err := f.store.Delete(ctx, TypePublicKey, "vendor", "cosign.pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetPublicKeys(ctx, "vendor"); !errors.Is(err, ErrEmptyKeyStore) {
		t.Fatalf("store with only a README: %v, want ErrEmptyKeyStore", err)
	}
	// A symbolic link as the store directory is refused.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "k.pub"), pubPEM(t, k.Public()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(f.root, "publickey", "linked")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.GetPublicKeys(ctx, "linked"); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("symlinked store: %v, want ErrNotRegular", err)
	}
}

// FuzzParsePublicKeys: any bytes give keys of a supported type or an error
// wrapping ErrInvalidPublicKey.
func FuzzParsePublicKeys(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParsePublicKeys(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidPublicKey) {
				t.Fatalf("error does not wrap ErrInvalidPublicKey: %v", err)
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		for _, k := range keys {
			if checkPublicKey(k.Key) != nil {
				t.Fatalf("unsupported key %T returned", k.Key)
			}
		}
	})
}
