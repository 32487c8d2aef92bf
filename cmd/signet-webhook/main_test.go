package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

func writePair(t *testing.T, dir, cn string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	is := testpki.Issue(t, testpki.Cert{Subject: testpki.Name(cn), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		c.IPAddresses = nil
	}}, nil)
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, testpki.CertsPEM(is.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, testpki.KeyPEM(t, is.Key), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, is.Cert
}

// TestUsageErrors: bad flags and configuration exit 2 with an Error and a
// Hint line, before anything is served.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := writePair(t, dir, "webhook")
	tls := []string{"--tls-cert-file", cert, "--tls-key-file", key}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--nope"}, "unknown flag"},
		{"no TLS", []string{"--config", dir}, "--tls-cert-file and --tls-key-file are required"},
		{"bad policy set", append([]string{"--policy-set", "x", "--config", dir}, tls...), `want NAME=DIR`},
		{"timeout too long", append([]string{"--timeout", "45s", "--config", dir}, tls...), "at most 30s"},
		{"no verification slots", append([]string{"--max-verifications-per-registry", "0", "--config", dir}, tls...), "want at least 1"},
		{"default set without policy", append([]string{"--config", dir}, tls...), "policy set \"default\""},
		{"bad key pair", []string{"--tls-cert-file", key, "--tls-key-file", key, "--config", dir}, "--tls-cert-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stderr, func(string) string { return "" })
			out := stderr.String()
			if code != exitUsage || !strings.Contains(out, "Error: ") || !strings.Contains(out, tc.want) || !strings.Contains(out, "Hint: ") {
				t.Fatalf("exit %d, stderr %q; want exit 2 naming %q", code, out, tc.want)
			}
		})
	}
}

// TestCertReload: a renewed key pair is served without a restart; a
// half-written one keeps the previous pair.
func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := writePair(t, dir, "first")
	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serving := func() string {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(c.Certificate[0])
		return leaf.Subject.CommonName
	}
	if got := serving(); got != first.Subject.CommonName {
		t.Fatalf("serving %q", got)
	}
	time.Sleep(10 * time.Millisecond) // a later mtime
	writePair(t, dir, "second")
	r.mu.Lock()
	r.checked = time.Time{}
	r.mu.Unlock()
	if got := serving(); got != "second" {
		t.Fatalf("after renewal serving %q", got)
	}
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.checked = time.Time{}
	r.mu.Unlock()
	if got := serving(); got != "second" {
		t.Fatalf("after a broken write serving %q", got)
	}
}
