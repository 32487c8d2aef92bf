package k8s

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testk8s"
)

// webhookNamespace is the namespace the shipped manifests install into (and
// the chart is rendered for).
const webhookNamespace = "signet-system"

// TestManifests applies the shipped manifests (deploy/kubernetes) and the
// Helm chart rendered by helm (deploy/helm) to a real kube-apiserver with
// server-side dry runs, so that a schema or validation mistake fails here,
// and checks what docs/webhook.md promises of them: kube-system and the
// webhook's namespace excluded, failurePolicy Fail, timeoutSeconds above
// the webhook's --timeout, 2 replicas, a PodDisruptionBudget.
func TestManifests(t *testing.T) {
	c := testk8s.Start(t)
	// Server-side dry runs of namespaced objects need their namespace.
	c.Namespace(t, webhookNamespace, nil)
	plain, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kubernetes", "signet-webhook.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("deploy/kubernetes passes a server-side dry run", func(t *testing.T) {
		dryRun(t, c, plain)
		checkObjects(t, plain, nil)
	})

	// The dry run has teeth: the API server's validation, not only YAML
	// parsing, refuses a broken manifest.
	mistakes := []struct {
		name, old, new string
		want           string // in kubectl's error
	}{
		{name: "unknown failurePolicy", old: "    failurePolicy: Fail\n", new: "    failurePolicy: Sometimes\n", want: "failurePolicy"},
		{name: "timeoutSeconds above 30", old: "timeoutSeconds: 10", new: "timeoutSeconds: 40", want: "timeoutSeconds"},
		{name: "unknown field", old: "minAvailable: 1", new: "minAvailable: 1\n  maxAvailable: 1", want: "maxAvailable"},
	}
	for _, tc := range mistakes {
		t.Run("deploy/kubernetes with a mistake fails the dry run: "+tc.name, func(t *testing.T) {
			if !bytes.Contains(plain, []byte(tc.old)) {
				t.Fatalf("the manifest no longer holds %q", tc.old)
			}
			broken := bytes.Replace(plain, []byte(tc.old), []byte(tc.new), 1)
			stdout, stderr, err := c.Kubectl(t, broken, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if err == nil {
				t.Fatalf("kubectl apply --dry-run=server accepted the broken manifest:\n%s", stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("kubectl's error does not name %q:\n%s", tc.want, stderr)
			}
		})
	}

	t.Run("helm chart", func(t *testing.T) {
		helm := peer.Helm(t)
		chart := filepath.Join(repoRoot(t), "deploy", "helm", "signet-webhook")
		values := testk8s.WriteFile(t, filepath.Join(t.TempDir(), "values.yaml"), []byte(`policySets:
  production:
    trustPolicy: |
      {"version":"1.0","trustPolicies":[{"name":"prod","registryScopes":["*"],
       "signatureVerification":{"level":"strict"},"trustStores":["ca:prod-ca"],"trustedIdentities":["*"]}]}
    trustStores:
      prod-ca: |
`+indent(string(c.CAPEM), "        ")+`insecureRegistries: ["registry.internal:5000"]
excludedNamespaces: ["team-legacy"]
tls:
  caBundle: `+base64.StdEncoding.EncodeToString(c.CAPEM)+"\n"), 0o600)
		cases := []struct {
			name     string
			args     []string
			excluded []string // besides kube-system and the release namespace
			sets     []string // --policy-set names in the Deployment
		}{
			{name: "default values"},
			{name: "policy set, insecure registry, excluded namespace, CA bundle", args: []string{"-f", values},
				excluded: []string{"team-legacy"}, sets: []string{"production"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				lintArgs := append([]string{"lint", "--strict", chart}, tc.args...)
				if stdout, stderr, err := peer.Run(t, helm, nil, lintArgs...); err != nil {
					t.Errorf("helm lint: %v\n%s%s", err, stdout, stderr)
				}
				tmplArgs := append([]string{"template", "signet", chart, "--namespace", webhookNamespace}, tc.args...)
				rendered, stderr, err := peer.Run(t, helm, nil, tmplArgs...)
				if err != nil {
					t.Fatalf("helm template: %v\n%s", err, stderr)
				}
				dryRun(t, c, []byte(rendered))
				objs := checkObjects(t, []byte(rendered), tc.excluded)
				var sets []string
				for _, a := range objs.deployment.Spec.Template.Spec.Containers[0].Args {
					if v, ok := strings.CutPrefix(a, "--policy-set="); ok {
						name, _, _ := strings.Cut(v, "=")
						sets = append(sets, name)
					}
				}
				if !slices.Equal(sets, tc.sets) {
					t.Errorf("Deployment --policy-set names %q, want %q", sets, tc.sets)
				}
			})
		}
	})
}

// dryRun applies manifests with kubectl apply --dry-run=server and fails
// the test unless every object passes.
func dryRun(t *testing.T, c *testk8s.Cluster, manifests []byte) {
	t.Helper()
	stdout, stderr, err := c.Kubectl(t, manifests, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s%s", err, stdout, stderr)
	}
	n := strings.Count(stdout, "(server dry run)")
	if want := len(splitDocs(t, manifests)); n != want {
		t.Errorf("kubectl applied %d objects in the dry run, want %d:\n%s", n, want, stdout)
	}
	t.Logf("server dry run:\n%s", stdout)
}

// shippedObjects are the objects checkObjects looks into.
type shippedObjects struct {
	deployment *appsv1.Deployment
	timeout    time.Duration // the Deployment's --timeout
}

// hook is what checkObjects reads of a mutating or validating webhook.
type hook struct {
	name     string
	policy   *admissionregistrationv1.FailurePolicyType
	effects  *admissionregistrationv1.SideEffectClass
	timeout  *int32
	selector *metav1.LabelSelector
}

// checkObjects checks the promises of docs/webhook.md in manifests: both
// webhook configurations with failurePolicy Fail, sideEffects None,
// timeoutSeconds above the webhook's --timeout, a namespaceSelector that
// excludes kube-system, the webhook's namespace and extraExcluded; a
// Deployment of 2+ replicas with pod anti-affinity; a PodDisruptionBudget.
func checkObjects(t *testing.T, manifests []byte, extraExcluded []string) shippedObjects {
	t.Helper()
	var (
		objs     shippedObjects
		kinds    []string
		webhooks []hook
	)
	for _, doc := range splitDocs(t, manifests) {
		var meta metav1.TypeMeta
		if err := utilyaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, meta.Kind)
		switch meta.Kind {
		case "MutatingWebhookConfiguration":
			var cfg admissionregistrationv1.MutatingWebhookConfiguration
			unmarshalStrict(t, doc, &cfg)
			for _, w := range cfg.Webhooks {
				webhooks = append(webhooks, hook{w.Name, w.FailurePolicy, w.SideEffects, w.TimeoutSeconds, w.NamespaceSelector})
			}
		case "ValidatingWebhookConfiguration":
			var cfg admissionregistrationv1.ValidatingWebhookConfiguration
			unmarshalStrict(t, doc, &cfg)
			for _, w := range cfg.Webhooks {
				webhooks = append(webhooks, hook{w.Name, w.FailurePolicy, w.SideEffects, w.TimeoutSeconds, w.NamespaceSelector})
			}
		case "Deployment":
			objs.deployment = &appsv1.Deployment{}
			unmarshalStrict(t, doc, objs.deployment)
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
		"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("no %s among %q", k, kinds)
		}
	}
	if objs.deployment == nil {
		t.FailNow()
	}
	d := objs.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas %v, want 2 or more", d.Spec.Replicas)
	}
	if a := d.Spec.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil {
		t.Error("Deployment has no pod anti-affinity")
	}
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--timeout="); ok {
			var err error
			if objs.timeout, err = time.ParseDuration(v); err != nil {
				t.Errorf("Deployment --timeout %q: %v", v, err)
			}
		}
	}
	if objs.timeout <= 0 {
		t.Errorf("Deployment args %q set no --timeout", d.Spec.Template.Spec.Containers[0].Args)
	}

	wantExcluded := append([]string{"kube-system", webhookNamespace}, extraExcluded...)
	if len(webhooks) != 2 {
		t.Errorf("%d webhooks in the configurations, want 2 (pin-images, verify-images)", len(webhooks))
	}
	for _, w := range webhooks {
		if w.policy == nil || *w.policy != admissionregistrationv1.Fail {
			t.Errorf("%s: failurePolicy %v, want Fail", w.name, w.policy)
		}
		if w.effects == nil || *w.effects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("%s: sideEffects %v, want None", w.name, w.effects)
		}
		if w.timeout == nil || time.Duration(*w.timeout)*time.Second <= objs.timeout {
			t.Errorf("%s: timeoutSeconds %v, want more than the webhook's --timeout %s", w.name, w.timeout, objs.timeout)
		}
		var excluded []string
		if w.selector != nil {
			for _, e := range w.selector.MatchExpressions {
				if e.Key == "kubernetes.io/metadata.name" && e.Operator == metav1.LabelSelectorOpNotIn {
					excluded = append(excluded, e.Values...)
				}
			}
		}
		slices.Sort(excluded)
		want := slices.Sorted(slices.Values(wantExcluded))
		if !slices.Equal(excluded, want) {
			t.Errorf("%s: namespaceSelector excludes %q, want %q", w.name, excluded, want)
		}
	}
	return objs
}

// splitDocs splits a multi-document YAML stream into its non-empty
// documents.
func splitDocs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("split YAML documents: %v", err)
		}
		var m map[string]any
		if err := utilyaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("YAML document: %v\n%s", err, doc)
		}
		if len(m) > 0 {
			docs = append(docs, doc)
		}
	}
}

func unmarshalStrict(t *testing.T, doc []byte, v any) {
	t.Helper()
	if err := utilyaml.UnmarshalStrict(doc, v); err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(prefix + line)
	}
	return b.String()
}
