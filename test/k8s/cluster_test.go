package k8s

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/signet-dev/signet/internal/peer"
)

// Timeouts of the harness's own waits and calls.
const (
	etcdStartTimeout      = 30 * time.Second // etcd answering /health
	apiserverStartTimeout = 90 * time.Second // kube-apiserver answering /readyz (about 6 s idle, more on a loaded machine)
	webhookStartTimeout   = 30 * time.Second // signet-webhook answering /readyz
	stopTimeout           = 15 * time.Second // a process exiting after SIGTERM, before SIGKILL
	callTimeout           = 30 * time.Second // one API call or kubectl run
	buildTimeout          = 5 * time.Minute  // go build of signet-webhook
	startAttempts         = 3                // fresh ports tried when a process loses its port to another one
)

// pki is the control plane's one CA, with helpers to issue certificates.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer
	caPEM  []byte
	caFile string
}

func newPKI(t testing.TB, dir string) *pki {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "signet e2e CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: dir, caCert: cert, caKey: key, caPEM: pemBlock("CERTIFICATE", der)}
	p.caFile = writeFile(t, filepath.Join(dir, "ca.crt"), p.caPEM, 0o644)
	return p
}

// issue writes NAME.crt and NAME.key: a leaf for subject, serving (with the
// loopback SANs) or client.
func (p *pki) issue(t testing.TB, name string, subject pkix.Name, server bool) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      subject,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, filepath.Join(p.dir, name+".crt"), pemBlock("CERTIFICATE", der), 0o644)
	keyFile = writeFile(t, filepath.Join(p.dir, name+".key"), keyPEM(t, key), 0o600)
	return certFile, keyFile
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func keyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// cluster is etcd and kube-apiserver on loopback, no kubelet, no
// controller-manager, no scheduler: Pods stay Pending, which is all an
// admission test needs.
type cluster struct {
	bin        string // directory holding kube-apiserver, kubectl and etcd
	dir        string
	pki        *pki
	url        string // https://127.0.0.1:PORT
	kubeconfig string // admin (system:masters) kubeconfig file
	config     *rest.Config
	client     kubernetes.Interface
	apiserver  *process
}

// startCluster starts etcd and kube-apiserver (peer.Kubernetes: skipped
// without the binaries) and stops them when the test ends.
func startCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{bin: peer.Kubernetes(t), dir: workDir(t)}
	c.pki = newPKI(t, filepath.Join(c.dir, "pki"))
	start := time.Now()
	etcdURL := c.startEtcd(t)
	c.startAPIServer(t, etcdURL)
	t.Logf("control plane ready at %s in %s", c.url, time.Since(start).Round(time.Millisecond))
	return c
}

func (c *cluster) startEtcd(t testing.TB) string {
	t.Helper()
	var lastErr error
	for range startAttempts {
		client, peerURL := "http://"+freeAddr(t), "http://"+freeAddr(t)
		data := filepath.Join(c.dir, "etcd-data")
		os.RemoveAll(data)
		p := startProcess(t, "etcd", filepath.Join(c.bin, "etcd"), filepath.Join(c.dir, "etcd.log"), nil,
			"--name", "e2e", "--data-dir", data,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "e2e="+peerURL,
			"--unsafe-no-fsync", "--log-level", "warn")
		lastErr = p.waitReady(etcdStartTimeout, func() bool {
			return httpOK(http.DefaultClient, client+"/health")
		})
		if lastErr == nil {
			return client
		}
		p.stop(t)
		if !lostPort(lastErr) {
			break
		}
	}
	t.Fatalf("etcd did not start: %v", lastErr)
	return ""
}

func (c *cluster) startAPIServer(t testing.TB, etcdURL string) {
	t.Helper()
	serverCert, serverKey := c.pki.issue(t, "apiserver", pkix.Name{CommonName: "kube-apiserver"}, true)
	adminCert, adminKey := c.pki.issue(t, "admin", pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}, false)
	sa := newKey(t)
	saKey := writeFile(t, filepath.Join(c.pki.dir, "sa.key"), keyPEM(t, sa), 0o600)
	saPubDER, err := x509.MarshalPKIXPublicKey(sa.Public())
	if err != nil {
		t.Fatal(err)
	}
	saPub := writeFile(t, filepath.Join(c.pki.dir, "sa.pub"), pemBlock("PUBLIC KEY", saPubDER), 0o644)
	pair, err := tls.LoadX509KeyPair(adminCert, adminKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.pki.caCert)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	defer hc.CloseIdleConnections()

	var lastErr error
	for range startAttempts {
		port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
		c.url = "https://127.0.0.1:" + port
		c.apiserver = startProcess(t, "kube-apiserver", filepath.Join(c.bin, "kube-apiserver"), filepath.Join(c.dir, "apiserver.log"), nil,
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+port,
			"--cert-dir="+filepath.Join(c.dir, "apiserver-certs"),
			"--tls-cert-file="+serverCert, "--tls-private-key-file="+serverKey,
			"--client-ca-file="+c.pki.caFile,
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
		lastErr = c.apiserver.waitReady(apiserverStartTimeout, func() bool { return httpOK(hc, c.url+"/readyz") })
		if lastErr == nil || !lostPort(lastErr) {
			break
		}
		c.apiserver.stop(t)
	}
	if lastErr != nil {
		t.Fatalf("kube-apiserver did not start: %v", lastErr)
	}

	c.kubeconfig = writeFile(t, filepath.Join(c.dir, "kubeconfig"), []byte(fmt.Sprintf(`apiVersion: v1
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
`, c.url, c.pki.caFile, adminCert, adminKey)), 0o600)
	c.config = &rest.Config{
		Host:            c.url,
		TLSClientConfig: rest.TLSClientConfig{CAFile: c.pki.caFile, CertFile: adminCert, KeyFile: adminKey},
		Timeout:         callTimeout,
		UserAgent:       "signet-e2e",
	}
	c.client = c.newClient(t, nil)
}

// newClient is a client of the cluster whose API warnings go to warnings
// (nil: logged and dropped).
func (c *cluster) newClient(t testing.TB, warnings *warningRecorder) kubernetes.Interface {
	t.Helper()
	cfg := rest.CopyConfig(c.config)
	if warnings != nil {
		cfg.WarningHandlerWithContext = warnings
	} else {
		cfg.WarningHandlerWithContext = rest.NoWarnings{}
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// kubectl runs kubectl against the cluster with stdin and returns its
// stdout and stderr.
func (c *cluster) kubectl(t testing.TB, stdin []byte, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// logTail is the end of kube-apiserver's log, for failure messages.
func (c *cluster) logTail() string { return c.apiserver.logTail() }

// warningRecorder collects the warnings the API server returns (the
// Warning header, which admission webhooks' warnings become).
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, message)
}

// take returns the warnings collected since the last take.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs
	w.msgs = nil
	return m
}

// process is a child process logging into a file, stopped when the test
// ends.
type process struct {
	name, logPath string
	cmd           *exec.Cmd
	exited        chan struct{}
	err           error // Wait's result, once exited is closed
	stopOnce      sync.Once
}

func startProcess(t testing.TB, name, bin, logPath string, env []string, args ...string) *process {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, logPath: logPath, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(logPath)}, env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM, then SIGKILL after stopTimeout, and waits for the
// process to exit.
func (p *process) stop(t testing.TB) {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			t.Logf("%s did not exit within %s of SIGTERM: killed", p.name, stopTimeout)
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// waitReady polls ready until it holds, the process exits or timeout
// passes.
func (p *process) waitReady(timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, p.logTail())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s:\n%s", p.name, timeout, p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logTail is the end of the process's log.
func (p *process) logTail() string {
	data, _ := os.ReadFile(p.logPath)
	const max = 8 << 10
	if len(data) > max {
		data = data[len(data)-max:]
	}
	return string(data)
}

// lostPort tells whether a process failed to start because another one took
// its port first (freeAddr cannot reserve a port).
func lostPort(err error) bool {
	return strings.Contains(err.Error(), "address already in use")
}

func httpOK(c *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// freeAddr is a 127.0.0.1:PORT nothing listened on a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
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

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// repoRoot is the checkout's root (this package is test/k8s).
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// buildWebhook builds ./cmd/signet-webhook from this checkout into dir.
func buildWebhook(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "signet-webhook")
	ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/signet-webhook")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("go build signet-webhook: not done within %s", buildTimeout)
		}
		t.Fatalf("go build signet-webhook: %v\n%s", err, out)
	}
	return bin
}
