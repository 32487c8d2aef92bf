package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/signet-dev/signet/admission"
)

// newVerifier builds a Verifier over the env's sets ("strict" and "skip"
// as named sets).
func newVerifier(t testing.TB, e *testEnv, mod func(*admission.VerifierOptions)) *admission.Verifier {
	t.Helper()
	opts := admission.VerifierOptions{
		DefaultSet:    e.dirs["default"],
		PolicySets:    map[string]string{"strict": e.dirs["strict"], "skip": e.dirs["skip"]},
		Timeout:       5 * time.Second,
		SnapshotDir:   t.TempDir(),
		WrapTransport: e.counter.Wrap,
	}
	if mod != nil {
		mod(&opts)
	}
	v, err := admission.NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func pod(images ...string) *corev1.Pod {
	p := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	for i, img := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return p
}

// review posts an AdmissionReview for obj to path and returns the response.
func review(t testing.TB, h http.Handler, path string, op admissionv1.Operation, kind metav1.GroupVersionKind, namespace string, obj, old runtime.Object) *admissionv1.AdmissionResponse {
	t.Helper()
	req := &admissionv1.AdmissionRequest{UID: "uid-1", Kind: kind, Namespace: namespace, Operation: op, Name: "x"}
	if obj != nil {
		raw, _ := json.Marshal(obj)
		req.Object = runtime.RawExtension{Raw: raw}
	}
	if old != nil {
		raw, _ := json.Marshal(old)
		req.OldObject = runtime.RawExtension{Raw: raw}
	}
	body, _ := json.Marshal(admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Request: req})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", path, rec.Code, rec.Body)
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || out.Response.UID != "uid-1" || out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
		t.Fatalf("bad review response: %s", rec.Body)
	}
	return out.Response
}

var (
	podKind        = metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	deploymentKind = metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	cronJobKind    = metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
)

func message(r *admissionv1.AdmissionResponse) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Message
}

// TestVerifyImage: the verdict on each kind of image, through the same
// verification `signet verify` does, against a real registry.
func TestVerifyImage(t *testing.T) {
	e := newTestEnv(t)
	v := newVerifier(t, e, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		name, set, image string
		allowed          bool
		check            string
		reason           string
	}{
		{name: "signed by digest", image: e.signed, allowed: true},
		{name: "signed by tag", image: e.signedTag, allowed: true},
		{name: "unsigned", image: e.unsigned, check: admission.CheckSignature, reason: "no signature"},
		{name: "untrusted signer", image: e.untrusted, check: "authenticity"},
		{name: "tampered envelope", image: e.tampered, check: "integrity"},
		{name: "named set trusting another root", set: "strict", image: e.signed, check: "authenticity"},
		{name: "skip set", set: "skip", image: e.unsigned, allowed: true},
		{name: "unknown set", set: "nope", image: e.signed, check: admission.CheckPolicy, reason: "no policy set"},
		{name: "unknown tag", image: e.reg.Ref("team/app:missing"), check: admission.CheckRegistry, reason: "missing"},
		{name: "bad reference", image: "UPPER/Case::x", check: admission.CheckReference},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := v.VerifyImage(ctx, tc.set, tc.image)
			if r.Allowed != tc.allowed || r.Check != tc.check || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("got allowed=%v check=%q reason=%q, want allowed=%v check=%q reason~%q", r.Allowed, r.Check, r.Reason, tc.allowed, tc.check, tc.reason)
			}
			if tc.allowed && tc.set != "skip" && (r.Digest != e.signedDesc.Digest.String() || r.Statement != "acme-everywhere") {
				t.Fatalf("trusted result names digest %q statement %q", r.Digest, r.Statement)
			}
		})
	}
}

// TestValidate: the /validate endpoint for Pods and every workload kind,
// init and ephemeral containers included; denials name the image, the
// policy set and the failing check.
func TestValidate(t *testing.T) {
	e := newTestEnv(t)
	h := admission.New(newVerifier(t, e, nil), admission.Options{})
	withInit := pod(e.signed)
	withInit.Spec.InitContainers = []corev1.Container{{Name: "init", Image: e.unsigned}}
	withEphemeral := pod(e.signed)
	withEphemeral.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "dbg", Image: e.untrusted}}}
	deploy := func(images ...string) *appsv1.Deployment {
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: pod(images...).Spec}}}
	}
	cron := &batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: pod(e.signed, e.tampered).Spec}}}}}
	for _, tc := range []struct {
		name    string
		kind    metav1.GroupVersionKind
		obj     runtime.Object
		allowed bool
		want    []string
	}{
		{name: "signed pod", kind: podKind, obj: pod(e.signed, e.signedTag), allowed: true},
		{name: "unsigned pod", kind: podKind, obj: pod(e.unsigned), want: []string{e.unsigned, `policy set "default"`, "signature check failed"}},
		{name: "untrusted pod", kind: podKind, obj: pod(e.untrusted), want: []string{e.untrusted, "authenticity check failed", `statement "acme-everywhere"`}},
		{name: "tampered pod", kind: podKind, obj: pod(e.tampered), want: []string{e.tampered, "integrity check failed"}},
		{name: "init container", kind: podKind, obj: withInit, want: []string{e.unsigned}},
		{name: "ephemeral container", kind: podKind, obj: withEphemeral, want: []string{e.untrusted}},
		{name: "signed deployment", kind: deploymentKind, obj: deploy(e.signed), allowed: true},
		{name: "deployment with one bad template image", kind: deploymentKind, obj: deploy(e.signed, e.unsigned), want: []string{e.unsigned}},
		{name: "cronjob", kind: cronJobKind, obj: cron, want: []string{e.tampered}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := review(t, h, "/validate", admissionv1.Create, tc.kind, "ns", tc.obj, nil)
			if r.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%s)", r.Allowed, tc.allowed, message(r))
			}
			for _, w := range tc.want {
				if !strings.Contains(message(r), w) {
					t.Errorf("denial %q does not name %q", message(r), w)
				}
			}
			if !tc.allowed && r.Result.Code != http.StatusForbidden {
				t.Errorf("code %d", r.Result.Code)
			}
		})
	}
}

// TestNamespacePolicy: the namespace's labels select the policy set and
// audit mode; a namespace that cannot be read fails closed.
func TestNamespacePolicy(t *testing.T) {
	e := newTestEnv(t)
	labels := map[string]map[string]string{
		"strict":  {admission.LabelPolicySet: "strict"},
		"skip":    {admission.LabelPolicySet: "skip"},
		"audit":   {admission.LabelMode: admission.ModeAudit},
		"unknown": {admission.LabelPolicySet: "nope"},
	}
	ns := admission.NamespaceLabelsFunc(func(_ context.Context, n string) (map[string]string, error) {
		if n == "broken" {
			return nil, fmt.Errorf("apiserver unreachable")
		}
		return labels[n], nil
	})
	h := admission.New(newVerifier(t, e, nil), admission.Options{Namespaces: ns})
	for _, tc := range []struct {
		name, namespace, image string
		allowed                bool
		want, warning          string
	}{
		{name: "default set admits signed", namespace: "plain", image: e.signed, allowed: true},
		{name: "strict set refuses signed", namespace: "strict", image: e.signed, want: `policy set "strict"`},
		{name: "skip set admits unsigned", namespace: "skip", image: e.unsigned, allowed: true},
		{name: "audit admits unsigned with warning", namespace: "audit", image: e.unsigned, allowed: true, warning: "signature check failed"},
		{name: "audit admits signed silently", namespace: "audit", image: e.signed, allowed: true},
		{name: "unknown set refuses", namespace: "unknown", image: e.signed, want: `no policy set "nope"`},
		{name: "unreadable namespace refuses", namespace: "broken", image: e.signed, want: "apiserver unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := review(t, h, "/validate", admissionv1.Create, podKind, tc.namespace, pod(tc.image), nil)
			if r.Allowed != tc.allowed || !strings.Contains(message(r), tc.want) {
				t.Fatalf("allowed=%v message=%q, want allowed=%v message~%q", r.Allowed, message(r), tc.allowed, tc.want)
			}
			joined := strings.Join(r.Warnings, "\n")
			if tc.warning == "" && joined != "" {
				t.Fatalf("unexpected warnings %q", joined)
			}
			if tc.warning != "" && (!strings.Contains(joined, tc.warning) || !strings.Contains(joined, tc.image)) {
				t.Fatalf("warnings %q do not name the image and %q", joined, tc.warning)
			}
		})
	}
}

// TestMutatePinsDigests: /mutate replaces each verified image by
// repository@digest with a JSON patch, and refuses what fails.
func TestMutatePinsDigests(t *testing.T) {
	e := newTestEnv(t)
	h := admission.New(newVerifier(t, e, nil), admission.Options{})
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: pod(e.signedTag, e.signed).Spec}}}
	d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "i", Image: e.signedTag}}
	r := review(t, h, "/mutate", admissionv1.Create, deploymentKind, "ns", d, nil)
	if !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("not patched: %+v", r)
	}
	var ops []map[string]string
	if err := json.Unmarshal(r.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	pinned := e.reg.Ref("team/app@" + e.signedDesc.Digest.String())
	want := []map[string]string{
		{"op": "replace", "path": "/spec/template/spec/initContainers/0/image", "value": pinned},
		{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": pinned},
	}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Fatalf("patch %v, want %v", ops, want)
	}
	if r := review(t, h, "/mutate", admissionv1.Create, podKind, "ns", pod(e.unsigned), nil); r.Allowed || r.Patch != nil {
		t.Fatalf("unsigned image mutated/admitted: %+v", r)
	}
	if r := review(t, h, "/mutate", admissionv1.Create, podKind, "ns", pod(e.signed), nil); !r.Allowed || r.Patch != nil {
		t.Fatalf("already pinned image patched: %+v", r)
	}
}

// TestOperations: DELETE is admitted; an UPDATE verifies only the images
// it changes; a malformed review is a 400; unsupported kinds fail closed.
func TestOperations(t *testing.T) {
	e := newTestEnv(t)
	h := admission.New(newVerifier(t, e, nil), admission.Options{})
	if r := review(t, h, "/validate", admissionv1.Delete, podKind, "ns", nil, pod(e.unsigned)); !r.Allowed {
		t.Fatalf("delete refused: %s", message(r))
	}
	// The unsigned image was there before (admitted in audit mode, say):
	// relabelling the pod is not refused; changing an image is verified.
	if r := review(t, h, "/validate", admissionv1.Update, podKind, "ns", pod(e.unsigned, e.signed), pod(e.unsigned, e.signed)); !r.Allowed {
		t.Fatalf("unchanged update refused: %s", message(r))
	}
	if r := review(t, h, "/validate", admissionv1.Update, podKind, "ns", pod(e.signed, e.untrusted), pod(e.signed, e.signed)); r.Allowed || !strings.Contains(message(r), e.untrusted) {
		t.Fatalf("changed image not verified: %+v", r)
	}
	if r := review(t, h, "/validate", admissionv1.Create, metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "ns", &corev1.ConfigMap{}, nil); r.Allowed || !strings.Contains(message(r), "ConfigMap") {
		t.Fatalf("unsupported kind: %+v", r)
	}
	for _, tc := range []struct{ name, body string }{
		{"not json", "{"},
		{"no request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", strings.NewReader(tc.body)))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("HTTP %d", rec.Code)
			}
		})
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", io.LimitReader(zeros{}, admission.MaxReviewBytes+10)))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized review: HTTP %d", rec.Code)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// TestCacheAndSingleflight: a verdict is reused for the same (set,
// repository, digest) without asking the registry; concurrent requests for
// an uncached digest share one verification.
func TestCacheAndSingleflight(t *testing.T) {
	e := newTestEnv(t)
	v := newVerifier(t, e, nil)
	ctx := context.Background()
	e.counter.Reset()
	if r := v.VerifyImage(ctx, "", e.signed); !r.Allowed || r.Cached {
		t.Fatalf("first: %+v", r)
	}
	one := e.counter.Count()
	if one == 0 {
		t.Fatal("the first verification sent no request")
	}
	if r := v.VerifyImage(ctx, "", e.signed); !r.Allowed || !r.Cached {
		t.Fatalf("second: %+v", r)
	}
	if n := e.counter.Count(); n != one {
		t.Fatalf("a cached verdict sent %d requests", n-one)
	}
	// Another set is another key.
	if r := v.VerifyImage(ctx, "strict", e.signed); r.Allowed || r.Cached {
		t.Fatalf("strict: %+v", r)
	}

	v2 := newVerifier(t, e, nil)
	e.counter.Reset()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if r := v2.VerifyImage(ctx, "", e.signed); !r.Allowed {
				t.Errorf("concurrent: %+v", r)
			}
		})
	}
	wg.Wait()
	if n := e.counter.Count(); n != one {
		t.Fatalf("20 concurrent requests sent %d registry requests; one verification sends %d", n, one)
	}
}

// TestCacheDisabled: a negative --cache-ttl verifies every time.
func TestCacheDisabled(t *testing.T) {
	e := newTestEnv(t)
	v := newVerifier(t, e, func(o *admission.VerifierOptions) { o.CacheTTL = -1 })
	for range 2 {
		if r := v.VerifyImage(context.Background(), "", e.signed); !r.Allowed || r.Cached {
			t.Fatalf("%+v", r)
		}
	}
	if v.CacheLen() != 0 {
		t.Fatalf("cache holds %d", v.CacheLen())
	}
}

// TestRegistryDownFailsClosed: a registry that does not answer is a
// refusal naming the registry check, never a cached verdict.
func TestRegistryDownFailsClosed(t *testing.T) {
	e := newTestEnv(t)
	v := newVerifier(t, e, nil)
	down := "127.0.0.1:1/team/app@" + e.signedDesc.Digest.String()
	h := admission.New(v, admission.Options{})
	r := review(t, h, "/validate", admissionv1.Create, podKind, "ns", pod(down), nil)
	if r.Allowed || !strings.Contains(message(r), "registry check failed") || !strings.Contains(message(r), down) {
		t.Fatalf("%+v", r)
	}
	if v.CacheLen() != 0 {
		t.Fatal("an error was cached")
	}
}

// TestTimeoutAnswersInTime: a registry that stalls makes a refusal within
// the request's deadline, with the reason.
func TestTimeoutAnswersInTime(t *testing.T) {
	e := newTestEnv(t)
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	h := admission.New(newVerifier(t, e, nil), admission.Options{Timeout: 300 * time.Millisecond})
	image := strings.TrimPrefix(slow.URL, "http://") + "/team/app:v1"
	start := time.Now()
	r := review(t, h, "/validate", admissionv1.Create, podKind, "ns", pod(image), nil)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("answered after %s", took)
	}
	if r.Allowed || !strings.Contains(message(r), "timeout check failed") {
		t.Fatalf("%+v", r)
	}
}

// TestEndpoints: health, readiness and metrics.
func TestEndpoints(t *testing.T) {
	e := newTestEnv(t)
	m := admission.NewMetrics()
	v := newVerifier(t, e, func(o *admission.VerifierOptions) { o.Metrics = m })
	h := admission.New(v, admission.Options{Metrics: m})
	review(t, h, "/validate", admissionv1.Create, podKind, "ns", pod(e.signed), nil)
	review(t, h, "/validate", admissionv1.Create, podKind, "ns", pod(e.signed), nil)
	review(t, h, "/validate", admissionv1.Create, podKind, "ns", pod("127.0.0.1:1/x/y:v1"), nil)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != 200 || body != "ok\n" {
			t.Fatalf("%s: %d %q", p, code, body)
		}
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`signet_webhook_verifications_total{outcome="trusted",policy_set="default"} 2`,
		`signet_webhook_verifications_total{outcome="error",policy_set="default"} 1`,
		`signet_webhook_cache_hits_total 1`,
		`signet_webhook_registry_errors_total 1`,
		`signet_webhook_admission_requests_total{endpoint="validate",result="allowed"} 2`,
		`signet_webhook_admission_requests_total{endpoint="validate",result="denied"} 1`,
		`signet_webhook_verification_duration_seconds_bucket`,
		`signet_webhook_cache_entries 1`,
		`signet_webhook_policy_set_loads_total{policy_set="default",result="ok"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
