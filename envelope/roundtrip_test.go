package envelope_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/cose"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/envelope/jws"
	"github.com/signet-dev/signet/signature"
)

var formats = []envelope.Format{jws.Format{}, cose.Format{}}

// TestRoundTrip signs and opens with all six algorithms in both formats
// (ALG-1), with expiry, extended attributes and the SA scheme.
func TestRoundTrip(t *testing.T) {
	for _, ks := range signature.KeySpecs {
		s, _ := envtest.NewSigner(t, ks)
		for _, f := range formats {
			t.Run(f.MediaType()+"/"+ks.String(), func(t *testing.T) {
				for _, scheme := range []signature.SigningScheme{signature.SchemeX509, signature.SchemeX509SigningAuthority} {
					req := envtest.Request(s)
					req.SigningScheme = scheme
					req.Expiry = req.SigningTime.Add(time.Hour)
					req.ExtendedSignedAttributes = []signature.Attribute{
						{Key: signature.HeaderVerificationPlugin, Critical: true, Value: "com.example.plugin"},
						{Key: "com.example.info", Value: "x"},
					}
					raw, err := envelope.Sign(context.Background(), f, req)
					if err != nil {
						t.Fatalf("%s: sign: %v", scheme, err)
					}
					c, err := envelope.Open(f, raw)
					if err != nil {
						t.Fatalf("%s: open: %v", scheme, err)
					}
					if c.Algorithm != ks.Algorithm() {
						t.Errorf("algorithm %s, want %s", c.Algorithm, ks.Algorithm())
					}
					if c.Signed.SigningScheme != scheme || !c.Signed.SigningTime.Equal(req.SigningTime) || !c.Signed.Expiry.Equal(req.Expiry) {
						t.Errorf("signed attributes %+v do not match the request", c.Signed)
					}
					if c.PayloadContentType != signature.MediaTypePayloadV1 {
						t.Errorf("content type %q", c.PayloadContentType)
					}
					if len(c.CertificateChain) != 3 || !c.CertificateChain[0].Equal(s.Chain[0]) {
						t.Errorf("chain not returned leaf first")
					}
					if c.Unsigned.SigningAgent != req.SigningAgent {
						t.Errorf("signing agent %q", c.Unsigned.SigningAgent)
					}
					p, err := signature.ParsePayload(c.Payload)
					if err != nil {
						t.Fatal(err)
					}
					if p.TargetArtifact.Size != 16724 {
						t.Errorf("payload size %d", p.TargetArtifact.Size)
					}
					if f.MediaType() == signature.MediaTypeCOSE && !bytes.Equal(c.Payload, req.Payload) {
						t.Errorf("COSE payload changed")
					}
					if len(c.Signed.ExtendedAttributes) != 2 {
						t.Fatalf("extended attributes %+v", c.Signed.ExtendedAttributes)
					}
				}
			})
		}
	}
}
