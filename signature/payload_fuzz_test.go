package signature

import (
	"encoding/json"
	"testing"
)

// FuzzParsePayload: any input gives an error or a payload whose descriptor
// has a valid digest and a non-negative size (PAY-1, PAY-2); never a panic.
func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:73c803930ea3ba1e54bc25c2bdc53edd0284c62ed651fe7b00369da519a3c333","size":16724}}`))
	f.Add([]byte(`{"targetArtifact":{"mediaType":"a/b","digest":"sha384:x","size":-1}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParsePayload(raw)
		if err != nil {
			return
		}
		if p.TargetArtifact.Digest.Validate() != nil || p.TargetArtifact.Size < 0 || p.TargetArtifact.MediaType == "" {
			t.Fatalf("accepted %s", raw)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	})
}
