package signer

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/truststore"
)

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// §8.2 localkeys: GenerateTest makes, for every key spec, a self-signed
// code-signing certificate that satisfies §3.2 as a single-certificate
// chain (CERT-2), trusts it in ca:<name>, and registers the key.
func TestGenerateTestEveryKeySpec(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	for _, tc := range allSpecs {
		t.Run(string(tc.kt), func(t *testing.T) {
			if testing.Short() && tc.spec == signature.KeySpecRSA4096 {
				t.Skip("slow key generation")
			}
			dir := config.Dir{Path: filepath.Join(t.TempDir(), "cfg")}
			name := "test-" + string(tc.kt) + ".io"
			g, err := GenerateTest(ctx, dir, name, GenerateOptions{KeySpec: tc.spec, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			wantKey, wantCert := dir.LocalKeyPaths(name)
			if g.KeyPath != wantKey || g.CertPath != wantCert || g.StoreName != name {
				t.Fatalf("paths = %q %q %q", g.KeyPath, g.CertPath, g.StoreName)
			}
			c := g.Certificate
			if spec, err := signature.KeySpecFromCertificate(c); err != nil || spec != tc.spec {
				t.Fatalf("KeySpecFromCertificate = %v, %v", spec, err)
			}
			if got := c.Subject.String(); got != "CN="+name+",O=Notary,L=Seattle,ST=WA,C=US" {
				t.Errorf("subject = %q", got)
			}
			if !bytes.Equal(c.RawSubject, c.RawIssuer) || c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) != nil {
				t.Error("certificate is not self-signed")
			}
			if c.KeyUsage != x509.KeyUsageDigitalSignature {
				t.Errorf("key usage = %v", c.KeyUsage)
			}
			if !keyUsageCritical(c) {
				t.Error("key usage not critical")
			}
			if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning || len(c.UnknownExtKeyUsage) != 0 {
				t.Errorf("EKU = %v %v", c.ExtKeyUsage, c.UnknownExtKeyUsage)
			}
			if c.BasicConstraintsValid || c.IsCA {
				t.Error("basicConstraints present")
			}
			if !c.NotBefore.Equal(now.Truncate(time.Second)) || !c.NotAfter.Equal(now.Truncate(time.Second).Add(24*time.Hour)) {
				t.Errorf("validity %s .. %s", c.NotBefore, c.NotAfter)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %v", c.SerialNumber)
			}
			if err := signature.ValidateCodeSigningChain([]*x509.Certificate{c}, now.Add(time.Hour)); err != nil {
				t.Errorf("generated chain breaks §3.2: %v", err)
			}

			// Files and modes.
			assertMode(t, g.KeyPath, 0o600)
			assertMode(t, g.CertPath, 0o644)
			assertMode(t, dir.LocalKeys(), fs.ModeDir|0o700)
			assertMode(t, dir.Path, fs.ModeDir|0o700)
			if b, _ := os.ReadFile(g.KeyPath); !bytes.HasPrefix(b, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Error("key file is not PKCS#8 PEM")
			}

			// The trust store reads it back.
			store := truststore.NewFileStore(dir.TrustStore(), nil)
			certs, err := store.GetCertificates(ctx, truststore.TypeCA, name)
			if err != nil {
				t.Fatal(err)
			}
			if len(certs) != 1 || !bytes.Equal(certs[0].Raw, c.Raw) {
				t.Fatal("trust store does not hold the certificate")
			}
			entries, err := store.List(ctx, truststore.TypeCA, name)
			if err != nil || len(entries) != 1 || entries[0].File != name+".crt" {
				t.Fatalf("store entries = %+v, %v", entries, err)
			}

			// signingkeys.json registers it with absolute paths.
			keys, err := dir.LoadSigningKeys()
			if err != nil {
				t.Fatal(err)
			}
			k, err := keys.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			if k.KeyPath != g.KeyPath || k.CertificatePath != g.CertPath || !filepath.IsAbs(k.KeyPath) {
				t.Errorf("registered %+v", k)
			}
			if keys.Default != "" {
				t.Errorf("default = %q without opts.Default", keys.Default)
			}

			// And it signs.
			l, err := LoadLocal(k.KeyPath, k.CertificatePath)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := l.Sign(ctx, []byte("m"))
			if err != nil {
				t.Fatal(err)
			}
			if err := signature.VerifyMessage(tc.spec.Algorithm(), c.PublicKey, []byte("m"), sig, false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func keyUsageCritical(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidKeyUsage) {
			return e.Critical
		}
	}
	return false
}

func TestGenerateTestDefaultsAndOptions(t *testing.T) {
	ctx := context.Background()
	dir := config.Dir{Path: t.TempDir()}
	start := time.Now()
	g, err := GenerateTest(ctx, dir, "first", GenerateOptions{Default: true})
	if err != nil {
		t.Fatal(err)
	}
	if spec, _ := signature.KeySpecFromCertificate(g.Certificate); spec != signature.KeySpecRSA2048 {
		t.Errorf("default spec = %v, want RSA-2048", spec)
	}
	if d := g.Certificate.NotAfter.Sub(g.Certificate.NotBefore); d != DefaultTestValidity {
		t.Errorf("default validity = %s", d)
	}
	if g.Certificate.NotBefore.Before(start.Add(-time.Second)) || g.Certificate.NotBefore.After(time.Now()) {
		t.Errorf("NotBefore %s is not now", g.Certificate.NotBefore)
	}
	g2, err := GenerateTest(ctx, dir, "second", GenerateOptions{KeySpec: signature.KeySpecEC256, Validity: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if d := g2.Certificate.NotAfter.Sub(g2.Certificate.NotBefore); d != 90*time.Minute {
		t.Errorf("validity = %s", d)
	}
	keys, err := dir.LoadSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	if keys.Default != "first" || len(keys.Keys) != 2 {
		t.Fatalf("keys = %+v", keys)
	}
	if _, err := GenerateTest(ctx, dir, "third", GenerateOptions{KeySpec: signature.KeySpecEC256, Default: true}); err != nil {
		t.Fatal(err)
	}
	if keys, _ := dir.LoadSigningKeys(); keys.Default != "third" {
		t.Errorf("default = %q, want third", keys.Default)
	}
}

// Refusals happen before anything is written.
func TestGenerateTestRefusals(t *testing.T) {
	ctx := context.Background()
	dir := config.Dir{Path: t.TempDir()}
	if _, err := GenerateTest(ctx, dir, "taken", GenerateOptions{KeySpec: signature.KeySpecEC256}); err != nil {
		t.Fatal(err)
	}
	// A store file left behind by hand for "stale".
	staleStore := filepath.Join(dir.TrustStore(), "x509", "ca", "stale")
	if err := os.MkdirAll(staleStore, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(staleStore, "stale.crt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A key file left behind for "orphan".
	orphanKey, _ := dir.LocalKeyPaths("orphan")
	if err := os.WriteFile(orphanKey, []byte("old key"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir.Path)
	tests := []struct {
		name    string
		key     string
		opts    GenerateOptions
		wantErr error
	}{
		{name: "existing key name", key: "taken", opts: GenerateOptions{KeySpec: signature.KeySpecEC256}, wantErr: config.ErrKeyExists},
		{name: "existing trust store file", key: "stale", opts: GenerateOptions{KeySpec: signature.KeySpecEC256}},
		{name: "existing key file", key: "orphan", opts: GenerateOptions{KeySpec: signature.KeySpecEC256}},
		{name: "traversal", key: "../x", wantErr: truststore.ErrInvalidStoreName},
		{name: "dot dot", key: "..", wantErr: truststore.ErrInvalidStoreName},
		{name: "empty", key: "", wantErr: truststore.ErrInvalidStoreName},
		{name: "slash", key: "a/b", wantErr: truststore.ErrInvalidStoreName},
		{name: "space", key: "a b", wantErr: truststore.ErrInvalidStoreName},
		{name: "RSA-1024", key: "weak", opts: GenerateOptions{KeySpec: signature.KeySpec{Type: signature.KeyTypeRSA, Size: 1024}}, wantErr: signature.ErrUnsupportedKey},
		{name: "EC-224", key: "weak", opts: GenerateOptions{KeySpec: signature.KeySpec{Type: signature.KeyTypeEC, Size: 224}}, wantErr: signature.ErrUnsupportedKey},
		{name: "negative validity", key: "neg", opts: GenerateOptions{KeySpec: signature.KeySpecEC256, Validity: -time.Hour}},
		{name: "sub-second validity", key: "tiny", opts: GenerateOptions{KeySpec: signature.KeySpecEC256, Validity: time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := GenerateTest(ctx, dir, tc.key, tc.opts)
			if err == nil {
				t.Fatal("GenerateTest succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if after := snapshot(t, dir.Path); !equalSnapshots(before, after) {
				t.Fatalf("files changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// A failure after the key was written (the trust store directory is a
// symbolic link, TS-3) removes what was written and leaves
// signingkeys.json alone.
func TestGenerateTestRollsBack(t *testing.T) {
	ctx := context.Background()
	dir := config.Dir{Path: t.TempDir()}
	if _, err := GenerateTest(ctx, dir, "keep", GenerateOptions{KeySpec: signature.KeySpecEC256, Default: true}); err != nil {
		t.Fatal(err)
	}
	typeDir := filepath.Join(dir.TrustStore(), "x509", "ca")
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(typeDir, "victim")); err != nil {
		t.Skip("symlinks unavailable")
	}
	before := snapshot(t, dir.Path)
	_, err := GenerateTest(ctx, dir, "victim", GenerateOptions{KeySpec: signature.KeySpecEC256})
	if !errors.Is(err, truststore.ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
	if after := snapshot(t, dir.Path); !equalSnapshots(before, after) {
		t.Fatalf("files changed:\nbefore %v\nafter  %v", before, after)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("wrote through the symlink: %v", entries)
	}
	if _, err := os.Lstat(filepath.Join(typeDir, "victim")); err != nil {
		t.Errorf("rollback removed the user's symlink: %v", err)
	}
}

// snapshot maps every path under root to its content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[p] = string(b)
		} else {
			out[p] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equalSnapshots(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode() & (fs.ModePerm | fs.ModeDir | fs.ModeSymlink); got != want {
		t.Errorf("%s mode = %v, want %v", path, got, want)
	}
}
