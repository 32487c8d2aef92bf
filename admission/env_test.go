package admission_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signer"
)

// testEnv is a real in-process registry (go-containerregistry, referrers
// API on) holding images signed with signet's own signing code, and policy
// set directories that trust the "acme" chain (default), trust nothing
// ("strict": an unrelated root) or skip verification ("skip").
type testEnv struct {
	reg     *testregistry.Registry
	chain   *testpki.Chain // trusted by the default set
	other   *testpki.Chain // trusted by no set
	dirs    map[string]string
	counter *testregistry.Counter

	// Images: repository@digest references and a tag reference.
	signed, signedTag, unsigned, untrusted, tampered string
	signedDesc                                       ocispec.Descriptor
}

const trustAll = `{"version":"1.0","trustPolicies":[{"name":"%s","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`

// skipApp skips verification for one repository (skip cannot be global).
const skipApp = `{"version":"1.0","trustPolicies":[{"name":"skip-app","registryScopes":["%s"],
 "signatureVerification":{"level":"skip"}}]}`

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	e := &testEnv{
		reg:     testregistry.New(t, testregistry.Options{Referrers: true}),
		chain:   testpki.NewChain(t, "ec-256"),
		other:   testpki.NewChain(t, "ec-256"),
		dirs:    map[string]string{},
		counter: &testregistry.Counter{},
	}
	ctx := context.Background()
	repo := func(name string) *registry.Repository {
		r, _, err := registry.NewRepository(e.reg.Ref(name), registry.RemoteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	sign := func(r *registry.Repository, c *testpki.Chain, desc ocispec.Descriptor) *signet.Signed {
		s, err := signer.NewLocal(c.Leaf.Key, c.Certs())
		if err != nil {
			t.Fatal(err)
		}
		out, err := signet.SignOCI(ctx, r, desc.Digest.String(), signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: s}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	app := repo("team/app")
	d := testregistry.PushImage(t, app, "signed", "v1")
	sign(app, e.chain, d)
	e.signed, e.signedTag, e.signedDesc = e.reg.Ref("team/app@"+d.Digest.String()), e.reg.Ref("team/app:v1"), d

	d = testregistry.PushImage(t, app, "unsigned", "unsigned")
	e.unsigned = e.reg.Ref("team/app@" + d.Digest.String())

	d = testregistry.PushImage(t, app, "untrusted", "untrusted")
	sign(app, e.other, d)
	e.untrusted = e.reg.Ref("team/app@" + d.Digest.String())

	// Tampered: a signature whose envelope's signature value was altered.
	d = testregistry.PushImage(t, app, "tampered", "tampered")
	scratch := repo("scratch/unused") // the same image, signed there; its envelope is reused
	testregistry.PushImage(t, scratch, "tampered", "")
	s := sign(scratch, e.chain, d)
	env := tamperJWS(t, s.Envelope)
	if _, err := registry.PushSignature(ctx, app, d, s.MediaType, env, s.Chain, s.SigningTime, registry.FormConfig); err != nil {
		t.Fatal(err)
	}
	e.tampered = e.reg.Ref("team/app@" + d.Digest.String())

	e.dirs["default"] = e.policyDir(t, strings.Replace(trustAll, "%s", "acme-everywhere", 1), e.chain.Root.Cert)
	e.dirs["strict"] = e.policyDir(t, strings.Replace(trustAll, "%s", "strict-everywhere", 1), e.other.Intermediate.Cert)
	e.dirs["skip"] = e.policyDir(t, strings.Replace(skipApp, "%s", e.reg.Ref("team/app"), 1), nil)
	return e
}

// policyDir writes a configuration directory: trust policy doc and, with
// root, trust store ca:acme holding it.
func (e *testEnv) policyDir(t testing.TB, doc string, root *x509.Certificate) string {
	t.Helper()
	dir := t.TempDir()
	writePolicy(t, dir, doc)
	if root != nil {
		store := filepath.Join(dir, "truststore", "x509", "ca", "acme")
		if err := os.MkdirAll(store, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(store, "root.pem"), testpki.CertsPEM(root), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writePolicy(t testing.TB, dir, doc string) {
	t.Helper()
	tmp := filepath.Join(dir, ".trustpolicy.tmp")
	if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "trustpolicy.oci.json")); err != nil {
		t.Fatal(err)
	}
}

// tamperJWS flips one character of a JWS envelope's signature value.
func tamperJWS(t testing.TB, env []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		t.Fatal(err)
	}
	sig, _ := m["signature"].(string)
	if len(sig) < 10 {
		t.Fatalf("no JWS signature to tamper with in %s", env)
	}
	b := []byte(sig)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	m["signature"] = string(b)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls cond every 10 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}
