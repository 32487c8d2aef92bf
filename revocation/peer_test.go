package revocation

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// This file runs the real peers the revocation tests use: `openssl ocsp`
// as an OCSP responder subprocess on loopback, and `openssl ca -gencrl`
// for CRLs, which a loopback httptest server serves. The PKI is made at
// test time with internal/testpki and written out as PEM.

// envRequirePeers makes a missing openssl fail the test instead of skipping
// it, as in CI (the same variable as internal/peer).
const envRequirePeers = "SIGNET_REQUIRE_PEERS"

// opensslTimeout bounds one openssl run, and the wait for a responder to
// start listening.
const opensslTimeout = 30 * time.Second

// opensslBin returns the openssl binary, or skips the test (fails it when
// SIGNET_REQUIRE_PEERS=1).
func opensslBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		msg := "openssl not found in PATH: the revocation tests run `openssl ocsp` as their OCSP responder and `openssl ca -gencrl` for CRLs (apt-get install openssl)"
		if os.Getenv(envRequirePeers) == "1" {
			t.Fatalf("%s (%s=1)", msg, envRequirePeers)
		}
		t.Skip(msg)
	}
	return p
}

// runOpenSSL runs openssl with args in dir and returns its stdout.
func runOpenSSL(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), opensslTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, opensslBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// ---- PKI ----

// newCA issues a CA certificate (self-signed when issuer is nil) with a
// fresh key, so that CAs of one test never share a key.
func newCA(t testing.TB, name string, issuer *testpki.Issued, mod func(*x509.Certificate)) *testpki.Issued {
	t.Helper()
	return testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name), IsCA: true, Key: testpki.Key(t, "ec-256", true), Modify: mod}, issuer)
}

// newLeaf issues a code-signing leaf.
func newLeaf(t testing.TB, name string, issuer *testpki.Issued, mod func(*x509.Certificate)) *testpki.Issued {
	t.Helper()
	return testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name), Modify: mod}, issuer)
}

// urls names OCSP responders and CRL distribution points in a template.
func urls(ocspURLs []string, crlURLs ...string) func(*x509.Certificate) {
	return func(c *x509.Certificate) {
		c.OCSPServer = ocspURLs
		c.CRLDistributionPoints = crlURLs
	}
}

// ---- openssl ca database ----

// indexEntry is one line of an openssl ca database (index.txt).
type indexEntry struct {
	cert *x509.Certificate
	// revokedAt, when set, makes the entry revoked.
	revokedAt time.Time
	// reason is the CRLReason name openssl ca knows ("keyCompromise",
	// "certificateHold", ...), or "".
	reason string
	// extra is the compromise time (GeneralizedTime) of keyCompromise and
	// CACompromise, or the hold instruction of certificateHold.
	extra string
}

func good(c *testpki.Issued) indexEntry { return indexEntry{cert: c.Cert} }

func revoked(c *testpki.Issued, reason, extra string) indexEntry {
	return indexEntry{cert: c.Cert, revokedAt: time.Now().Add(-time.Hour).Truncate(time.Second), reason: reason, extra: extra}
}

func utcTime(t time.Time) string { return t.UTC().Format("060102150405Z") }
func genTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }
func serialHex(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

func (e indexEntry) line() string {
	status, rev := "V", ""
	if !e.revokedAt.IsZero() {
		status, rev = "R", utcTime(e.revokedAt)
		if e.reason != "" {
			rev += "," + e.reason
			if e.extra != "" {
				rev += "," + e.extra
			}
		}
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\tunknown\t/CN=%s\n", status, utcTime(e.cert.NotAfter), rev, serialHex(e.cert.SerialNumber), e.cert.Subject.CommonName)
}

// opensslCA is a directory holding a CA's certificate, key and database,
// for `openssl ca` and `openssl ocsp`.
type opensslCA struct {
	dir string
	ca  *testpki.Issued
}

func newOpenSSLCA(t testing.TB, ca *testpki.Issued) *opensslCA {
	t.Helper()
	opensslBin(t)
	c := &opensslCA{dir: t.TempDir(), ca: ca}
	c.write(t, "ca.pem", testpki.CertsPEM(ca.Cert))
	c.write(t, "ca.key", testpki.KeyPEM(t, ca.Key))
	c.write(t, "index.txt", nil)
	c.write(t, "crlnumber", []byte("10\n"))
	return c
}

func (c *opensslCA) write(t testing.TB, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (c *opensslCA) writeIndex(t testing.TB, entries ...indexEntry) {
	t.Helper()
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.line())
	}
	c.write(t, "index.txt", []byte(b.String()))
}

// crlOptions shape one `openssl ca -gencrl` run.
type crlOptions struct {
	// lastUpdate and nextUpdate, when set, are passed as -crl_lastupdate
	// and -crl_nextupdate; otherwise the CRL is valid for a day.
	lastUpdate, nextUpdate time.Time
	// exts are extra lines of the crl_extensions section, e.g.
	// "freshestCRL = URI:http://...".
	exts []string
}

// genCRL runs `openssl ca -gencrl` over the database and returns the DER
// CRL. Every run gets the next CRL number (starting at 0x10).
func (c *opensslCA) genCRL(t testing.TB, o crlOptions) []byte {
	t.Helper()
	cnf := "[ ca ]\ndefault_ca = ca_default\n\n[ ca_default ]\n" +
		"database = index.txt\ncrlnumber = crlnumber\ncertificate = ca.pem\nprivate_key = ca.key\n" +
		"default_md = sha256\ndefault_crl_days = 1\ncrl_extensions = crl_ext\n\n" +
		"[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n" + strings.Join(o.exts, "\n") + "\n"
	c.write(t, "ca.cnf", []byte(cnf))
	args := []string{"ca", "-gencrl", "-config", "ca.cnf", "-out", "crl.pem", "-batch"}
	if !o.lastUpdate.IsZero() {
		args = append(args, "-crl_lastupdate", genTime(o.lastUpdate))
	}
	if !o.nextUpdate.IsZero() {
		args = append(args, "-crl_nextupdate", genTime(o.nextUpdate))
	}
	runOpenSSL(t, c.dir, args...)
	data, err := os.ReadFile(filepath.Join(c.dir, "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "X509 CRL" {
		t.Fatalf("openssl ca -gencrl wrote no PEM CRL:\n%s", data)
	}
	return block.Bytes
}

// ---- OCSP responder ----

// ocspResponder is a running `openssl ocsp` responder.
type ocspResponder struct {
	URL  string
	cmd  *exec.Cmd
	exit chan struct{}
	mu   sync.Mutex
	log  []string // the responder's stderr lines
}

// ocspSigner is who signs the responder's answers; nil means the CA.
type ocspOptions struct {
	signer *testpki.Issued
	// args are extra flags, e.g. "-resp_no_certs". Unless noNDays is set,
	// "-ndays 1" is passed: without it openssl gives no nextUpdate, and
	// such a response counts as expired (peers.md).
	args    []string
	noNDays bool
}

// startOCSP starts `openssl ocsp` for ca on a free loopback port. build
// receives the responder's URL (so that certificates can name it) and
// returns the database. If another process takes the port between choosing
// it and openssl binding it, build runs again with a new port.
func startOCSP(t testing.TB, ca *testpki.Issued, o ocspOptions, build func(url string) []indexEntry) *ocspResponder {
	t.Helper()
	c := newOpenSSLCA(t, ca)
	signer := ca
	if o.signer != nil {
		signer = o.signer
	}
	c.write(t, "rsigner.pem", testpki.CertsPEM(signer.Cert))
	c.write(t, "rsigner.key", testpki.KeyPEM(t, signer.Key))
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		c.writeIndex(t, build(url)...)
		args := []string{"ocsp", "-index", "index.txt", "-port", strconv.Itoa(port), "-CA", "ca.pem",
			"-rsigner", "rsigner.pem", "-rkey", "rsigner.key"}
		if !o.noNDays {
			args = append(args, "-ndays", "1")
		}
		args = append(args, o.args...)
		r, err := launchOCSP(t, c.dir, url, args)
		if err == nil {
			return r
		}
		if !errors.Is(err, errPortTaken) || attempt >= 4 {
			t.Fatal(err)
		}
		t.Logf("port %d was taken; retrying: %v", port, err)
	}
}

var errPortTaken = errors.New("openssl ocsp could not listen")

// freePort returns a port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launchOCSP starts openssl and waits for its "ACCEPT" line (it prints it
// once it listens); openssl exiting first means the port was taken.
func launchOCSP(t testing.TB, dir, url string, args []string) (*ocspResponder, error) {
	t.Helper()
	cmd := exec.Command(opensslBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &ocspResponder{URL: url, cmd: cmd, exit: make(chan struct{})}
	ready := make(chan struct{})
	var readyOnce sync.Once
	var pipes sync.WaitGroup
	scan := func(rd io.Reader) {
		defer pipes.Done()
		s := bufio.NewScanner(rd)
		for s.Scan() {
			line := s.Text()
			r.mu.Lock()
			r.log = append(r.log, line)
			r.mu.Unlock()
			if strings.HasPrefix(line, "ACCEPT ") {
				readyOnce.Do(func() { close(ready) })
			}
		}
	}
	pipes.Add(2)
	go scan(stdout)
	go scan(stderr)
	go func() {
		pipes.Wait()
		_ = cmd.Wait()
		close(r.exit)
	}()
	t.Cleanup(r.Stop)
	select {
	case <-ready:
		return r, nil
	case <-r.exit:
		return nil, fmt.Errorf("%w: %s", errPortTaken, strings.Join(r.lines(), "\n"))
	case <-time.After(opensslTimeout):
		r.Stop()
		return nil, fmt.Errorf("openssl ocsp did not start listening within %s: %s", opensslTimeout, strings.Join(r.lines(), "\n"))
	}
}

// Stop kills the responder (our own child, by its pid) and waits for it.
func (r *ocspResponder) Stop() {
	select {
	case <-r.exit:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.exit
}

func (r *ocspResponder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// waitRequests waits up to a second for the responder's log to show n
// requests (its log is read asynchronously) and returns them.
func (r *ocspResponder) waitRequests(n int) []string {
	deadline := time.Now().Add(time.Second)
	for {
		reqs := r.requests()
		if len(reqs) >= n || time.Now().After(deadline) {
			return reqs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// requests returns the first lines of the HTTP requests the responder
// received, from its log ("GET /MFQw... HTTP/1.1").
func (r *ocspResponder) requests() []string {
	var out []string
	for _, l := range r.lines() {
		if _, after, ok := strings.Cut(l, "Received request, 1st line: "); ok {
			out = append(out, after)
		}
	}
	return out
}

// ---- CRL server ----

// crlServer serves CRLs (or anything) by path over loopback HTTP and counts
// requests per path. Missing paths are 404.
type crlServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

func newCRLServer(t testing.TB) *crlServer {
	t.Helper()
	s := &crlServer{files: map[string][]byte{}, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		data, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = w.Write(data)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *crlServer) put(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
}

func (s *crlServer) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *crlServer) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}
