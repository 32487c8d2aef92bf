// Package embedregistry serves go-containerregistry's in-memory OCI
// registry with its referrers API corrected, for signet's quick start (an
// embedded default that needs no external registry) and for tests.
package embedregistry

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Handler returns an in-memory registry; with referrers it serves the OCI
// referrers API, corrected by FixReferrers.
func Handler(referrers bool) http.Handler {
	h := ggcrregistry.New(
		ggcrregistry.WithReferrersSupport(referrers),
		ggcrregistry.Logger(log.New(io.Discard, "", 0)),
	)
	if referrers {
		h = FixReferrers(h)
	}
	return h
}

// FixReferrers wraps a go-containerregistry registry handler and corrects
// the two defects of its referrers API (pkg/registry/manifest.go,
// handleReferrers, v0.22.1):
//   - each descriptor's artifactType is the referrer's config media type
//     even when the manifest sets artifactType, so an OCI 1.1 artifact
//     (artifactType with the empty config) is listed as
//     application/vnd.oci.empty.v1+json; the wrapper reads each referrer
//     and reports its artifactType;
//   - the artifactType query filter is ignored; the wrapper applies it and
//     sets OCI-Filters-Applied.
//
// A third gap stays: the registry does not send OCI-Subject when a manifest
// with a subject is pushed, so a client cannot learn from a push that the
// referrers API exists.
func FixReferrers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		repo, _, ok := referrersPath(r.URL.Path)
		if r.Method != http.MethodGet || !ok {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			copyResponse(w, rec)
			return
		}
		var idx ocispec.Index
		if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
			copyResponse(w, rec)
			return
		}
		want := r.URL.Query().Get("artifactType")
		kept := make([]ocispec.Descriptor, 0, len(idx.Manifests))
		for _, d := range idx.Manifests {
			if at := artifactType(h, r, repo, d); at != "" {
				d.ArtifactType = at
			}
			if want == "" || d.ArtifactType == want {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		body, _ := json.Marshal(idx)
		w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
		if want != "" {
			w.Header().Set("OCI-Filters-Applied", "artifactType")
		}
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
}

// referrersPath splits /v2/<repo>/referrers/<digest>.
func referrersPath(p string) (repo, dgst string, ok bool) {
	rest, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, "/referrers/")
	if i <= 0 {
		return "", "", false
	}
	return rest[:i], rest[i+len("/referrers/"):], true
}

// artifactType reads the manifest d from h and returns its artifactType
// field ("" when absent or unreadable).
func artifactType(h http.Handler, orig *http.Request, repo string, d ocispec.Descriptor) string {
	req := httptest.NewRequestWithContext(orig.Context(), http.MethodGet, "/v2/"+repo+"/manifests/"+d.Digest.String(), nil)
	req.Header.Set("Accept", string(d.MediaType))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return ""
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		return ""
	}
	return m.ArtifactType
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}
