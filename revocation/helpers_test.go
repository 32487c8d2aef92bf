package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/signet-dev/signet/internal/testpki"
)

// validate runs v over chain (leaf first) and fails the test on an error.
func validate(t testing.TB, v *Validator, signingTime time.Time, chain ...*testpki.Issued) []CertResult {
	t.Helper()
	certs := make([]*x509.Certificate, len(chain))
	for i, c := range chain {
		certs[i] = c.Cert
	}
	res, err := v.ValidateChain(context.Background(), certs, CodeSigning, signingTime)
	if err != nil {
		t.Fatalf("ValidateChain: %v", err)
	}
	if len(res) != len(chain) {
		t.Fatalf("got %d results for %d certificates", len(res), len(chain))
	}
	last := res[len(res)-1]
	if last.Result != NonRevokable || last.Method != MethodNone {
		t.Errorf("root result = %s/%s, want nonRevokable/none", last.Result, last.Method)
	}
	return res
}

// wantCert checks one certificate's result. errIs nil means Err must be
// nil; otherwise errors.Is(Err, errIs) must hold.
func wantCert(t testing.TB, got CertResult, result Result, method Method, errIs error) {
	t.Helper()
	if got.Result != result || got.Method != method {
		t.Errorf("%s: result %s by %s, want %s by %s\nreason: %s\nerr: %v", got.Subject, got.Result, got.Method, result, method, got.Reason, got.Err)
	}
	switch {
	case errIs == nil && got.Err != nil:
		t.Errorf("%s: unexpected error %v", got.Subject, got.Err)
	case errIs != nil && !errors.Is(got.Err, errIs):
		t.Errorf("%s: error %v, want one wrapping %q", got.Subject, got.Err, errIs)
	}
	if (got.Result == Unknown) != (got.Err != nil) {
		t.Errorf("%s: Err must be set exactly when the result is unknown: %s, %v", got.Subject, got.Result, got.Err)
	}
	if got.Reason == "" {
		t.Errorf("%s: empty reason", got.Subject)
	}
}

// serverErrors lists the *ServerError values inside err (errors.Join
// trees included).
func serverErrors(err error) []*ServerError {
	var out []*ServerError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if se, ok := e.(*ServerError); ok {
			out = append(out, se)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// logBuffer is a slog handler target safe for concurrent writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger(buf *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// ---- Go-made OCSP and CRL answers, for faults openssl cannot make ----

// ocspDouble is an OCSP responder test double: it answers every request
// with answer(request), or sleeps first. It counts requests.
type ocspDouble struct {
	*httptest.Server
	hits atomic.Int32
}

func newOCSPDouble(t testing.TB, answer func(w http.ResponseWriter, req *ocsp.Request)) *ocspDouble {
	t.Helper()
	d := &ocspDouble{}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		var der []byte
		switch r.Method {
		case http.MethodGet:
			var err error
			if der, err = decodeGETRequest(r.URL.EscapedPath()); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		case http.MethodPost:
			buf := new(bytes.Buffer)
			_, _ = buf.ReadFrom(http.MaxBytesReader(w, r.Body, 1<<16))
			der = buf.Bytes()
		}
		req, err := ocsp.ParseRequest(der)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		answer(w, req)
	}))
	t.Cleanup(d.Close)
	return d
}

// ocspAnswerFrom makes a signed OCSP response for req.
func ocspAnswerFrom(t testing.TB, signer, issuer *testpki.Issued, embed bool, tmpl ocsp.Response, req *ocsp.Request) []byte {
	t.Helper()
	tmpl.SerialNumber = req.SerialNumber
	if tmpl.ThisUpdate.IsZero() {
		tmpl.ThisUpdate = time.Now().Add(-time.Minute)
	}
	if embed {
		tmpl.Certificate = signer.Cert
	}
	der, err := ocsp.CreateResponse(issuer.Cert, signer.Cert, tmpl, signer.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// invalidityExt is an invalidityDate extension.
func invalidityExt(t testing.TB, at time.Time) pkix.Extension {
	t.Helper()
	v, err := asn1.MarshalWithParams(at.UTC(), "generalized")
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidInvalidityDate, Value: v}
}

// goCRL makes a CRL with the standard library, for the shapes openssl ca
// cannot make (delta CRLs, removeFromCRL).
func goCRL(t testing.TB, issuer *testpki.Issued, number int64, thisUpdate, nextUpdate time.Time, entries []x509.RevocationListEntry, exts ...pkix.Extension) []byte {
	t.Helper()
	der, err := x509.CreateRevocationList(nil, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
		ExtraExtensions:           exts,
	}, issuer.Cert, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// deltaIndicator is a critical delta CRL indicator naming base number n.
func deltaIndicator(t testing.TB, n int64) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(big.NewInt(n))
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidDeltaCRLIndicator, Critical: true, Value: v}
}

// freshestCRLExt is a freshestCRL extension naming uris.
func freshestCRLExt(t testing.TB, uris ...string) pkix.Extension {
	t.Helper()
	type dpName struct {
		FullName []asn1.RawValue `asn1:"optional,tag:0"`
	}
	type dp struct {
		Name dpName `asn1:"optional,tag:0"`
	}
	var names []asn1.RawValue
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)})
	}
	v, err := asn1.Marshal([]dp{{Name: dpName{FullName: names}}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidFreshestCRL, Value: v}
}

func decodeGETRequest(escapedPath string) ([]byte, error) {
	i := strings.LastIndexByte(escapedPath, '/')
	return decodeBase64Escaped(escapedPath[i+1:])
}

func decodeBase64Escaped(s string) ([]byte, error) {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(u)
}
