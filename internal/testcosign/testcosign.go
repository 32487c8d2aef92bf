// Package testcosign writes cosign key-based signatures in the two forms
// cosign stores them (a sigstore bundle referrer, and the legacy
// sha256-<hex>.sig manifest of simple-signing layers), for tests that must
// run without the cosign peer. The shapes follow what cosign v3.1.3 writes
// (checked against the real peer in test/interop); the real peer's tests
// are the reference.
package testcosign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/internal/testregistry"
)

// Key is a cosign signing key.
type Key struct {
	sv  signature.SignerVerifier
	Pub crypto.PublicKey
}

// NewKey makes an ECDSA P-256 key, what `cosign generate-key-pair` makes.
func NewKey(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := signature.LoadDefaultSignerVerifier(priv)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{sv: sv, Pub: priv.Public()}
}

// PEM is the public key as cosign.pub holds it.
func (k *Key) PEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func (k *Key) sign(t testing.TB, data []byte) []byte {
	t.Helper()
	sig, err := k.sv.SignMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Bundle is the sigstore bundle `cosign sign` writes for digest: a DSSE
// envelope over an in-toto statement of predicate type
// https://sigstore.dev/cosign/sign/v1.
func (k *Key) Bundle(t testing.TB, digest string) []byte {
	t.Helper()
	alg, hex, _ := strings.Cut(digest, ":")
	stmt, _ := json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"digest": map[string]string{alg: hex}}},
		"predicateType": "https://sigstore.dev/cosign/sign/v1",
		"predicate":     map[string]any{},
	})
	const payloadType = "application/vnd.in-toto+json"
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: stmt, PayloadType: payloadType,
			Signatures: []*protodsse.Signature{{Sig: k.sign(t, dsse.PAE(payloadType, stmt))}},
		}},
	}
	data, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func push(t testing.TB, p testregistry.Pusher, mt string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := content.NewDescriptorFromBytes(mt, data)
	if ok, err := p.Exists(context.Background(), d); err != nil {
		t.Fatal(err)
	} else if !ok {
		if err := p.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// PushBundle stores bundle as a referrer of subject, as cosign v3 does
// (artifactType and layer media type application/vnd.dev.sigstore.bundle.v0.3+json,
// the empty config). It returns the referrer manifest's descriptor.
func PushBundle(t testing.TB, p testregistry.Pusher, subject ocispec.Descriptor, bundle []byte) ocispec.Descriptor {
	t.Helper()
	const mt = "application/vnd.dev.sigstore.bundle.v0.3+json"
	layer := push(t, p, mt, bundle)
	cfg := push(t, p, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: mt,
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations:  map[string]string{"dev.sigstore.bundle.content": "dsse-envelope", "dev.sigstore.bundle.predicateType": "https://sigstore.dev/cosign/sign/v1"},
	}
	raw, _ := json.Marshal(m)
	d := push(t, p, ocispec.MediaTypeImageManifest, raw)
	d.ArtifactType = mt
	return d
}

// PushLegacy signs subject in the legacy form (cosign sign
// --new-bundle-format=false): a simple-signing payload layer with its
// signature annotation, in the manifest tagged sha256-<hex>.sig. With a
// non-nil rekor, the signature is logged there and the layer carries the
// Rekor bundle annotation, as cosign writes it after a Rekor upload.
func (k *Key) PushLegacy(t testing.TB, p testregistry.Pusher, subject ocispec.Descriptor, dockerReference string, rekor *Rekor) ocispec.Descriptor {
	t.Helper()
	payload := []byte(`{"critical":{"identity":{"docker-reference":"` + dockerReference + `"},"image":{"docker-manifest-digest":"` + subject.Digest.String() + `"},"type":"cosign container image signature"},"optional":null}`)
	layer := push(t, p, "application/vnd.dev.cosign.simplesigning.v1+json", payload)
	sig := base64.StdEncoding.EncodeToString(k.sign(t, payload))
	layer.Annotations = map[string]string{"dev.cosignproject.cosign/signature": sig}
	if rekor != nil {
		layer.Annotations["dev.sigstore.cosign/bundle"] = rekor.Annotation(t, payload, sig, k.Pub, time.Now())
	}
	cfg := push(t, p, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}`))
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	d := push(t, p, ocispec.MediaTypeImageManifest, raw)
	tag := subject.Digest.Algorithm().String() + "-" + subject.Digest.Encoded() + ".sig"
	if err := p.Tag(context.Background(), d, tag); err != nil {
		t.Fatal(err)
	}
	return d
}

// Rekor stands in for a Rekor v1 log, which cannot run in tests: it makes
// the hashedrekord entry Rekor records for a simple-signing signature and
// the signed entry timestamp (SET) it returns, in the shape cosign stores
// in the dev.sigstore.cosign/bundle annotation.
type Rekor struct {
	key *ecdsa.PrivateKey
}

// NewRekor makes a log with a fresh ECDSA P-256 key.
func NewRekor(t testing.TB) *Rekor {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &Rekor{key: k}
}

// Pub is the log's public key; PEM the key as a publickey store holds it.
func (r *Rekor) Pub() crypto.PublicKey { return r.key.Public() }

// PEM is the log's public key in PEM.
func (r *Rekor) PEM(t testing.TB) []byte { return (&Key{Pub: r.key.Public()}).PEM(t) }

// LogID is the hex SHA-256 of the log's public key.
func (r *Rekor) LogID() string {
	der, _ := x509.MarshalPKIXPublicKey(r.key.Public())
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func canonical(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	c, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Annotation logs the signature sigB64 of payload by signer at time
// integrated and returns the Rekor bundle annotation.
func (r *Rekor) Annotation(t testing.TB, payload []byte, sigB64 string, signer crypto.PublicKey, integrated time.Time) string {
	t.Helper()
	sum := sha256.Sum256(payload)
	body := canonical(t, map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
			"signature": map[string]any{"content": sigB64, "publicKey": map[string]any{"content": base64.StdEncoding.EncodeToString((&Key{Pub: signer}).PEM(t))}},
		},
	})
	fields := map[string]any{
		"body":           base64.StdEncoding.EncodeToString(body),
		"integratedTime": integrated.Unix(),
		"logIndex":       int64(42),
		"logID":          r.LogID(),
	}
	digest := sha256.Sum256(canonical(t, fields))
	set, err := ecdsa.SignASN1(rand.Reader, r.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": fields})
	return string(out)
}
