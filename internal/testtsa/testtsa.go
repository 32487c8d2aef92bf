// Package testtsa runs a real RFC 3161 Time Stamping Authority for tests:
// `openssl ts -reply` behind a loopback HTTP server, with a TSA root and
// leaf made at test time.
package testtsa

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// TSA is a running test TSA.
type TSA struct {
	// URL is the TSA's http URL.
	URL string
	// Root is the TSA's self-signed root: what a tsa trust store holds.
	Root *x509.Certificate
	// Leaf is the TSA signing certificate.
	Leaf *x509.Certificate
	// Requests counts the requests answered.
	Requests func() int
}

var oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

// Start starts a TSA for the test. Without openssl the test is skipped, or
// fails when SIGNET_REQUIRE_PEERS=1 (as in CI).
func Start(t testing.TB) *TSA {
	t.Helper()
	bin := peer.OpenSSL(t, "`openssl ts -reply` as its TSA")
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("test tsa root"), IsCA: true}, nil)
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		t.Fatal(err)
	}
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("test tsa"), KeyType: "rsa-2048", Modify: func(c *x509.Certificate) {
		c.ExtKeyUsage = nil
		c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}
	}}, root)
	dir := t.TempDir()
	cnf := fmt.Sprintf(`[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = %s
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`, filepath.Join(dir, "serial"))
	files := map[string][]byte{
		"tsa.cnf":   []byte(cnf),
		"serial":    []byte("01\n"),
		"tsa.key":   testpki.KeyPEM(t, leaf.Key),
		"tsa.crt":   testpki.CertsPEM(leaf.Cert),
		"chain.pem": testpki.CertsPEM(root.Cert),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex // openssl runs share the serial file
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil || r.Method != http.MethodPost {
			http.Error(w, "want a POST of a timestamp query", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		n++
		if err := os.WriteFile(filepath.Join(dir, "q.tsq"), q, 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cmd := exec.Command(bin, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq",
			"-inkey", "tsa.key", "-signer", "tsa.crt", "-chain", "chain.pem", "-out", "r.tsr")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			http.Error(w, fmt.Sprintf("openssl ts: %v: %s", err, out), http.StatusInternalServerError)
			return
		}
		reply, err := os.ReadFile(filepath.Join(dir, "r.tsr"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(reply)
	}))
	t.Cleanup(srv.Close)
	return &TSA{URL: srv.URL, Root: root.Cert, Leaf: leaf.Cert, Requests: func() int { mu.Lock(); defer mu.Unlock(); return n }}
}

// RootPEM writes the root as PEM into dir and returns the path (for
// --timestamp-root-cert and `cert add --type tsa`).
func (s *TSA) RootPEM(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "tsa-root.pem")
	if err := os.WriteFile(p, testpki.CertsPEM(s.Root), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
