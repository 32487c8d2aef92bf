package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/signet-dev/signet/admission"
)

// pinningVerifier allows images whose reference contains "signed" and pins
// them to a fixed digest; it refuses every other image. It never reaches a
// registry, so the fuzzer exercises only the handler's decoding.
type pinningVerifier struct{}

func (pinningVerifier) VerifyImage(_ context.Context, set, image string) *admission.Result {
	r := &admission.Result{Image: image, PolicySet: set, Repository: "registry.example/app"}
	if strings.Contains(image, "signed") {
		r.Allowed = true
		r.Digest = "sha256:" + strings.Repeat("a", 64)
		return r
	}
	r.Check, r.Reason = admission.CheckSignature, "no signature"
	return r
}

// FuzzReview feeds arbitrary bodies to /validate and /mutate: a body is
// either refused with a 4xx status or answered with an AdmissionReview whose
// response carries the request's UID; an allowed /mutate answer carries a
// JSON patch that decodes. Nothing panics.
func FuzzReview(f *testing.F) {
	pod := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","namespace":"ns","object":{"spec":{"containers":[{"name":"a","image":"IMAGE"}],"initContainers":[{"name":"b","image":"IMAGE"}]}}}}`
	f.Add([]byte(strings.ReplaceAll(pod, "IMAGE", "registry.example/app:signed")))
	f.Add([]byte(strings.ReplaceAll(pod, "IMAGE", "registry.example/app:unsigned")))
	f.Add([]byte(`{"request":{"uid":"u2","kind":{"group":"batch","version":"v1","kind":"CronJob"},"operation":"UPDATE","object":{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"x/signed"}]}}}}}},"oldObject":{}}}`))
	f.Add([]byte(`{"request":{"uid":"u3","kind":{"group":"apps","version":"v1","kind":"Deployment"},"operation":"CREATE","object":[]}}`))
	f.Add([]byte(`{"request":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`not json`))
	h := admission.New(pinningVerifier{}, admission.Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > admission.MaxReviewBytes {
			return
		}
		var in admissionv1.AdmissionReview
		inErr := json.Unmarshal(body, &in)
		for _, path := range []string{"/validate", "/mutate"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if inErr != nil || in.Request == nil {
				if rec.Code < 400 || rec.Code >= 500 {
					t.Fatalf("%s: status %d for a body that is not an AdmissionReview (%v)", path, rec.Code, inErr)
				}
				continue
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d for an AdmissionReview: %s", path, rec.Code, rec.Body.String())
			}
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
				t.Fatalf("%s: answer is not an AdmissionReview with a response: %v", path, err)
			}
			if out.Response.UID != in.Request.UID {
				t.Fatalf("%s: response UID %q, request UID %q", path, out.Response.UID, in.Request.UID)
			}
			if out.Response.Patch != nil {
				var ops []map[string]any
				if err := json.Unmarshal(out.Response.Patch, &ops); err != nil {
					t.Fatalf("%s: patch is not a JSON patch: %v", path, err)
				}
			}
		}
	})
}
