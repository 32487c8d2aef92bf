package graph

import (
	"context"
	"crypto/x509"
	"testing"

	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testtsa"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/timestamp"
)

// TestSignatureCertificatesIncludeTSA: the certificates whose revocation
// evidence an export collects are the signing chain and the timestamp
// token's TSA chain (openssl ts as the TSA).
func TestSignatureCertificatesIncludeTSA(t *testing.T) {
	ctx := context.Background()
	tsa := testtsa.Start(t)
	store, err := oci.NewWithContext(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := testregistry.PushImage(t, store, "app", "v1")
	chain := testpki.NewChain(t, "ec-256")
	s, err := signer.NewLocal(chain.Leaf.Key, chain.Certs())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := signet.SignOCI(ctx, store, "v1", signet.SignOCIOptions{SignOptions: signet.SignOptions{
		Signer: s, Timestamper: &timestamp.HTTPTimestamper{URL: tsa.URL}, TSARoots: []*x509.Certificate{tsa.Root},
	}})
	if err != nil {
		t.Fatal(err)
	}
	certs, err := signatureCertificates(ctx, store, signed.Manifest, img)
	if err != nil {
		t.Fatal(err)
	}
	has := func(want *x509.Certificate) bool {
		for _, c := range certs {
			if c.Equal(want) {
				return true
			}
		}
		return false
	}
	for name, c := range map[string]*x509.Certificate{"leaf": chain.Leaf.Cert, "intermediate": chain.Intermediate.Cert, "TSA": tsa.Leaf, "TSA root": tsa.Root} {
		if !has(c) {
			t.Errorf("the %s certificate is missing", name)
		}
	}
}
