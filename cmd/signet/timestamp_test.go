package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testtsa"
)

// TestBlobTimestamp: a blob signed with --timestamp-url verifies after the
// test key's certificate has expired, when the blob policy names the TSA's
// tsa store; without it, strict refuses (issue 5 items 1-2, TC-15).
func TestBlobTimestamp(t *testing.T) {
	tsa := testtsa.Start(t)
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	root := tsa.RootPEM(t, t.TempDir())
	c.must("cert", "add", "--type", "tsa", "--store", "tsa", root)
	c.blobPolicy(
		global(statement("with-tsa", "strict", []string{"ca:demo", "tsa:tsa"}, []string{"*"})),
		statement("no-tsa", "strict", []string{"ca:demo"}, []string{"*"}),
	)
	dir := t.TempDir()
	blob := writeFile(t, dir, "b.txt", []byte("timestamped"))
	c.must("blob", "sign", "--signature-directory", dir, "--timestamp-url", tsa.URL, "--timestamp-root-cert", root, blob)
	sig := blob + ".jws.sig"
	if tsa.Requests() != 1 {
		t.Fatalf("TSA answered %d requests", tsa.Requests())
	}
	r := c.must("blob", "verify", "--signature", sig, blob)
	if !strings.Contains(r.stdout, "timestamp:") {
		t.Errorf("no timestamp shown: %s", r)
	}
	// Two days on, the one-day test certificate has expired.
	c.now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	c.must("blob", "verify", "--signature", sig, blob)
	checkFailure(t, c.run("blob", "verify", "--policy-name", "no-tsa", "--signature", sig, blob), exitNotTrusted, "authenticTimestamp check failed", "*")
}

// TestTimestampFlags: the two flags go together and the root file must hold
// exactly one self-signed certificate (TSA-3); nothing is contacted first.
func TestTimestampFlags(t *testing.T) {
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	dir := t.TempDir()
	blob := writeFile(t, dir, "b.txt", []byte("x"))
	chain := testpki.NewChain(t, "ec-256")
	two := writeFile(t, dir, "two.pem", testpki.CertsPEM(chain.Root.Cert, chain.Intermediate.Cert))
	notRoot := writeFile(t, dir, "inter.pem", testpki.CertsPEM(chain.Intermediate.Cert))
	root := writeFile(t, dir, "root.pem", testpki.CertsPEM(chain.Root.Cert))
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"url without root", []string{"--timestamp-url", "http://127.0.0.1:1"}, exitUsage, "go together"},
		{"root without url", []string{"--timestamp-root-cert", root}, exitUsage, "go together"},
		{"not a URL", []string{"--timestamp-url", "tsa.example", "--timestamp-root-cert", root}, exitUsage, "not an http(s) URL"},
		{"two certificates", []string{"--timestamp-url", "http://127.0.0.1:1", "--timestamp-root-cert", two}, exitUsage, "exactly one"},
		{"not self-signed", []string{"--timestamp-url", "http://127.0.0.1:1", "--timestamp-root-cert", notRoot}, exitUsage, "not a self-signed root"},
		{"missing root file", []string{"--timestamp-url", "http://127.0.0.1:1", "--timestamp-root-cert", filepath.Join(dir, "none.pem")}, exitIO, "none.pem"},
		{"unreachable TSA", []string{"--timestamp-url", "http://127.0.0.1:1", "--timestamp-root-cert", root}, exitIO, "could not be reached"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"blob", "sign", "--force", "--signature-directory", dir}, tc.args...), blob)
			checkFailure(t, c.run(args...), tc.code, tc.err, "")
		})
	}
}

// TestInspectTimestamp: blob inspect decodes the token of a timestamped
// signature (issue 4 item 5: "timestamp if any").
func TestInspectTimestamp(t *testing.T) {
	tsa := testtsa.Start(t)
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	root := tsa.RootPEM(t, t.TempDir())
	dir := t.TempDir()
	blob := writeFile(t, dir, "b.txt", []byte("x"))
	c.must("blob", "sign", "--signature-directory", dir, "--timestamp-url", tsa.URL, "--timestamp-root-cert", root, blob)
	var in struct {
		UnsignedAttributes struct {
			TimestampSignature struct {
				GenTime      *time.Time
				Certificates []struct{ IssuedTo string }
			}
		}
	}
	jsonOut(t, c.must("blob", "inspect", "-o", "json", blob+".jws.sig"), &in)
	ts := in.UnsignedAttributes.TimestampSignature
	if ts.GenTime == nil || time.Since(*ts.GenTime) > time.Minute || len(ts.Certificates) == 0 || !strings.Contains(ts.Certificates[0].IssuedTo, "test tsa") {
		t.Fatalf("timestamp %+v", ts)
	}
	if r := c.must("blob", "inspect", blob+".jws.sig"); !strings.Contains(r.stdout, "timestampSignature:") || !strings.Contains(r.stdout, "not verified here") {
		t.Errorf("text inspect: %s", r.stdout)
	}
}
