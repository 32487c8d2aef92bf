package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// apiserverReadyTimeout bounds the wait for kube-apiserver's /readyz (5-6 s
// on this machine idle; much more under the session's load).
const apiserverReadyTimeout = 120 * time.Second

// kube is a real etcd + kube-apiserver on loopback: what the webhook reads
// namespace labels from (an informer), as in a cluster.
type kube struct {
	kubeconfig string
	client     kubernetes.Interface
}

// freePort returns a port nothing listens on at the moment.
func freePort(b testing.TB) int {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a process started by startProcess.
type proc struct {
	cmd  *exec.Cmd
	log  string        // its stdout and stderr
	done chan struct{} // closed when it has exited
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startProcess starts cmd with its output in dir/name.log and stops it
// when the benchmark ends.
func startProcess(b testing.TB, dir, name string, cmd *exec.Cmd) *proc {
	b.Helper()
	p := &proc{cmd: cmd, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	logf, err := os.Create(p.log)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	b.Cleanup(p.stop)
	return p
}

// stop interrupts the process and waits for it, killing it after 20 s.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// portTaken reports whether the process exited because its port was taken
// (freePort's port is free when asked, not necessarily when bound: the
// machine is shared).
func (p *proc) portTaken() bool {
	if !p.exited() {
		return false
	}
	log, _ := os.ReadFile(p.log)
	return bytes.Contains(log, []byte("address already in use"))
}

// startAttempts is how many sets of free ports a server is started with
// before giving up.
const startAttempts = 3

// startKube starts etcd and kube-apiserver (static token, system:masters)
// and returns a kubeconfig for them once /readyz answers.
func startKube(b testing.TB) *kube {
	b.Helper()
	bin := peer.Kubernetes(b) // skipped (failed with SIGNET_REQUIRE_PEERS=1) without kube-apiserver and etcd
	dir := b.TempDir()
	ca := testpki.Issue(b, testpki.Cert{Subject: testpki.Name("bench kube CA"), IsCA: true}, nil)
	srv := testpki.Issue(b, testpki.Cert{Subject: testpki.Name("kube-apiserver"), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}}, ca)
	saKey := testpki.Key(b, "ec-256", true)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	caFile := write("ca.crt", testpki.CertsPEM(ca.Cert))
	const token = "signet-bench-token"
	tokens := write("tokens.csv", []byte(token+",admin,admin,system:masters\n"))
	sa := write("sa.key", testpki.KeyPEM(b, saKey))
	pubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		b.Fatal(err)
	}
	saPub := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))

	for attempt := 1; ; attempt++ {
		kc, retry := tryStartKube(b, dir, bin, ca, srv, tokens, token, sa, saPub, caFile)
		if kc != "" {
			return newKube(b, kc)
		}
		if !retry || attempt == startAttempts {
			b.Fatal("kube-apiserver did not start")
		}
	}
}

// tryStartKube starts etcd and kube-apiserver on free ports; it returns the
// kubeconfig, or whether to try again on other ports.
func tryStartKube(b testing.TB, dir, bin string, ca, srv *testpki.Issued, tokens, token, sa, saPub, caFile string) (kubeconfig string, retry bool) {
	b.Helper()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		return p
	}
	etcdPort, peerPort, apiPort := freePort(b), freePort(b), freePort(b)
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	os.RemoveAll(filepath.Join(dir, "etcd-data"))
	etcd := startProcess(b, dir, "etcd", exec.Command(filepath.Join(bin, "etcd"), "--name", "bench",
		"--data-dir", filepath.Join(dir, "etcd-data"), "--unsafe-no-fsync",
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "bench="+peerURL))
	api := startProcess(b, dir, "kube-apiserver", exec.Command(filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+write("apiserver.crt", testpki.CertsPEM(srv.Cert)),
		"--tls-private-key-file="+write("apiserver.key", testpki.KeyPEM(b, srv.Key)),
		"--token-auth-file="+tokens,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saPub, "--service-account-signing-key-file="+sa,
		"--service-cluster-ip-range=10.0.0.0/24", "--endpoint-reconciler-type=none",
		"--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount"))

	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	kc := write("kubeconfig", fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {server: %q, certificate-authority: %q}
users:
- name: admin
  user: {token: %q}
contexts:
- name: bench
  context: {cluster: bench, user: admin}
current-context: bench
`, server, caFile, token))

	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(apiserverReadyTimeout)
	for {
		req, _ := http.NewRequest(http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return kc, false
			}
		}
		if api.exited() || etcd.exited() || time.Now().After(deadline) {
			api.stop()
			etcd.stop()
			if api.portTaken() || etcd.portTaken() {
				b.Logf("a port was taken; starting again on others")
				return "", true
			}
			log, _ := os.ReadFile(api.log)
			b.Fatalf("kube-apiserver not ready (last error %v):\n%s", err, tail(log, 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// newKube makes the client of the API server kubeconfig names.
func newKube(b testing.TB, kc string) *kube {
	b.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		b.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return &kube{kubeconfig: kc, client: client}
}

// namespace creates a namespace with labels.
func (k *kube) namespace(b testing.TB, name string, labels map[string]string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
		b.Fatalf("create namespace %s: %v", name, err)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return bytes.TrimSpace(b)
}
