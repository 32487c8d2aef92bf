// Package envtest holds test helpers for the envelope packages: a signer
// over a test PKI key and builders that sign hand-crafted JWS and COSE
// envelopes, so tests can hit each decoding rule with content whose
// signature is valid.
package envtest

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// Signer is a signature.Signer over an in-memory key.
type Signer struct {
	Key   crypto.Signer
	Chain []*x509.Certificate
	Spec  signature.KeySpec
	// Calls counts Sign calls.
	Calls int
}

var _ signature.Signer = (*Signer)(nil)

// Sign signs message with the algorithm bound to Spec.
func (s *Signer) Sign(_ context.Context, message []byte) ([]byte, error) {
	s.Calls++
	return signature.SignMessage(s.Spec.Algorithm(), s.Key, message)
}

// KeySpec returns Spec.
func (s *Signer) KeySpec(context.Context) (signature.KeySpec, error) { return s.Spec, nil }

// CertificateChain returns Chain.
func (s *Signer) CertificateChain(context.Context) ([]*x509.Certificate, error) {
	return s.Chain, nil
}

// KeyTypes maps each of the six key specs to its testpki key type.
var KeyTypes = map[signature.KeySpec]testpki.KeyType{
	signature.KeySpecRSA2048: "rsa-2048",
	signature.KeySpecRSA3072: "rsa-3072",
	signature.KeySpecRSA4096: "rsa-4096",
	signature.KeySpecEC256:   "ec-256",
	signature.KeySpecEC384:   "ec-384",
	signature.KeySpecEC521:   "ec-521",
}

// NewSigner issues a root → intermediate → leaf chain with a leaf key of
// spec ks and returns a signer over it.
func NewSigner(t testing.TB, ks signature.KeySpec) (*Signer, *testpki.Chain) {
	t.Helper()
	ch := testpki.NewChain(t, KeyTypes[ks])
	return &Signer{Key: ch.Leaf.Key, Chain: ch.Certs(), Spec: ks}, ch
}

// Payload returns a valid payload for a fixed manifest descriptor.
func Payload() []byte {
	return []byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333","size":16724,"annotations":{"io.wabbit-networks.buildId":"123"}}}`)
}

// Now returns the current time truncated to seconds, as signers must use.
func Now() time.Time { return time.Now().Truncate(time.Second) }

// Request returns a notary.x509 sign request over Payload with signing time
// Now and the given signer.
func Request(s signature.Signer) *signature.SignRequest {
	return &signature.SignRequest{
		Payload:      Payload(),
		Signer:       s,
		SigningTime:  Now(),
		SigningAgent: "signet-test/0.0.1",
	}
}

// B64 is unpadded base64url.
func B64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWS assembles a flattened JWS from protected and payload (given already
// encoded, so tests can craft bad encodings) and an unprotected header,
// signing ASCII(protected "." payload) with key under alg.
func JWS(t testing.TB, key crypto.Signer, alg signature.Algorithm, protected, payload string, header any) []byte {
	t.Helper()
	sig, err := signature.SignMessage(alg, key, []byte(protected+"."+payload))
	if err != nil {
		t.Fatal(err)
	}
	return JWSWithSignature(t, protected, payload, header, B64(sig))
}

// JWSWithSignature assembles a flattened JWS with the given signature string.
func JWSWithSignature(t testing.TB, protected, payload string, header any, sig string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"protected": protected, "payload": payload, "header": header, "signature": sig})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// X5C returns the standard-base64 x5c array for certs.
func X5C(certs []*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return out
}

// ProtectedJWS returns a valid notary.x509 JWS protected header for alg at
// signing time t, as a map tests can edit before encoding with JSON.
func ProtectedJWS(alg signature.Algorithm, t time.Time) map[string]any {
	return map[string]any{
		"alg":                         alg.JWSName(),
		"cty":                         signature.MediaTypePayloadV1,
		"crit":                        []string{signature.HeaderSigningScheme},
		signature.HeaderSigningScheme: string(signature.SchemeX509),
		signature.HeaderSigningTime:   t.Format(time.RFC3339),
	}
}

// MustJSON marshals v.
func MustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// COSEAlg is the COSE algorithm identifier of alg.
func COSEAlg(alg signature.Algorithm) int64 {
	return map[signature.Algorithm]int64{
		signature.AlgorithmPS256: -37, signature.AlgorithmPS384: -38, signature.AlgorithmPS512: -39,
		signature.AlgorithmES256: -7, signature.AlgorithmES384: -35, signature.AlgorithmES512: -36,
	}[alg]
}

// ProtectedCOSE returns a valid notary.x509 protected header map for alg
// at signing time t; times are CBOR tag 1.
func ProtectedCOSE(alg signature.Algorithm, t time.Time) map[any]any {
	return map[any]any{
		int64(1):                      COSEAlg(alg),
		int64(2):                      []any{signature.HeaderSigningScheme},
		int64(3):                      signature.MediaTypePayloadV1,
		signature.HeaderSigningScheme: string(signature.SchemeX509),
		signature.HeaderSigningTime:   cbor.Tag{Number: 1, Content: t.Unix()},
	}
}

// UnprotectedCOSE returns an unprotected header with x5chain for certs.
func UnprotectedCOSE(certs []*x509.Certificate) map[any]any {
	chain := make([]any, len(certs))
	for i, c := range certs {
		chain[i] = c.Raw
	}
	return map[any]any{int64(33): chain, signature.HeaderSigningAgent: "signet-test/0.0.1"}
}

// MustCBOR encodes v with core deterministic ordering.
func MustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	em, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// COSE assembles a COSE_Sign1 message from an encoded protected map, an
// encoded unprotected map and a payload, signing the Sig_structure with
// key under alg. tagged selects COSE_Sign1_Tagged (tag 18).
func COSE(t testing.TB, key crypto.Signer, alg signature.Algorithm, protectedMap, unprotectedMap, payload []byte, tagged bool) []byte {
	t.Helper()
	tbs := MustCBOR(t, []any{"Signature1", protectedMap, []byte{}, payload})
	sig, err := signature.SignMessage(alg, key, tbs)
	if err != nil {
		t.Fatal(err)
	}
	return COSEWithSignature(t, protectedMap, unprotectedMap, payload, sig, tagged)
}

// COSEWithSignature assembles a COSE_Sign1 message with the given signature.
func COSEWithSignature(t testing.TB, protectedMap, unprotectedMap, payload, sig []byte, tagged bool) []byte {
	t.Helper()
	arr := []any{protectedMap, cbor.RawMessage(unprotectedMap), payload, sig}
	var v any = arr
	if tagged {
		v = cbor.Tag{Number: 18, Content: arr}
	}
	return MustCBOR(t, v)
}
