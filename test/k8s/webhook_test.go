package k8s

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/signet-dev/signet/internal/testk8s"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testsign"
	"github.com/signet-dev/signet/registry"
)

// Namespaces of the webhook test and their labels (docs/webhook.md).
const (
	nsEnforce = "e2e-enforce" // no label: the default policy set, enforced
	nsOther   = "e2e-other"   // signet.dev/policy-set: other
	nsAudit   = "e2e-audit"   // signet.dev/mode: audit

	// webhookTimeout is the webhook's --timeout; the configurations'
	// timeoutSeconds stays above it, as the shipped manifests do.
	webhookTimeout        = "5s"
	webhookTimeoutSeconds = 10
)

// images are the test's images, as references into the registry.
type images struct {
	repo                    string // REGISTRY/e2e/app
	signed, signedTag       string // signed by the "acme" key, by digest and by tag
	signedDigest            string
	signed2, signed2Tag     string // a second image signed by acme, by digest and by tag
	signed2Digest           string
	unsigned                string // no signature
	tampered                string // an acme signature whose value was altered
	untrusted, untrustedTag string // signed by the "other" key, which only the "other" set trusts
	untrustedDigest         string
}

// webhookEnv is a cluster with signet-webhook registered for Pods and
// workloads in every namespace but kube-system.
type webhookEnv struct {
	c        *testk8s.Cluster
	client   kubernetes.Interface // records warnings into warnings
	warnings *warningRecorder
	img      images
	// down is a registry the test stops: downTag is an image in it signed
	// by acme, downDigest its digest.
	down                *httptest.Server
	downTag, downDigest string
	url                 string // signet-webhook's https://127.0.0.1:PORT
	// acme and other are the configuration directories of the two keys,
	// the default policy set and the set "other".
	acme, other *testsign.Config
}

// TestWebhook runs signet-webhook behind a real kube-apiserver: Pods and
// Deployments are admitted or refused through the API server as a user
// meets them, first by the validating webhook alone, then with the
// mutating webhook in front of it.
func TestWebhook(t *testing.T) {
	e := setupWebhook(t)
	ctx := t.Context()

	refusals := []struct {
		name, ns, image string
		want            []string // substrings of the API error
	}{
		{
			name: "unsigned image is refused", ns: nsEnforce, image: e.img.unsigned,
			want: []string{fmt.Sprintf("image %q", e.img.unsigned), `policy set "default"`, "signature check failed"},
		},
		{
			name: "tampered signature is refused", ns: nsEnforce, image: e.img.tampered,
			want: []string{fmt.Sprintf("image %q", e.img.tampered), `policy set "default"`, `trust policy statement "acme"`, "integrity check failed"},
		},
		{
			name: "image signed by an untrusted key is refused", ns: nsEnforce, image: e.img.untrusted,
			want: []string{fmt.Sprintf("image %q", e.img.untrusted), `policy set "default"`, `trust policy statement "acme"`, "authenticity check failed"},
		},
		{
			// The namespace's set trusts only the "other" key.
			name: "policy-set label: the named set refuses the default set's signer", ns: nsOther, image: e.img.signed,
			want: []string{fmt.Sprintf("image %q", e.img.signed), `policy set "other"`, `trust policy statement "other"`, "authenticity check failed"},
		},
	}

	// Phase 1: the ValidatingWebhookConfiguration alone.
	registerWebhook(t, e.c, e.url, false)
	t.Run("validate", func(t *testing.T) {
		t.Run("signed image by tag is admitted unchanged", func(t *testing.T) {
			pod := e.createPod(t, nsEnforce, "validate-signed-tag", e.img.signedTag)
			if got := pod.Spec.Containers[0].Image; got != e.img.signedTag {
				t.Errorf("stored image %q, want %q: only /mutate rewrites images", got, e.img.signedTag)
			}
		})
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				e.refusePod(t, tc.ns, tc.image, append([]string{`admission webhook "verify-images.signet.dev"`}, tc.want...)...)
			})
		}
	})

	// Phase 2: the MutatingWebhookConfiguration in front of it.
	registerWebhook(t, e.c, e.url, true)

	t.Run("signed image by digest is admitted", func(t *testing.T) {
		pod := e.createPod(t, nsEnforce, "signed-digest", e.img.signed)
		if got := pod.Spec.Containers[0].Image; got != e.img.signed {
			t.Errorf("stored image %q, want %q unchanged", got, e.img.signed)
		}
	})

	t.Run("signed image by tag is admitted and pinned to its digest", func(t *testing.T) {
		e.createPod(t, nsEnforce, "signed-tag", e.img.signedTag)
		// Read back through the API: what is stored (and would run) is the
		// digest the webhook verified.
		got, err := e.c.Client.CoreV1().Pods(nsEnforce).Get(ctx, "signed-tag", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := got.Spec.Containers[0].Image; img != e.img.repo+"@"+e.img.signedDigest {
			t.Errorf("stored image %q, want %q (the tag pinned by /mutate)", img, e.img.repo+"@"+e.img.signedDigest)
		}
	})

	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			e.refusePod(t, tc.ns, tc.image, tc.want...)
		})
	}

	t.Run("policy-set label: the named set admits its signer", func(t *testing.T) {
		e.createPod(t, nsOther, "other-signed", e.img.untrustedTag)
		got, err := e.c.Client.CoreV1().Pods(nsOther).Get(ctx, "other-signed", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := got.Spec.Containers[0].Image; img != e.img.repo+"@"+e.img.untrustedDigest {
			t.Errorf("stored image %q, want it pinned to %s", img, e.img.untrustedDigest)
		}
	})

	t.Run("audit mode admits with a warning", func(t *testing.T) {
		e.warnings.take()
		e.createPod(t, nsAudit, "audit-unsigned", e.img.unsigned)
		warnings := e.warnings.take()
		want := fmt.Sprintf(`signet audit: image %q (%s) is not trusted under policy set "default"`, e.img.unsigned, e.img.unsigned[strings.LastIndex(e.img.unsigned, "@")+1:])
		found := slices.ContainsFunc(warnings, func(w string) bool {
			return strings.Contains(w, want) && strings.Contains(w, "signature check failed")
		})
		if !found {
			t.Errorf("warnings returned to the client = %q, want one containing %q and the failed check", warnings, want)
		}
	})

	t.Run("audit mode: kubectl prints the warning", func(t *testing.T) {
		manifest := fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata: {name: audit-kubectl, namespace: %s}\nspec:\n  containers: [{name: app, image: %q}]\n", nsAudit, e.img.tampered)
		stdout, stderr, err := e.c.Kubectl(t, []byte(manifest), "create", "-f", "-")
		if err != nil {
			t.Fatalf("kubectl create: %v\n%s%s", err, stdout, stderr)
		}
		want := fmt.Sprintf(`Warning: signet audit: image %q`, e.img.tampered)
		if !strings.Contains(stderr, want) || !strings.Contains(stderr, "integrity check failed") {
			t.Errorf("kubectl's stderr does not hold %q and the failed check:\n%s", want, stderr)
		}
	})

	// A namespace made or relabelled while the webhook runs: it is read
	// directly, then followed by the webhook's namespace watch.
	t.Run("namespace created and relabelled while the webhook runs", func(t *testing.T) {
		const ns = "e2e-late"
		e.c.Namespace(t, ns, nil)
		e.refusePod(t, ns, e.img.untrusted, `policy set "default"`, "authenticity check failed")
		got, err := e.c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got.Labels["signet.dev/policy-set"] = "other"
		if _, err := e.c.Client.CoreV1().Namespaces().Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The watch delivers the label a moment later.
		const wait = 15 * time.Second
		deadline := time.Now().Add(wait)
		for {
			_, err := e.client.CoreV1().Pods(ns).Create(ctx, podWith("", e.img.untrusted), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the policy-set label was not applied within %s: %v", wait, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		e.createPod(t, ns, "late-other", e.img.untrusted)
	})

	t.Run("kube-system is not sent to the webhook", func(t *testing.T) {
		e.createPod(t, "kube-system", "unsigned", e.img.unsigned)
	})

	t.Run("Deployment with an unsigned template image is refused", func(t *testing.T) {
		_, err := e.client.AppsV1().Deployments(nsEnforce).Create(ctx, deployment("mixed", e.img.signedTag, e.img.unsigned), metav1.CreateOptions{})
		expectRefused(t, err, fmt.Sprintf("image %q", e.img.unsigned), "signature check failed")
		if err != nil && strings.Contains(err.Error(), fmt.Sprintf("image %q", e.img.signedTag)) {
			t.Errorf("the refusal names the signed image too: %v", err)
		}
	})

	t.Run("Deployment with signed template images is admitted and pinned", func(t *testing.T) {
		if _, err := e.client.AppsV1().Deployments(nsEnforce).Create(ctx, deployment("signed", e.img.signedTag, e.img.signed2Tag), metav1.CreateOptions{}); err != nil {
			t.Fatalf("Deployment refused: %v", err)
		}
		got, err := e.c.Client.AppsV1().Deployments(nsEnforce).Get(ctx, "signed", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var imgs []string
		for _, c := range got.Spec.Template.Spec.Containers {
			imgs = append(imgs, c.Image)
		}
		want := []string{e.img.repo + "@" + e.img.signedDigest, e.img.repo + "@" + e.img.signed2Digest}
		if !slices.Equal(imgs, want) {
			t.Errorf("stored template images %q, want %q", imgs, want)
		}
	})

	t.Run("CronJob with an unsigned job template image is refused", func(t *testing.T) {
		_, err := e.client.BatchV1().CronJobs(nsEnforce).Create(ctx, cronJob("nightly", e.img.unsigned), metav1.CreateOptions{})
		expectRefused(t, err, fmt.Sprintf("image %q", e.img.unsigned), "signature check failed")
	})

	t.Run("CronJob with a signed job template image is admitted and pinned", func(t *testing.T) {
		if _, err := e.client.BatchV1().CronJobs(nsEnforce).Create(ctx, cronJob("nightly", e.img.signed2Tag), metav1.CreateOptions{}); err != nil {
			t.Fatalf("CronJob refused: %v", err)
		}
		got, err := e.c.Client.BatchV1().CronJobs(nsEnforce).Get(ctx, "nightly", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if img := got.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image; img != e.img.repo+"@"+e.img.signed2Digest {
			t.Errorf("stored job template image %q, want %q", img, e.img.repo+"@"+e.img.signed2Digest)
		}
	})

	// kubectl debug's path: the pods/ephemeralcontainers subresource.
	t.Run("ephemeral container with an unsigned image is refused", func(t *testing.T) {
		err := e.addEphemeral(t, "signed-digest", "debug-unsigned", e.img.unsigned)
		expectRefused(t, err, fmt.Sprintf("image %q", e.img.unsigned), "signature check failed")
	})

	t.Run("ephemeral container with a signed image is admitted and pinned", func(t *testing.T) {
		if err := e.addEphemeral(t, "signed-digest", "debug-signed", e.img.signedTag); err != nil {
			t.Fatalf("ephemeral container refused: %v", err)
		}
		got, err := e.c.Client.CoreV1().Pods(nsEnforce).Get(ctx, "signed-digest", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var imgs []string
		for _, c := range got.Spec.EphemeralContainers {
			imgs = append(imgs, c.Name+"="+c.Image)
		}
		if want := []string{"debug-signed=" + e.img.repo + "@" + e.img.signedDigest}; !slices.Equal(imgs, want) {
			t.Errorf("ephemeral containers %q, want %q", imgs, want)
		}
	})

	t.Run("registry down refuses", func(t *testing.T) {
		// Up: admitted (the down registry's image is fine).
		e.createPod(t, nsEnforce, "down-before", e.downTag)
		e.down.Close()
		// The tag must be resolved again, and the registry does not answer.
		e.refusePod(t, nsEnforce, e.downTag, fmt.Sprintf("image %q", e.downTag), `policy set "default"`, "registry check failed")
		// An UPDATE that changes no image is not verified again: labelling
		// the running Pod does not fail because its registry is down.
		pod, err := e.c.Client.CoreV1().Pods(nsEnforce).Get(ctx, "down-before", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Labels = map[string]string{"relabelled": "yes"}
		if _, err := e.client.CoreV1().Pods(nsEnforce).Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Errorf("relabelling a Pod whose registry is down was refused: %v", err)
		}
	})

	// Last: it changes the set "other". Its files are re-read (every 5 s)
	// without a restart, and its cached verdicts go with the old contents.
	t.Run("policy set files changed on disk apply without a restart", func(t *testing.T) {
		// Admitted (and cached) under the set as it is.
		e.createPod(t, nsOther, "reload-before", e.img.untrusted)
		// Replace the set's trust store: it now holds acme's root, not
		// other's, as an edited ConfigMap would.
		store := filepath.Join(e.other.Dir, "truststore", "x509", "ca", "other")
		old, err := filepath.Glob(filepath.Join(store, "*"))
		if err != nil || len(old) == 0 {
			t.Fatalf("the set's trust store %s holds %q (%v)", store, old, err)
		}
		acmeCerts, err := filepath.Glob(filepath.Join(e.acme.Dir, "truststore", "x509", "ca", "acme", "*"))
		if err != nil || len(acmeCerts) != 1 {
			t.Fatalf("acme's trust store holds %q (%v)", acmeCerts, err)
		}
		pem, err := os.ReadFile(acmeCerts[0])
		if err != nil {
			t.Fatal(err)
		}
		testk8s.WriteFile(t, filepath.Join(store, "acme-root.crt"), pem, 0o600)
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		const wait = 20 * time.Second
		deadline := time.Now().Add(wait)
		for {
			_, err := e.client.CoreV1().Pods(nsOther).Create(ctx, podWith("", e.img.untrusted), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				expectRefused(t, err, fmt.Sprintf("image %q", e.img.untrusted), `policy set "other"`, "authenticity check failed")
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the changed set was not applied within %s", wait)
			}
			time.Sleep(250 * time.Millisecond)
		}
	})

	t.Run("metrics count what the API server asked", func(t *testing.T) {
		metrics := e.metrics(t)
		for _, want := range []string{
			`signet_webhook_admission_requests_total{endpoint="validate",result="allowed"}`,
			`signet_webhook_admission_requests_total{endpoint="validate",result="denied"}`,
			`signet_webhook_admission_requests_total{endpoint="mutate",result="denied"}`,
			`signet_webhook_admission_requests_total{endpoint="mutate",result="warned"}`,
			`signet_webhook_verifications_total{outcome="trusted",policy_set="other"}`,
			`signet_webhook_verifications_total{outcome="not_trusted",policy_set="default"}`,
			`signet_webhook_cache_hits_total`,
			`signet_webhook_registry_errors_total`,
		} {
			if v, ok := metrics[want]; !ok || v <= 0 {
				t.Errorf("metric %s = %v (present %v), want above 0", want, v, ok)
			}
		}
		// Loaded at start and again after the change above.
		if v := metrics[`signet_webhook_policy_set_loads_total{policy_set="other",result="ok"}`]; v < 2 {
			t.Errorf("the set \"other\" was loaded %v times, want 2 or more", v)
		}
	})
}

// metrics scrapes the webhook's /metrics: value by series (name{labels}).
func (e *webhookEnv) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	hc := &http.Client{Timeout: testk8s.CallTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.c.RootCAs}}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s, %v", resp.Status, err)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// setupWebhook starts the cluster, a distribution registry with the test's
// images, and signet-webhook (the default set trusts acme, the set "other"
// trusts other); the test registers it.
func setupWebhook(t *testing.T) *webhookEnv {
	t.Helper()
	c := testk8s.Start(t)
	e := &webhookEnv{c: c, warnings: &warningRecorder{}}
	e.client = c.NewClient(t, e.warnings)

	reg := testregistry.Distribution(t, testregistry.DistributionOptions{})
	acme := testsign.NewConfig(t, "acme", "*")
	other := testsign.NewConfig(t, "other", "*")
	e.acme, e.other = acme, other
	repo := repository(t, reg.Ref("e2e/app"))
	push := func(name, tag string) ocispec.Descriptor { return testregistry.PushImage(t, repo, name, tag) }
	ref := func(d ocispec.Descriptor) string { return reg.Ref("e2e/app@" + d.Digest.String()) }

	e.img.repo = reg.Ref("e2e/app")
	d := push("signed", "v1")
	acme.Sign(t, repo, d.Digest.String())
	e.img.signed, e.img.signedTag, e.img.signedDigest = ref(d), reg.Ref("e2e/app:v1"), d.Digest.String()
	d = push("signed2", "v2")
	acme.Sign(t, repo, d.Digest.String())
	e.img.signed2, e.img.signed2Tag, e.img.signed2Digest = ref(d), reg.Ref("e2e/app:v2"), d.Digest.String()
	e.img.unsigned = ref(push("unsigned", "unsigned"))
	d = push("tampered", "tampered")
	acme.SignTampered(t, repo, "tampered", d)
	e.img.tampered = ref(d)
	d = push("untrusted", "untrusted")
	other.Sign(t, repo, d.Digest.String())
	e.img.untrusted, e.img.untrustedTag, e.img.untrustedDigest = ref(d), reg.Ref("e2e/app:untrusted"), d.Digest.String()

	// The registry the test takes down: go-containerregistry's, in-process.
	e.down = httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(e.down.Close)
	downHost := strings.TrimPrefix(e.down.URL, "http://")
	downRepo := repository(t, downHost+"/e2e/down")
	d = testregistry.PushImage(t, downRepo, "down", "v1")
	acme.Sign(t, downRepo, d.Digest.String())
	e.downTag, e.downDigest = downHost+"/e2e/down:v1", d.Digest.String()

	for name, labels := range map[string]map[string]string{
		nsEnforce: nil,
		nsOther:   {"signet.dev/policy-set": "other"},
		nsAudit:   {"signet.dev/mode": "audit"},
	} {
		c.Namespace(t, name, labels)
	}

	e.url = startWebhook(t, c, acme.Dir, map[string]string{"other": other.Dir})
	return e
}

// startWebhook builds and starts signet-webhook with the cluster's
// kubeconfig and a serving certificate from its CA, and returns its URL.
func startWebhook(t *testing.T, c *testk8s.Cluster, defaultSet string, sets map[string]string) string {
	t.Helper()
	args := []string{"--config", defaultSet, "--timeout", webhookTimeout, "--cache-ttl", "1m"}
	for name, dir := range sets {
		args = append(args, "--policy-set", name+"="+dir)
	}
	p, url := c.StartWebhook(t, testk8s.BuildWebhook(t, filepath.Join(c.Dir, "bin")), args...)
	// Registered after StartProcess's Stop, so it runs first: SIGTERM must
	// end in a clean shutdown (exit 0).
	t.Cleanup(func() {
		p.Stop()
		if err := p.Err(); err != nil {
			t.Errorf("signet-webhook did not shut down cleanly on SIGTERM: %v", err)
		}
		if t.Failed() {
			t.Logf("signet-webhook log:\n%s", p.LogTail())
		}
	})
	return url
}

// registerWebhook registers url's /validate (mutating false) or /mutate
// (mutating true) for Pods and workloads in every namespace but
// kube-system, failurePolicy Fail, as the shipped manifests do, and waits
// until the API server calls it.
func registerWebhook(t *testing.T, c *testk8s.Cluster, url string, mutating bool) {
	t.Helper()
	ctx := t.Context()
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	timeout := int32(webhookTimeoutSeconds)
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources,
		}}
	}
	rules := []admissionregistrationv1.RuleWithOperations{
		rule("", "pods", "pods/ephemeralcontainers"),
		rule("apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
		rule("batch", "jobs", "cronjobs"),
	}
	selector := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system"},
	}}}
	client := func(path string) admissionregistrationv1.WebhookClientConfig {
		u := url + path
		return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: c.CAPEM}
	}
	var name string
	var err error
	if mutating {
		name = "pin-images.signet.dev"
		reinvoke := admissionregistrationv1.IfNeededReinvocationPolicy
		_, err = c.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "signet-e2e"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: name, ClientConfig: client("/mutate"), Rules: rules,
				FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout, NamespaceSelector: selector,
				AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &reinvoke,
			}},
		}, metav1.CreateOptions{})
	} else {
		name = "verify-images.signet.dev"
		_, err = c.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "signet-e2e"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name: name, ClientConfig: client("/validate"), Rules: rules,
				FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout, NamespaceSelector: selector,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	// The API server applies configurations from a watch, a moment later:
	// poll with server-side dry runs of an image no registry holds until
	// this webhook refuses it (mutating webhooks run before validating
	// ones, so a refusal names the newest one once it is called).
	const wait = 30 * time.Second
	want := fmt.Sprintf("admission webhook %q denied the request: signet:", name)
	deadline := time.Now().Add(wait)
	for {
		_, err := c.Client.CoreV1().Pods(nsEnforce).Create(ctx, podWith("probe", "127.0.0.1:1/probe/absent:v1"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not called within %s; last dry run: %v\napiserver log:\n%s", name, wait, err, c.LogTail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// repository is a signet registry.Repository for ref (loopback: plain HTTP).
func repository(t *testing.T, ref string) *registry.Repository {
	t.Helper()
	r, _, err := registry.NewRepository(ref, registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// createPod creates a Pod running image in ns and fails the test when the
// API server refuses it.
func (e *webhookEnv) createPod(t *testing.T, ns, name, image string) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testk8s.CallTimeout)
	defer cancel()
	pod, err := e.client.CoreV1().Pods(ns).Create(ctx, podWith(name, image), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("Pod %s/%s with %s refused: %v", ns, name, image, err)
	}
	return pod
}

// refusePod creates a Pod running image in ns and fails the test unless
// the API server refuses it with a webhook denial containing every want.
func (e *webhookEnv) refusePod(t *testing.T, ns, image string, want ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testk8s.CallTimeout)
	defer cancel()
	pod, err := e.client.CoreV1().Pods(ns).Create(ctx, podWith("", image), metav1.CreateOptions{})
	if err == nil {
		t.Fatalf("Pod %s/%s with %s admitted", ns, pod.Name, image)
	}
	t.Logf("refused: %v", err)
	expectRefused(t, err, want...)
}

// expectRefused checks that err is an admission webhook's refusal (403)
// that contains every want.
func expectRefused(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("admitted, want a refusal")
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("error is not 403 Forbidden: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "denied the request: signet: ") {
		t.Errorf("error is not signet-webhook's denial: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("refusal does not contain %s:\n%s", w, msg)
		}
	}
}

// podWith is a Pod with one container running image; an empty name is
// generated by the API server.
func podWith(name, image string) *corev1.Pod {
	meta := metav1.ObjectMeta{Name: name}
	if name == "" {
		meta.GenerateName = "refused-"
	}
	return &corev1.Pod{ObjectMeta: meta, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}}}
}

// addEphemeral adds an ephemeral container running image to the Pod name in
// nsEnforce, as kubectl debug does.
func (e *webhookEnv) addEphemeral(t *testing.T, pod, name, image string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testk8s.CallTimeout)
	defer cancel()
	p, err := e.c.Client.CoreV1().Pods(nsEnforce).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: image, TerminationMessagePolicy: corev1.TerminationMessageReadFile},
	})
	_, err = e.client.CoreV1().Pods(nsEnforce).UpdateEphemeralContainers(ctx, pod, p, metav1.UpdateOptions{})
	return err
}

// cronJob is a CronJob whose job template runs image.
func cronJob(name, image string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.CronJobSpec{
			Schedule: "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "job", Image: image}},
			}}}},
		},
	}
}

// deployment is a Deployment whose template runs one container per image.
func deployment(name string, images ...string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	var containers []corev1.Container
	for i, img := range images {
		containers = append(containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: containers},
			},
		},
	}
}
