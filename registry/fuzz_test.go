package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/signature"
)

// FuzzFetchSignature feeds arbitrary bytes as a signature manifest: the
// result is an error or a signature whose shape holds (MAN-1..5), never a
// panic.
func FuzzFetchSignature(f *testing.F) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 10}
	env := []byte(`{"payload":"e30"}`)
	envDesc := content.NewDescriptorFromBytes(signature.MediaTypeJWS, env)
	good, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: content.NewDescriptorFromBytes(signature.ArtifactType, []byte("{}")), Layers: []ocispec.Descriptor{envDesc}, Subject: &subject})
	f.Add(good)
	f.Add([]byte(`{"layers":[{},{}]}`))
	f.Add([]byte(`{"artifactType":"application/vnd.cncf.notary.signature","config":{"mediaType":"application/vnd.oci.empty.v1+json"}}`))
	f.Add([]byte("null"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
		s := blobs{d.Digest: raw, envDesc.Digest: env}
		sig, err := FetchSignature(context.Background(), s, d, subject)
		if err != nil {
			return
		}
		if len(sig.Manifest.Layers) != 1 || sig.Manifest.Subject == nil || sig.Manifest.Subject.Digest != subject.Digest || !bytes.Equal(sig.Envelope, env) {
			t.Fatalf("accepted a malformed signature manifest: %s", raw)
		}
	})
}

// blobs is a content.Fetcher over a map: unlike a real store it accepts
// any bytes, so the fuzzer reaches FetchSignature with them.
type blobs map[digest.Digest][]byte

func (b blobs) Fetch(_ context.Context, d ocispec.Descriptor) (io.ReadCloser, error) {
	data, ok := b[d.Digest]
	if !ok {
		return nil, io.ErrUnexpectedEOF
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}
