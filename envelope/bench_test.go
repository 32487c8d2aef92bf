package envelope_test

import (
	"context"
	"testing"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/signature"
)

var benchSpecs = []signature.KeySpec{signature.KeySpecRSA3072, signature.KeySpecEC256}

func BenchmarkSign(b *testing.B) {
	for _, f := range formats {
		for _, ks := range benchSpecs {
			b.Run(f.MediaType()+"/"+ks.String(), func(b *testing.B) {
				s, _ := envtest.NewSigner(b, ks)
				req := envtest.Request(s)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := envelope.Sign(context.Background(), f, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, f := range formats {
		for _, ks := range benchSpecs {
			b.Run(f.MediaType()+"/"+ks.String(), func(b *testing.B) {
				s, _ := envtest.NewSigner(b, ks)
				raw, err := envelope.Sign(context.Background(), f, envtest.Request(s))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(raw)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := envelope.Open(f, raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
