package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/internal/testk8s"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signer"
)

// envWebhook names a signet-webhook binary to measure instead of building
// ./cmd/signet-webhook.
const envWebhook = "SIGNET_BENCH_WEBHOOK"

// envWebhookRegistry chooses the registry: "ggcr-referrers" (default:
// go-containerregistry's, in the benchmark process, referrers API) or
// "distribution-tags" (the CNCF distribution v3 binary, its own process,
// filesystem storage, referrers tag schema).
const envWebhookRegistry = "SIGNET_BENCH_WEBHOOK_REGISTRY"

// buildWebhook builds ./cmd/signet-webhook into the benchmark's temporary
// directory (removed at its end) unless SIGNET_BENCH_WEBHOOK names a
// binary.
func buildWebhook(b testing.TB) string {
	b.Helper()
	if p := os.Getenv(envWebhook); p != "" {
		return p
	}
	return testk8s.BuildWebhook(b, b.TempDir())
}

// imagesPerRepo spreads images over repositories: go-containerregistry's
// registry scans every manifest of a repository on each referrers request
// (as in BenchmarkVerifyMany), which would otherwise make the registry the
// thing measured. 10,000 images are 500 repositories.
const imagesPerRepo = 20

// benchNamespace is the namespace the reviews' Pods are in; it exists in
// the API server, so the webhook's informer answers its labels from memory.
const benchNamespace = "bench"

// whEnv is what the webhook benchmarks share: a real kube-apiserver + etcd
// (namespace labels), a registry on loopback (SIGNET_BENCH_WEBHOOK_REGISTRY),
// a PKI, a policy directory trusting it, and signed images.
type whEnv struct {
	dir    string
	bin    string
	kube   *testk8s.Cluster
	reg    *testregistry.Registry
	chain  *testpki.Chain
	policy string // --config directory
	ctx    context.Context

	mu     sync.Mutex
	repos  map[string]*registry.Repository
	n      int      // images pushed so far (distinct names)
	signed []string // pool: images signed with chain, see pool
}

// pool returns n images (REPOSITORY@DIGEST) signed with the env's chain,
// the same ones to every caller: those not signed yet are pushed and
// signed now.
func (e *whEnv) pool(b testing.TB, n int) []string {
	b.Helper()
	if more := n - len(e.signed); more > 0 {
		e.signed = append(e.signed, e.signImages(b, e.chain.Certs(), e.chain.Leaf.Key, more)...)
	}
	return e.signed[:n]
}

func newWhEnv(b *testing.B) *whEnv {
	b.Helper()
	e := &whEnv{dir: b.TempDir(), ctx: context.Background(), repos: map[string]*registry.Repository{}}
	e.bin = buildWebhook(b)
	e.kube = testk8s.Start(b)
	e.kube.Namespace(b, benchNamespace, nil)
	switch kind := os.Getenv(envWebhookRegistry); kind {
	case "", registryGGCR:
		e.reg = testregistry.New(b, testregistry.Options{Referrers: true})
	case registryDistribution:
		e.reg = testregistry.Distribution(b, testregistry.DistributionOptions{})
	default:
		b.Fatalf("%s=%q: want %s or %s", envWebhookRegistry, kind, registryGGCR, registryDistribution)
	}
	e.chain = testpki.NewChain(b, "ec-256")
	e.policy = filepath.Join(e.dir, "policy")
	doc := `{"version":"1.0","trustPolicies":[{"name":"bench","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:bench"],"trustedIdentities":["*"]}]}`
	store := filepath.Join(e.policy, "truststore", "x509", "ca", "bench")
	if err := os.MkdirAll(store, 0o700); err != nil {
		b.Fatal(err)
	}
	writeTBFile(b, filepath.Join(e.policy, "trustpolicy.oci.json"), doc)
	writeTBFile(b, filepath.Join(store, "root.pem"), string(testpki.CertsPEM(e.chain.Root.Cert)))
	return e
}

// trust adds root to the policy's trust store (before a webhook starts).
func (e *whEnv) trust(b testing.TB, name string, root *x509.Certificate) {
	b.Helper()
	writeTBFile(b, filepath.Join(e.policy, "truststore", "x509", "ca", "bench", name+".pem"), string(testpki.CertsPEM(root)))
}

func (e *whEnv) repo(b testing.TB, name string) *registry.Repository {
	b.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.repos[name]; ok {
		return r
	}
	r, _, err := registry.NewRepository(e.reg.Ref(name), registry.RemoteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	e.repos[name] = r
	return r
}

// signImages pushes n new small images (one shared config and layer per
// repository, a manifest made distinct by an annotation) and signs each
// once with leaf (chain leaf first), 4 at a time. It returns
// "REPOSITORY@DIGEST" without the registry host, so that the same images
// can be named through another host (a delaying proxy, a closed port).
func (e *whEnv) signImages(b testing.TB, chain []*x509.Certificate, key crypto.Signer, n int) []string {
	b.Helper()
	e.mu.Lock()
	first := e.n
	e.n += n
	e.mu.Unlock()
	s, err := signer.NewLocal(key, chain)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]string, n)
	work := make(chan int)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	for range 4 {
		wg.Go(func() {
			for i := range work {
				ref, err := e.signOne(b, s, first+i)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				out[i] = ref
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return out
}

func (e *whEnv) signOne(b testing.TB, s *signer.Local, i int) (string, error) {
	name := fmt.Sprintf("bench/app-%d", i/imagesPerRepo)
	r := e.repo(b, name)
	cfg, err := pushBlob(e.ctx, r, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	if err != nil {
		return "", err
	}
	layer, err := pushBlob(e.ctx, r, ocispec.MediaTypeImageLayer, []byte(name))
	if err != nil {
		return "", err
	}
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfg, Layers: []ocispec.Descriptor{layer}, Annotations: map[string]string{"dev.signet.bench.image": strconv.Itoa(i)}})
	m, err := pushBlob(e.ctx, r, ocispec.MediaTypeImageManifest, raw)
	if err != nil {
		return "", err
	}
	if _, err := signet.SignOCI(e.ctx, r, m.Digest.String(), signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: s}}); err != nil {
		return "", fmt.Errorf("sign %s: %w", name, err)
	}
	return name + "@" + m.Digest.String(), nil
}

func pushBlob(ctx context.Context, r *registry.Repository, mt string, data []byte) (ocispec.Descriptor, error) {
	d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(data), Size: int64(len(data))}
	return d, registry.PushIfMissing(ctx, r, d, data)
}

// webhook is a running signet-webhook process.
type webhook struct {
	p       *testk8s.Process
	url     string
	client  *http.Client
	timeout time.Duration // its --timeout
}

// startWebhook runs signet-webhook on 127.0.0.1 over HTTPS with the env's
// policy and the API server's kubeconfig, with --timeout timeout and extra
// flags, and waits for /readyz.
func (e *whEnv) startWebhook(b testing.TB, timeout time.Duration, extra ...string) *webhook {
	b.Helper()
	p, url := e.kube.StartWebhook(b, e.bin, append([]string{"--config", e.policy, "--timeout", timeout.String()}, extra...)...)
	return &webhook{p: p, url: url, timeout: timeout, client: &http.Client{
		// The API server's webhook client: HTTP/2 over TLS, one
		// connection multiplexed, its own deadline (timeoutSeconds)
		// above the webhook's --timeout.
		Timeout:   timeout + 2*time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.kube.RootCAs}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64},
	}}
}

// status reads the process's VmRSS and VmHWM (peak RSS) in MiB.
func (w *webhook) status(b testing.TB) (rss, hwm float64) {
	b.Helper()
	rss, hwm, err := w.readStatus()
	if err != nil {
		b.Fatal(err)
	}
	return rss, hwm
}

func (w *webhook) readStatus() (rss, hwm float64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.p.Pid()))
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			switch f[0] {
			case "VmRSS:":
				rss = kb / 1024
			case "VmHWM:":
				hwm = kb / 1024
			}
		}
	}
	return rss, hwm, nil
}

// serverTimes reads the durations the webhook logged for its reviews
// ("admission review" records, duration_ms: from its handler's start to
// the answer written): the longest, and how many took longer than d.
func (w *webhook) serverTimes(b testing.TB, d time.Duration) (longest time.Duration, over int) {
	b.Helper()
	f, err := os.Open(w.p.LogPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg        string  `json:"msg"`
			DurationMS float64 `json:"duration_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Msg != "admission review" {
			continue
		}
		t := time.Duration(rec.DurationMS * float64(time.Millisecond))
		longest = max(longest, t)
		if t > d {
			over++
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	return longest, over
}

// cpu returns the CPU time (user + system) the process has used.
func (w *webhook) cpu(b testing.TB) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", w.p.Pid()))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime and stime are fields 14 and 15, in clock ticks
	// (USER_HZ, 100 on Linux).
	_, rest, _ := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		b.Fatalf("/proc/PID/stat: %q", data)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// selfCPU is the CPU time the benchmark process (load generator and
// in-process registry) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// metrics reads the unlabelled samples of GET /metrics (go_goroutines,
// go_memstats_heap_inuse_bytes, signet_webhook_cache_entries, ...).
func (w *webhook) metrics(b testing.TB) map[string]float64 {
	b.Helper()
	m, err := w.readMetrics()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func (w *webhook) readMetrics() (map[string]float64, error) {
	resp, err := w.client.Get(w.url + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		if name, v, ok := strings.Cut(line, " "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				out[name] = f
			}
		}
	}
	return out, sc.Err()
}

// answer is one review's fate.
type answer struct {
	sched, sent, done time.Time
	allowed           bool
	message           string // the refusal's reason
	err               error  // transport error, non-200, or undecodable answer
}

// post sends one AdmissionReview and reads the answer.
func (w *webhook) post(body []byte) answer {
	a := answer{sent: time.Now()}
	resp, err := w.client.Post(w.url+"/validate", "application/json", bytes.NewReader(body))
	if err != nil {
		a.err, a.done = err, time.Now()
		return a
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.done = time.Now()
	if err != nil || resp.StatusCode != http.StatusOK {
		a.err = fmt.Errorf("HTTP %d: %v %s", resp.StatusCode, err, tail(data, 300))
		return a
	}
	var rv admissionv1.AdmissionReview
	if err := json.Unmarshal(data, &rv); err != nil || rv.Response == nil {
		a.err = fmt.Errorf("bad AdmissionReview answer (%v): %s", err, tail(data, 300))
		return a
	}
	a.allowed = rv.Response.Allowed
	if rv.Response.Result != nil {
		a.message = rv.Response.Result.Message
	}
	return a
}

// podReview is an AdmissionReview v1 as kube-apiserver sends it for
// `kubectl run`-style Pod creation: the Pod after defaulting (resources,
// termination message, tolerations, the service account token volume),
// the request's user, resource and options. Each image is one container.
func podReview(name string, images []string) []byte {
	uid := make([]byte, 16)
	rand.Read(uid)
	id := fmt.Sprintf("%x-%x-%x-%x-%x", uid[0:4], uid[4:6], uid[6:8], uid[8:10], uid[10:])
	seconds := int64(300)
	grace := int64(30)
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: benchNamespace, Labels: map[string]string{"app": "bench", "pod-template-hash": "7d9f8c6b5"},
			CreationTimestamp: metav1.Now()},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways, TerminationGracePeriodSeconds: &grace, DNSPolicy: corev1.DNSClusterFirst,
			ServiceAccountName: "default", SecurityContext: &corev1.PodSecurityContext{}, SchedulerName: "default-scheduler",
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
			},
			Volumes: []corev1.Volume{{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr(int64(3607)), Path: "token"}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
				}, DefaultMode: ptr(int32(420))}}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable},
	}
	for i, img := range images {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name: fmt.Sprintf("c%d", i), Image: img, ImagePullPolicy: corev1.PullIfNotPresent,
			Ports: []corev1.ContainerPort{{ContainerPort: int32(8080 + i), Protocol: corev1.ProtocolTCP}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
			TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			VolumeMounts: []corev1.VolumeMount{{Name: "kube-api-access-x7k2p", ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}},
		})
	}
	podRaw, _ := json.Marshal(pod)
	opts, _ := json.Marshal(&metav1.CreateOptions{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}, FieldManager: "kubectl-run"})
	gvk := metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvr := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	rv := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(id), Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Name: name, Namespace: benchNamespace, Operation: admissionv1.Create,
			UserInfo: authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", "system:authenticated"}},
			Object:   runtime.RawExtension{Raw: podRaw},
			Options:  runtime.RawExtension{Raw: opts},
			DryRun:   ptr(false),
		},
	}
	body, _ := json.Marshal(rv)
	return body
}

func ptr[T any](v T) *T { return &v }

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.TrimSpace(b)
}

func writeTBFile(b testing.TB, path, data string) {
	b.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		b.Fatal(err)
	}
}
