package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzParseDescriptor: any stdin either parses into a descriptor with a
// media type, a valid digest and a size of at least 0, which encodes and
// parses back to the same descriptor, or fails with errBadInput; never a
// panic.
func FuzzParseDescriptor(f *testing.F) {
	dg := "sha256:" + strings.Repeat("ab", 32)
	for _, s := range []string{
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + dg + `","size":528}` + "\n",
		`{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"` + dg + `","size":1,"annotations":{"org.opencontainers.image.ref.name":"v1"},"platform":{"architecture":"amd64","os":"linux"}}`,
		`{"mediaType":"a/b","digest":"` + dg + `","digest":"` + dg + `","size":1}`,
		`{"mediaType":"a/b","digest":"sha256:zz","size":1}`,
		`{"mediaType":"a/b","digest":"` + dg + `","size":-1}`,
		`{"mediaType":"a/b","digest":"` + dg + `","size":1e3}`,
		`{} {}`, `[]`, `null`, ``, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := parseDescriptor(bytes.NewReader(data))
		if err != nil {
			if !strings.Contains(err.Error(), errBadInput.Error()) {
				t.Fatalf("error %v does not say the input is invalid", err)
			}
			return
		}
		if d.MediaType == "" || d.Digest.Validate() != nil || d.Size < 0 {
			t.Fatalf("accepted an unusable descriptor %+v from %q", d, data)
		}
		enc, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseDescriptor(bytes.NewReader(enc))
		if err != nil {
			t.Fatalf("the re-encoded descriptor %s does not parse: %v", enc, err)
		}
		if back.Digest != d.Digest || back.Size != d.Size || back.MediaType != d.MediaType {
			t.Fatalf("round trip changed %+v into %+v", d, back)
		}
	})
}

// FuzzRun: whatever arguments and stdin the verifier gets, it prints
// exactly one bounded reason line and, with no usable configuration, never
// allows the pull. The configuration directory does not exist, so no
// registry is ever contacted.
func FuzzRun(f *testing.F) {
	dg := digest.Digest("sha256:" + strings.Repeat("ab", 32))
	desc, _ := json.Marshal(ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg, Size: 10})
	f.Add("example.com/app:v1", dg.String(), ocispec.MediaTypeDescriptor, desc)
	f.Add("example.com/app@"+dg.String(), dg.String(), ocispec.MediaTypeDescriptor, []byte("{}"))
	f.Add("app", "sha256:1", "text/plain", []byte("\x00\n\r"))
	f.Add("", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, name, dgst, mt string, stdin []byte) {
		missing := filepath.Join(t.TempDir(), "missing")
		var stdout, stderr bytes.Buffer
		args := []string{"-name", name, "-digest", dgst, "-stdin-media-type", mt, "-config", missing, "-timeout", "5s"}
		code := run(context.Background(), args, bytes.NewReader(stdin), &stdout, &stderr, func(string) string { return "" })
		if code == exitOK {
			t.Fatalf("allowed without a configuration: %s", stdout.String())
		}
		out := stdout.String()
		line, rest, ok := strings.Cut(out, "\n")
		if !ok || rest != "" || len(line) > maxReasonBytes || !strings.HasPrefix(line, "signet: ") {
			t.Fatalf("stdout is not one bounded reason line: %q", out)
		}
	})
}
