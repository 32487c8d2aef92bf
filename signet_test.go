package signet

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// memStore is a truststore.Store over a map "type:name" -> certificates.
type memStore map[string][]*x509.Certificate

func (m memStore) GetCertificates(_ context.Context, t truststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := m[string(t)+":"+name]
	if !ok {
		return nil, errors.New("no such store")
	}
	return certs, nil
}

type keys struct {
	chain  *testpki.Chain
	signer *signer.Local
	store  memStore
}

func newKeys(t *testing.T, kt testpki.KeyType) *keys {
	t.Helper()
	c := testpki.NewChain(t, kt)
	s, err := signer.NewLocal(c.Leaf.Key, c.Certs())
	if err != nil {
		t.Fatal(err)
	}
	return &keys{chain: c, signer: s, store: memStore{"ca:acme": {c.Root.Cert}}}
}

func (k *keys) verifier() *verifier.Verifier { return &verifier.Verifier{Store: k.store} }

func blobPolicy(t *testing.T, doc string) *trustpolicy.BlobDocument {
	t.Helper()
	d, err := trustpolicy.ParseBlob(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const blobDoc = `{"version":"1.0","trustPolicies":[
 {"name":"global","globalPolicy":true,"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]},
 {"name":"skipper","signatureVerification":{"level":"skip"}}]}`

func opener(data []byte) BlobOpener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
}

// TestBlobDigestFollowsKey is PAY-4 / BSIGN-1 for every key spec, with a
// round trip through VerifyBlob.
func TestBlobDigestFollowsKey(t *testing.T) {
	want := map[testpki.KeyType]string{"rsa-2048": "sha256", "rsa-3072": "sha384", "rsa-4096": "sha512", "ec-256": "sha256", "ec-384": "sha384", "ec-521": "sha512"}
	data := []byte("blob content")
	for kt, alg := range want {
		t.Run(string(kt), func(t *testing.T) {
			k := newKeys(t, kt)
			s, err := SignBlob(context.Background(), bytes.NewReader(data), "", SignOptions{Signer: k.signer, Expiry: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(s.Target.Digest.Algorithm()); got != alg || s.Target.Size != int64(len(data)) || s.Target.MediaType != DefaultBlobMediaType {
				t.Fatalf("target %+v, want %s", s.Target, alg)
			}
			out, err := VerifyBlob(context.Background(), opener(data), s.MediaType, s.Envelope, VerifyBlobOptions{Policy: blobPolicy(t, blobDoc), Verifier: k.verifier()})
			if err != nil || out.Verdict != VerdictTrusted || out.Policy.Name != "global" {
				t.Fatalf("verify: %v %+v", err, out)
			}
		})
	}
}

// TestVerifyBlobRejects is TC-24 (b)-(f) at the library level.
func TestVerifyBlobRejects(t *testing.T) {
	k := newKeys(t, "ec-384")
	data := []byte("original")
	cose, _ := envelope.ForMediaType(signature.MediaTypeCOSE)
	s, err := SignBlob(context.Background(), bytes.NewReader(data), "application/octet-stream", SignOptions{Signer: k.signer, Format: cose, UserMetadata: map[string]string{"team": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	policy := blobPolicy(t, blobDoc)
	noGlobal := blobPolicy(t, `{"version":"1.0","trustPolicies":[{"name":"named","signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`)
	tests := []struct {
		name   string
		data   []byte
		opts   VerifyBlobOptions
		target error
	}{
		{name: "blob plus one byte", data: append(bytes.Clone(data), 'x'), opts: VerifyBlobOptions{Policy: policy}, target: ErrNotTrusted},
		{name: "other media type", data: data, opts: VerifyBlobOptions{Policy: policy, MediaType: "text/plain"}, target: ErrNotTrusted},
		{name: "metadata team=a", data: data, opts: VerifyBlobOptions{Policy: policy, UserMetadata: map[string]string{"team": "a"}}, target: ErrNotTrusted},
		{name: "no global policy", data: data, opts: VerifyBlobOptions{Policy: noGlobal}, target: trustpolicy.ErrNoApplicablePolicy},
		{name: "unknown policy name", data: data, opts: VerifyBlobOptions{Policy: policy, PolicyName: "nope"}, target: trustpolicy.ErrNoApplicablePolicy},
		{name: "malformed media type", data: data, opts: VerifyBlobOptions{Policy: policy, MediaType: "not a media type"}, target: ErrInvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Verifier = k.verifier()
			_, err := VerifyBlob(context.Background(), opener(tc.data), signature.MediaTypeCOSE, s.Envelope, tc.opts)
			if !errors.Is(err, tc.target) {
				t.Fatalf("err %v, want %v", err, tc.target)
			}
		})
	}
	t.Run("named skip policy", func(t *testing.T) {
		out, err := VerifyBlob(context.Background(), opener([]byte("anything")), signature.MediaTypeCOSE, []byte("junk"), VerifyBlobOptions{Policy: policy, PolicyName: "skipper", Verifier: k.verifier()})
		if err != nil || out.Verdict != VerdictSkipped {
			t.Fatalf("%v %+v", err, out)
		}
	})
	t.Run("unreadable blob is an I/O failure", func(t *testing.T) {
		_, err := VerifyBlob(context.Background(), FileOpener(filepath.Join(t.TempDir(), "missing")), signature.MediaTypeCOSE, s.Envelope, VerifyBlobOptions{Policy: policy, Verifier: k.verifier()})
		if !errors.Is(err, ErrIO) {
			t.Fatalf("err %v", err)
		}
	})
}

// TestSignRejectsReservedMetadata is PAY-5.
func TestSignRejectsReservedMetadata(t *testing.T) {
	k := newKeys(t, "ec-256")
	_, err := SignBlob(context.Background(), strings.NewReader("x"), "", SignOptions{Signer: k.signer, UserMetadata: map[string]string{"io.cncf.notary.x": "y"}})
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("err %v", err)
	}
	_, err = SignBlob(context.Background(), strings.NewReader("x"), "", SignOptions{Signer: k.signer, Expiry: 1500 * time.Millisecond})
	if !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("fractional expiry: err %v", err)
	}
}

// layout builds an OCI layout with one image and returns the store and the
// image descriptor.
func layout(t *testing.T) (*oci.Store, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store, addImage(t, store, "app")
}

func addImage(t *testing.T, store *oci.Store, name string) ocispec.Descriptor {
	t.Helper()
	push := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		if ok, _ := store.Exists(context.Background(), d); !ok {
			if err := store.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	cfg := push(ocispec.MediaTypeImageConfig, []byte(`{"os":"linux"}`))
	l := push(ocispec.MediaTypeImageLayer, []byte(name))
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{l}})
	m := push(ocispec.MediaTypeImageManifest, raw)
	if err := store.Tag(context.Background(), m, name); err != nil {
		t.Fatal(err)
	}
	return m
}

const ociDoc = `{"version":"1.0","trustPolicies":[
 {"name":"app","registryScopes":["example.com/app"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]},
 {"name":"skipped","registryScopes":["example.com/unsigned"],"signatureVerification":{"level":"skip"}}]}`

func ociPolicy(t *testing.T) *trustpolicy.Document {
	d, err := trustpolicy.ParseOCI(strings.NewReader(ociDoc))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSignVerifyOCI(t *testing.T) {
	k := newKeys(t, "ec-256")
	for _, form := range []registry.ManifestForm{registry.FormConfig, registry.FormArtifactType} {
		store, img := layout(t)
		ctx := context.Background()
		s, err := SignOCI(ctx, store, "app", SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}, Form: form})
		if err != nil {
			t.Fatal(err)
		}
		if s.Target.Digest != img.Digest {
			t.Fatalf("signed %s, want the tag's digest %s", s.Target.Digest, img.Digest)
		}
		out, err := VerifyOCI(ctx, store, img.Digest.String(), VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/app"})
		if err != nil || out.Verdict != VerdictTrusted || out.Signatures[0].Source != s.Manifest.Digest.String() {
			t.Fatalf("form %d: %v %+v", form, err, out)
		}
		// Scope selection (SEL-2): no statement for another repository.
		if _, err := VerifyOCI(ctx, store, "app", VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/other"}); !errors.Is(err, trustpolicy.ErrNoApplicablePolicy) {
			t.Errorf("other scope: %v", err)
		}
	}
}

// TestVerifyOCINoSignature: an unsigned artifact fails, even though its
// digest resolves; a skip statement passes it without listing (TC-11).
func TestVerifyOCINoSignature(t *testing.T) {
	k := newKeys(t, "ec-256")
	store, img := layout(t)
	_, err := VerifyOCI(context.Background(), store, img.Digest.String(), VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/app"})
	if !errors.Is(err, ErrNoSignature) || !errors.Is(err, ErrNotTrusted) {
		t.Fatalf("err %v", err)
	}
	out, err := VerifyOCI(context.Background(), store, img.Digest.String(), VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/unsigned"})
	if err != nil || out.Verdict != VerdictSkipped {
		t.Fatalf("skip: %v %+v", err, out)
	}
}

// pushSigned stores env as a signature of subject with the given created
// annotation (which orders layout listings).
func pushSigned(t *testing.T, store *oci.Store, subject ocispec.Descriptor, mt string, env []byte, chain []*x509.Certificate, created time.Time) {
	t.Helper()
	if _, err := registry.PushSignature(context.Background(), store, subject, mt, env, chain, created, registry.FormConfig); err != nil {
		t.Fatal(err)
	}
}

// TestMaxSignatures is TC-19 (VER-4, VER-6): a tampered signature, then a
// valid signature of another manifest attached to M, then a valid signature
// of M. With a limit of 3 the third verifies; with 2 verification stops at
// the limit.
func TestMaxSignatures(t *testing.T) {
	k := newKeys(t, "ec-256")
	store, m := layout(t)
	n := addImage(t, store, "n")
	ctx := context.Background()
	jws, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	good, err := signDescriptor(ctx, m, SignOptions{Signer: k.signer, Format: jws})
	if err != nil {
		t.Fatal(err)
	}
	ofN, err := signDescriptor(ctx, n, SignOptions{Signer: k.signer, Format: jws})
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(strings.Replace(string(good.Envelope), `"signature":"`, `"signature":"AA`, 1))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pushSigned(t, store, m, signature.MediaTypeJWS, tampered, good.Chain, base)
	pushSigned(t, store, m, signature.MediaTypeJWS, ofN.Envelope, ofN.Chain, base.Add(time.Second))
	pushSigned(t, store, m, signature.MediaTypeJWS, good.Envelope, good.Chain, base.Add(2*time.Second))

	opts := VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/app", MaxSignatures: 3}
	out, err := VerifyOCI(ctx, store, m.Digest.String(), opts)
	if err != nil || out.Verdict != VerdictTrusted || len(out.Signatures) != 3 {
		t.Fatalf("limit 3: %v %+v", err, out)
	}
	if c, _ := out.Signatures[0].Result().FailedCheck(); c.Type != trustpolicy.Integrity {
		t.Errorf("first signature failed %s, want integrity", c.Type)
	}
	if c, _ := out.Signatures[1].Result().FailedCheck(); c.Type != verifier.CheckTargetArtifact {
		t.Errorf("second signature failed %s, want targetArtifact", c.Type)
	}
	opts.MaxSignatures = 2
	out, err = VerifyOCI(ctx, store, m.Digest.String(), opts)
	if !errors.Is(err, ErrNotTrusted) || !strings.Contains(err.Error(), "limit of 2") || len(out.Signatures) != 2 {
		t.Fatalf("limit 2: %v %+v", err, out)
	}
}

// TestVerifyOCISkipsMalformedReferrer: a signature manifest that is not
// well formed counts as a failed signature and the next one is tried (the
// digest's recommendation for DISC-6; notation aborts instead).
func TestVerifyOCISkipsMalformedReferrer(t *testing.T) {
	k := newKeys(t, "ec-256")
	store, m := layout(t)
	ctx := context.Background()
	// A two-layer "signature" manifest, created first.
	env := content.NewDescriptorFromBytes(signature.MediaTypeJWS, []byte(`{"x":1}`))
	if err := store.Push(ctx, env, bytes.NewReader([]byte(`{"x":1}`))); err != nil {
		t.Fatal(err)
	}
	cfg := content.NewDescriptorFromBytes(signature.ArtifactType, []byte("{}"))
	if err := store.Push(ctx, cfg, bytes.NewReader([]byte("{}"))); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg,
		Layers: []ocispec.Descriptor{env, env}, Subject: &m, Annotations: map[string]string{ocispec.AnnotationCreated: "2000-01-01T00:00:00Z"}})
	bad := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := store.Push(ctx, bad, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := SignOCI(ctx, store, m.Digest.String(), SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}}); err != nil {
		t.Fatal(err)
	}
	out, err := VerifyOCI(ctx, store, m.Digest.String(), VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/app"})
	if err != nil || len(out.Signatures) != 2 || out.Signatures[0].Verified || !strings.Contains(out.Signatures[0].Error, "exactly one layer") {
		t.Fatalf("%v %+v", err, out)
	}
}

// TestInspect describes a signature and reports a broken one.
func TestInspect(t *testing.T) {
	k := newKeys(t, "rsa-3072")
	s, err := SignBlob(context.Background(), strings.NewReader("x"), "text/plain", SignOptions{Signer: k.signer, UserMetadata: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	in := Inspect("f.jws.sig", s.MediaType, s.Envelope)
	if in.Error != "" || in.SignatureAlgorithm != "RSASSA-PSS-SHA-384" || len(in.Certificates) != 3 || in.UserMetadata["a"] != "b" || in.SignedArtifact.MediaType != "text/plain" {
		t.Fatalf("%+v", in)
	}
	if bad := Inspect("f", s.MediaType, s.Envelope[:20]); bad.Error == "" {
		t.Error("truncated envelope inspected without error")
	}
}

// BenchmarkDescribeBlob measures streaming hashing (the blob sign/verify
// hot path) for each digest algorithm; bench/blob.sh compares whole
// commands with openssl.
func BenchmarkDescribeBlob(b *testing.B) {
	data := bytes.Repeat([]byte{0x5a}, 64<<20)
	for _, alg := range []signature.Algorithm{signature.AlgorithmES256, signature.AlgorithmES384, signature.AlgorithmES512} {
		b.Run(string(alg.DigestAlgorithm()), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := DescribeBlob(bytes.NewReader(data), "", alg.DigestAlgorithm()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// addIndex adds an image index of one manifest per platform and returns
// it with its children.
func addIndex(t *testing.T, store *oci.Store, platforms ...string) (ocispec.Descriptor, []ocispec.Descriptor) {
	t.Helper()
	var children []ocispec.Descriptor
	for _, p := range platforms {
		m := addImage(t, store, strings.ReplaceAll(p, "/", "-"))
		parts := strings.Split(p, "/")
		m.Platform = &ocispec.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			m.Platform.Variant = parts[2]
		}
		children = append(children, m)
	}
	raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: children})
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, raw)
	if err := store.Push(context.Background(), d, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(context.Background(), d, "multi"); err != nil {
		t.Fatal(err)
	}
	return d, children
}

// TestSignRecursive: --recursive signs the index and each platform
// manifest; --platform signs just one (issue 4 item 3).
func TestSignRecursive(t *testing.T) {
	k := newKeys(t, "ec-256")
	ctx := context.Background()
	verify := func(store *oci.Store, d ocispec.Descriptor) error {
		_, err := VerifyOCI(ctx, store, d.Digest.String(), VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/app"})
		return err
	}
	t.Run("recursive", func(t *testing.T) {
		store, _ := layout(t)
		idx, children := addIndex(t, store, "linux/amd64", "linux/arm64/v8", "linux/s390x", "windows/amd64")
		s, err := SignOCI(ctx, store, "multi", SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}, Recursive: true})
		if err != nil {
			t.Fatal(err)
		}
		if s.Target.Digest != idx.Digest || len(s.Children) != 4 {
			t.Fatalf("signed %s with %d children", s.Target.Digest, len(s.Children))
		}
		for _, d := range append([]ocispec.Descriptor{idx}, children...) {
			if err := verify(store, d); err != nil {
				t.Errorf("%s: %v", d.Digest, err)
			}
		}
	})
	t.Run("platform", func(t *testing.T) {
		store, _ := layout(t)
		idx, children := addIndex(t, store, "linux/amd64", "linux/arm64/v8")
		s, err := SignOCI(ctx, store, "multi", SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}, Platform: "linux/arm64/v8"})
		if err != nil {
			t.Fatal(err)
		}
		if s.Target.Digest != children[1].Digest {
			t.Fatalf("signed %s, want the arm64 manifest", s.Target.Digest)
		}
		if err := verify(store, children[1]); err != nil {
			t.Error(err)
		}
		for _, d := range []ocispec.Descriptor{idx, children[0]} {
			if err := verify(store, d); !errors.Is(err, ErrNoSignature) {
				t.Errorf("%s: %v, want no signature", d.Digest, err)
			}
		}
		for _, p := range []string{"linux/ppc64le", "linux", "a/b/c/d"} {
			if _, err := SignOCI(ctx, store, "multi", SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}, Platform: p}); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("platform %s: %v", p, err)
			}
		}
		if _, err := SignOCI(ctx, store, "app", SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}, Platform: "linux/amd64"}); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("platform on a manifest: %v", err)
		}
	})
}

// TestVerifyBlobUserMetadataSubset (BVER-4, PAY-8): the metadata the
// verifier asks for must be a subset of the signed targetArtifact
// annotations: every pair present with the same value; extra signed pairs
// do not matter.
func TestVerifyBlobUserMetadataSubset(t *testing.T) {
	k := newKeys(t, "ec-256")
	data := []byte("metadata")
	s, err := SignBlob(context.Background(), bytes.NewReader(data), "", SignOptions{Signer: k.signer, UserMetadata: map[string]string{"team": "blue", "build": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	policy := blobPolicy(t, blobDoc)
	tests := []struct {
		name    string
		md      map[string]string
		trusted bool
	}{
		{name: "none asked", trusted: true},
		{name: "one of two", md: map[string]string{"team": "blue"}, trusted: true},
		{name: "both", md: map[string]string{"team": "blue", "build": "42"}, trusted: true},
		{name: "one value differs", md: map[string]string{"team": "blue", "build": "43"}},
		{name: "key not signed", md: map[string]string{"owner": "x"}},
		{name: "signed pairs plus one more", md: map[string]string{"team": "blue", "build": "42", "owner": "x"}},
		{name: "value case differs", md: map[string]string{"team": "Blue"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := VerifyBlob(context.Background(), opener(data), s.MediaType, s.Envelope, VerifyBlobOptions{Policy: policy, Verifier: k.verifier(), UserMetadata: tc.md})
			if tc.trusted {
				if err != nil || out.Verdict != VerdictTrusted {
					t.Fatalf("err %v, outcome %+v", err, out)
				}
				return
			}
			if !errors.Is(err, ErrNotTrusted) || out == nil || len(out.Signatures) != 1 {
				t.Fatalf("err %v, outcome %+v; want not trusted", err, out)
			}
			if c, ok := out.Signatures[0].Result().FailedCheck(); !ok || c.Type != verifier.CheckUserMetadata {
				t.Errorf("failed check %+v, want userMetadata", c)
			}
		})
	}
}

// TestSignOCIPayloadDescriptor (PAY-3, PUSH-1): the signed payload's
// targetArtifact is the descriptor of the manifest bytes in the store (an
// image manifest or an index), resolved from the tag before signing, and
// the signature manifest's subject is the same descriptor. A reference the
// store does not hold is refused and nothing is pushed.
func TestSignOCIPayloadDescriptor(t *testing.T) {
	k := newKeys(t, "ec-256")
	ctx := context.Background()
	dir := t.TempDir()
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	img := addImage(t, store, "app")
	idx, _ := addIndex(t, store, "linux/amd64", "linux/arm64")
	for _, tc := range []struct {
		name, ref string
		want      ocispec.Descriptor
	}{
		{name: "image manifest by tag", ref: "app", want: img},
		{name: "index by tag", ref: "multi", want: idx},
		{name: "index by digest", ref: idx.Digest.String(), want: idx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := content.FetchAll(ctx, store, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			s, err := SignOCI(ctx, store, tc.ref, SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := envelope.ForMediaType(s.MediaType)
			if err != nil {
				t.Fatal(err)
			}
			c, err := envelope.Open(f, s.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			p, err := signature.ParsePayload(c.Payload)
			if err != nil {
				t.Fatal(err)
			}
			got := p.TargetArtifact
			if got.MediaType != tc.want.MediaType || got.Digest != digest.FromBytes(raw) || got.Size != int64(len(raw)) {
				t.Errorf("payload targetArtifact %+v, want %s %s %d (the manifest bytes)", got, tc.want.MediaType, digest.FromBytes(raw), len(raw))
			}
			sm, err := content.FetchAll(ctx, store, s.Manifest)
			if err != nil {
				t.Fatal(err)
			}
			var m ocispec.Manifest
			if err := json.Unmarshal(sm, &m); err != nil {
				t.Fatal(err)
			}
			if m.Subject == nil || m.Subject.Digest != got.Digest || m.Subject.Size != got.Size || m.Subject.MediaType != got.MediaType {
				t.Errorf("signature manifest subject %+v, payload %+v", m.Subject, got)
			}
		})
	}
	t.Run("absent reference", func(t *testing.T) {
		before, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		for _, ref := range []string{"nope", digest.FromString("absent").String()} {
			if _, err := SignOCI(ctx, store, ref, SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}}); err == nil {
				t.Errorf("signed %s, which the layout does not hold", ref)
			}
		}
		after, _ := os.ReadFile(filepath.Join(dir, "index.json"))
		if !bytes.Equal(before, after) {
			t.Errorf("index.json changed:\n%s\n%s", before, after)
		}
	})
}

// TestBlobAndOCIEnvelopesAlike (BLOB-1): a blob signature is a detached
// envelope over the blob's descriptor, and apart from the targetArtifact it
// is the envelope an OCI signature would be: same protected header (byte
// for byte in JWS), signed and unsigned attributes, chain and payload shape
// (only targetArtifact); the blob's bytes are not in it.
func TestBlobAndOCIEnvelopesAlike(t *testing.T) {
	k := newKeys(t, "ec-384")
	ctx := context.Background()
	now := time.Now().Truncate(time.Second)
	blob := []byte("BLOB-CONTENT-MARKER: the blob itself")
	for _, mt := range []string{signature.MediaTypeJWS, signature.MediaTypeCOSE} {
		t.Run(mt, func(t *testing.T) {
			f, err := envelope.ForMediaType(mt)
			if err != nil {
				t.Fatal(err)
			}
			opts := SignOptions{Signer: k.signer, Format: f, Now: func() time.Time { return now }, Expiry: time.Hour}
			b, err := SignBlob(ctx, bytes.NewReader(blob), "text/plain", opts)
			if err != nil {
				t.Fatal(err)
			}
			store, img := layout(t)
			o, err := SignOCI(ctx, store, "app", SignOCIOptions{SignOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b.Envelope, blob) || bytes.Contains(b.Envelope, []byte("BLOB-CONTENT-MARKER")) {
				t.Error("the blob's bytes are in its signature: a blob signature is detached")
			}
			bc, err := envelope.Open(f, b.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			oc, err := envelope.Open(f, o.Envelope)
			if err != nil {
				t.Fatal(err)
			}
			same := func(what string, x, y any) {
				t.Helper()
				xj, _ := json.Marshal(x)
				yj, _ := json.Marshal(y)
				if !bytes.Equal(xj, yj) {
					t.Errorf("%s differs: blob %s, OCI %s", what, xj, yj)
				}
			}
			same("signed attributes", bc.Signed, oc.Signed)
			same("unsigned attributes", bc.Unsigned, oc.Unsigned)
			same("payload content type", bc.PayloadContentType, oc.PayloadContentType)
			same("algorithm", bc.Algorithm, oc.Algorithm)
			if len(bc.CertificateChain) != len(oc.CertificateChain) {
				t.Errorf("chains of %d and %d certificates", len(bc.CertificateChain), len(oc.CertificateChain))
			}
			for i := range min(len(bc.CertificateChain), len(oc.CertificateChain)) {
				if !bc.CertificateChain[i].Equal(oc.CertificateChain[i]) {
					t.Errorf("chain[%d] differs", i)
				}
			}
			for _, c := range []*signature.Content{bc, oc} {
				var members map[string]json.RawMessage
				if err := json.Unmarshal(c.Payload, &members); err != nil || len(members) != 1 || members["targetArtifact"] == nil {
					t.Errorf("payload %s: want only targetArtifact (%v)", c.Payload, err)
				}
			}
			if mt == signature.MediaTypeJWS {
				var bj, oj struct{ Protected string }
				mustJSON(t, b.Envelope, &bj)
				mustJSON(t, o.Envelope, &oj)
				if bj.Protected == "" || bj.Protected != oj.Protected {
					t.Errorf("protected headers differ:\n%s\n%s", bj.Protected, oj.Protected)
				}
			}
			bp, _ := signature.ParsePayload(bc.Payload)
			op, _ := signature.ParsePayload(oc.Payload)
			if bp.TargetArtifact.MediaType != "text/plain" || bp.TargetArtifact.Size != int64(len(blob)) || bp.TargetArtifact.Digest != digest.SHA384.FromBytes(blob) {
				t.Errorf("blob targetArtifact %+v", bp.TargetArtifact)
			}
			if op.TargetArtifact.Digest != img.Digest {
				t.Errorf("OCI targetArtifact %+v, want %s", op.TargetArtifact, img.Digest)
			}
		})
	}
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}
