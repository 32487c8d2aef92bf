package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

const testDigest = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// testKey is a signing key as cosign holds one.
type testKey struct {
	sv signature.SignerVerifier
}

func (k testKey) GetPublicKey() crypto.PublicKey {
	pub, _ := k.sv.PublicKey()
	return pub
}

// newKey makes a key of the given type: ecdsa-p256 (what `cosign
// generate-key-pair` makes; also ""), ecdsa-p384, rsa-3072 or ed25519.
func newKey(t testing.TB, alg string) testKey {
	t.Helper()
	var priv crypto.PrivateKey
	var err error
	switch alg {
	case "", "ecdsa-p256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa-p384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "rsa-3072":
		priv, err = rsa.GenerateKey(rand.Reader, 3072)
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("unknown key type %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{sv: sv}
}

func (k testKey) sign(t testing.TB, data []byte) []byte {
	t.Helper()
	sig, err := k.sv.SignMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// statement is the in-toto statement `cosign sign` writes for digest.
func statement(digest, predicateType string) []byte {
	alg, h, _ := strings.Cut(digest, ":")
	b, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"digest": map[string]string{alg: h}}},
		"predicateType": predicateType,
		"predicate":     map[string]any{},
	})
	return b
}

// bundleFor signs stmt with k into a DSSE envelope and wraps it in a
// key-based sigstore bundle v0.3, the shape cosign v3 writes.
func bundleFor(t testing.TB, k testKey, stmt []byte) []byte {
	t.Helper()
	const payloadType = "application/vnd.in-toto+json"
	sig := k.sign(t, dsse.PAE(payloadType, stmt))
	pb := &protobundle.Bundle{
		MediaType: MediaTypeBundle,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: "test"}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload:     stmt,
			PayloadType: payloadType,
			Signatures:  []*protodsse.Signature{{Sig: sig}},
		}},
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// simplePayload is the simple-signing payload cosign v2 writes.
func simplePayload(digest string) []byte {
	return []byte(`{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"` + digest + `"},"type":"cosign container image signature"},"optional":null}`)
}

func signPayload(t testing.TB, k testKey, payload []byte) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(k.sign(t, payload))
}

func TestBundleVerify(t *testing.T) {
	kp := newKey(t, "")
	other := newKey(t, "")
	good := bundleFor(t, kp, statement(testDigest, PredicateTypeSign))

	s, err := ParseBundle(good)
	if err != nil {
		t.Fatal(err)
	}
	if s.Format != FormatBundle || s.HasTlogEntry() || s.Keyless() {
		t.Fatalf("format %q, tlog %v, keyless %v", s.Format, s.HasTlogEntry(), s.Keyless())
	}
	signed, err := s.Verify([]crypto.PublicKey{other.GetPublicKey(), kp.GetPublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	if signed.KeyIndex != 1 || len(signed.Digests) != 1 || signed.Digests[0] != testDigest || signed.PredicateType != PredicateTypeSign {
		t.Fatalf("signed = %+v", signed)
	}
	if _, err := s.Verify([]crypto.PublicKey{other.GetPublicKey()}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("verify under another key: %v, want ErrNoKey", err)
	}
}

func TestBundleRefused(t *testing.T) {
	kp := newKey(t, "")
	good := bundleFor(t, kp, statement(testDigest, PredicateTypeSign))
	var env map[string]any
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	tampered := func(edit func(dsse map[string]any)) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		edit(m["dsseEnvelope"].(map[string]any))
		b, _ := json.Marshal(m)
		return b
	}
	otherDigest := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name      string
		data      []byte
		parseErr  bool
		verifyErr error
	}{
		{name: "payload swapped for another digest", data: tampered(func(d map[string]any) {
			d["payload"] = base64.StdEncoding.EncodeToString(statement(otherDigest, PredicateTypeSign))
		}), verifyErr: ErrNoKey},
		{name: "signature flipped", data: tampered(func(d map[string]any) {
			sigs := d["signatures"].([]any)
			sig := sigs[0].(map[string]any)
			raw, _ := base64.StdEncoding.DecodeString(sig["sig"].(string))
			raw[len(raw)-1] ^= 1
			sig["sig"] = base64.StdEncoding.EncodeToString(raw)
		}), verifyErr: ErrNoKey},
		{name: "attestation, not a signature", data: bundleFor(t, kp, statement(testDigest, "https://slsa.dev/provenance/v1")), verifyErr: ErrInvalid},
		{name: "not JSON", data: []byte("{"), parseErr: true},
		{name: "empty object", data: []byte("{}"), parseErr: true},
		{name: "too large", data: make([]byte, MaxBundleBytes+1), parseErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseBundle(tc.data)
			if tc.parseErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("parse: %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Verify([]crypto.PublicKey{kp.GetPublicKey()}); !errors.Is(err, tc.verifyErr) {
				t.Fatalf("verify: %v, want %v", err, tc.verifyErr)
			}
		})
	}
}

func TestSimpleSigning(t *testing.T) {
	for _, alg := range []string{"ecdsa-p256", "ecdsa-p384", "rsa-3072", "ed25519"} {
		t.Run(alg, func(t *testing.T) {
			kp := newKey(t, alg)
			payload := simplePayload(testDigest)
			s, err := ParseSimpleSigning(payload, signPayload(t, kp, payload), "")
			if err != nil {
				t.Fatal(err)
			}
			signed, err := s.Verify([]crypto.PublicKey{kp.GetPublicKey()})
			if err != nil {
				t.Fatal(err)
			}
			if len(signed.Digests) != 1 || signed.Digests[0] != testDigest || signed.DockerReference != "registry.example/app" {
				t.Fatalf("signed = %+v", signed)
			}
			if _, err := s.Verify([]crypto.PublicKey{newKey(t, alg).GetPublicKey()}); !errors.Is(err, ErrNoKey) {
				t.Fatalf("another key: %v, want ErrNoKey", err)
			}
		})
	}
}

func TestSimpleSigningRefused(t *testing.T) {
	kp := newKey(t, "")
	payload := simplePayload(testDigest)
	sig := signPayload(t, kp, payload)
	tests := []struct {
		name      string
		payload   []byte
		sig       string
		rekor     string
		parseErr  bool
		verifyErr error
	}{
		{name: "payload edited after signing", payload: simplePayload("sha256:" + strings.Repeat("cd", 32)), sig: sig, verifyErr: ErrNoKey},
		{name: "signed payload of another type", payload: []byte(`{"critical":{"type":"atomic container signature"}}`),
			sig: signPayload(t, kp, []byte(`{"critical":{"type":"atomic container signature"}}`)), verifyErr: ErrInvalid},
		{name: "no signature annotation", payload: payload, parseErr: true},
		{name: "signature not base64", payload: payload, sig: "!!", parseErr: true},
		{name: "rekor bundle not JSON", payload: payload, sig: sig, rekor: "{", parseErr: true},
		{name: "rekor bundle without body", payload: payload, sig: sig, rekor: `{"SignedEntryTimestamp":"AA==","Payload":{"logID":"00"}}`, parseErr: true},
		{name: "payload too large", payload: make([]byte, MaxPayloadBytes+1), sig: sig, parseErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSimpleSigning(tc.payload, tc.sig, tc.rekor)
			if tc.parseErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("parse: %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Verify([]crypto.PublicKey{kp.GetPublicKey()}); !errors.Is(err, tc.verifyErr) {
				t.Fatalf("verify: %v, want %v", err, tc.verifyErr)
			}
		})
	}
}

func TestVerifyTlogAbsent(t *testing.T) {
	kp := newKey(t, "")
	s, err := ParseBundle(bundleFor(t, kp, statement(testDigest, PredicateTypeSign)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyTlog(kp.GetPublicKey(), []crypto.PublicKey{newKey(t, "").GetPublicKey()}); err == nil {
		t.Fatal("VerifyTlog of a bundle without entries succeeded")
	}
}

func TestLegacyTag(t *testing.T) {
	got, err := LegacyTag(testDigest)
	if err != nil || got != "sha256-"+strings.TrimPrefix(testDigest, "sha256:")+".sig" {
		t.Fatalf("LegacyTag = %q, %v", got, err)
	}
	if _, err := LegacyTag("nodigest"); err == nil {
		t.Fatal("LegacyTag accepted a string without algorithm")
	}
}

// BenchmarkVerifyBundle is one bundle parsed and verified under the
// second of two keys (the first fails), as the verifier does.
func BenchmarkVerifyBundle(b *testing.B) {
	k, other := newKey(b, ""), newKey(b, "")
	data := bundleFor(b, k, statement(testDigest, PredicateTypeSign))
	keys := []crypto.PublicKey{other.GetPublicKey(), k.GetPublicKey()}
	for b.Loop() {
		s, err := ParseBundle(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Verify(keys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySimpleSigning is BenchmarkVerifyBundle for the legacy form.
func BenchmarkVerifySimpleSigning(b *testing.B) {
	k, other := newKey(b, ""), newKey(b, "")
	payload := simplePayload(testDigest)
	sig := signPayload(b, k, payload)
	keys := []crypto.PublicKey{other.GetPublicKey(), k.GetPublicKey()}
	for b.Loop() {
		s, err := ParseSimpleSigning(payload, sig, "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Verify(keys); err != nil {
			b.Fatal(err)
		}
	}
}
