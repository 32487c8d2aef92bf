package revocation

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// chainFixture is root R → intermediate I → leaf L where I names R's
// openssl OCSP responder and R's CRL, and L names I's responder and I's
// CRL.
type chainFixture struct {
	root, inter, leaf   *testpki.Issued
	rootOCSP, interOCSP *ocspResponder
	srv                 *crlServer
	rootCA, interCA     *opensslCA
}

// chainStatus is the revocation database content of a fixture.
type chainStatus struct {
	interRevoked, leafRevoked bool
}

func newChainFixture(t *testing.T, st chainStatus) *chainFixture {
	t.Helper()
	f := &chainFixture{srv: newCRLServer(t)}
	f.root = newCA(t, "root", nil, nil)
	entry := func(c *testpki.Issued, rev bool) indexEntry {
		if rev {
			return revoked(c, "keyCompromise", "")
		}
		return good(c)
	}
	f.rootOCSP = startOCSP(t, f.root, ocspOptions{}, func(url string) []indexEntry {
		f.inter = newCA(t, "intermediate", f.root, urls([]string{url}, f.srv.URL+"/root.crl"))
		return []indexEntry{entry(f.inter, st.interRevoked)}
	})
	f.interOCSP = startOCSP(t, f.inter, ocspOptions{}, func(url string) []indexEntry {
		f.leaf = newLeaf(t, "leaf", f.inter, urls([]string{url}, f.srv.URL+"/inter.crl"))
		return []indexEntry{entry(f.leaf, st.leafRevoked)}
	})
	f.rootCA, f.interCA = newOpenSSLCA(t, f.root), newOpenSSLCA(t, f.inter)
	f.rootCA.writeIndex(t, entry(f.inter, st.interRevoked))
	f.interCA.writeIndex(t, entry(f.leaf, st.leafRevoked))
	f.srv.put("/root.crl", f.rootCA.genCRL(t, crlOptions{}))
	f.srv.put("/inter.crl", f.interCA.genCRL(t, crlOptions{}))
	return f
}

// TestWholeChain: every certificate but the root is checked against its
// issuer, and the chain's result is the worst (REV-2, REV-3; peers.md: a
// revoked intermediate refuses a good leaf).
func TestWholeChain(t *testing.T) {
	type certWant struct {
		result Result
		method Method
	}
	tests := []struct {
		name    string
		status  chainStatus
		prepare func(t *testing.T, f *chainFixture)
		leaf    certWant
		inter   certWant
		summary Result
		problem string // CN of FirstProblem's subject, "" for none
	}{
		{name: "all good", leaf: certWant{OK, MethodOCSP}, inter: certWant{OK, MethodOCSP}, summary: OK},
		{name: "revoked intermediate, good leaf", status: chainStatus{interRevoked: true},
			leaf: certWant{OK, MethodOCSP}, inter: certWant{Revoked, MethodOCSP}, summary: Revoked, problem: "intermediate"},
		{name: "good intermediate, revoked leaf", status: chainStatus{leafRevoked: true},
			leaf: certWant{Revoked, MethodOCSP}, inter: certWant{OK, MethodOCSP}, summary: Revoked, problem: "leaf"},
		{name: "intermediate's responder down, its CRL good", prepare: func(t *testing.T, f *chainFixture) { f.rootOCSP.Stop() },
			leaf: certWant{OK, MethodOCSP}, inter: certWant{OK, MethodCRL}, summary: OK},
		{name: "intermediate's responder down, its CRL revokes", status: chainStatus{interRevoked: true}, prepare: func(t *testing.T, f *chainFixture) { f.rootOCSP.Stop() },
			leaf: certWant{OK, MethodOCSP}, inter: certWant{Revoked, MethodCRL}, summary: Revoked, problem: "intermediate"},
		{name: "intermediate unknown, leaf good", prepare: func(t *testing.T, f *chainFixture) {
			f.rootOCSP.Stop()
			f.srv.put("/root.crl", []byte("gone"))
		}, leaf: certWant{OK, MethodOCSP}, inter: certWant{Unknown, MethodCRL}, summary: Unknown, problem: "intermediate"},
		{name: "intermediate unknown, leaf revoked", status: chainStatus{leafRevoked: true}, prepare: func(t *testing.T, f *chainFixture) {
			f.rootOCSP.Stop()
			f.srv.put("/root.crl", []byte("gone"))
		}, leaf: certWant{Revoked, MethodOCSP}, inter: certWant{Unknown, MethodCRL}, summary: Revoked, problem: "leaf"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newChainFixture(t, tc.status)
			if tc.prepare != nil {
				tc.prepare(t, f)
			}
			res := validate(t, &Validator{}, time.Time{}, f.leaf, f.inter, f.root)
			var errLeaf, errInter error
			if tc.leaf.result == Unknown {
				errLeaf = ErrUnreachable
			}
			if tc.inter.result == Unknown {
				errInter = ErrMalformed
			}
			wantCert(t, res[0], tc.leaf.result, tc.leaf.method, errLeaf)
			wantCert(t, res[1], tc.inter.result, tc.inter.method, errInter)
			if got := Summarize(res); got != tc.summary {
				t.Errorf("Summarize = %s, want %s", got, tc.summary)
			}
			p, ok := FirstProblem(res)
			if ok != (tc.problem != "") || ok && !strings.Contains(p.Subject, "CN="+tc.problem) {
				t.Errorf("FirstProblem = %q, %v; want CN=%q", p.Subject, ok, tc.problem)
			}
		})
	}
}

// TestTC25 is the digest's TC-25 at the package level: a leaf revoked in
// its issuer's CRL (no OCSP), an OCSP responder that times out in front of
// a good CRL, both endpoints unreachable, and a CRL past its nextUpdate.
// (The levels and the skip override are the verifier's.)
func TestTC25(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	srv := newCRLServer(t)
	const ocspTimeout = 300 * time.Millisecond
	slow := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) {
		time.Sleep(2 * ocspTimeout)
		_, _ = w.Write(ocspAnswerFrom(t, inter, inter, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour)}, req))
	})
	crlFor := func(t *testing.T, o crlOptions, entries ...indexEntry) []byte {
		c := newOpenSSLCA(t, inter)
		c.writeIndex(t, entries...)
		return c.genCRL(t, o)
	}

	t.Run("revoked in the issuer's CRL, no OCSP", func(t *testing.T) {
		leaf := newLeaf(t, "leaf", inter, urls(nil, srv.URL+"/revoked.crl"))
		srv.put("/revoked.crl", crlFor(t, crlOptions{}, revoked(leaf, "keyCompromise", "")))
		res := validate(t, &Validator{}, time.Time{}, leaf, inter, root)
		wantCert(t, res[0], Revoked, MethodCRL, nil)
		if Summarize(res) != Revoked {
			t.Errorf("chain is %s", Summarize(res))
		}
	})
	t.Run("OCSP times out, CRL good", func(t *testing.T) {
		leaf := newLeaf(t, "leaf", inter, urls([]string{slow.URL}, srv.URL+"/good.crl"))
		srv.put("/good.crl", crlFor(t, crlOptions{}, good(leaf)))
		start := time.Now()
		res := validate(t, &Validator{OCSPTimeout: ocspTimeout}, time.Time{}, leaf, inter, root)
		elapsed := time.Since(start)
		wantCert(t, res[0], OK, MethodCRL, nil)
		if !strings.Contains(res[0].Reason, ErrTimeout.Error()) {
			t.Errorf("reason %q does not mention the OCSP timeout", res[0].Reason)
		}
		if elapsed < ocspTimeout || elapsed > 2*time.Second {
			t.Errorf("took %s with an OCSP timeout of %s", elapsed, ocspTimeout)
		}
		if Summarize(res) != OK {
			t.Errorf("chain is %s", Summarize(res))
		}
	})
	t.Run("OCSP and CRL unreachable", func(t *testing.T) {
		down := newCRLServer(t)
		var leaf *testpki.Issued
		resp := startOCSP(t, inter, ocspOptions{}, func(url string) []indexEntry {
			leaf = newLeaf(t, "leaf", inter, urls([]string{url}, down.URL+"/x.crl"))
			return []indexEntry{good(leaf)}
		})
		resp.Stop()
		down.Close()
		res := validate(t, &Validator{}, time.Time{}, leaf, inter, root)
		wantCert(t, res[0], Unknown, MethodCRL, ErrUnreachable)
		errs := serverErrors(res[0].Err)
		if len(errs) != 2 || errs[0].Method != MethodOCSP || errs[1].Method != MethodCRL {
			t.Errorf("want an OCSP and a CRL failure, got %v", res[0].Err)
		}
		for _, e := range errs {
			if !errors.Is(e, ErrUnreachable) {
				t.Errorf("%v is not ErrUnreachable", e)
			}
		}
		if Summarize(res) != Unknown {
			t.Errorf("chain is %s", Summarize(res))
		}
	})
	t.Run("CRL nextUpdate passed", func(t *testing.T) {
		leaf := newLeaf(t, "leaf", inter, urls(nil, srv.URL+"/stale.crl"))
		srv.put("/stale.crl", crlFor(t, crlOptions{lastUpdate: time.Now().Add(-72 * time.Hour), nextUpdate: time.Now().Add(-24 * time.Hour)}, good(leaf)))
		res := validate(t, &Validator{}, time.Time{}, leaf, inter, root)
		wantCert(t, res[0], Unknown, MethodCRL, ErrExpired)
	})
}

// TestOCSPFallback: OCSP first; the CRL only when OCSP cannot decide
// (REV-2; peers.md: notation falls back silently, also for a response
// without nextUpdate).
func TestOCSPFallback(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	tests := []struct {
		name      string
		ocsp      ocspOptions
		ocspEntry func(*testpki.Issued) []indexEntry
		stop      bool
		crlEntry  func(*testpki.Issued) indexEntry
		want      Result
		method    Method
		crlAsked  bool
	}{
		{name: "OCSP good, CRL not asked", ocspEntry: func(l *testpki.Issued) []indexEntry { return []indexEntry{good(l)} },
			crlEntry: func(l *testpki.Issued) indexEntry { return revoked(l, "keyCompromise", "") }, want: OK, method: MethodOCSP},
		{name: "OCSP revoked, CRL not asked", ocspEntry: func(l *testpki.Issued) []indexEntry { return []indexEntry{revoked(l, "keyCompromise", "")} },
			crlEntry: good, want: Revoked, method: MethodOCSP},
		{name: "OCSP unknown, CRL good", ocspEntry: func(*testpki.Issued) []indexEntry { return nil },
			crlEntry: good, want: OK, method: MethodCRL, crlAsked: true},
		{name: "OCSP without nextUpdate, CRL revokes", ocsp: ocspOptions{noNDays: true}, ocspEntry: func(l *testpki.Issued) []indexEntry { return []indexEntry{good(l)} },
			crlEntry: func(l *testpki.Issued) indexEntry { return revoked(l, "keyCompromise", "") }, want: Revoked, method: MethodCRL, crlAsked: true},
		{name: "OCSP responder stopped, CRL revokes", stop: true, ocspEntry: func(l *testpki.Issued) []indexEntry { return []indexEntry{good(l)} },
			crlEntry: func(l *testpki.Issued) indexEntry { return revoked(l, "keyCompromise", "") }, want: Revoked, method: MethodCRL, crlAsked: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCRLServer(t)
			var leaf *testpki.Issued
			resp := startOCSP(t, root, tc.ocsp, func(url string) []indexEntry {
				leaf = newLeaf(t, "leaf", root, urls([]string{url}, srv.URL+"/root.crl"))
				return tc.ocspEntry(leaf)
			})
			if tc.stop {
				resp.Stop()
			}
			ca := newOpenSSLCA(t, root)
			ca.writeIndex(t, tc.crlEntry(leaf))
			srv.put("/root.crl", ca.genCRL(t, crlOptions{}))
			res := validate(t, &Validator{}, time.Time{}, leaf, root)
			wantCert(t, res[0], tc.want, tc.method, nil)
			if asked := srv.count("/root.crl") > 0; asked != tc.crlAsked {
				t.Errorf("CRL asked: %v, want %v", asked, tc.crlAsked)
			}
			if tc.method == MethodCRL && !strings.Contains(res[0].Reason, "OCSP could not decide") {
				t.Errorf("reason %q does not say why OCSP was not used", res[0].Reason)
			}
		})
	}
}

// TestValidateChainInput: the chain is re-validated before anything is
// fetched (REV-9); other input faults are errors, not results.
func TestValidateChainInput(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	stranger := newCA(t, "stranger", nil, nil)
	srv := newCRLServer(t)
	leaf := newLeaf(t, "leaf", root, urls(nil, srv.URL+"/x.crl"))
	tsaLeaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("tsa"), Modify: func(c *x509.Certificate) {
		c.ExtKeyUsage = nil
		v, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
		c.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: v}}
		c.CRLDistributionPoints = []string{srv.URL + "/x.crl"}
	}}, root)
	selfSigned := newLeaf(t, "self-signed", nil, urls(nil, srv.URL+"/x.crl"))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	ca := newOpenSSLCA(t, root)
	ca.writeIndex(t, good(leaf), revoked(tsaLeaf, "keyCompromise", ""))
	srv.put("/x.crl", ca.genCRL(t, crlOptions{}))

	tests := []struct {
		name    string
		ctx     context.Context
		chain   []*x509.Certificate
		purpose Purpose
		errIs   error
		want    []Result
	}{
		{name: "code signing chain", chain: []*x509.Certificate{leaf.Cert, root.Cert}, want: []Result{OK, NonRevokable}},
		{name: "timestamping chain", chain: []*x509.Certificate{tsaLeaf.Cert, root.Cert}, purpose: Timestamping, want: []Result{Revoked, NonRevokable}},
		{name: "a self-signed certificate alone", chain: []*x509.Certificate{selfSigned.Cert}, want: []Result{NonRevokable}},
		{name: "leaf not issued by the next certificate", chain: []*x509.Certificate{leaf.Cert, stranger.Cert}, errIs: signature.ErrInvalidChain},
		{name: "empty chain", errIs: signature.ErrInvalidChain},
		{name: "code signing leaf checked as timestamping", chain: []*x509.Certificate{leaf.Cert, root.Cert}, purpose: Timestamping, errIs: signature.ErrInvalidChain},
		{name: "timestamping leaf checked as code signing", chain: []*x509.Certificate{tsaLeaf.Cert, root.Cert}, purpose: CodeSigning, errIs: signature.ErrInvalidChain},
		{name: "unknown purpose", chain: []*x509.Certificate{leaf.Cert, root.Cert}, purpose: Purpose(7), errIs: ErrUnsupportedPurpose},
		{name: "canceled context", ctx: canceled, chain: []*x509.Certificate{leaf.Cert, root.Cert}, errIs: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			before := srv.total()
			res, err := (&Validator{}).ValidateChain(ctx, tc.chain, tc.purpose, time.Time{})
			if tc.errIs != nil {
				if !errors.Is(err, tc.errIs) || res != nil {
					t.Fatalf("got %v, %v; want an error wrapping %q", res, err, tc.errIs)
				}
				if srv.total() != before {
					t.Errorf("the CRL was fetched for a refused input")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(tc.want) {
				t.Fatalf("%d results, want %d", len(res), len(tc.want))
			}
			for i, w := range tc.want {
				if res[i].Result != w {
					t.Errorf("certificate %d: %s, want %s (%s)", i, res[i].Result, w, res[i].Reason)
				}
			}
		})
	}
}

// TestNoRevocationInformation: a non-root certificate that names neither
// mechanism is non-revokable, with a debug record (not a warning: most
// chains have such certificates), and nothing is fetched (REV-2).
func TestNoRevocationInformation(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	leaf := newLeaf(t, "leaf", inter, nil)
	var logs logBuffer
	debug := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	res := validate(t, &Validator{Logger: debug}, time.Time{}, leaf, inter, root)
	wantCert(t, res[0], NonRevokable, MethodNone, nil)
	wantCert(t, res[1], NonRevokable, MethodNone, nil)
	if Summarize(res) != OK {
		t.Errorf("chain is %s, want ok", Summarize(res))
	}
	if n := strings.Count(logs.String(), "names no OCSP responder"); n != 2 || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("want one debug record per certificate and no warning:\n%s", logs.String())
	}
}

// TestConcurrentCertificates: the certificates of a chain are checked at
// the same time (REV-2 [REF]): three slow responders take about as long as
// one.
func TestConcurrentCertificates(t *testing.T) {
	const delay = 400 * time.Millisecond
	root := newCA(t, "root", nil, nil)
	issued := []*testpki.Issued{root}
	var chain []*testpki.Issued
	for i := range 3 {
		issuer := issued[len(issued)-1]
		d := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) {
			time.Sleep(delay)
			_, _ = w.Write(ocspAnswerFrom(t, issuer, issuer, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour)}, req))
		})
		var c *testpki.Issued
		if i < 2 {
			c = newCA(t, "intermediate", issuer, urls([]string{d.URL}))
		} else {
			c = newLeaf(t, "leaf", issuer, urls([]string{d.URL}))
		}
		issued = append(issued, c)
	}
	for i := len(issued) - 1; i >= 0; i-- {
		chain = append(chain, issued[i])
	}
	start := time.Now()
	res := validate(t, &Validator{}, time.Time{}, chain...)
	elapsed := time.Since(start)
	for _, r := range res[:3] {
		wantCert(t, r, OK, MethodOCSP, nil)
	}
	if elapsed > 2*delay+delay/2 {
		t.Errorf("three responders of %s each took %s: not concurrent", delay, elapsed)
	}
}

// TestSummarize is REV-3's aggregation.
func TestSummarize(t *testing.T) {
	r := func(subject string, res Result) CertResult { return CertResult{Subject: subject, Result: res} }
	tests := []struct {
		name    string
		in      []CertResult
		want    Result
		problem string
	}{
		{"empty", nil, OK, ""},
		{"all ok or non-revokable", []CertResult{r("L", OK), r("I", NonRevokable), r("R", NonRevokable)}, OK, ""},
		{"unknown leaf", []CertResult{r("L", Unknown), r("I", OK), r("R", NonRevokable)}, Unknown, "L"},
		{"revoked beats unknown", []CertResult{r("L", Revoked), r("I", Unknown), r("R", NonRevokable)}, Revoked, "L"},
		{"revoked nearest the root is named", []CertResult{r("L", Revoked), r("I", Revoked), r("R", NonRevokable)}, Revoked, "I"},
		{"first unknown from the root is named", []CertResult{r("L", Unknown), r("I", Unknown), r("R", NonRevokable)}, Unknown, "I"},
		{"an unset result counts as unknown", []CertResult{r("L", ""), r("R", NonRevokable)}, Unknown, "L"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize = %s, want %s", got, tc.want)
			}
			p, ok := FirstProblem(tc.in)
			if ok != (tc.problem != "") || p.Subject != tc.problem {
				t.Errorf("FirstProblem = %q, %v; want %q", p.Subject, ok, tc.problem)
			}
		})
	}
}
