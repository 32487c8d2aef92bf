package interop

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

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// TestRevocationInterop (issue 5): the same CRL cases through notation
// v1.3.2 and signet give the same verdicts. The CRL is issued by the
// intermediate and served over loopback HTTP.
func TestRevocationInterop(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("rev root"), IsCA: true}, nil)
	inter := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("rev intermediate"), IsCA: true, KeyType: "ec-384"}, root)

	var revoked atomic.Pointer[[]byte] // the CRL currently served
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/pkix-crl")
		rw.Write(*revoked.Load())
	}))
	t.Cleanup(srv.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/crl"
	dead.Close()

	leaf := func(name, cdp string) *testpki.Issued {
		return testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name), KeyType: "ec-256", Key: testpki.Key(t, "ec-256", true),
			Modify: func(c *x509.Certificate) { c.CRLDistributionPoints = []string{cdp} }}, inter)
	}
	good, bad, lost := leaf("good", srv.URL+"/crl"), leaf("bad", srv.URL+"/crl"), leaf("lost", deadURL)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: bad.Cert.SerialNumber, RevocationTime: time.Now().Add(-time.Hour), ReasonCode: 1}},
	}, inter.Cert, inter.Key)
	if err != nil {
		t.Fatal(err)
	}
	revoked.Store(&crl)

	dir := t.TempDir()
	must(t, w.Notation("cert", "add", "--type", "ca", "--store", "rev", writeFile(t, dir, "root.pem", testpki.CertsPEM(root.Cert))), "notation cert add")
	for _, k := range []*testpki.Issued{good, bad, lost} {
		name := k.Cert.Subject.CommonName
		must(t, w.Signet("key", "add", "--key-file", writeFile(t, dir, name+".key", testpki.KeyPEM(t, k.Key)),
			"--cert-file", writeFile(t, dir, name+".crt", testpki.CertsPEM(k.Cert, inter.Cert, root.Cert)), name), "signet key add")
	}

	for _, tc := range []struct {
		key, level string
		trusted    bool
		signet     string // what signet's output must say
	}{
		{"good", "strict", true, "revocation: CN=good ok (crl)"},
		{"bad", "strict", false, "is revoked"},
		{"bad", "permissive", true, "Warning: revocation"},
		{"lost", "strict", false, "unknown"},
		{"lost", "permissive", true, "Warning: revocation"},
	} {
		t.Run(tc.key+"/"+tc.level, func(t *testing.T) {
			w.ociPolicy(scope, []string{"ca:rev"}, []string{"*"}, tc.level, nil)
			layout, dg := newLayout(t)
			ref := layout + "@" + dg.String()
			if r := w.Signet("sign", "--oci-layout", "--key", tc.key, ref); tc.key == "bad" {
				// signet refuses to sign with a revoked certificate: sign with notation.
				if r.code == 0 || !strings.Contains(r.stderr, "revoked") {
					t.Fatalf("signet signed with a revoked certificate: %s", r)
				}
				must(t, w.Notation("sign", "--oci-layout", "--key", tc.key, ref), "notation sign")
			} else if r.code != 0 {
				t.Fatalf("signet sign: %s", r)
			}
			n := w.Notation("verify", "--oci-layout", "--scope", scope, ref)
			s := w.Signet("verify", "--oci-layout", "--scope", scope, ref)
			if (n.code == 0) != tc.trusted {
				t.Errorf("notation: trusted=%v, want %v: %s", n.code == 0, tc.trusted, n)
			}
			if (s.code == 0) != tc.trusted || !strings.Contains(s.stdout+s.stderr, tc.signet) {
				t.Errorf("signet: trusted=%v, want %v, output naming %q: %s", s.code == 0, tc.trusted, tc.signet, s)
			}
		})
	}
}
