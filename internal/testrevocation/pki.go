package testrevocation

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

// CRLServer serves CRLs (or any bytes) by path over loopback HTTP and
// counts requests per path. A path with nothing put is 404. It is closed at
// the end of the test. Its methods are safe for concurrent use.
type CRLServer struct {
	*httptest.Server
	mu    sync.Mutex
	files map[string][]byte
	hits  map[string]int
}

// NewCRLServer starts an empty CRL server.
func NewCRLServer(t testing.TB) *CRLServer {
	t.Helper()
	s := &CRLServer{files: map[string][]byte{}, hits: map[string]int{}}
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

// Put serves data at path from now on.
func (s *CRLServer) Put(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
}

// Remove makes path 404.
func (s *CRLServer) Remove(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, path)
}

// Count is the number of requests for path so far.
func (s *CRLServer) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// Total is the number of requests so far.
func (s *CRLServer) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// PKI is a root and an intermediate CA (internal/testpki) whose leaves
// name the intermediate's `openssl ocsp` responder in their AIA extension
// and/or the intermediate's CRL, made by `openssl ca -gencrl`, in their
// CRL distribution points. The root and the intermediate name neither, so
// only leaves are checked. Everything stops at the end of the test.
type PKI struct {
	// Root is the self-signed root (what a trust store holds).
	Root *testpki.Issued
	// Intermediate issues the leaves, the OCSP answers and the CRL.
	Intermediate *testpki.Issued
	// CA is the intermediate's openssl ca directory and database.
	CA *CA
	// OCSP answers for the intermediate's leaves. It signs with the
	// intermediate's key and sends no certificate (-resp_no_certs): notation
	// v1.3.2 refuses an answer that embeds the issuer's own certificate ("bad
	// OCSP signature", it wants an embedded certificate to be a delegated
	// responder issued by the issuer) and falls back to the CRL silently.
	OCSP *Responder
	// CRLs serves the intermediate's CRL at CRLPath.
	CRLs *CRLServer
	// CRLURL is the URL leaves name as their CRL distribution point.
	CRLURL string
}

// CRLPath is where CRLs serves the intermediate's CRL.
const CRLPath = "/intermediate.crl"

// New makes the CAs, starts the responder and the CRL server and
// publishes an empty CRL.
func New(t testing.TB) *PKI {
	t.Helper()
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("revocation test root"), IsCA: true, Key: testpki.Key(t, "ec-256", true)}, nil)
	inter := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("revocation test intermediate"), IsCA: true, Key: testpki.Key(t, "ec-256", true)}, root)
	p := &PKI{Root: root, Intermediate: inter, CA: NewCA(t, inter), CRLs: NewCRLServer(t)}
	p.OCSP = StartResponder(t, p.CA, ResponderOptions{Args: []string{"-resp_no_certs"}})
	p.CRLURL = p.CRLs.URL + CRLPath
	p.PublishCRL(t)
	return p
}

// LeafOptions shape one leaf of a PKI. The zero value is a code-signing
// leaf with a fresh P-256 key that names both the responder and the CRL
// and is listed as good in the database.
type LeafOptions struct {
	// NoOCSP leaves the responder out of the AIA extension; NoCRL leaves
	// the CRL distribution point out.
	NoOCSP, NoCRL bool
	// Unlisted keeps the leaf out of the database: the responder answers
	// "unknown" and the CRL does not list it (so the CRL says good).
	Unlisted bool
	// KeyType is the leaf's key type; "" means "ec-256".
	KeyType testpki.KeyType
	// Modify, when set, edits the template after the URLs are set.
	Modify func(*x509.Certificate)
}

// Leaf issues a leaf with subject testpki.Name(name) and adds it to the
// database (unless o.Unlisted). The CRL is not regenerated: the leaf is
// absent from it, so it reads as good.
func (p *PKI) Leaf(t testing.TB, name string, o LeafOptions) *testpki.Issued {
	t.Helper()
	kt := o.KeyType
	if kt == "" {
		kt = "ec-256"
	}
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name), KeyType: kt, Key: testpki.Key(t, kt, true),
		Modify: func(c *x509.Certificate) {
			if !o.NoOCSP {
				c.OCSPServer = []string{p.OCSP.URL}
			}
			if !o.NoCRL {
				c.CRLDistributionPoints = []string{p.CRLURL}
			}
			if o.Modify != nil {
				o.Modify(c)
			}
		}}, p.Intermediate)
	if !o.Unlisted {
		p.CA.Add(t, Good(leaf))
	}
	return leaf
}

// Chain is leaf, intermediate, root: what a signing key's certificate file
// holds.
func (p *PKI) Chain(leaf *testpki.Issued) []*x509.Certificate {
	return []*x509.Certificate{leaf.Cert, p.Intermediate.Cert, p.Root.Cert}
}

// Revoke revokes leaf with `openssl ca -revoke` (reason as CA.Revoke) and
// publishes a new CRL; the responder answers "revoked" from its next
// request on.
func (p *PKI) Revoke(t testing.TB, leaf *testpki.Issued, reason string) {
	t.Helper()
	p.CA.Revoke(t, leaf.Cert, reason)
	p.PublishCRL(t)
}

// PublishCRL makes a CRL of the database with `openssl ca -gencrl` (valid
// for a day) and serves it at CRLURL.
func (p *PKI) PublishCRL(t testing.TB) {
	t.Helper()
	p.CRLs.Put(CRLPath, p.CA.GenCRL(t, CRLOptions{}))
}
