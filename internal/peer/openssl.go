package peer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// OpenSSLTimeout bounds one OpenSSL run, and the wait for an openssl responder to start listening.
const OpenSSLTimeout = 30 * time.Second

// OpenSSL returns the openssl binary on PATH (Debian's, installed by scripts/install-peers.sh), or
// skips the test, failing it instead when SIGNET_REQUIRE_PEERS=1. use says what the test runs
// openssl as ("`openssl ts -reply` as its TSA"), for the skip message.
func OpenSSL(t testing.TB, use string) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		msg := "openssl not found in PATH: the test runs " + use + " (scripts/install-peers.sh, or apt-get install openssl)"
		if os.Getenv(EnvRequirePeers) == "1" {
			t.Fatalf("%s (%s=1)", msg, EnvRequirePeers)
		}
		t.Skip(msg)
	}
	return p
}

// RunOpenSSL runs openssl (OpenSSL's binary; use as there) with args in dir, without the system's
// configuration file, and returns its stdout. A failure or a run past OpenSSLTimeout fails the
// test with openssl's stderr.
func RunOpenSSL(t testing.TB, use, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), OpenSSLTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, OpenSSL(t, use), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OPENSSL_CONF=/dev/null")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}
