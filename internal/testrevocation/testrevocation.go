// Package testrevocation runs real revocation peers for tests of any
// package: `openssl ocsp` as an OCSP responder subprocess on loopback, and
// CRLs made by `openssl ca -gencrl` that a loopback httptest server serves.
// Certificates come from internal/testpki, made at test time and written
// out as openssl needs them (an `openssl ca` directory per issuing CA).
//
// The low-level pieces are CA (an openssl ca directory and database),
// Responder (a running `openssl ocsp`) and CRLServer. PKI puts them
// together: a root and an intermediate whose leaves name the
// intermediate's responder and/or CRL, and a Revoke that goes through
// `openssl ca -revoke`.
//
// openssl missing skips the test, or fails it when SIGNET_REQUIRE_PEERS=1
// (as in CI).
package testrevocation

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// OpenSSLTimeout bounds one openssl run, and the wait for a responder to
// start listening.
const OpenSSLTimeout = peer.OpenSSLTimeout

// opensslUse is what these tests run openssl as, for peer.OpenSSL's skip message.
const opensslUse = "`openssl ocsp` as the OCSP responder and `openssl ca -gencrl` for CRLs"

// OpenSSL returns the openssl binary, or skips the test (fails it when
// SIGNET_REQUIRE_PEERS=1).
func OpenSSL(t testing.TB) string {
	t.Helper()
	return peer.OpenSSL(t, opensslUse)
}

// RunOpenSSL runs openssl with args in dir (with no configuration file of
// the system's) and returns its stdout; a failure fails the test.
func RunOpenSSL(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	return peer.RunOpenSSL(t, opensslUse, dir, args...)
}

// ---- openssl ca database ----

// Entry is one line of an openssl ca database (index.txt).
type Entry struct {
	Cert *x509.Certificate
	// RevokedAt, when set, makes the entry revoked.
	RevokedAt time.Time
	// Reason is the CRLReason name openssl ca knows ("keyCompromise",
	// "certificateHold", ...), or "" for none.
	Reason string
	// Extra is the compromise time (GenTime) of keyCompromise and
	// CACompromise, or the hold instruction of certificateHold.
	Extra string
}

// Good is a valid (not revoked) entry for c.
func Good(c *testpki.Issued) Entry { return Entry{Cert: c.Cert} }

// Revoked is an entry for c revoked an hour ago (whole seconds) with
// reason and extra (see Entry).
func Revoked(c *testpki.Issued, reason, extra string) Entry {
	return Entry{Cert: c.Cert, RevokedAt: time.Now().Add(-time.Hour).Truncate(time.Second), Reason: reason, Extra: extra}
}

// UTCTime formats t as openssl's database does (YYMMDDHHMMSSZ).
func UTCTime(t time.Time) string { return t.UTC().Format("060102150405Z") }

// GenTime formats t as a GeneralizedTime (YYYYMMDDHHMMSSZ), as
// -crl_lastupdate, -crl_nextupdate and compromise times take it.
func GenTime(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// SerialHex is a serial number as openssl ca writes it: upper-case hex of
// an even length.
func SerialHex(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// Line is the entry as an index.txt line.
func (e Entry) Line() string {
	status, rev := "V", ""
	if !e.RevokedAt.IsZero() {
		status, rev = "R", UTCTime(e.RevokedAt)
		if e.Reason != "" {
			rev += "," + e.Reason
			if e.Extra != "" {
				rev += "," + e.Extra
			}
		}
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\tunknown\t%s\n", status, UTCTime(e.Cert.NotAfter), rev, SerialHex(e.Cert.SerialNumber), OnelineName(e.Cert.Subject))
}

// shortNames are openssl's short names of the usual attribute types.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
	"2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.17": "postalCode",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// OnelineName is a name as X509_NAME_oneline prints it
// ("/C=US/ST=WA/.../CN=x"), the form of index.txt's name column, which
// `openssl ca -revoke` compares with the certificate's subject. Values
// holding '/' or non-ASCII bytes are not escaped as openssl would.
func OnelineName(n pkix.Name) string {
	var b strings.Builder
	for _, atv := range n.Names {
		typ, ok := shortNames[atv.Type.String()]
		if !ok {
			typ = atv.Type.String()
		}
		fmt.Fprintf(&b, "/%s=%v", typ, atv.Value)
	}
	return b.String()
}

// CA is a directory holding a CA's certificate (ca.pem), key (ca.key) and
// database (index.txt, crlnumber) for `openssl ca` and `openssl ocsp`.
// Its methods are safe for concurrent use.
type CA struct {
	// Dir is the directory.
	Dir string
	// Issued is the CA certificate and key.
	Issued *testpki.Issued

	mu         sync.Mutex // serializes openssl ca runs and index rewrites
	responders []*Responder
	gen        int // index generations kept (see keepIndex)
}

// NewCA writes ca into a new directory with an empty database. The first
// CRL it makes has number 0x10.
func NewCA(t testing.TB, ca *testpki.Issued) *CA {
	t.Helper()
	OpenSSL(t)
	c := &CA{Dir: t.TempDir(), Issued: ca}
	c.WriteFile(t, "ca.pem", testpki.CertsPEM(ca.Cert))
	c.WriteFile(t, "ca.key", testpki.KeyPEM(t, ca.Key))
	c.WriteFile(t, "index.txt", nil)
	c.keepIndex(t)
	c.WriteFile(t, "crlnumber", []byte("10\n"))
	return c
}

// WriteFile writes name in the CA's directory through a temporary file and
// a rename, so that a running `openssl ocsp` sees a new file (it re-reads
// its index when the file's inode or times change) and never a half-written
// one.
func (c *CA) WriteFile(t testing.TB, name string, data []byte) {
	t.Helper()
	p := filepath.Join(c.Dir, name)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// SetIndex replaces the database with entries.
func (c *CA) SetIndex(t testing.TB, entries ...Entry) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Line())
	}
	c.WriteFile(t, "index.txt", []byte(b.String()))
	c.indexChanged(t)
}

// Add appends entries to the database.
func (c *CA) Add(t testing.TB, entries ...Entry) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	old, err := os.ReadFile(filepath.Join(c.Dir, "index.txt"))
	if err != nil {
		t.Fatal(err)
	}
	b := bytes.NewBuffer(old)
	for _, e := range entries {
		b.WriteString(e.Line())
	}
	c.WriteFile(t, "index.txt", b.Bytes())
	c.indexChanged(t)
}

// Revoke marks cert revoked now with `openssl ca -revoke` (reason "" for
// none, else a CRLReason name such as "keyCompromise"). A certificate not
// in the database is added as revoked. The next GenCRL lists it, and a
// responder serving this CA answers "revoked" from its next request on.
func (c *CA) Revoke(t testing.TB, cert *x509.Certificate, reason string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeConfig(t, nil)
	name := "revoke-" + SerialHex(cert.SerialNumber) + ".pem"
	c.WriteFile(t, name, testpki.CertsPEM(cert))
	args := []string{"ca", "-config", "ca.cnf", "-batch", "-revoke", name}
	if reason != "" {
		args = append(args, "-crl_reason", reason)
	}
	RunOpenSSL(t, c.Dir, args...)
	c.indexChanged(t)
}

// keepIndex hard-links the current index.txt into a file of its own, so
// that its inode is never freed and reused. openssl ocsp decides that the
// index changed by comparing its inode, device and whole-second mtime and
// ctime with those it loaded: a new index written within the same second
// onto a recycled inode would look unchanged. c.mu is held.
func (c *CA) keepIndex(t testing.TB) {
	t.Helper()
	c.gen++
	p := filepath.Join(c.Dir, "index.txt")
	if err := os.Link(p, fmt.Sprintf("%s.gen-%d", p, c.gen)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// indexChanged makes the CA's running responders re-read the database;
// c.mu is held.
func (c *CA) indexChanged(t testing.TB) {
	t.Helper()
	c.keepIndex(t)
	for _, r := range c.responders {
		r.poke()
	}
}

// CRLOptions shape one `openssl ca -gencrl` run. The zero value makes a
// CRL valid from now for a day.
type CRLOptions struct {
	// LastUpdate and NextUpdate, when set, are passed as -crl_lastupdate
	// and -crl_nextupdate.
	LastUpdate, NextUpdate time.Time
	// Exts are extra lines of the crl_extensions section, e.g.
	// "freshestCRL = URI:http://...". Lines after a "[ section ]" line go
	// into that section.
	Exts []string
}

// writeConfig writes ca.cnf; c.mu is held.
func (c *CA) writeConfig(t testing.TB, exts []string) {
	t.Helper()
	cnf := "[ ca ]\ndefault_ca = ca_default\n\n[ ca_default ]\n" +
		"database = index.txt\ncrlnumber = crlnumber\ncertificate = ca.pem\nprivate_key = ca.key\n" +
		"unique_subject = no\ndefault_md = sha256\ndefault_crl_days = 1\ncrl_extensions = crl_ext\n\n" +
		"[ crl_ext ]\nauthorityKeyIdentifier = keyid:always\n" + strings.Join(exts, "\n") + "\n"
	c.WriteFile(t, "ca.cnf", []byte(cnf))
}

// GenCRL runs `openssl ca -gencrl` over the database and returns the DER
// CRL. Every run gets the next CRL number.
func (c *CA) GenCRL(t testing.TB, o CRLOptions) []byte {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeConfig(t, o.Exts)
	args := []string{"ca", "-gencrl", "-config", "ca.cnf", "-out", "crl.pem", "-batch"}
	if !o.LastUpdate.IsZero() {
		args = append(args, "-crl_lastupdate", GenTime(o.LastUpdate))
	}
	if !o.NextUpdate.IsZero() {
		args = append(args, "-crl_nextupdate", GenTime(o.NextUpdate))
	}
	RunOpenSSL(t, c.Dir, args...)
	data, err := os.ReadFile(filepath.Join(c.Dir, "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "X509 CRL" {
		t.Fatalf("openssl ca -gencrl wrote no PEM CRL:\n%s", data)
	}
	return block.Bytes
}
