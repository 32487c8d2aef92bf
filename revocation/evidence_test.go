package revocation_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testrevocation"
	"github.com/signet-dev/signet/revocation"
)

// TestEvidenceOffline collects real evidence (openssl ocsp, openssl ca
// CRLs) and checks chains from it alone: good, revoked, past nextUpdate,
// missing. The offline Validator makes no request (the responder and the
// CRL server see none).
func TestEvidenceOffline(t *testing.T) {
	ctx := context.Background()
	p := testrevocation.New(t)
	good := p.Leaf(t, "good", testrevocation.LeafOptions{})
	bad := p.Leaf(t, "bad", testrevocation.LeafOptions{})
	crlOnly := p.Leaf(t, "crl only", testrevocation.LeafOptions{NoOCSP: true})
	p.Revoke(t, bad, "keyCompromise")

	online := &revocation.Validator{}
	certs := append(p.Chain(good), bad.Cert, crlOnly.Cert)
	ev, err := online.Collect(ctx, certs)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	if len(ev.OCSP) != 2 || len(ev.CRL) != 1 {
		t.Fatalf("evidence: %d OCSP responses, %d CRLs; want 2 and 1", len(ev.OCSP), len(ev.CRL))
	}
	if err := ev.Check(); err != nil {
		t.Fatal(err)
	}
	ocspBefore, crlBefore := len(p.OCSP.Requests()), p.CRLs.Total()

	cases := []struct {
		name       string
		leaf       string
		evidence   *revocation.Evidence
		now        time.Time
		want       revocation.Result
		method     revocation.Method
		wantErr    error
		wantReason string
	}{
		{name: "good by OCSP", leaf: "good", evidence: ev, want: revocation.OK, method: revocation.MethodOCSP, wantReason: "from the evidence"},
		{name: "revoked by OCSP", leaf: "bad", evidence: ev, want: revocation.Revoked, method: revocation.MethodOCSP},
		{name: "good by CRL", leaf: "crl only", evidence: ev, want: revocation.OK, method: revocation.MethodCRL, wantReason: "from the evidence"},
		{name: "past nextUpdate", leaf: "good", evidence: ev, now: time.Now().Add(72 * time.Hour), want: revocation.Unknown, method: revocation.MethodCRL, wantErr: revocation.ErrExpired, wantReason: "nextUpdate"},
		{name: "no evidence", leaf: "good", evidence: &revocation.Evidence{}, want: revocation.Unknown, method: revocation.MethodCRL, wantErr: revocation.ErrNoEvidence},
		{name: "OCSP evidence of another certificate, CRL decides", leaf: "good", evidence: &revocation.Evidence{OCSP: only(t, ev, bad.Cert), CRL: ev.CRL}, want: revocation.OK, method: revocation.MethodCRL},
	}
	leaves := map[string]*x509.Certificate{"good": good.Cert, "bad": bad.Cert, "crl only": crlOnly.Cert}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &revocation.Validator{Evidence: tc.evidence}
			if !tc.now.IsZero() {
				v.Now = func() time.Time { return tc.now }
			}
			chain := []*x509.Certificate{leaves[tc.leaf], p.Intermediate.Cert, p.Root.Cert}
			res, err := v.ValidateChain(ctx, chain, revocation.CodeSigning, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			leaf := res[0]
			if leaf.Result != tc.want || leaf.Method != tc.method {
				t.Fatalf("%s by %s, want %s by %s: %s", leaf.Result, leaf.Method, tc.want, tc.method, leaf.Reason)
			}
			if tc.wantErr != nil && !errors.Is(leaf.Err, tc.wantErr) {
				t.Errorf("error %v, want %v", leaf.Err, tc.wantErr)
			}
			if !strings.Contains(leaf.Reason, tc.wantReason) {
				t.Errorf("reason %q lacks %q", leaf.Reason, tc.wantReason)
			}
		})
	}
	if len(p.OCSP.Requests()) != ocspBefore || p.CRLs.Total() != crlBefore {
		t.Errorf("the offline validator made requests: OCSP %d -> %d, CRL %d -> %d", ocspBefore, len(p.OCSP.Requests()), crlBefore, p.CRLs.Total())
	}
}

// only keeps the OCSP evidence about cert.
func only(t *testing.T, ev *revocation.Evidence, cert *x509.Certificate) []revocation.OCSPEvidence {
	t.Helper()
	var out []revocation.OCSPEvidence
	for _, o := range ev.OCSP {
		r, err := ocsp.ParseResponse(o.Response, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			out = append(out, o)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d OCSP responses about %s", len(out), cert.Subject)
	}
	return out
}

// TestEvidenceBounds: Check refuses evidence over its limits.
func TestEvidenceBounds(t *testing.T) {
	big := make([]byte, revocation.MaxOCSPResponseBytes+1)
	for _, tc := range []struct {
		name string
		ev   revocation.Evidence
	}{
		{"OCSP response too large", revocation.Evidence{OCSP: []revocation.OCSPEvidence{{URL: "http://x", Response: big}}}},
		{"too many CRLs", revocation.Evidence{CRL: make([]revocation.CRLEvidence, revocation.MaxEvidenceItems+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.ev.Check(); !errors.Is(err, revocation.ErrTooLarge) {
				t.Errorf("got %v, want ErrTooLarge", err)
			}
		})
	}
}
