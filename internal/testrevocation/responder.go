package testrevocation

import (
	"bufio"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testpki"
)

// ResponderOptions shape an `openssl ocsp` responder. The zero value is a
// responder signing with the CA's own key, embedding the CA certificate,
// with a nextUpdate a day after thisUpdate.
type ResponderOptions struct {
	// Signer signs the answers; nil means the CA.
	Signer *testpki.Issued
	// Args are extra flags, e.g. "-resp_no_certs".
	Args []string
	// NoNDays leaves out "-ndays 1". Without it openssl gives no
	// nextUpdate, and notation takes such an answer as expired and falls
	// back to the CRL silently (shared/notes/peers.md).
	NoNDays bool
}

// Responder is a running `openssl ocsp` responder for one CA. It answers
// from the CA's index.txt, and database changes made through the CA
// (SetIndex, Add, Revoke) show in the answers to every request sent after
// the change returns, without a restart: openssl re-reads a replaced index
// file, but only before it accepts a connection, so the CA then opens and
// closes one empty connection to make it go round (see poke). Its methods
// are safe for concurrent use.
type Responder struct {
	// URL is the responder's http URL on loopback; certificates name it in
	// their AIA extension.
	URL string

	t    testing.TB
	dir  string
	args []string // openssl arguments but -port
	// pokePath is the path of poke's requests.
	pokePath string

	mu   sync.Mutex
	port int
	proc *process
	log  []string // stderr and stdout lines of every run
}

// process is one run of openssl.
type process struct {
	cmd  *exec.Cmd
	exit chan struct{}
}

// errPortTaken: openssl exited before listening, as when another process
// took the port between choosing it and openssl binding it.
var errPortTaken = errors.New("openssl ocsp could not listen")

// StartResponder starts `openssl ocsp` for ca on a free loopback port and
// stops it at the end of the test. The database may still be empty:
// certificates that must name r.URL are issued after it starts and added
// with ca.Add or ca.SetIndex.
func StartResponder(t testing.TB, ca *CA, o ResponderOptions) *Responder {
	t.Helper()
	signer := ca.Issued
	if o.Signer != nil {
		signer = o.Signer
	}
	ca.WriteFile(t, "rsigner.pem", testpki.CertsPEM(signer.Cert))
	ca.WriteFile(t, "rsigner.key", testpki.KeyPEM(t, signer.Key))
	r := &Responder{t: t, dir: ca.Dir, pokePath: pokePath(t, ca.Issued.Cert),
		args: []string{"ocsp", "-index", "index.txt", "-CA", "ca.pem", "-rsigner", "rsigner.pem", "-rkey", "rsigner.key"}}
	if !o.NoNDays {
		r.args = append(r.args, "-ndays", "1")
	}
	r.args = append(r.args, o.Args...)
	t.Cleanup(r.Stop)
	defer func() {
		ca.mu.Lock()
		ca.responders = append(ca.responders, r)
		ca.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		err := r.launch(port)
		if err == nil {
			r.URL = "http://127.0.0.1:" + strconv.Itoa(port)
			return r
		}
		if !errors.Is(err, errPortTaken) || attempt >= 4 {
			t.Fatal(err)
		}
		t.Logf("port %d was taken; retrying: %v", port, err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch starts openssl on port and waits for its "ACCEPT" line (printed
// once it listens); openssl exiting first means the port was taken.
func (r *Responder) launch(port int) error {
	r.t.Helper()
	cmd := exec.Command(OpenSSL(r.t), append(append([]string(nil), r.args...), "-port", strconv.Itoa(port))...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, exit: make(chan struct{})}
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
		close(p.exit)
	}()
	r.mu.Lock()
	r.port, r.proc = port, p
	r.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-p.exit:
		return fmt.Errorf("%w on port %d: %s", errPortTaken, port, strings.Join(r.Log(), "\n"))
	case <-time.After(OpenSSLTimeout):
		r.Stop()
		return fmt.Errorf("openssl ocsp did not start listening within %s: %s", OpenSSLTimeout, strings.Join(r.Log(), "\n"))
	}
}

// Stop kills the responder (this package's own child, by its pid) and
// waits for it: its URL then refuses connections. Stopping a stopped
// responder does nothing.
func (r *Responder) Stop() {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if p == nil {
		return
	}
	select {
	case <-p.exit:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exit
}

// Running reports whether the responder process is running.
func (r *Responder) Running() bool {
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if p == nil {
		return false
	}
	select {
	case <-p.exit:
		return false
	default:
		return true
	}
}

// Restart starts a stopped responder again on the same port (so at the same
// URL). It fails the test if another process took the port meanwhile.
func (r *Responder) Restart(t testing.TB) {
	t.Helper()
	if r.Running() {
		return
	}
	r.mu.Lock()
	port := r.port
	r.mu.Unlock()
	if err := r.launch(port); err != nil {
		t.Fatal(err)
	}
}

// poke sends the responder one GET request for serial number 0 of the CA
// and waits for the answer, so that it goes round its accept loop and
// re-reads a changed index before it accepts the next connection (openssl
// checks the index's inode and times only there, before blocking in
// accept: a change made while it waits would otherwise show one request
// late). Connections are served in order, so any request sent after poke
// returns is answered from the new index. (An empty connection would do,
// but openssl 3.0 spins forever reading EOF from one.) Requests leaves the
// poke out. A stopped responder is left alone.
func (r *Responder) poke() bool {
	if !r.Running() {
		return false
	}
	r.mu.Lock()
	port := r.port
	r.mu.Unlock()
	c := &http.Client{Timeout: OpenSSLTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + r.pokePath)
	if err != nil {
		r.t.Errorf("poke openssl ocsp: %v", err)
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return true
}

// pokePath is the path of poke's GET request.
func pokePath(t testing.TB, ca *x509.Certificate) string {
	t.Helper()
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(ca.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	nameHash := sha1.Sum(ca.RawSubject)
	keyHash := sha1.Sum(spki.PublicKey.RightAlign())
	der, err := (&ocsp.Request{HashAlgorithm: crypto.SHA1, IssuerNameHash: nameHash[:], IssuerKeyHash: keyHash[:], SerialNumber: big.NewInt(0)}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return "/" + url.PathEscape(base64.StdEncoding.EncodeToString(der))
}

// Log returns the lines openssl printed so far, over all runs.
func (r *Responder) Log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// Requests returns the first lines of the HTTP requests the responder
// answered so far, from its log ("GET /MFQw... HTTP/1.1" or "POST /
// HTTP/1.1"). It is exact: a running responder is first sent a marker
// request (left out of the result, as poke's are), and since openssl
// serves and logs requests one at a time, in order, every earlier request
// is in the log once the marker is.
func (r *Responder) Requests() []string {
	if r.Running() {
		r.sync()
	}
	var out []string
	for _, l := range r.Log() {
		if after, ok := r.request(l); ok && !strings.HasPrefix(after, "GET "+r.pokePath+" ") {
			out = append(out, after)
		}
	}
	return out
}

// request returns the request line a log line reports.
func (r *Responder) request(line string) (string, bool) {
	_, after, ok := strings.Cut(line, "Received request, 1st line: ")
	return after, ok
}

// sync pokes the responder and waits until its log shows the poke.
func (r *Responder) sync() {
	pokes := func() int {
		n := 0
		for _, l := range r.Log() {
			if after, ok := r.request(l); ok && strings.HasPrefix(after, "GET "+r.pokePath+" ") {
				n++
			}
		}
		return n
	}
	before := pokes()
	if !r.poke() {
		return
	}
	deadline := time.Now().Add(OpenSSLTimeout)
	for pokes() == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}
