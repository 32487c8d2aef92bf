package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

var blobKeyTypes = []testpki.KeyType{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"}

// digestPrefix is the payload digest algorithm each key implies (PAY-4).
var digestPrefix = map[testpki.KeyType]string{
	"rsa-2048": "sha256:", "ec-256": "sha256:",
	"rsa-3072": "sha384:", "ec-384": "sha384:",
	"rsa-4096": "sha512:", "ec-521": "sha512:",
}

// blobWorld sets up keys of every spec and a blob trust policy written by
// notation v2.0.0-alpha.1 (`notation blob policy init`), read by signet.
func blobWorld(t *testing.T) (*world, map[testpki.KeyType]string) {
	w := newWorld(t, peer.Notation2(t))
	keys := map[testpki.KeyType]string{}
	var args []string
	for _, kt := range blobKeyTypes {
		name := "b-" + string(kt)
		w.addKey(name, kt)
		keys[kt] = name
		args = append(args, "--trust-store", "ca:"+name)
	}
	args = append([]string{"blob", "policy", "init", "--name", "blobs", "--global", "--trusted-identity", "x509.subject: C=US, ST=WA, O=acme"}, args...)
	must(t, w.Notation(args...), "notation blob policy init")
	return w, keys
}

// TestBlobInterop: each tool signs a file and the other verifies it, for
// every key spec, both formats, with a media type, user metadata and expiry.
func TestBlobInterop(t *testing.T) {
	w, keys := blobWorld(t)
	for _, kt := range blobKeyTypes {
		for _, format := range []string{"jws", "cose"} {
			for _, signer := range []string{"signet", "notation"} {
				t.Run(fmt.Sprintf("%s/%s/%s signs", kt, format, signer), func(t *testing.T) {
					dir := t.TempDir()
					blob := writeFile(t, dir, "artifact.bin", []byte("release "+t.Name()))
					sign, verify := w.Signet, w.Notation
					other := "notation"
					if signer == "notation" {
						sign, verify, other = w.Notation, w.Signet, "signet"
					}
					must(t, sign("blob", "sign", "--signature-directory", dir, "--key", keys[kt], "--signature-format", format,
						"--media-type", "application/x-tar", "-m", "team=blue", "-e", "24h", blob), signer+" blob sign")
					sig := blob + "." + format + ".sig"
					if _, err := os.Stat(sig); err != nil {
						t.Fatalf("%s wrote no %s: %v", signer, sig, err)
					}
					must(t, verify("blob", "verify", "--signature", sig, "--media-type", "application/x-tar", "-m", "team=blue", blob), other+" blob verify")
					must(t, w.Signet("blob", "verify", "--signature", sig, blob), "signet blob verify without constraints")

					// The payload digest follows the key (PAY-4).
					r := must(t, w.Signet("blob", "inspect", "-o", "json", sig), "signet blob inspect")
					var in struct {
						SignedArtifact struct {
							MediaType string
							Digest    string
						}
						UserDefinedAttributes map[string]string
					}
					if err := json.Unmarshal([]byte(r.stdout), &in); err != nil {
						t.Fatal(err)
					}
					if !strings.HasPrefix(in.SignedArtifact.Digest, digestPrefix[kt]) {
						t.Errorf("payload digest %s, want %s... for %s", in.SignedArtifact.Digest, digestPrefix[kt], kt)
					}
					if in.SignedArtifact.MediaType != "application/x-tar" || in.UserDefinedAttributes["team"] != "blue" {
						t.Errorf("inspect: %s", r.stdout)
					}
				})
			}
		}
	}
}

// TestBlobRejectedByBoth: a changed file, a changed signature, a wrong
// media type and missing metadata are refused by both tools.
func TestBlobRejectedByBoth(t *testing.T) {
	w, keys := blobWorld(t)
	for _, format := range []string{"jws", "cose"} {
		for _, signer := range []string{"signet", "notation"} {
			dir := t.TempDir()
			blob := writeFile(t, dir, "data.txt", []byte("the original content"))
			sign := w.Signet
			if signer == "notation" {
				sign = w.Notation
			}
			must(t, sign("blob", "sign", "--signature-directory", dir, "--key", keys["ec-384"], "--signature-format", format, "-m", "team=blue", blob), signer+" blob sign")
			sig := blob + "." + format + ".sig"
			cases := []struct {
				name string
				args func(t *testing.T) []string
			}{
				{"changed file", func(t *testing.T) []string {
					changed := writeFile(t, t.TempDir(), "data.txt", []byte("the original content!"))
					return []string{"--signature", sig, changed}
				}},
				{"changed signature", func(t *testing.T) []string {
					env, err := os.ReadFile(sig)
					if err != nil {
						t.Fatal(err)
					}
					mt := map[string]string{"jws": "application/jose+json", "cose": "application/cose"}[format]
					bad := writeFile(t, t.TempDir(), "data.txt."+format+".sig", flipSignatureByte(t, mt, env))
					return []string{"--signature", bad, blob}
				}},
				{"wrong media type", func(t *testing.T) []string {
					return []string{"--signature", sig, "--media-type", "text/plain", blob}
				}},
				{"missing metadata", func(t *testing.T) []string {
					return []string{"--signature", sig, "-m", "team=red", blob}
				}},
				{"unknown policy name", func(t *testing.T) []string {
					return []string{"--signature", sig, "--policy-name", "nope", blob}
				}},
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s signs/%s", format, signer, tc.name), func(t *testing.T) {
					args := append([]string{"blob", "verify"}, tc.args(t)...)
					if r := w.Notation(args...); r.code == 0 {
						t.Errorf("notation accepted: %s", r)
					}
					if r := w.Signet(args...); r.code != 1 {
						t.Errorf("signet: want exit 1, got %s", r)
					}
				})
			}
		}
	}
}

// TestBlobExpired: an expired signature is refused by both.
func TestBlobExpired(t *testing.T) {
	w, keys := blobWorld(t)
	for _, signer := range []string{"signet", "notation"} {
		t.Run(signer, func(t *testing.T) {
			dir := t.TempDir()
			blob := writeFile(t, dir, "short.txt", []byte("short-lived"))
			sign := w.Signet
			if signer == "notation" {
				sign = w.Notation
			}
			must(t, sign("blob", "sign", "--signature-directory", dir, "--key", keys["ec-256"], "-e", "1s", blob), "sign")
			time.Sleep(2100 * time.Millisecond)
			args := []string{"blob", "verify", "--signature", blob + ".jws.sig", blob}
			if r := w.Notation(args...); r.code == 0 {
				t.Errorf("notation accepted an expired signature: %s", r)
			}
			r := w.Signet(args...)
			if r.code != 1 || !strings.Contains(r.stderr, "expir") {
				t.Errorf("signet: want exit 1 with an expiry error, got %s", r)
			}
		})
	}
}

// TestBlobPolicyFromNotation: a blob trust policy file written for notation
// (named statement, not global) is used by signet unchanged via
// --policy-name, and the statement selection rules agree.
func TestBlobPolicyFromNotation(t *testing.T) {
	w := newWorld(t, peer.Notation2(t))
	w.addKey("named", "rsa-3072")
	policy := `{"version":"1.0","trustPolicies":[{"name":"named-only","signatureVerification":{"level":"strict"},"trustStores":["ca:named"],"trustedIdentities":["*"]}]}`
	must(t, w.Notation("blob", "policy", "import", "--force", writeFile(t, t.TempDir(), "p.json", []byte(policy))), "notation blob policy import")
	data, err := os.ReadFile(filepath.Join(w.Config(), "trustpolicy.blob.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "named-only") {
		t.Fatalf("notation wrote an unexpected policy: %s", data)
	}
	dir := t.TempDir()
	blob := writeFile(t, dir, "x.txt", []byte("x"))
	must(t, w.Notation("blob", "sign", "--signature-directory", dir, "--key", "named", blob), "notation blob sign")
	sig := blob + ".jws.sig"
	must(t, w.Signet("blob", "verify", "--policy-name", "named-only", "--signature", sig, blob), "signet verify by policy name")
	// Without a name and without a global policy both refuse.
	if r := w.Notation("blob", "verify", "--signature", sig, blob); r.code == 0 {
		t.Errorf("notation accepted without a global policy: %s", r)
	}
	if r := w.Signet("blob", "verify", "--signature", sig, blob); r.code != 1 {
		t.Errorf("signet: want exit 1 without a global policy, got %s", r)
	}
	must(t, w.Signet("blob", "policy", "show"), "signet blob policy show")
}
