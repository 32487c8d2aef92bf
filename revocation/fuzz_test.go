package revocation

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testpki"
)

// fuzzPKI is an issuer, a leaf and a delegated OCSP responder.
type fuzzPKI struct {
	issuer, leaf, responder *testpki.Issued
	now                     time.Time
}

func newFuzzPKI(f *testing.F) *fuzzPKI {
	root := newCA(f, "root", nil, nil)
	return &fuzzPKI{
		issuer:    root,
		leaf:      newLeaf(f, "leaf", root, nil),
		responder: ocspResponderCert(f, root, nil),
		now:       time.Now(),
	}
}

// FuzzParseOCSPResponse feeds arbitrary bytes to the bounded OCSP response
// parser and checks its promises: no panic, every error classified, and an
// accepted response is for the leaf, current, and of a known status.
func FuzzParseOCSPResponse(f *testing.F) {
	p := newFuzzPKI(f)
	req := &ocsp.Request{SerialNumber: p.leaf.Cert.SerialNumber}
	next := p.now.Add(time.Hour)
	seeds := []struct {
		signer *testpki.Issued
		embed  bool
		tmpl   ocsp.Response
	}{
		{p.issuer, false, ocsp.Response{Status: ocsp.Good, NextUpdate: next}},
		{p.issuer, true, ocsp.Response{Status: ocsp.Good, NextUpdate: next}},
		{p.responder, true, ocsp.Response{Status: ocsp.Revoked, RevokedAt: p.now.Add(-time.Hour), RevocationReason: ocsp.KeyCompromise, NextUpdate: next,
			ExtraExtensions: []pkix.Extension{invalidityExt(f, p.now.Add(-2*time.Hour))}}},
		{p.issuer, false, ocsp.Response{Status: ocsp.Unknown, NextUpdate: next}},
		{p.issuer, false, ocsp.Response{Status: ocsp.Good}},
		{p.issuer, false, ocsp.Response{Status: ocsp.Good, NextUpdate: p.now.Add(-time.Minute)}},
	}
	for _, s := range seeds {
		f.Add(ocspAnswerFrom(f, s.signer, p.issuer, s.embed, s.tmpl, req))
	}
	for _, e := range [][]byte{ocsp.MalformedRequestErrorResponse, ocsp.TryLaterErrorResponse, ocsp.UnauthorizedErrorResponse, {}, {0x30, 0x00}} {
		f.Add(e)
	}
	classes := []error{ErrTooLarge, ErrMalformed, ErrBadSignature, ErrExpired, ErrOCSPErrorResponse}
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, err := parseOCSPResponse(der, p.leaf.Cert, p.issuer.Cert, p.now)
		if err != nil {
			if !isOneOf(err, classes) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if resp.SerialNumber.Cmp(p.leaf.Cert.SerialNumber) != 0 {
			t.Fatalf("accepted an answer for serial %s", resp.SerialNumber)
		}
		if resp.NextUpdate.IsZero() || p.now.After(resp.NextUpdate) {
			t.Fatalf("accepted an answer that is not current: nextUpdate %s", resp.NextUpdate)
		}
		if resp.Status != ocsp.Good && resp.Status != ocsp.Revoked && resp.Status != ocsp.Unknown {
			t.Fatalf("accepted status %d", resp.Status)
		}
		r := &run{signingTime: p.now.Add(-3 * time.Hour)}
		if resp.Status != ocsp.Unknown {
			if out := r.ocspVerdict(answerFromOCSP("http://x", resp), ""); out.result != OK && out.result != Revoked {
				t.Fatalf("verdict %s", out.result)
			}
		}
	})
}

// FuzzParseCRL feeds arbitrary bytes to the bounded CRL parser and runs
// every check on what parses, signature or not: no panic, and every error
// classified.
func FuzzParseCRL(f *testing.F) {
	p := newFuzzPKI(f)
	idp, _ := asn1.Marshal(struct {
		OnlyUser bool `asn1:"optional,tag:1"`
	}{true})
	serial := p.leaf.Cert.SerialNumber
	entries := []x509.RevocationListEntry{
		{SerialNumber: serial, RevocationTime: p.now.Add(-time.Hour), ReasonCode: reasonCertificateHold,
			ExtraExtensions: []pkix.Extension{invalidityExt(f, p.now.Add(-2*time.Hour))}},
		{SerialNumber: big.NewInt(7), RevocationTime: p.now.Add(-time.Hour), ReasonCode: 1,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Critical: true, Value: []byte{5, 0}}}},
	}
	f.Add(goCRL(f, p.issuer, 1, p.now.Add(-time.Minute), p.now.Add(time.Hour), nil))
	f.Add(goCRL(f, p.issuer, 2, p.now.Add(-time.Minute), p.now.Add(time.Hour), entries,
		pkix.Extension{Id: oidIssuingDistributionPoint, Critical: true, Value: idp},
		freshestCRLExt(f, "http://crl.example.com/delta.crl", "ldap://x")))
	f.Add(goCRL(f, p.issuer, 3, p.now.Add(-time.Minute), p.now.Add(time.Hour), entries[:1], deltaIndicator(f, 2)))
	f.Add(goCRL(f, p.issuer, 4, p.now.Add(-2*time.Hour), p.now.Add(-time.Hour), nil,
		pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}))
	f.Add([]byte{})
	classes := []error{ErrTooLarge, ErrMalformed, ErrBadSignature, ErrExpired, ErrUnsupportedCRL, ErrDeltaCRL}
	f.Fuzz(func(t *testing.T, der []byte) {
		crl, err := parseCRL(der)
		if err != nil {
			if !isOneOf(err, classes) {
				t.Fatalf("unclassified parse error: %v", err)
			}
			return
		}
		for _, delta := range []bool{false, true} {
			if err := validateCRL(crl, p.leaf.Cert, p.issuer.Cert, p.now, delta); err != nil && !isOneOf(err, classes) {
				t.Fatalf("unclassified validation error: %v", err)
			}
		}
		if _, err := deltaLocations(crl, p.leaf.Cert); err != nil && !errors.Is(err, ErrDeltaCRL) {
			t.Fatalf("unclassified delta location error: %v", err)
		}
		if err := checkDeltaFits(crl, crl); err == nil {
			t.Fatal("a CRL fits as its own delta")
		} else if !errors.Is(err, ErrDeltaCRL) {
			t.Fatalf("unclassified delta error: %v", err)
		}
		cert := *p.leaf.Cert
		if len(crl.RevokedCertificateEntries) > 0 {
			cert.SerialNumber = crl.RevokedCertificateEntries[0].SerialNumber
		}
		for _, st := range []time.Time{{}, p.now.Add(-90 * time.Minute)} {
			out, err := crlVerdict(&Bundle{BaseCRL: crl, DeltaCRL: crl}, &cert, st, "http://x", "")
			switch {
			case err != nil && !errors.Is(err, ErrUnsupportedCRL):
				t.Fatalf("unclassified verdict error: %v", err)
			case err == nil && out.result != OK && out.result != Revoked:
				t.Fatalf("verdict %s", out.result)
			}
		}
	})
}

// FuzzCRLExtensions feeds arbitrary bytes to the hand-written extension
// decoders (issuing distribution point, distribution point URIs,
// invalidity date).
func FuzzCRLExtensions(f *testing.F) {
	idp, _ := asn1.Marshal(struct {
		OnlyCA   bool `asn1:"optional,tag:2"`
		Indirect bool `asn1:"optional,tag:4"`
	}{true, true})
	f.Add(idp)
	f.Add(freshestCRLExt(f, "http://a/b.crl", "http://c/d.crl").Value)
	f.Add(invalidityExt(f, time.Now()).Value)
	f.Add([]byte{0x30, 0x03, 0x81, 0x01, 0xff})
	leaf := &x509.Certificate{}
	ca := &x509.Certificate{IsCA: true}
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, c := range []*x509.Certificate{leaf, ca} {
			if err := checkIDP(v, c); err != nil && !errors.Is(err, ErrUnsupportedCRL) {
				t.Fatalf("unclassified IDP error: %v", err)
			}
		}
		if urls, err := distributionPointURIs(v); err == nil {
			for _, u := range urls {
				if len(u) > len(v) {
					t.Fatalf("URI longer than its input")
				}
			}
		}
		_, _ = parseInvalidityDate(v)
	})
}

// FuzzFileCacheEntry decodes arbitrary cache entries (FileCache.Get
// without the file): no panic, and an entry that loads has a base CRL.
func FuzzFileCacheEntry(f *testing.F) {
	p := newFuzzPKI(f)
	crl := goCRL(f, p.issuer, 1, p.now.Add(-time.Minute), p.now.Add(time.Hour), nil)
	good, _ := json.Marshal(fileCacheContent{BaseCRL: crl, DeltaCRL: crl})
	f.Add(good)
	f.Add([]byte(`{"baseCRL":""}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, content []byte) {
		b, err := decodeCacheEntry(content)
		if err == nil && (b == nil || b.BaseCRL == nil) {
			t.Fatal("no base CRL and no error")
		}
	})
}

func isOneOf(err error, sentinels []error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
