package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testpki"
)

// ocspResponderCert issues a delegated OCSP responder certificate (EKU
// id-kp-OCSPSigning) from issuer; mod edits the template.
func ocspResponderCert(t testing.TB, issuer *testpki.Issued, mod func(*x509.Certificate)) *testpki.Issued {
	t.Helper()
	return testpki.Issue(t, testpki.Cert{Subject: testpki.Name("ocsp responder"), Key: testpki.Key(t, "ec-256", true), Modify: func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}
		if mod != nil {
			mod(c)
		}
	}}, issuer)
}

// TestOCSPOpenSSL runs `openssl ocsp` as the responder for an intermediate
// CA with a good, a revoked and an unlisted leaf, signed in each of the
// ways a responder can sign (REV-4).
func TestOCSPOpenSSL(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	sameName := newCA(t, "intermediate", root, nil) // the issuer's name, another key
	stranger := newCA(t, "stranger", nil, nil)

	type want struct {
		good, revoked, unlisted Result
		errIs                   error // for every unknown result
	}
	works := want{OK, Revoked, Unknown, ErrOCSPUnknownStatus}
	refused := func(err error) want { return want{Unknown, Unknown, Unknown, err} }
	tests := []struct {
		name string
		opts ocspOptions
		want want
	}{
		{name: "issuer signs and embeds its own certificate", opts: ocspOptions{}, want: works},
		{name: "issuer signs, no certificates", opts: ocspOptions{args: []string{"-resp_no_certs"}}, want: works},
		{name: "delegated responder", opts: ocspOptions{signer: ocspResponderCert(t, inter, nil)}, want: works},
		{name: "delegated responder whose certificate is not sent", opts: ocspOptions{signer: ocspResponderCert(t, inter, nil), args: []string{"-resp_no_certs"}}, want: refused(ErrBadSignature)},
		{name: "responder without id-kp-OCSPSigning", opts: ocspOptions{signer: ocspResponderCert(t, inter, func(c *x509.Certificate) {
			c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
		})}, want: refused(ErrBadSignature)},
		{name: "responder issued by another CA", opts: ocspOptions{signer: ocspResponderCert(t, stranger, nil)}, want: refused(ErrBadSignature)},
		{name: "expired delegated responder", opts: ocspOptions{signer: ocspResponderCert(t, inter, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		})}, want: refused(ErrBadSignature)},
		{name: "a CA with the issuer's name but another key signs", opts: ocspOptions{signer: sameName}, want: refused(ErrBadSignature)},
		{name: "a CA with the issuer's name but another key signs, no certificates", opts: ocspOptions{signer: sameName, args: []string{"-resp_no_certs"}}, want: refused(ErrBadSignature)},
		// openssl ocsp without -ndays sends no nextUpdate; the reference
		// treats that as expired (peers.md).
		{name: "no nextUpdate", opts: ocspOptions{noNDays: true}, want: refused(ErrExpired)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var goodLeaf, revokedLeaf, unlistedLeaf *testpki.Issued
			resp := startOCSP(t, inter, tc.opts, func(url string) []indexEntry {
				goodLeaf = newLeaf(t, "good", inter, urls([]string{url}))
				revokedLeaf = newLeaf(t, "revoked", inter, urls([]string{url}))
				unlistedLeaf = newLeaf(t, "unlisted", inter, urls([]string{url}))
				return []indexEntry{good(goodLeaf), revoked(revokedLeaf, "keyCompromise", "")}
			})
			v := &Validator{}
			for _, c := range []struct {
				leaf *testpki.Issued
				want Result
			}{{goodLeaf, tc.want.good}, {revokedLeaf, tc.want.revoked}, {unlistedLeaf, tc.want.unlisted}} {
				res := validate(t, v, time.Time{}, c.leaf, inter, root)
				var errIs error
				if c.want == Unknown {
					errIs = tc.want.errIs
				}
				wantCert(t, res[0], c.want, MethodOCSP, errIs)
				// The intermediate names no revocation information.
				wantCert(t, res[1], NonRevokable, MethodNone, nil)
				if c.want == Revoked && !strings.Contains(res[0].Reason, "keyCompromise") {
					t.Errorf("reason %q does not name the revocation reason", res[0].Reason)
				}
			}
			// Short requests go by GET (REV-4).
			reqs := resp.waitRequests(3)
			if len(reqs) != 3 {
				t.Errorf("responder saw %d requests, want 3: %q", len(reqs), reqs)
			}
			for _, r := range reqs {
				if !strings.HasPrefix(r, "GET /") {
					t.Errorf("request %q is not a GET", r)
				}
			}
		})
	}
}

// TestOCSPResponderURLs: responders are tried in order until one answers;
// an unknown answer stops the search (REV-4 [REF]); non-http URLs are not
// used.
func TestOCSPResponderURLs(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	goodDouble := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) {
		_, _ = w.Write(ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour)}, req))
	})
	unknownDouble := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) {
		_, _ = w.Write(ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Unknown, NextUpdate: time.Now().Add(time.Hour)}, req))
	})
	failing := newOCSPDouble(t, func(w http.ResponseWriter, _ *ocsp.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	tests := []struct {
		name   string
		urls   []string
		want   Result
		errIs  error
		nFails int // ServerErrors in Err
	}{
		{name: "first fails, second answers", urls: []string{failing.URL, goodDouble.URL}, want: OK},
		{name: "https is not used", urls: []string{"https://127.0.0.1:1/", goodDouble.URL}, want: OK},
		{name: "unknown stops the search", urls: []string{unknownDouble.URL, goodDouble.URL}, want: Unknown, errIs: ErrOCSPUnknownStatus, nFails: 1},
		{name: "all fail", urls: []string{failing.URL, "ldap://example.com/"}, want: Unknown, errIs: ErrUnreachable, nFails: 2},
		{name: "only https", urls: []string{"https://127.0.0.1:1/"}, want: Unknown, errIs: ErrUnsupportedURL, nFails: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := goodDouble.hits.Load()
			leaf := newLeaf(t, "leaf", root, urls(tc.urls))
			res := validate(t, &Validator{}, time.Time{}, leaf, root)
			wantCert(t, res[0], tc.want, MethodOCSP, tc.errIs)
			if n := len(serverErrors(res[0].Err)); n != tc.nFails {
				t.Errorf("%d server errors, want %d: %v", n, tc.nFails, res[0].Err)
			}
			asked := goodDouble.hits.Load() - before
			if (tc.want == OK) != (asked == 1) {
				t.Errorf("the good responder was asked %d times", asked)
			}
		})
	}
	if unknownDouble.hits.Load() != 1 {
		t.Errorf("unknown responder asked %d times, want 1", unknownDouble.hits.Load())
	}
}

// TestOCSPErrorResponses: each OCSP error status is unknown (REV-4 [REF]),
// as are HTTP errors and bodies that are not OCSP.
func TestOCSPErrorResponses(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	tests := []struct {
		name   string
		status int
		body   []byte
		errIs  error
	}{
		{"malformedRequest", 200, ocsp.MalformedRequestErrorResponse, ErrOCSPErrorResponse},
		{"internalError", 200, ocsp.InternalErrorErrorResponse, ErrOCSPErrorResponse},
		{"tryLater", 200, ocsp.TryLaterErrorResponse, ErrOCSPErrorResponse},
		{"sigRequired", 200, ocsp.SigRequredErrorResponse, ErrOCSPErrorResponse},
		{"unauthorized", 200, ocsp.UnauthorizedErrorResponse, ErrOCSPErrorResponse},
		{"HTTP 404", 404, nil, ErrUnreachable},
		{"HTTP 500 with an answer", 500, []byte("x"), ErrUnreachable},
		{"not DER", 200, []byte("<html>hello</html>"), ErrMalformed},
		{"empty", 200, nil, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newOCSPDouble(t, func(w http.ResponseWriter, _ *ocsp.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write(tc.body)
			})
			leaf := newLeaf(t, "leaf", root, urls([]string{d.URL}))
			res := validate(t, &Validator{}, time.Time{}, leaf, root)
			wantCert(t, res[0], Unknown, MethodOCSP, tc.errIs)
		})
	}
}

// TestOCSPAnswerChecks covers answers openssl does not make: a response
// for another certificate, an expired one, a critical single extension.
func TestOCSPAnswerChecks(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	otherIssuer := newCA(t, "root", nil, nil)
	tests := []struct {
		name  string
		make  func(req *ocsp.Request) []byte
		want  Result
		errIs error
	}{
		{"good", func(req *ocsp.Request) []byte {
			return ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour)}, req)
		}, OK, nil},
		{"nextUpdate passed", func(req *ocsp.Request) []byte {
			return ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, ThisUpdate: time.Now().Add(-2 * time.Hour), NextUpdate: time.Now().Add(-time.Hour)}, req)
		}, Unknown, ErrExpired},
		{"answer for another serial number", func(req *ocsp.Request) []byte {
			other := *req
			other.SerialNumber = new(big.Int).Add(req.SerialNumber, big.NewInt(1))
			return ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour)}, &other)
		}, Unknown, ErrMalformed},
		{"signed by a stranger with the issuer's name", func(req *ocsp.Request) []byte {
			return ocspAnswerFrom(t, otherIssuer, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour)}, req)
		}, Unknown, ErrBadSignature},
		{"critical single extension", func(req *ocsp.Request) []byte {
			return ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour),
				ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}, req)
		}, Unknown, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) { _, _ = w.Write(tc.make(req)) })
			leaf := newLeaf(t, "leaf", root, urls([]string{d.URL}))
			res := validate(t, &Validator{}, time.Time{}, leaf, root)
			wantCert(t, res[0], tc.want, MethodOCSP, tc.errIs)
		})
	}
}

// TestOCSPInvalidityDate: `openssl ocsp` answers revoked with an
// invalidityDate single extension (database reason "keyTime"). After the
// authentic signing time it is OK; without a signing time, or with one
// after the invalidity date, it is revoked (REV-4, REV-7).
func TestOCSPInvalidityDate(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	invalid := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	var leaf *testpki.Issued
	startOCSP(t, root, ocspOptions{}, func(url string) []indexEntry {
		leaf = newLeaf(t, "leaf", root, urls([]string{url}))
		return []indexEntry{revoked(leaf, "keyTime", genTime(invalid))}
	})
	tests := []struct {
		name        string
		signingTime time.Time
		want        Result
	}{
		{"signed before the invalidity date", invalid.Add(-time.Hour), OK},
		{"signed after the invalidity date", invalid.Add(time.Minute), Revoked},
		{"no authentic signing time", time.Time{}, Revoked},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := validate(t, &Validator{}, tc.signingTime, leaf, root)
			wantCert(t, res[0], tc.want, MethodOCSP, nil)
			if tc.want == OK && !strings.Contains(res[0].Reason, "invalidity date") {
				t.Errorf("reason %q does not explain the invalidity date", res[0].Reason)
			}
		})
	}
}

// TestOCSPResponseLimit: a response of exactly MaxOCSPResponseBytes is
// read, one byte more is too large (REV-4 [REF], §0.5).
func TestOCSPResponseLimit(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	sized := func(req *ocsp.Request, size int) []byte {
		pad := size - 200
		for range 20 {
			der := ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: time.Now().Add(time.Hour),
				ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: make([]byte, pad)}}}, req)
			if len(der) == size {
				return der
			}
			pad += size - len(der)
		}
		t.Fatalf("could not make a response of %d bytes", size)
		return nil
	}
	for _, tc := range []struct {
		size  int
		want  Result
		errIs error
	}{{MaxOCSPResponseBytes, OK, nil}, {MaxOCSPResponseBytes + 1, Unknown, ErrTooLarge}} {
		t.Run(strconv.Itoa(tc.size), func(t *testing.T) {
			d := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) { _, _ = w.Write(sized(req, tc.size)) })
			leaf := newLeaf(t, "leaf", root, urls([]string{d.URL}))
			res := validate(t, &Validator{}, time.Time{}, leaf, root)
			wantCert(t, res[0], tc.want, MethodOCSP, tc.errIs)
		})
	}
}

// TestOCSPTimeout: a responder that does not answer, or stops halfway
// through its body, within OCSPTimeout is unknown with ErrTimeout, and the
// check returns soon after the timeout (REV-4, §0.5).
func TestOCSPTimeout(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
		{"stalled body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(200)
			_, _ = w.Write([]byte{0x30, 0x82})
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tc.respond))
			defer srv.Close()
			leaf := newLeaf(t, "leaf", root, urls([]string{srv.URL}))
			start := time.Now()
			res := validate(t, &Validator{OCSPTimeout: timeout}, time.Time{}, leaf, root)
			elapsed := time.Since(start)
			wantCert(t, res[0], Unknown, MethodOCSP, ErrTimeout)
			if elapsed < timeout || elapsed > timeout+2*time.Second {
				t.Errorf("the check took %s with a timeout of %s", elapsed, timeout)
			}
		})
	}
}

// TestOCSPRequestMethod: GET while the escaped base64 request is shorter
// than 255 characters, else POST of application/ocsp-request (REV-4).
func TestOCSPRequestMethod(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	leaf := newLeaf(t, "leaf", root, nil)
	real, err := ocsp.CreateRequest(leaf.Cert, root.Cert, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		server     string
		der        []byte
		wantMethod string
		wantPrefix string
	}{
		{"real request", "http://ocsp.example.com", real, http.MethodGet, "http://ocsp.example.com/"},
		{"server with a path and a slash", "http://ocsp.example.com/ocsp/", real, http.MethodGet, "http://ocsp.example.com/ocsp/"},
		{"254 escaped characters", "http://ocsp.example.com", make([]byte, 188), http.MethodGet, "http://ocsp.example.com/"},
		{"260 escaped characters", "http://ocsp.example.com", make([]byte, 190), http.MethodPost, "http://ocsp.example.com"},
		{"large request", "http://ocsp.example.com/x", make([]byte, 1000), http.MethodPost, "http://ocsp.example.com/x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := checkHTTPURL(tc.server)
			if err != nil {
				t.Fatal(err)
			}
			req, err := newOCSPRequest(context.Background(), u, tc.der)
			if err != nil {
				t.Fatal(err)
			}
			if req.Method != tc.wantMethod || !strings.HasPrefix(req.URL.String(), tc.wantPrefix) {
				t.Fatalf("%s %s, want %s %s...", req.Method, req.URL, tc.wantMethod, tc.wantPrefix)
			}
			var got []byte
			if req.Method == http.MethodGet {
				if len(req.URL.EscapedPath())-len(u.EscapedPath()) > maxGETRequestChars {
					t.Errorf("GET path %q is too long", req.URL.EscapedPath())
				}
				got, err = decodeGETRequest(req.URL.EscapedPath())
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if ct := req.Header.Get("Content-Type"); ct != "application/ocsp-request" {
					t.Errorf("Content-Type %q", ct)
				}
				got, _ = io.ReadAll(req.Body)
			}
			if !bytes.Equal(got, tc.der) {
				t.Errorf("the request does not carry the DER request")
			}
		})
	}
}
