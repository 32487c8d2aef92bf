package testrevocation

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testpki"
)

// ask sends one OCSP request for leaf to the PKI's responder and returns
// the verified answer, or the transport error.
func ask(t *testing.T, p *PKI, leaf *testpki.Issued) (*ocsp.Response, error) {
	t.Helper()
	req, err := ocsp.CreateRequest(leaf.Cert, p.Intermediate.Cert, &ocsp.RequestOptions{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Post(p.OCSP.URL, "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	der, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	// The intermediate signs and sends no certificate (an embedded issuer
	// certificate fails x/crypto/ocsp's check, and so notation's).
	r, err := ocsp.ParseResponseForCert(der, leaf.Cert, p.Intermediate.Cert)
	if err != nil {
		t.Fatalf("parse the responder's answer: %v", err)
	}
	if r.Certificate != nil {
		t.Errorf("the answer embeds %s", r.Certificate.Subject)
	}
	if r.SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 {
		t.Fatalf("answer for serial %x, asked %x", r.SerialNumber, leaf.Cert.SerialNumber)
	}
	return r, nil
}

func fetchCRL(t *testing.T, p *PKI) *x509.RevocationList {
	t.Helper()
	resp, err := http.Get(p.CRLURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parse the served CRL: %v", err)
	}
	if err := crl.CheckSignatureFrom(p.Intermediate.Cert); err != nil {
		t.Fatalf("CRL not signed by the intermediate: %v", err)
	}
	return crl
}

func listed(crl *x509.RevocationList, c *testpki.Issued) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(c.Cert.SerialNumber) == 0 {
			return true
		}
	}
	return false
}

// TestPKI runs the fixture through its life: good, unknown and revoked
// answers from the real responder, a revocation that the running responder
// and the next CRL both show, and a stop and restart at the same URL.
func TestPKI(t *testing.T) {
	p := New(t)
	good := p.Leaf(t, "good", LeafOptions{})
	later := p.Leaf(t, "revoked later", LeafOptions{})
	unlisted := p.Leaf(t, "unlisted", LeafOptions{Unlisted: true})
	crlOnly := p.Leaf(t, "crl only", LeafOptions{NoOCSP: true})
	if len(crlOnly.Cert.OCSPServer) != 0 || len(crlOnly.Cert.CRLDistributionPoints) != 1 || good.Cert.OCSPServer[0] != p.OCSP.URL {
		t.Fatalf("leaf URLs: AIA %v CDP %v / %v", crlOnly.Cert.OCSPServer, crlOnly.Cert.CRLDistributionPoints, good.Cert.OCSPServer)
	}

	want := func(leaf *testpki.Issued, status int) {
		t.Helper()
		r, err := ask(t, p, leaf)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != status {
			t.Errorf("%s: status %d, want %d", leaf.Cert.Subject.CommonName, r.Status, status)
		}
		if r.NextUpdate.IsZero() {
			t.Errorf("%s: no nextUpdate (-ndays 1 missing)", leaf.Cert.Subject.CommonName)
		}
	}
	want(good, ocsp.Good)
	want(later, ocsp.Good)
	want(unlisted, ocsp.Unknown)
	if crl := fetchCRL(t, p); listed(crl, later) {
		t.Fatal("the first CRL lists a good certificate")
	}

	before := len(p.OCSP.Requests())
	p.Revoke(t, later, "keyCompromise")
	p.Revoke(t, crlOnly, "")
	want(later, ocsp.Revoked)
	want(good, ocsp.Good)
	if got := len(p.OCSP.Requests()); got != before+2 {
		t.Errorf("responder log shows %d requests, want %d", got, before+2)
	}
	crl := fetchCRL(t, p)
	if !listed(crl, later) || !listed(crl, crlOnly) || listed(crl, good) {
		t.Errorf("CRL after the revocations: %d entries, later %v, crl only %v, good %v",
			len(crl.RevokedCertificateEntries), listed(crl, later), listed(crl, crlOnly), listed(crl, good))
	}
	if crl.Number.Int64() != 0x12 { // New's CRL is 0x10, one per Revoke
		t.Errorf("third CRL number %d, want 0x12", crl.Number)
	}

	p.OCSP.Stop()
	if _, err := ask(t, p, good); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("stopped responder: %v, want connection refused", err)
	}
	p.OCSP.Restart(t)
	want(later, ocsp.Revoked)
}

// TestRevokeUnlisted: `openssl ca -revoke` adds a certificate missing from
// the database as revoked.
func TestRevokeUnlisted(t *testing.T) {
	p := New(t)
	leaf := p.Leaf(t, "unlisted", LeafOptions{Unlisted: true})
	p.Revoke(t, leaf, "superseded")
	r, err := ask(t, p, leaf)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
		t.Errorf("status %d reason %d, want revoked/superseded", r.Status, r.RevocationReason)
	}
}
