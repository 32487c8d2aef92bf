package verifier

import (
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
)

// crlServer serves the CRL the intermediate issues over loopback HTTP,
// listing the given serials as revoked, and counts requests.
func crlServer(t *testing.T, issuer *testpki.Issued, revoked ...*big.Int) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour)})
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, issuer.Cert, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(crl)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestRevocation is TC-25's CRL cases: revoked fails at strict and warns at
// permissive; revocation=skip makes no request; a good CRL passes; an
// unreachable CDP is unknown and fails at strict.
func TestRevocation(t *testing.T) {
	f := newFixture(t)
	checker := &revocation.Validator{}
	withCDP := func(url string) *testpki.Issued {
		return testpki.Issue(t, testpki.Cert{Subject: testpki.Name("revocable"), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
			c.CRLDistributionPoints = []string{url}
		}}, f.chain.Intermediate)
	}
	run := func(stmt *trustpolicy.Statement, env []byte) *Result {
		v := &Verifier{Store: f.store, Revocation: checker}
		r, err := v.Verify(t.Context(), Input{Statement: stmt, MediaType: signature.MediaTypeJWS, Envelope: env, CheckTarget: checkTarget})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	// The server's URL is known only once it runs; the CRL is made from the
	// leaf's serial, so the leaf is made first against a placeholder server.
	placeholder := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(placeholder.Close)
	var srvURL string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, srvURL, http.StatusFound) })
	front := httptest.NewServer(handler)
	t.Cleanup(front.Close)
	leaf := withCDP(front.URL + "/crl")
	srv, requests := crlServer(t, f.chain.Intermediate, leaf.Cert.SerialNumber)
	srvURL = srv.URL
	env := f.sign(t, signature.MediaTypeJWS, leaf)

	r := run(strict(), env)
	c := status(r, trustpolicy.Revocation)
	if r.Verified || c.Status != StatusFailed || !strings.Contains(c.Reason, "is revoked") {
		t.Fatalf("revoked at strict: %+v", r.Checks)
	}
	if len(r.Revocation) != 3 || r.Revocation[0].Result != revocation.Revoked {
		t.Errorf("per-certificate results %+v", r.Revocation)
	}
	if r = run(statement("permissive", nil, []string{"ca:acme"}, []string{"*"}), env); !r.Verified || len(r.Warnings()) != 1 {
		t.Errorf("revoked at permissive: %+v", r.Checks)
	}
	before := requests.Load()
	r = run(statement("strict", map[trustpolicy.ValidationType]trustpolicy.Action{"revocation": "skip"}, []string{"ca:acme"}, []string{"*"}), env)
	if !r.Verified || status(r, trustpolicy.Revocation).Status != StatusSkipped || requests.Load() != before {
		t.Errorf("revocation skip: %+v, %d requests", r.Checks, requests.Load()-before)
	}

	good := withCDP(front.URL + "/crl")
	if r = run(strict(), f.sign(t, signature.MediaTypeJWS, good)); !r.Verified || status(r, trustpolicy.Revocation).Status != StatusPassed {
		t.Errorf("good certificate: %+v", r.Checks)
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	unreachable := withCDP(deadURL + "/crl")
	r = run(strict(), f.sign(t, signature.MediaTypeJWS, unreachable))
	if c := status(r, trustpolicy.Revocation); r.Verified || !strings.Contains(c.Reason, "unknown") {
		t.Errorf("unreachable CDP: %+v", r.Checks)
	}

	// No revocation information anywhere: nothing to check, so not
	// checked (never "passed"), and the signature verifies.
	if r = run(strict(), f.sign(t, signature.MediaTypeJWS, nil)); !r.Verified || status(r, trustpolicy.Revocation).Status != StatusNotChecked {
		t.Errorf("no CDP: %+v", r.Checks)
	}
}
