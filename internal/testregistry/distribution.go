package testregistry

import (
	"context"
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

	"golang.org/x/crypto/bcrypt"

	"github.com/signet-dev/signet/internal/peer"
)

// DistributionOptions configure Distribution. The zero value serves without
// authentication.
type DistributionOptions struct {
	// Username and Password, when Username is set, configure htpasswd
	// authentication (HTTP basic) with that one user; the bcrypt htpasswd
	// file is generated here.
	Username, Password string
	// BlobDescriptorCache turns on the registry's in-memory blob
	// descriptor cache (storage.cache.blobdescriptor: inmemory), as the
	// example configuration distribution ships in its container image
	// does: the size and media type of a blob already seen come from
	// memory instead of a stat of its link and data files.
	BlobDescriptorCache bool
}

// distributionStartTimeout bounds how long Distribution waits for /v2/ to
// answer after starting the binary.
const distributionStartTimeout = 15 * time.Second

// distributionStartAttempts is how many free ports Distribution tries: a
// port found free may be taken by another process before the registry binds
// it.
const distributionStartAttempts = 3

// Distribution runs the CNCF distribution v3 registry binary (peer.Registry:
// skipped when it is not installed) on 127.0.0.1 with filesystem storage in a
// temporary directory and manifest deletion enabled, and stops it when the
// test ends. The registry has no referrers API: clients use the referrers
// tag schema.
func Distribution(t testing.TB, opts DistributionOptions) *Registry {
	t.Helper()
	bin := peer.Registry(t)
	dir := t.TempDir()
	auth := ""
	if opts.Username != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(opts.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(opts.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: testregistry\n    path: %s\n", htpasswd)
	}
	cache := ""
	if opts.BlobDescriptorCache {
		cache = "  cache:\n    blobdescriptor: inmemory\n"
	}
	var lastErr error
	for range distributionStartAttempts {
		addr, err := freeAddr()
		if err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
%s  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, cache, filepath.Join(dir, "data"), addr, auth)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := startDistribution(t, bin, cfgPath, dir, addr)
		if err == nil {
			return r
		}
		lastErr = err
	}
	t.Fatalf("distribution registry did not start: %v", lastErr)
	return nil
}

func startDistribution(t testing.TB, bin, cfgPath, dir, addr string) (*Registry, error) {
	logPath := filepath.Join(dir, "registry.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfgPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "OTEL_TRACES_EXPORTER=none"}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	ctx, cancel := context.WithTimeout(context.Background(), distributionStartTimeout)
	defer cancel()
	url := "http://" + addr
	for {
		if ready(ctx, url+"/v2/") {
			t.Cleanup(stop)
			return &Registry{Host: addr, URL: url, Process: cmd.Process}, nil
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("exited (%v): %s", err, strings.TrimSpace(string(out)))
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("/v2/ did not answer within %v", distributionStartTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ready reports whether url answers 200 or 401 (authentication configured).
func ready(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	if _, ok := l.Addr().(*net.TCPAddr); !ok {
		return "", errors.New("not a TCP address")
	}
	return l.Addr().String(), nil
}
