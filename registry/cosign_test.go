package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
)

// FuzzFetchCosignBundle feeds arbitrary bytes as a cosign bundle referrer
// manifest: the result is an error or the one bundle layer of a manifest
// of the shape cosign writes, referring to the subject, never a panic.
func FuzzFetchCosignBundle(f *testing.F) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 10}
	bundle := []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`)
	layer := content.NewDescriptorFromBytes(MediaTypeSigstoreBundle, bundle)
	good, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: MediaTypeSigstoreBundle, Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{layer}, Subject: &subject})
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json",`), nil, 1))
	f.Add([]byte(`{"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json","layers":[{},{}]}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
		got, err := FetchCosignBundle(context.Background(), blobs{d.Digest: raw, layer.Digest: bundle}, d, subject)
		if err != nil {
			return
		}
		var m ocispec.Manifest
		if json.Unmarshal(raw, &m) != nil || m.ArtifactType != MediaTypeSigstoreBundle || m.Subject == nil || m.Subject.Digest != subject.Digest || len(m.Layers) != 1 || !bytes.Equal(got, bundle) {
			t.Fatalf("accepted a malformed cosign manifest: %s", raw)
		}
	})
}

// TestFetchCosignLegacy: no sha256-<hex>.sig tag means no signatures; the
// tag's simple-signing layers are read with their annotations, other
// layers skipped.
func TestFetchCosignLegacy(t *testing.T) {
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	push := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		if err := store.Push(ctx, d, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		return d
	}
	subject := push(ocispec.MediaTypeImageManifest, []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`))
	if sigs, err := FetchCosignLegacy(ctx, store, subject); err != nil || sigs != nil {
		t.Fatalf("no tag: %v %v", sigs, err)
	}
	payload := push(MediaTypeCosignSimpleSigning, []byte(`{"critical":{}}`))
	payload.Annotations = map[string]string{annotationCosignSignature: "c2ln", annotationCosignBundle: "{}"}
	other := push("application/octet-stream", []byte("x"))
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: push(ocispec.MediaTypeEmptyJSON, []byte("{}")), Layers: []ocispec.Descriptor{other, payload}})
	m := push(ocispec.MediaTypeImageManifest, raw)
	tag, _ := CosignLegacyTag(subject)
	if err := store.Tag(ctx, m, tag); err != nil {
		t.Fatal(err)
	}
	sigs, err := FetchCosignLegacy(ctx, store, subject)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("sigs = %+v, %v", sigs, err)
	}
	if s := sigs[0]; string(s.Payload) != `{"critical":{}}` || s.Signature != "c2ln" || s.RekorBundle != "{}" || s.Manifest.Digest != m.Digest {
		t.Fatalf("sig = %+v", s)
	}
}
