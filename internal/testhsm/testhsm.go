// Package testhsm gives tests a real PKCS #11 token: a SoftHSM2 token in a
// temporary directory (its own SOFTHSM2_CONF), with keys and certificates
// imported through SoftHSM2's and OpenSC's command-line tools
// (softhsm2-util, pkcs11-tool). scripts/install-peers.sh installs them
// (Debian packages softhsm2 and opensc).
//
// When a tool or the SoftHSM2 module is missing, New skips the test, or
// fails it when SIGNET_REQUIRE_PEERS=1 (as in CI).
//
// The package is pure Go: it runs the tools, it does not load the module.
package testhsm

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/peer"
)

// EnvModule names the SoftHSM2 PKCS #11 module, overriding the search of
// ModuleCandidates.
const EnvModule = "SIGNET_SOFTHSM2_MODULE"

// ModuleCandidates are the paths where distributions install the SoftHSM2
// module, searched in order.
var ModuleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/lib/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// The PINs of every token New makes.
const (
	PIN   = "1234"
	SOPIN = "5678"
)

// toolTimeout bounds one run of softhsm2-util or pkcs11-tool.
const toolTimeout = time.Minute

// Token is an initialised SoftHSM2 token whose user PIN is PIN.
type Token struct {
	// Conf is the SOFTHSM2_CONF file: processes that use the token need
	// it in their environment (see Env).
	Conf string
	// Module is the path of the SoftHSM2 PKCS #11 module.
	Module string
	// Label is the token label.
	Label string
	dir   string
}

// Module returns the SoftHSM2 module path, skipping (or failing, with
// SIGNET_REQUIRE_PEERS=1) when there is none.
func Module(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvModule); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", EnvModule, p, err)
		}
		return p
	}
	for _, p := range ModuleCandidates {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, "the SoftHSM2 module (libsofthsm2.so) was not found in "+strings.Join(ModuleCandidates, ", ")+" and $"+EnvModule+" is unset")
	return ""
}

func missing(t testing.TB, what string) {
	t.Helper()
	msg := what + "; install the Debian packages softhsm2 and opensc (scripts/install-peers.sh does)"
	if os.Getenv(peer.EnvRequirePeers) == "1" {
		t.Fatalf("%s (%s=1)", msg, peer.EnvRequirePeers)
	}
	t.Skip(msg)
}

// New initialises a token labelled label in a fresh token directory.
func New(t testing.TB, label string) *Token {
	t.Helper()
	for _, tool := range []string{"softhsm2-util", "pkcs11-tool"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" is not on PATH")
		}
	}
	module := Module(t)
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	tk := &Token{Conf: conf, Module: module, Label: label, dir: dir}
	tk.run(t, "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SOPIN)
	return tk
}

// Another initialises a second token labelled label in the same token
// directory (so under the same SOFTHSM2_CONF) and returns it.
func (tk *Token) Another(t testing.TB, label string) *Token {
	t.Helper()
	other := *tk
	other.Label = label
	other.run(t, "softhsm2-util", "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SOPIN)
	return &other
}

// Env returns the environment entries processes need to see the token.
func (tk *Token) Env() []string { return []string{"SOFTHSM2_CONF=" + tk.Conf} }

// ImportKey stores key in the token as a private key object (and its
// public key) with CKA_LABEL label and CKA_ID id.
func (tk *Token) ImportKey(t testing.TB, label string, id []byte, key crypto.Signer) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(tk.dir, fmt.Sprintf("key-%x.pem", id))
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	tk.run(t, "softhsm2-util", "--import", p, "--token", tk.Label, "--label", label, "--id", fmt.Sprintf("%x", id), "--pin", PIN)
}

// ImportCert stores an X.509 certificate object with CKA_LABEL label and
// CKA_ID id.
func (tk *Token) ImportCert(t testing.TB, label string, id []byte, cert *x509.Certificate) {
	t.Helper()
	p := filepath.Join(tk.dir, fmt.Sprintf("cert-%x-%d.der", id, time.Now().UnixNano()))
	if err := os.WriteFile(p, cert.Raw, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p)
	tk.run(t, "pkcs11-tool", "--module", tk.Module, "--token-label", tk.Label, "--login", "--pin", PIN,
		"--write-object", p, "--type", "cert", "--label", label, "--id", fmt.Sprintf("%x", id))
}

// URI returns a PKCS #11 URI for the private key labelled object in this
// token, with module-path and then the query attributes in query (e.g.
// "pin-value=1234"), which are appended as given.
func (tk *Token) URI(object string, query ...string) string {
	q := append([]string{"module-path=" + tk.Module}, query...)
	return "pkcs11:token=" + url.PathEscape(tk.Label) + ";object=" + url.PathEscape(object) + "?" + strings.Join(q, "&")
}

func (tk *Token) run(t testing.TB, tool string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = append(os.Environ(), tk.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
}
