package graph

import (
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// FuzzSuccessors: any manifest bytes give successors with valid digests
// and sizes, or an error; never a panic.
func FuzzSuccessors(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":-1}]}`))
	f.Add([]byte(`{"blobs":[{"digest":"md5:x"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, raw)
		succ, err := successors(desc, raw)
		if err != nil {
			return
		}
		for _, d := range succ {
			if d.Digest.Validate() != nil || d.Size < 0 {
				t.Fatalf("successor %+v accepted", d)
			}
		}
	})
}
