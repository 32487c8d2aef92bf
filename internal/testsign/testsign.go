// Package testsign makes what verification tests start from: a signet
// configuration directory with a test key, its trust store and an OCI trust
// policy, and real signatures of images in a registry — valid ones,
// tampered ones and ones by a key the policy does not trust.
package testsign

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content/memory"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/fsutil"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/trustpolicy"
)

// Config is a configuration directory holding one test key.
type Config struct {
	// Dir is the configuration directory (SIGNET_CONFIG).
	Dir string
	// Name is the key's name and its ca trust store's name.
	Name string
	// Signer signs with the key.
	Signer *signer.Local
}

// NewConfig makes a configuration directory under t.TempDir() with the test
// key name (signer.GenerateTest: ca trust store "name", subject CN=name) and,
// when scopes are given, a strict OCI trust policy statement "name" for
// them that trusts that store and that subject.
func NewConfig(t testing.TB, name string, scopes ...string) *Config {
	t.Helper()
	dir := config.Dir{Path: filepath.Join(t.TempDir(), "config")}
	g, err := signer.GenerateTest(context.Background(), dir, name, signer.GenerateOptions{Default: true})
	if err != nil {
		t.Fatal(err)
	}
	local, err := signer.LoadLocal(g.KeyPath, g.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	c := &Config{Dir: dir.Path, Name: name, Signer: local}
	if len(scopes) > 0 {
		c.WritePolicy(t, trustpolicy.LevelStrict, scopes...)
	}
	return c
}

// Identity is the trusted identity of the key: its certificate's subject.
func (c *Config) Identity() string {
	return "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=" + c.Name
}

// WritePolicy replaces the OCI trust policy with one statement of level
// for scopes, trusting the key's store and subject (or nothing, at level
// skip).
func (c *Config) WritePolicy(t testing.TB, level string, scopes ...string) {
	t.Helper()
	doc, err := trustpolicy.InitOCI(c.Name, scopes, []string{"ca:" + c.Name}, []string{c.Identity()})
	if err != nil {
		t.Fatal(err)
	}
	st := &doc.TrustPolicies[0]
	st.SignatureVerification.Level = level
	if level == trustpolicy.LevelSkip {
		st.TrustStores, st.TrustedIdentities = nil, nil
	}
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	data, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := fsutil.WriteFileAtomic(config.Dir{Path: c.Dir}.TrustPolicyOCI(), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Sign signs the manifest reference names in t with the key (JWS).
func (c *Config) Sign(t testing.TB, target signet.Target, reference string) *signet.Signed {
	t.Helper()
	s, err := signet.SignOCI(context.Background(), target, reference, signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: c.Signer}})
	if err != nil {
		t.Fatalf("sign %s: %v", reference, err)
	}
	return s
}

// SignTampered attaches to desc in target a signature by the key whose
// signature value was altered after signing: it lists as desc's referrer and
// parses, but its integrity check fails. desc must be an image that
// testregistry.PushImage(name) made, so that an in-memory copy signs the
// same digest.
func (c *Config) SignTampered(t testing.TB, target signet.Target, name string, desc ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	mem := memory.New()
	// Tagged: an oras-go memory store resolves tags, not digests.
	if d := testregistry.PushImage(t, mem, name, "copy"); d.Digest != desc.Digest {
		t.Fatalf("in-memory copy of %s has digest %s, not %s", name, d.Digest, desc.Digest)
	}
	s := c.Sign(t, mem, "copy")
	var env map[string]any
	if err := json.Unmarshal(s.Envelope, &env); err != nil {
		t.Fatalf("the JWS envelope is not JSON: %v", err)
	}
	sig, _ := env["signature"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(raw) == 0 {
		t.Fatalf("JWS signature %q: %v", sig, err)
	}
	raw[len(raw)/2] ^= 0x01
	env["signature"] = base64.RawURLEncoding.EncodeToString(raw)
	tampered, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registry.PushSignatureAnnotated(ctx, target, desc, s.MediaType, tampered, s.Chain, s.SigningTime, registry.FormConfig, nil); err != nil {
		t.Fatalf("push the tampered signature: %v", err)
	}
}
