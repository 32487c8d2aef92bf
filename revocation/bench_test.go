package revocation

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// BenchmarkValidateChain checks leaf → intermediate → root against real
// peers on loopback: `openssl ocsp` responders for both non-root
// certificates, or `openssl ca -gencrl` CRLs from an httptest server.
// "cold" asks every time (a new HTTP client per call, as the zero Validator
// does); "warm" reuses the OCSP cache or the CRL file cache.
func BenchmarkValidateChain(b *testing.B) {
	root := newCA(b, "root", nil, nil)
	var inter, leaf *testpki.Issued
	srv := newCRLServer(b)
	startOCSP(b, root, ocspOptions{}, func(url string) []indexEntry {
		inter = newCA(b, "intermediate", root, urls([]string{url}, srv.URL+"/root.crl"))
		return []indexEntry{good(inter)}
	})
	startOCSP(b, inter, ocspOptions{}, func(url string) []indexEntry {
		leaf = newLeaf(b, "leaf", inter, urls([]string{url}, srv.URL+"/inter.crl"))
		return []indexEntry{good(leaf)}
	})
	crlLeaf := newLeaf(b, "crl leaf", inter, urls(nil, srv.URL+"/inter.crl"))
	crlInter := newCA(b, "crl intermediate", root, urls(nil, srv.URL+"/root.crl"))
	crlLeaf2 := newLeaf(b, "crl leaf", crlInter, urls(nil, srv.URL+"/inter2.crl"))
	for _, x := range []struct {
		ca   *testpki.Issued
		path string
		good []*testpki.Issued
	}{{root, "/root.crl", []*testpki.Issued{inter, crlInter}}, {inter, "/inter.crl", []*testpki.Issued{leaf, crlLeaf}}, {crlInter, "/inter2.crl", []*testpki.Issued{crlLeaf2}}} {
		c := newOpenSSLCA(b, x.ca)
		var entries []indexEntry
		for _, g := range x.good {
			entries = append(entries, good(g))
		}
		c.writeIndex(b, entries...)
		srv.put(x.path, c.genCRL(b, crlOptions{}))
	}
	ocspChain := []*x509.Certificate{leaf.Cert, inter.Cert, root.Cert}
	crlChain := []*x509.Certificate{crlLeaf2.Cert, crlInter.Cert, root.Cert}
	run := func(b *testing.B, v *Validator, chain []*x509.Certificate, want Method) {
		for b.Loop() {
			res, err := v.ValidateChain(context.Background(), chain, CodeSigning, time.Time{})
			if err != nil || Summarize(res) != OK || res[0].Method != want {
				b.Fatalf("%v %v", res, err)
			}
		}
	}
	b.Run("ocsp/cold", func(b *testing.B) { run(b, &Validator{}, ocspChain, MethodOCSP) })
	b.Run("ocsp/warm", func(b *testing.B) { run(b, &Validator{OCSPCache: &OCSPCache{}}, ocspChain, MethodOCSP) })
	b.Run("crl/cold", func(b *testing.B) { run(b, &Validator{}, crlChain, MethodCRL) })
	b.Run("crl/warm", func(b *testing.B) { run(b, &Validator{Cache: &FileCache{Dir: b.TempDir()}}, crlChain, MethodCRL) })
}
