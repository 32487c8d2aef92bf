package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/signature"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// fakeRegistry answers every referrers API request with body (and the Link
// header link), and the referrers tag with body as an index, without a
// network.
func fakeRegistry(body []byte, link string) roundTripFunc {
	return func(req *http.Request) (*http.Response, error) {
		resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Request: req, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
		switch {
		case strings.Contains(req.URL.Path, "/referrers/"):
			resp.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
			if link != "" {
				resp.Header.Set("Link", link)
			}
		case strings.Contains(req.URL.Path, "/manifests/sha256-"):
			resp.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
			resp.Header.Set("Docker-Content-Digest", digest.FromBytes(body).String())
		default:
			resp.StatusCode = http.StatusNotFound
			resp.Body = io.NopCloser(strings.NewReader(`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`))
			resp.ContentLength = -1
		}
		if req.Method == http.MethodHead {
			resp.Body = http.NoBody
		}
		return resp, nil
	}
}

// FuzzReferrersIndex feeds arbitrary bytes as a referrers API response (with
// an arbitrary Link header) and as a referrers tag index: listing ends in an
// error or in pages of well-formed descriptors of the asked artifactType,
// within MaxReferrers and MaxReferrersPages, never in a panic (DISC-2,
// DISC-4, §0.5).
func FuzzReferrersIndex(f *testing.F) {
	sig := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: signature.ArtifactType, Digest: digest.FromString("sig"), Size: 700,
		Annotations: map[string]string{AnnotationThumbprints: `["ab"]`}}
	other := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/spdx+json", Digest: digest.FromString("sbom"), Size: 500}
	good, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{sig, other}})
	f.Add(good, "", false)
	f.Add(good, "", true)
	f.Add(good, `</v2/app/referrers/x?page=2>; rel="next"`, false)
	f.Add(good, `<http://other.example/x>; rel="next"`, false)
	f.Add([]byte(`{"manifests":[{"mediaType":"m","digest":"sha256:zz","size":-1,"artifactType":"application/vnd.cncf.notary.signature"}]}`), "", true)
	f.Add([]byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":null}`), "", false)
	f.Add([]byte("null"), "<>; rel=next", false)
	f.Add([]byte(`[]`), "", true)
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("subject"), Size: 100}
	f.Fuzz(func(t *testing.T, body []byte, link string, tagSchema bool) {
		if idx, err := parseReferrersIndex(body); err == nil && idx.MediaType != "" && idx.MediaType != ocispec.MediaTypeImageIndex {
			t.Fatalf("accepted an index of media type %q", idx.MediaType)
		}
		mode := ReferrersAPI
		if tagSchema {
			mode = ReferrersTag
		}
		r, _, err := NewRepository("fuzz.example/app", RemoteOptions{PlainHTTP: true, Referrers: mode,
			WrapTransport: func(http.RoundTripper) http.RoundTripper { return fakeRegistry(body, link) }})
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		err = r.Referrers(context.Background(), subject, signature.ArtifactType, func(page []ocispec.Descriptor) error {
			for _, d := range page {
				if d.Digest.Validate() != nil || d.Size < 0 || d.MediaType == "" || d.ArtifactType != signature.ArtifactType {
					return fmt.Errorf("passed on a descriptor it should have dropped: %+v", d)
				}
			}
			total += len(page)
			return nil
		})
		if err != nil && strings.Contains(err.Error(), "passed on a descriptor") {
			t.Fatal(err)
		}
		if total > MaxReferrers {
			t.Fatalf("%d referrers passed on, over MaxReferrers", total)
		}
	})
}
