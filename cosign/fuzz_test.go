package cosign

import (
	"crypto"
	"errors"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testcosign"
)

// FuzzParseBundle feeds arbitrary bytes to the boundary where signet hands
// a registry's bundle to the parser and verifier: parsing and verifying must return an
// error, never panic, and whatever verifies under the test key must name
// the digests it covers.
func FuzzParseBundle(f *testing.F) {
	k := newKey(f, "")
	keys := []crypto.PublicKey{k.GetPublicKey()}
	f.Add(bundleFor(f, k, statement(testDigest, PredicateTypeSign)))
	f.Add(bundleFor(f, k, statement(testDigest, "https://slsa.dev/provenance/v1")))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"x"},"tlogEntries":[{"logIndex":"1","logId":{"keyId":"AA=="},"kindVersion":{"kind":"dsse","version":"0.0.1"},"integratedTime":"1","canonicalizedBody":"e30="}]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AA=="}]}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseBundle(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parse error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		_ = s.HasTlogEntry()
		_ = s.Keyless()
		signed, err := s.Verify(keys)
		if err == nil && len(signed.Digests) == 0 {
			t.Fatal("a verified bundle names no digest")
		}
		if err == nil && s.HasTlogEntry() {
			_, _ = s.VerifyTlog(keys[0], keys)
		}
	})
}

// FuzzParseSimpleSigning is FuzzParseBundle for the legacy form: the
// payload, its signature annotation and the Rekor bundle annotation.
func FuzzParseSimpleSigning(f *testing.F) {
	k := newKey(f, "")
	keys := []crypto.PublicKey{k.GetPublicKey()}
	payload := simplePayload(testDigest)
	sig := signPayload(f, k, payload)
	f.Add(payload, sig, "")
	f.Add(payload, sig, testcosign.NewRekor(f).Annotation(f, payload, sig, k.GetPublicKey(), time.Unix(1764800000, 0)))
	f.Add(payload, signPayload(f, k, payload), `{"SignedEntryTimestamp":"AA==","Payload":{"body":"eyJraW5kIjoiaGFzaGVkcmVrb3JkIiwiYXBpVmVyc2lvbiI6IjAuMC4xIn0=","integratedTime":1,"logIndex":1,"logID":"00"}}`)
	f.Add([]byte(`{"critical":{"type":"cosign container image signature"}}`), "AA==", "")
	f.Add([]byte(`null`), signPayload(f, k, []byte(`null`)), "")
	f.Fuzz(func(t *testing.T, payload []byte, sig, rekor string) {
		s, err := ParseSimpleSigning(payload, sig, rekor)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("parse error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		signed, err := s.Verify(keys)
		if err == nil && (len(signed.Digests) != 1 || signed.Digests[0] == "") {
			t.Fatalf("a verified payload names digests %v", signed.Digests)
		}
		if err == nil && s.HasTlogEntry() {
			_, _ = s.VerifyTlog(keys[0], keys)
		}
	})
}
