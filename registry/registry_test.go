package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

func TestParseLayoutReference(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name, in      string
		dir, ref      string
		digest, isErr bool
	}{
		{name: "digest", in: "./lay@" + d, dir: "./lay", ref: d, digest: true},
		{name: "tag", in: "/tmp/x:v1", dir: "/tmp/x", ref: "v1"},
		{name: "colon in dir, digest", in: "/tmp/a:b/lay@" + d, dir: "/tmp/a:b/lay", ref: d, digest: true},
		{name: "colon in dir, no tag", in: "/tmp/a:b/lay", isErr: true},
		{name: "bad digest", in: "lay@sha256:zz", isErr: true},
		{name: "nothing", in: "lay", isErr: true},
		{name: "empty tag", in: "lay:", isErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseLayoutReference(tc.in)
			if tc.isErr {
				if err == nil {
					t.Fatalf("want error, got %+v", r)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Dir != tc.dir || r.Reference != tc.ref || r.IsDigest() != tc.digest {
				t.Errorf("got %+v", r)
			}
			if again, _ := ParseLayoutReference(r.String()); again != r {
				t.Errorf("String does not round-trip: %q", r.String())
			}
		})
	}
}

// TestThumbprints is MAN-6: lowercase hex SHA-256 of each certificate, leaf first.
func TestThumbprints(t *testing.T) {
	c := testpki.NewChain(t, "ec-256")
	var got []string
	if err := json.Unmarshal([]byte(Thumbprints(c.Certs())), &got); err != nil {
		t.Fatal(err)
	}
	for i, cert := range c.Certs() {
		sum := sha256.Sum256(cert.Raw)
		if got[i] != hex.EncodeToString(sum[:]) {
			t.Errorf("thumbprint %d = %s", i, got[i])
		}
	}
}

func pushManifest(t *testing.T, s content.Storage, m ocispec.Manifest) ocispec.Descriptor {
	t.Helper()
	raw, _ := json.Marshal(m)
	d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
	if err := s.Push(context.Background(), d, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	return d
}

func pushBlob(t *testing.T, s content.Storage, mt string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := content.NewDescriptorFromBytes(mt, data)
	if ok, _ := s.Exists(context.Background(), d); !ok {
		if err := s.Push(context.Background(), d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func image(t *testing.T, s content.Storage, name string) ocispec.Descriptor {
	cfg := pushBlob(t, s, ocispec.MediaTypeImageConfig, []byte(`{"os":"linux"}`))
	layer := pushBlob(t, s, ocispec.MediaTypeImageLayer, []byte(name))
	return pushManifest(t, s, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
}

// TestPushListFetch: both manifest forms are written as specified (MAN-1..7)
// and listed and fetched back (MAN-8), in an OCI layout.
func TestPushListFetch(t *testing.T) {
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	subject := image(t, store, "app")
	chain := testpki.NewChain(t, "ec-256").Certs()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d1, err := PushSignature(ctx, store, subject, signature.MediaTypeJWS, []byte(`{"jws":1}`), chain, now, FormConfig)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := PushSignature(ctx, store, subject, signature.MediaTypeCOSE, []byte("cose"), chain, now, FormArtifactType)
	if err != nil {
		t.Fatal(err)
	}
	sigs, truncated, err := ListSignatures(ctx, store, subject, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 || truncated {
		t.Fatalf("listed %d (truncated %v)", len(sigs), truncated)
	}
	for _, want := range []struct {
		d         ocispec.Descriptor
		mt        string
		env       string
		cfgMT     string
		artifactT string
	}{
		{d1, signature.MediaTypeJWS, `{"jws":1}`, signature.ArtifactType, ""},
		{d2, signature.MediaTypeCOSE, "cose", ocispec.MediaTypeEmptyJSON, signature.ArtifactType},
	} {
		sig, err := FetchSignature(ctx, store, want.d, subject)
		if err != nil {
			t.Fatal(err)
		}
		m := sig.Manifest
		if sig.MediaType != want.mt || string(sig.Envelope) != want.env || m.Config.MediaType != want.cfgMT || m.ArtifactType != want.artifactT {
			t.Errorf("fetched %+v", sig)
		}
		if m.Config.Size != 2 || m.Config.Digest != "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" {
			t.Errorf("config %+v is not the 2-byte {} blob", m.Config)
		}
		if m.Subject.Digest != subject.Digest || m.Annotations[AnnotationThumbprints] != Thumbprints(chain) || m.Annotations[AnnotationCreated] != "2026-01-02T03:04:05Z" {
			t.Errorf("manifest %+v", m)
		}
	}
	// max bounds the listing.
	sigs, truncated, err = ListSignatures(ctx, store, subject, 1)
	if err != nil || len(sigs) != 1 || !truncated {
		t.Errorf("max 1: %d %v %v", len(sigs), truncated, err)
	}
	// Another image has none.
	other := image(t, store, "other")
	if sigs, _, err := ListSignatures(ctx, store, other, 0); err != nil || len(sigs) != 0 {
		t.Errorf("other image: %v %v", sigs, err)
	}
}

// TestFetchSignatureRejects: malformed referrers are refused with
// ErrNotSignature or a size error, never a panic (TC-21, DISC-6, MAN-2..5).
func TestFetchSignatureRejects(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	subject := image(t, s, "app")
	other := image(t, s, "other")
	env := pushBlob(t, s, signature.MediaTypeJWS, []byte("{}"))
	cfg := pushBlob(t, s, signature.ArtifactType, []byte("{}"))
	empty := pushBlob(t, s, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	base := func() ocispec.Manifest {
		return ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: cfg, Layers: []ocispec.Descriptor{env}, Subject: &subject}
	}
	tests := []struct {
		name string
		edit func(m *ocispec.Manifest)
	}{
		{"two layers", func(m *ocispec.Manifest) { m.Layers = append(m.Layers, env) }},
		{"no layer", func(m *ocispec.Manifest) { m.Layers = nil }},
		{"octet-stream envelope", func(m *ocispec.Manifest) {
			m.Layers = []ocispec.Descriptor{pushBlob(t, s, "application/octet-stream", []byte("x"))}
		}},
		{"no subject", func(m *ocispec.Manifest) { m.Subject = nil }},
		{"other subject", func(m *ocispec.Manifest) { m.Subject = &other }},
		{"artifactType with notary config", func(m *ocispec.Manifest) { m.ArtifactType = signature.ArtifactType }},
		{"bogus artifactType", func(m *ocispec.Manifest) { m.ArtifactType = "application/x-sbom"; m.Config = empty }},
		{"empty config without artifactType", func(m *ocispec.Manifest) { m.Config = empty }},
		{"index media type", func(m *ocispec.Manifest) { m.MediaType = ocispec.MediaTypeImageIndex }},
		{"oversized envelope", func(m *ocispec.Manifest) { m.Layers[0].Size = MaxEnvelopeBytes + 1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(&m)
			d := pushManifest(t, s, m)
			if _, err := FetchSignature(ctx, s, d, subject); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("oversized manifest", func(t *testing.T) {
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: subject.Digest, Size: MaxManifestBytes + 1}
		if _, err := FetchSignature(ctx, s, d, subject); err == nil || !strings.Contains(err.Error(), "limit") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("not a manifest", func(t *testing.T) {
		if _, err := FetchSignature(ctx, s, env, subject); !errors.Is(err, ErrNotSignature) {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("well-formed passes", func(t *testing.T) {
		d := pushManifest(t, s, base())
		if _, err := FetchSignature(ctx, s, d, subject); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResolveManifest(t *testing.T) {
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := image(t, store, "app")
	if err := store.Tag(ctx, img, "v1"); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"v1", img.Digest.String()} {
		d, err := ResolveManifest(ctx, store, ref)
		if err != nil || d.Digest != img.Digest || d.Size != img.Size {
			t.Errorf("%s: %+v %v", ref, d, err)
		}
	}
	if _, err := ResolveManifest(ctx, store, "nope"); err == nil {
		t.Error("resolved a missing tag")
	}
	if _, err := OpenLayout(ctx, t.TempDir()); err == nil {
		t.Error("opened a directory that is not a layout")
	}
}

// lyingSource resolves every reference to desc and serves data for it: a
// store whose content was altered in place.
type lyingSource struct {
	blobs
	desc ocispec.Descriptor
}

func (l lyingSource) Resolve(context.Context, string) (ocispec.Descriptor, error) { return l.desc, nil }

// TestResolveManifestDigestMismatch: a manifest whose bytes no longer hash
// to its digest is refused (THR "registry serves a different artifact").
func TestResolveManifestDigestMismatch(t *testing.T) {
	good := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, good)
	bad := bytes.Replace(good, []byte("2"), []byte("3"), 1)
	_, err := ResolveManifest(context.Background(), lyingSource{blobs{desc.Digest: bad}, desc}, desc.Digest.String())
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err %v", err)
	}
	if _, err := ResolveManifest(context.Background(), lyingSource{blobs{desc.Digest: good}, desc}, desc.Digest.String()); err != nil {
		t.Fatal(err)
	}
}

// TestArtifactManifestSignature: a signature in the OCI artifact manifest
// form (written by early signers) is listed and read (MAN-8, MAN-9); one of
// another artifactType is not a signature.
func TestArtifactManifestSignature(t *testing.T) {
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	subject := image(t, store, "app")
	env := pushBlob(t, store, signature.MediaTypeCOSE, []byte("cose envelope"))
	push := func(artifactType string) ocispec.Descriptor {
		raw, _ := json.Marshal(artifactManifest{MediaType: MediaTypeArtifactManifest, ArtifactType: artifactType,
			Blobs: []ocispec.Descriptor{env}, Subject: &subject})
		d := content.NewDescriptorFromBytes(MediaTypeArtifactManifest, raw)
		if err := store.Push(ctx, d, bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	sigDesc := push(signature.ArtifactType)
	sbom := push("application/spdx+json")
	sigs, _, err := ListSignatures(ctx, store, subject, 0)
	if err != nil || len(sigs) != 1 || sigs[0].Digest != sigDesc.Digest {
		t.Fatalf("listed %v, %v", sigs, err)
	}
	sig, err := FetchSignature(ctx, store, sigs[0], subject)
	if err != nil || sig.MediaType != signature.MediaTypeCOSE || string(sig.Envelope) != "cose envelope" {
		t.Fatalf("%+v %v", sig, err)
	}
	if _, err := FetchSignature(ctx, store, sbom, subject); !errors.Is(err, ErrNotSignature) {
		t.Fatalf("an SBOM artifact read as a signature: %v", err)
	}
}
