package revocation

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// TestValidUntil: a result carries the nextUpdate of the evidence that
// decided it (OCSP response; the earliest of the CRLs read), so a caller
// that keeps the verdict (the admission webhook's cache) can drop it then.
func TestValidUntil(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	next := time.Now().Add(90 * time.Minute).Truncate(time.Second)
	d := newOCSPDouble(t, func(w http.ResponseWriter, req *ocsp.Request) {
		_, _ = w.Write(ocspAnswerFrom(t, root, root, false, ocsp.Response{Status: ocsp.Good, NextUpdate: next}, req))
	})
	res := validate(t, &Validator{}, time.Time{}, newLeaf(t, "ocsp-leaf", root, urls([]string{d.URL})), root)
	if !res[0].ValidUntil.Equal(next) {
		t.Fatalf("OCSP: ValidUntil %s, want %s", res[0].ValidUntil, next)
	}
	if !res[1].ValidUntil.IsZero() {
		t.Fatalf("root: ValidUntil %s, want zero", res[1].ValidUntil)
	}

	now := time.Now()
	early, late := now.Add(20*time.Minute).Truncate(time.Second), now.Add(3*time.Hour).Truncate(time.Second)
	crls := map[string][]byte{
		"/a.crl": goCRL(t, root, 1, now.Add(-time.Minute), late, nil),
		"/b.crl": goCRL(t, root, 2, now.Add(-time.Minute), early, nil),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(crls[r.URL.Path]) }))
	t.Cleanup(srv.Close)
	res = validate(t, &Validator{}, time.Time{}, newLeaf(t, "crl-leaf", root, urls(nil, srv.URL+"/a.crl", srv.URL+"/b.crl")), root)
	if res[0].Result != OK || !res[0].ValidUntil.Equal(early) {
		t.Fatalf("CRL: %s, ValidUntil %s, want ok until %s (%s)", res[0].Result, res[0].ValidUntil, early, res[0].Reason)
	}
}
