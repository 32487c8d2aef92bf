package revocation

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// FuzzOfflineEvidence checks a chain against arbitrary evidence bytes (an
// air-gapped archive is untrusted): no panic, no error (bad evidence makes
// the status unknown), a result for every certificate, and a good or
// revoked verdict only from a response that parses and checks.
func FuzzOfflineEvidence(f *testing.F) {
	p := newFuzzPKI(f)
	p.leaf.Cert.OCSPServer = []string{"http://ocsp.test"}
	p.leaf.Cert.CRLDistributionPoints = []string{"http://crl.test/x.crl"}
	req := &ocsp.Request{SerialNumber: p.leaf.Cert.SerialNumber}
	f.Add(ocspAnswerFrom(f, p.issuer, p.issuer, false, ocsp.Response{Status: ocsp.Good, NextUpdate: p.now.Add(time.Hour)}, req), []byte{})
	f.Add([]byte{0x30, 0x00}, []byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, ocspDER, crlDER []byte) {
		ev := &Evidence{
			OCSP: []OCSPEvidence{{URL: "http://ocsp.test", Response: ocspDER}},
			CRL:  []CRLEvidence{{URL: "http://crl.test/x.crl", Base: crlDER}},
		}
		if ev.Check() != nil {
			return
		}
		v := &Validator{Evidence: ev, Now: func() time.Time { return p.now }}
		res, err := v.ValidateChain(context.Background(), []*x509.Certificate{p.leaf.Cert, p.issuer.Cert}, CodeSigning, time.Time{})
		if err != nil {
			t.Fatalf("error %v: bad evidence must make the status unknown", err)
		}
		if len(res) != 2 {
			t.Fatalf("%d results", len(res))
		}
		if r := res[0]; r.Result == OK || r.Result == Revoked {
			if r.Method == MethodOCSP {
				if _, err := parseOCSPResponse(ocspDER, p.leaf.Cert, p.issuer.Cert, p.now); err != nil {
					t.Fatalf("%s by OCSP from a response that does not check: %v", r.Result, err)
				}
			}
		}
	})
}
