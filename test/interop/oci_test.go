package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

const scope = "localhost:5000/interop/app"

// ociCase is one cell of the OCI interop matrix.
type ociCase struct {
	name     string
	keyType  testpki.KeyType
	format   string
	metadata bool // sign with user metadata and an expiry
}

func ociMatrix() []ociCase {
	var cases []ociCase
	for _, kt := range []testpki.KeyType{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"} {
		for _, f := range []string{"jws", "cose"} {
			for _, md := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s", kt, f)
				if md {
					name += "/metadata+expiry"
				}
				cases = append(cases, ociCase{name: name, keyType: kt, format: f, metadata: md})
			}
		}
	}
	return cases
}

// TestOCILayoutInterop signs in an OCI layout with each tool and verifies
// with the other (and itself), for every key type and both envelope
// formats, with and without user metadata and expiry. One configuration
// directory serves both tools: signet's key add output is read by notation,
// notation's trust store and trust policy are read by signet.
func TestOCILayoutInterop(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	keys := map[testpki.KeyType]string{}
	var stores []string
	for _, kt := range []testpki.KeyType{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"} {
		name := "k-" + string(kt)
		w.addKey(name, kt)
		keys[kt] = name
		stores = append(stores, "ca:"+name)
	}
	w.ociPolicy(scope, stores, []string{"x509.subject: C=US, ST=WA, O=acme"}, "strict", nil)

	for _, tc := range ociMatrix() {
		t.Run(tc.name, func(t *testing.T) {
			var signArgs, verifyMeta []string
			if tc.metadata {
				signArgs = []string{"-m", "team=blue", "-m", "build=42", "-e", "24h"}
				verifyMeta = []string{"-m", "team=blue"}
			}
			t.Run("signet signs, notation verifies", func(t *testing.T) {
				dir, dgst := newLayout(t)
				ref := dir + "@" + dgst.String()
				args := append([]string{"sign", "--oci-layout", "--key", keys[tc.keyType], "--signature-format", tc.format}, signArgs...)
				must(t, w.Signet(append(args, ref)...), "signet sign")
				r := must(t, w.Notation(append([]string{"verify", "--oci-layout", "--scope", scope}, append(verifyMeta, ref)...)...), "notation verify")
				if !strings.Contains(r.stdout, "Successfully verified") {
					t.Fatalf("notation verify: %s", r)
				}
				must(t, w.Signet(append([]string{"verify", "--oci-layout", "--scope", scope}, append(verifyMeta, ref)...)...), "signet verify")
				if tc.metadata {
					// Both refuse metadata the signature lacks.
					for _, r := range []result{
						w.Notation("verify", "--oci-layout", "--scope", scope, "-m", "team=red", ref),
						w.Signet("verify", "--oci-layout", "--scope", scope, "-m", "team=red", ref),
					} {
						if r.code == 0 {
							t.Fatalf("verify with wrong metadata passed: %s", r)
						}
					}
				}
			})
			t.Run("notation signs, signet verifies", func(t *testing.T) {
				dir, dgst := newLayout(t)
				ref := dir + "@" + dgst.String()
				args := append([]string{"sign", "--oci-layout", "--key", keys[tc.keyType], "--signature-format", tc.format}, signArgs...)
				must(t, w.Notation(append(args, ref)...), "notation sign")
				r := must(t, w.Signet(append([]string{"verify", "--oci-layout", "--scope", scope, "-o", "json"}, append(verifyMeta, ref)...)...), "signet verify")
				var out struct {
					Verdict    string
					Signatures []struct {
						MediaType string
						Verified  bool
						Expiry    *time.Time
					}
				}
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
					t.Fatalf("signet verify -o json: %v\n%s", err, r)
				}
				if out.Verdict != "trusted" || len(out.Signatures) != 1 || !out.Signatures[0].Verified {
					t.Fatalf("verdict: %s", r)
				}
				wantMT := map[string]string{"jws": "application/jose+json", "cose": "application/cose"}[tc.format]
				if out.Signatures[0].MediaType != wantMT {
					t.Errorf("envelope media type %q, want %q", out.Signatures[0].MediaType, wantMT)
				}
				if tc.metadata != (out.Signatures[0].Expiry != nil) {
					t.Errorf("expiry reported %v, signed with expiry %v", out.Signatures[0].Expiry, tc.metadata)
				}
				// signet lists and inspects what notation wrote.
				r = must(t, w.Signet("list", "--oci-layout", ref), "signet list")
				if !strings.Contains(r.stdout, "sha256:") {
					t.Errorf("signet list shows no signature: %s", r)
				}
				must(t, w.Signet("inspect", "--oci-layout", ref), "signet inspect")
			})
		})
	}
}

// TestOCILayoutGenerateTestKey uses a key made by `notation cert
// generate-test` (RSA-2048, self-signed, trusted in ca/<name>) and a key made
// by `signet cert generate-test`, each signing and the other tool verifying.
func TestOCILayoutGenerateTestKey(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	must(t, w.Notation("cert", "generate-test", "notationkey"), "notation cert generate-test")
	must(t, w.Signet("cert", "generate-test", "--key-type", "ec-384", "signetkey"), "signet cert generate-test")
	w.ociPolicy(scope, []string{"ca:notationkey", "ca:signetkey"}, []string{"*"}, "strict", nil)
	for _, tc := range []struct{ name, key string }{{"notation key", "notationkey"}, {"signet key", "signetkey"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir, dgst := newLayout(t)
			ref := dir + "@" + dgst.String()
			must(t, w.Signet("sign", "--oci-layout", "--key", tc.key, ref), "signet sign")
			must(t, w.Notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")
			dir, dgst = newLayout(t)
			ref = dir + "@" + dgst.String()
			must(t, w.Notation("sign", "--oci-layout", "--key", tc.key, ref), "notation sign")
			must(t, w.Signet("verify", "--oci-layout", "--scope", scope, ref), "signet verify")
		})
	}
	// Both tools list both keys from the same signingkeys.json.
	for _, r := range []result{must(t, w.Notation("key", "list"), "notation key list"), must(t, w.Signet("key", "list"), "signet key list")} {
		if !strings.Contains(r.stdout, "notationkey") || !strings.Contains(r.stdout, "signetkey") {
			t.Errorf("key list misses a key: %s", r)
		}
	}
}

// TestOCILayoutRejectedByBoth: tampering, wrong trust, and expiry make both
// tools refuse, whichever tool signed.
func TestOCILayoutRejectedByBoth(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	w.addKey("good", "ec-256")
	w.addKey("other", "ec-256")
	trusted := func() {
		w.ociPolicy(scope, []string{"ca:good"}, []string{"x509.subject: C=US, ST=WA, O=acme, CN=good"}, "strict", nil)
	}
	cases := []struct {
		name string
		// prepare edits the layout or the configuration after signing and
		// returns the verify arguments that must fail.
		prepare func(t *testing.T, dir, ref, format string) []string
		// want is what signet's error must name.
		want string
	}{
		{"tampered envelope", func(t *testing.T, dir, ref, format string) []string {
			d := ref[strings.LastIndex(ref, "@")+1:]
			rewriteSignature(t, dir, digestOf(t, d), func(m *ocispec.Manifest, env []byte) []byte {
				return flipSignatureByte(t, m.Layers[0].MediaType, env)
			})
			return nil
		}, "integrity check failed"},
		{"signature manifest moved to another artifact", func(t *testing.T, dir, ref, format string) []string {
			// The signature of image A is re-attached to image B: the
			// manifest's subject says B, the signed payload says A.
			d := ref[strings.LastIndex(ref, "@")+1:]
			other := addImage(t, dir, "other")
			rewriteSignature(t, dir, digestOf(t, d), func(m *ocispec.Manifest, env []byte) []byte {
				m.Subject = &other
				return env
			})
			return []string{dir + "@" + other.Digest.String()}
		}, "targetArtifact check failed"},
		{"tampered artifact manifest", func(t *testing.T, dir, ref, format string) []string {
			// The signed image manifest's bytes change under its digest.
			d := digestOf(t, ref[strings.LastIndex(ref, "@")+1:])
			p := filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			changed := []byte(strings.Replace(string(raw), `"schemaVersion":2`, `"schemaVersion":3`, 1))
			if string(changed) == string(raw) {
				t.Fatalf("the manifest was not changed: %s", raw)
			}
			raw = changed
			if err := os.WriteFile(p, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			return nil
		}, "mismatched digest"},
		{"wrong trust store", func(t *testing.T, dir, ref, format string) []string {
			w.ociPolicy(scope, []string{"ca:other"}, []string{"*"}, "strict", nil)
			return nil
		}, "authenticity check failed"},
		{"identity mismatch", func(t *testing.T, dir, ref, format string) []string {
			w.ociPolicy(scope, []string{"ca:good"}, []string{"x509.subject: C=US, ST=WA, O=acme, CN=someone-else"}, "strict", nil)
			return nil
		}, "someone-else"},
		{"scope mismatch", func(t *testing.T, dir, ref, format string) []string {
			return []string{"--scope", "localhost:5000/interop/other", ref}
		}, "no applicable"},
		{"expired signature", nil, "expiry check failed"},
	}
	for _, signer := range []string{"signet", "notation"} {
		for _, format := range []string{"jws", "cose"} {
			for _, tc := range cases {
				t.Run(signer+"/"+format+"/"+tc.name, func(t *testing.T) {
					trusted()
					dir, dgst := newLayout(t)
					ref := dir + "@" + dgst.String()
					args := []string{"sign", "--oci-layout", "--key", "good", "--signature-format", format}
					if tc.prepare == nil { // expired
						args = append(args, "-e", "1s")
					}
					run := w.Signet
					if signer == "notation" {
						run = w.Notation
					}
					must(t, run(append(args, ref)...), signer+" sign")
					verifyArgs := []string{ref}
					if tc.prepare == nil {
						time.Sleep(2100 * time.Millisecond)
					} else if a := tc.prepare(t, dir, ref, format); a != nil {
						verifyArgs = a
					}
					if verifyArgs[0] != "--scope" {
						verifyArgs = append([]string{"--scope", scope}, verifyArgs...)
					}
					n := w.Notation(append([]string{"verify", "--oci-layout"}, verifyArgs...)...)
					s := w.Signet(append([]string{"verify", "--oci-layout"}, verifyArgs...)...)
					if n.code == 0 {
						t.Errorf("notation accepted: %s", n)
					}
					wantCode := 1
					if tc.name == "tampered artifact manifest" {
						wantCode = 3 // the layout itself is corrupt: it cannot be read
					}
					if s.code != wantCode {
						t.Errorf("signet: want exit %d, got %s", wantCode, s)
					}
					if !strings.Contains(s.stderr, "Error:") || !strings.Contains(s.stderr, tc.want) {
						t.Errorf("signet's error does not name %q: %s", tc.want, s)
					}
				})
			}
		}
	}
}
