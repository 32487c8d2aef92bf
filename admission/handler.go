package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace labels the handler reads.
const (
	// LabelPolicySet selects a named policy set for a namespace's objects;
	// absent means the default set.
	LabelPolicySet = "signet.dev/policy-set"
	// LabelMode set to ModeAudit admits what fails verification, with an
	// AdmissionReview warning; any other value (or none) enforces.
	LabelMode = "signet.dev/mode"
	// ModeAudit is LabelMode's audit value.
	ModeAudit = "audit"
)

// DefaultTimeout is Options.Timeout's default: below the 10 s that
// webhook configurations allow at most, so a refusal with a reason reaches
// the apiserver before it gives up on the webhook.
const DefaultTimeout = 8 * time.Second

// answerMargin is the part of a request's Timeout kept for answering once
// verification has given up: a tenth of it, at most 500 ms (the decision,
// the JSON encoding and the write, on a busy node).
func answerMargin(timeout time.Duration) time.Duration { return min(timeout/10, 500*time.Millisecond) }

// maxParallelImages bounds the images of one request verified at once.
const maxParallelImages = 8

// maxWarnings bounds the warnings of one response; the apiserver truncates
// long warning lists anyway.
const maxWarnings = 16

// NamespaceLabels returns a namespace's labels. Implementations are
// consulted on every request and should answer from memory (an informer).
type NamespaceLabels interface {
	Labels(ctx context.Context, namespace string) (map[string]string, error)
}

// NamespaceLabelsFunc adapts a function to NamespaceLabels.
type NamespaceLabelsFunc func(ctx context.Context, namespace string) (map[string]string, error)

// Labels calls f.
func (f NamespaceLabelsFunc) Labels(ctx context.Context, namespace string) (map[string]string, error) {
	return f(ctx, namespace)
}

// Options configure New. The zero value answers with the default policy set
// for every namespace, DefaultTimeout per request, no metrics and no logs.
type Options struct {
	// Namespaces supplies namespace labels (LabelPolicySet, LabelMode). Nil
	// means every namespace has none: default set, enforced.
	Namespaces NamespaceLabels
	// Timeout bounds each request: it is answered within Timeout of the
	// handler starting on it. Verification gets Timeout less answerMargin;
	// an image not verified by then is refused. Zero means DefaultTimeout.
	Timeout time.Duration
	// Metrics records requests and verdicts and serves /metrics; nil means
	// neither.
	Metrics *Metrics
	// Logger receives one JSON-ready record per request (info) and per
	// refused image (warn); nil discards them.
	Logger *slog.Logger
}

// handler is the http.Handler New returns.
type handler struct {
	v    ImageVerifier
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
}

// New returns the webhook's HTTP handler: POST /validate and POST /mutate
// (AdmissionReview v1), GET /healthz, GET /readyz and, with opts.Metrics,
// GET /metrics. It is safe for concurrent use.
func New(v ImageVerifier, opts Options) http.Handler {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	h := &handler{v: v, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) { h.serveReview(w, r, false) })
	h.mux.HandleFunc("POST /mutate", func(w http.ResponseWriter, r *http.Request) { h.serveReview(w, r, true) })
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	h.mux.HandleFunc("GET /readyz", h.serveReady)
	if opts.Metrics != nil {
		h.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Metrics.gatherer, promhttp.HandlerOpts{}))
	}
	return h.mux
}

func (h *handler) serveReady(w http.ResponseWriter, r *http.Request) {
	if rd, ok := h.v.(Readiness); ok {
		if err := rd.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	io.WriteString(w, "ok\n")
}

// serveReview decodes an AdmissionReview, decides, and writes the review
// back with the response. Only a body that is not an AdmissionReview gets
// an HTTP error; every decision, refusals included, is a 200.
func (h *handler) serveReview(w http.ResponseWriter, r *http.Request, mutate bool) {
	start := time.Now()
	endpoint := "validate"
	if mutate {
		endpoint = "mutate"
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		http.Error(w, "want Content-Type application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxReviewBytes+1))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > MaxReviewBytes {
		http.Error(w, fmt.Sprintf("AdmissionReview larger than %d bytes", MaxReviewBytes), http.StatusRequestEntityTooLarge)
		return
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(body, &review); err != nil || review.Request == nil {
		if err == nil {
			err = errors.New("no request")
		}
		http.Error(w, fmt.Sprintf("%v: %v", ErrBadReview, err), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithDeadline(r.Context(), start.Add(h.opts.Timeout-answerMargin(h.opts.Timeout)))
	defer cancel()
	resp := h.review(ctx, review.Request, mutate)
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}, Response: resp}
	if review.APIVersion != "" {
		out.APIVersion = review.APIVersion
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(&out); err != nil {
		h.log.Warn("write AdmissionReview response", "error", err)
	}
	result := "allowed"
	switch {
	case !resp.Allowed:
		result = "denied"
	case len(resp.Warnings) > 0:
		result = "warned"
	}
	h.opts.Metrics.request(endpoint, result, time.Since(start))
	req := review.Request
	h.log.Info("admission review", "endpoint", endpoint, "uid", string(req.UID), "kind", req.Kind.Kind, "namespace", req.Namespace,
		"name", req.Name, "operation", string(req.Operation), "allowed", resp.Allowed, "warnings", len(resp.Warnings),
		"patched", resp.Patch != nil, "duration_ms", float64(time.Since(start).Microseconds())/1000)
}

// review decides one request.
func (h *handler) review(ctx context.Context, req *admissionv1.AdmissionRequest, mutate bool) *admissionv1.AdmissionResponse {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	gvk := schema.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	spec, base, err := podSpecOf(gvk, req.Object.Raw)
	if err != nil {
		return deny(err.Error())
	}
	images := imagesOf(spec, base)
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		// An UPDATE is verified for the images it changes: those already
		// admitted are running (or about to) and a label change must not
		// fail because a registry is down.
		if oldSpec, oldBase, err := podSpecOf(gvk, req.OldObject.Raw); err == nil {
			images = changedImages(images, imagesOf(oldSpec, oldBase))
		}
	}
	if len(images) == 0 {
		return &admissionv1.AdmissionResponse{Allowed: true}
	}
	if len(images) > MaxImages {
		return deny(fmt.Sprintf("signet: the %s has %d container images, more than the %d the webhook verifies", req.Kind.Kind, len(images), MaxImages))
	}

	set, audit, err := h.namespacePolicy(ctx, req.Namespace)
	if err != nil {
		return deny(fmt.Sprintf("signet: namespace %q: %v", req.Namespace, err))
	}
	results := h.verifyAll(ctx, set, images)

	resp := &admissionv1.AdmissionResponse{Allowed: true}
	var denials []string
	var patch []patchOp
	for i, img := range images {
		res := results[img.image]
		for _, w := range res.Warnings {
			resp.Warnings = append(resp.Warnings, fmt.Sprintf("signet: image %q: %s", img.image, w))
		}
		if !res.Allowed {
			msg := res.describe()
			h.log.Warn("image refused", "image", img.image, "digest", res.Digest, "policy_set", res.PolicySet,
				"statement", res.Statement, "check", res.Check, "reason", res.Reason, "audit", audit,
				"namespace", req.Namespace, "kind", req.Kind.Kind, "name", req.Name, "index", i)
			if audit {
				resp.Warnings = append(resp.Warnings, "signet audit: "+msg)
			} else {
				denials = append(denials, msg)
			}
			continue
		}
		if mutate {
			if pinned := res.Pinned(); pinned != "" && pinned != img.image {
				patch = append(patch, patchOp{Op: "replace", Path: img.path, Value: pinned})
			}
		}
	}
	resp.Warnings = dedupe(resp.Warnings)
	if len(resp.Warnings) > maxWarnings {
		n := len(resp.Warnings) - maxWarnings + 1
		resp.Warnings = append(resp.Warnings[:maxWarnings-1], fmt.Sprintf("signet: %d more warnings (see the webhook's log)", n))
	}
	if len(denials) > 0 {
		denials = dedupe(denials)
		return deny("signet: " + strings.Join(denials, "; "))
	}
	if len(patch) > 0 {
		raw, err := json.Marshal(patch)
		if err != nil {
			return deny("signet: encode patch: " + err.Error())
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = raw, &pt
	}
	return resp
}

// namespacePolicy reads the namespace's policy set and mode.
func (h *handler) namespacePolicy(ctx context.Context, namespace string) (set string, audit bool, err error) {
	if h.opts.Namespaces == nil || namespace == "" {
		return "", false, nil
	}
	labels, err := h.opts.Namespaces.Labels(ctx, namespace)
	if err != nil {
		return "", false, fmt.Errorf("read its labels: %w", err)
	}
	return labels[LabelPolicySet], labels[LabelMode] == ModeAudit, nil
}

// verifyAll verifies each distinct image once, at most maxParallelImages
// at a time, and returns the results by image.
func (h *handler) verifyAll(ctx context.Context, set string, images []imageRef) map[string]*Result {
	var distinct []string
	seen := make(map[string]bool, len(images))
	for _, img := range images {
		if !seen[img.image] {
			seen[img.image] = true
			distinct = append(distinct, img.image)
		}
	}
	out := make([]*Result, len(distinct))
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelImages)
	for i, image := range distinct {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = h.v.VerifyImage(ctx, set, image)
		}()
	}
	wg.Wait()
	results := make(map[string]*Result, len(distinct))
	for i, image := range distinct {
		results[image] = out[i]
	}
	return results
}

// changedImages returns the images of cur that old does not have at the
// same path.
func changedImages(cur, old []imageRef) []imageRef {
	had := make(map[string]string, len(old))
	for _, o := range old {
		had[o.path] = o.image
	}
	var out []imageRef
	for _, c := range cur {
		if had[c.path] != c.image {
			out = append(out, c)
		}
	}
	return out
}

func deny(msg string) *admissionv1.AdmissionResponse {
	return &admissionv1.AdmissionResponse{Allowed: false, Result: &metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: msg,
	}}
}

func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
