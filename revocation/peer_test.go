package revocation

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testrevocation"
)

// This file adapts internal/testrevocation, which runs the real peers the
// revocation tests use: `openssl ocsp` as an OCSP responder subprocess on
// loopback, and `openssl ca -gencrl` for CRLs, which a loopback httptest
// server serves. The PKI is made at test time with internal/testpki and
// written out as PEM.

// opensslBin returns the openssl binary, or skips the test (fails it when
// SIGNET_REQUIRE_PEERS=1).
func opensslBin(t testing.TB) string {
	t.Helper()
	return testrevocation.OpenSSL(t)
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
type indexEntry = testrevocation.Entry

func good(c *testpki.Issued) indexEntry { return testrevocation.Good(c) }

func revoked(c *testpki.Issued, reason, extra string) indexEntry {
	return testrevocation.Revoked(c, reason, extra)
}

func genTime(t time.Time) string { return testrevocation.GenTime(t) }

// opensslCA is a directory holding a CA's certificate, key and database,
// for `openssl ca` and `openssl ocsp`.
type opensslCA struct {
	*testrevocation.CA
	dir string
}

func newOpenSSLCA(t testing.TB, ca *testpki.Issued) *opensslCA {
	t.Helper()
	c := testrevocation.NewCA(t, ca)
	return &opensslCA{CA: c, dir: c.Dir}
}

func (c *opensslCA) writeIndex(t testing.TB, entries ...indexEntry) {
	t.Helper()
	c.SetIndex(t, entries...)
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
	return c.GenCRL(t, testrevocation.CRLOptions{LastUpdate: o.lastUpdate, NextUpdate: o.nextUpdate, Exts: o.exts})
}

// ---- OCSP responder ----

// ocspResponder is a running `openssl ocsp` responder.
type ocspResponder struct{ *testrevocation.Responder }

// ocspOptions shape the responder.
type ocspOptions struct {
	// signer signs the responder's answers; nil means the CA.
	signer *testpki.Issued
	// args are extra flags, e.g. "-resp_no_certs". Unless noNDays is set,
	// "-ndays 1" is passed: without it openssl gives no nextUpdate, and
	// such a response counts as expired (peers.md).
	args    []string
	noNDays bool
}

// startOCSP starts `openssl ocsp` for ca on a free loopback port with a
// database of its own. build receives the responder's URL (so that
// certificates can name it) and returns the database, which the responder
// answers from before startOCSP returns.
func startOCSP(t testing.TB, ca *testpki.Issued, o ocspOptions, build func(url string) []indexEntry) *ocspResponder {
	t.Helper()
	c := testrevocation.NewCA(t, ca)
	r := testrevocation.StartResponder(t, c, testrevocation.ResponderOptions{Signer: o.signer, Args: o.args, NoNDays: o.noNDays})
	c.SetIndex(t, build(r.URL)...)
	return &ocspResponder{r}
}

// waitRequests returns the requests the responder answered so far. n, the
// number the caller expects, is not needed: Requests is exact.
func (r *ocspResponder) waitRequests(n int) []string { return r.Requests() }

// ---- CRL server ----

// crlServer serves CRLs (or anything) by path over loopback HTTP and counts
// requests per path. Missing paths are 404.
type crlServer struct{ *testrevocation.CRLServer }

func newCRLServer(t testing.TB) *crlServer {
	t.Helper()
	return &crlServer{testrevocation.NewCRLServer(t)}
}

func (s *crlServer) put(path string, data []byte) { s.Put(path, data) }
func (s *crlServer) count(path string) int        { return s.Count(path) }
func (s *crlServer) total() int                   { return s.Total() }
