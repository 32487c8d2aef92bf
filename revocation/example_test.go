package revocation_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/revocation"
)

// A leaf whose issuer publishes a CRL listing it, checked with a CRL file
// cache, as the CLI would set it up under its cache directory.
func ExampleValidator_ValidateChain() {
	root, _ := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("root"), IsCA: true}, nil)
	var crl []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(crl) }))
	defer srv.Close()
	leaf, _ := testpki.IssueErr(testpki.Cert{Subject: testpki.Name("signer"), Modify: func(c *x509.Certificate) {
		c.CRLDistributionPoints = []string{srv.URL + "/root.crl"}
	}}, root)
	crl, _ = x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{
			{SerialNumber: leaf.Cert.SerialNumber, RevocationTime: time.Now().Add(-time.Minute), ReasonCode: 1},
		},
	}, root.Cert, root.Key)

	cacheDir, _ := os.MkdirTemp("", "signet-cache")
	defer os.RemoveAll(cacheDir)
	v := &revocation.Validator{
		Cache:     &revocation.FileCache{Dir: filepath.Join(cacheDir, "crl")},
		OCSPCache: &revocation.OCSPCache{},
	}
	results, err := v.ValidateChain(context.Background(), []*x509.Certificate{leaf.Cert, root.Cert}, revocation.CodeSigning, time.Time{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range results {
		fmt.Println(r.Result, r.Method)
	}
	fmt.Println("chain:", revocation.Summarize(results))
	// Output:
	// revoked crl
	// nonRevokable none
	// chain: revoked
}
