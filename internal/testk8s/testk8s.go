// Package testk8s runs a Kubernetes control plane for tests and benchmarks:
// etcd and kube-apiserver on loopback (found by peer.Kubernetes: the test
// skips without them, or fails when SIGNET_REQUIRE_PEERS=1), no kubelet, no
// controller-manager, no scheduler (Pods stay Pending, which is all an
// admission test needs), with a CA made at test time whose client
// certificates are the only authentication; and signet-webhook processes
// behind it. Process is the child process helper they all run as.
package testk8s

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// CallTimeout bounds one API call or kubectl run.
const CallTimeout = 30 * time.Second

// Timeouts of the harness's own waits.
const (
	etcdStartTimeout      = 30 * time.Second  // etcd answering /health
	apiserverStartTimeout = 120 * time.Second // kube-apiserver answering /readyz (about 6 s idle, much more on a loaded machine)
	webhookStartTimeout   = 60 * time.Second  // signet-webhook answering /readyz
	buildTimeout          = 5 * time.Minute   // go build of signet-webhook
)

// Cluster is etcd and kube-apiserver on loopback.
type Cluster struct {
	Bin        string // directory holding kube-apiserver, kubectl and etcd
	Dir        string // working directory, removed when the test ends
	URL        string // https://127.0.0.1:PORT
	CAPEM      []byte // the CA's certificate, PEM (a webhook configuration's caBundle)
	RootCAs    *x509.CertPool
	Kubeconfig string // admin (system:masters) kubeconfig file
	Config     *rest.Config
	Client     kubernetes.Interface // admin, API warnings dropped

	ca        *testpki.Issued
	caFile    string
	apiserver *Process
}

// Start starts etcd and kube-apiserver and stops them when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{Bin: peer.Kubernetes(t), Dir: workDir(t), RootCAs: x509.NewCertPool()}
	c.ca = testpki.Issue(t, testpki.Cert{Subject: pkix.Name{CommonName: "signet test CA"}, IsCA: true, Key: testpki.Key(t, "ec-256", true)}, nil)
	c.CAPEM = testpki.CertsPEM(c.ca.Cert)
	c.RootCAs.AddCert(c.ca.Cert)
	c.caFile = WriteFile(t, filepath.Join(c.Dir, "pki", "ca.crt"), c.CAPEM, 0o644)
	start := time.Now()
	c.startAPIServer(t, c.startEtcd(t))
	t.Logf("control plane ready at %s in %s", c.URL, time.Since(start).Round(time.Millisecond))
	return c
}

// Issue writes base.crt and base.key: a certificate of the cluster's CA
// for subject, serving (for 127.0.0.1 and localhost) or client.
func (c *Cluster) Issue(t testing.TB, base string, subject pkix.Name, server bool) (certFile, keyFile string) {
	t.Helper()
	leaf := testpki.Issue(t, testpki.Cert{Subject: subject, Key: testpki.Key(t, "ec-256", true), Modify: func(x *x509.Certificate) {
		x.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if server {
			x.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			x.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			x.DNSNames = []string{"localhost"}
		}
	}}, c.ca)
	certFile = WriteFile(t, base+".crt", testpki.CertsPEM(leaf.Cert), 0o644)
	keyFile = WriteFile(t, base+".key", testpki.KeyPEM(t, leaf.Key), 0o600)
	return certFile, keyFile
}

func (c *Cluster) startEtcd(t testing.TB) (url string) {
	t.Helper()
	data := filepath.Join(c.Dir, "etcd-data")
	Serve(t, etcdStartTimeout, func() (*Process, func() error) {
		client, peerURL := "http://"+FreeAddr(t), "http://"+FreeAddr(t)
		url = client
		os.RemoveAll(data)
		p := StartProcess(t, filepath.Join(c.Dir, "etcd.log"), nil, filepath.Join(c.Bin, "etcd"),
			"--name", "e2e", "--data-dir", data,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "e2e="+peerURL,
			"--unsafe-no-fsync", "--log-level", "warn")
		return p, func() error { return httpOK(http.DefaultClient, client+"/health") }
	})
	return url
}

func (c *Cluster) startAPIServer(t testing.TB, etcdURL string) {
	t.Helper()
	pki := filepath.Join(c.Dir, "pki")
	serverCert, serverKey := c.Issue(t, filepath.Join(pki, "apiserver"), pkix.Name{CommonName: "kube-apiserver"}, true)
	adminCert, adminKey := c.Issue(t, filepath.Join(pki, "admin"), pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, false)
	sa := testpki.Key(t, "ec-256", true)
	saKey := WriteFile(t, filepath.Join(pki, "sa.key"), testpki.KeyPEM(t, sa), 0o600)
	saPubDER, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		t.Fatal(err)
	}
	saPub := WriteFile(t, filepath.Join(pki, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}), 0o644)
	c.Config = &rest.Config{
		TLSClientConfig: rest.TLSClientConfig{CAFile: c.caFile, CertFile: adminCert, KeyFile: adminKey},
		Timeout:         CallTimeout,
		UserAgent:       "signet-testk8s",
	}
	hc, err := rest.HTTPClientFor(c.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.CloseIdleConnections()

	c.apiserver = Serve(t, apiserverStartTimeout, func() (*Process, func() error) {
		port := strings.TrimPrefix(FreeAddr(t), "127.0.0.1:")
		c.URL = "https://127.0.0.1:" + port
		p := StartProcess(t, filepath.Join(c.Dir, "apiserver.log"), nil, filepath.Join(c.Bin, "kube-apiserver"),
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+port,
			"--cert-dir="+filepath.Join(c.Dir, "apiserver-certs"),
			"--tls-cert-file="+serverCert, "--tls-private-key-file="+serverKey,
			"--client-ca-file="+c.caFile,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file="+saPub, "--service-account-signing-key-file="+saKey,
			"--service-cluster-ip-range=10.0.0.0/24",
			// No kubelet writes endpoints; no controller-manager makes the
			// default ServiceAccount, which the ServiceAccount admission
			// plugin would require of every Pod.
			"--endpoint-reconciler-type=none",
			"--disable-admission-plugins=ServiceAccount",
			"--authorization-mode=RBAC",
			"--allow-privileged=true")
		return p, func() error { return httpOK(hc, c.URL+"/readyz") }
	})

	c.Config.Host = c.URL
	c.Kubeconfig = WriteFile(t, filepath.Join(c.Dir, "kubeconfig"), fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, c.URL, c.caFile, adminCert, adminKey), 0o600)
	c.Client = c.NewClient(t, nil)
}

// NewClient is an admin client of the cluster whose API warnings (the
// Warning header, which admission webhooks' warnings become) go to
// warnings; nil drops them.
func (c *Cluster) NewClient(t testing.TB, warnings rest.WarningHandlerWithContext) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(c.Config)
	cfg.WarningHandlerWithContext = warnings
	if warnings == nil {
		cfg.WarningHandlerWithContext = rest.NoWarnings{}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Namespace creates a namespace with labels.
func (c *Cluster) Namespace(t testing.TB, name string, labels map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), CallTimeout)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// Kubectl runs kubectl against the cluster with stdin and returns its
// stdout and stderr.
func (c *Cluster) Kubectl(t testing.TB, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), CallTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, "kubectl"), append([]string{"--kubeconfig", c.Kubeconfig}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.Dir}
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// LogTail is the end of kube-apiserver's log, for failure messages.
func (c *Cluster) LogTail() string { return c.apiserver.LogTail() }

// StartWebhook runs the signet-webhook binary bin on a free loopback port,
// serving TLS with a certificate of the cluster's CA and reading
// namespaces with the admin kubeconfig, with args added (--config,
// --timeout, ...), and waits for /readyz. Its certificate, log and HOME
// are a directory of its own. It returns the process and its
// https://127.0.0.1:PORT.
func (c *Cluster) StartWebhook(t testing.TB, bin string, args ...string) (*Process, string) {
	t.Helper()
	dir, err := os.MkdirTemp(c.Dir, "webhook-")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := c.Issue(t, filepath.Join(dir, "tls"), pkix.Name{CommonName: "signet-webhook"}, true)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.RootCAs}}}
	defer hc.CloseIdleConnections()
	var url string
	p := Serve(t, webhookStartTimeout, func() (*Process, func() error) {
		addr := FreeAddr(t)
		url = "https://" + addr
		p := StartProcess(t, filepath.Join(dir, "signet-webhook.log"), []string{"TMPDIR=" + dir}, bin,
			append([]string{"--addr", addr, "--tls-cert-file", cert, "--tls-key-file", key, "--kubeconfig", c.Kubeconfig}, args...)...)
		return p, func() error { return httpOK(hc, url+"/readyz") }
	})
	return p, url
}

// BuildWebhook builds ./cmd/signet-webhook of this checkout into dir.
func BuildWebhook(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "signet-webhook")
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/signet-dev/signet/cmd/signet-webhook").CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("go build signet-webhook: not done within %s", buildTimeout)
	}
	if err != nil {
		t.Fatalf("go build signet-webhook: %v\n%s", err, out)
	}
	return bin
}

// workDir is a private directory removed when the test ends.
func workDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "signet-k8s-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}
