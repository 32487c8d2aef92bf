package registry_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	orasregistry "oras.land/oras-go/v2/registry"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// A Repository is what signet's OCI functions take, and lists referrers
// itself (in the registry's order, DISC-5).
var (
	_ signet.Target               = (*registry.Repository)(nil)
	_ orasregistry.ReferrerLister = (*registry.Repository)(nil)
)

// trustStore is a truststore.Store holding one CA store, "ca:acme".
type trustStore []*x509.Certificate

func (s trustStore) GetCertificates(_ context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	if string(typ) != "ca" || name != "acme" {
		return nil, fmt.Errorf("no trust store %s:%s", typ, name)
	}
	return s, nil
}

func policy(t *testing.T, scope string) *trustpolicy.Document {
	t.Helper()
	doc, err := trustpolicy.ParseOCI(strings.NewReader(`{"version":"1.0","trustPolicies":[{"name":"app","registryScopes":["` + scope +
		`"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

type registryCase struct {
	name  string
	start func(t *testing.T) *testregistry.Registry
	// verifyRequests is the registry requests one verification of a
	// signed image by digest costs with a fresh Repository per mode.
	verifyRequests map[registry.ReferrersMode]int
}

var registryCases = []registryCase{
	{name: "ggcr referrers API", start: func(t *testing.T) *testregistry.Registry {
		return testregistry.New(t, testregistry.Options{Referrers: true})
	}, verifyRequests: map[registry.ReferrersMode]int{registry.ReferrersAuto: 4, registry.ReferrersAPI: 4}},
	{name: "ggcr tag schema", start: func(t *testing.T) *testregistry.Registry {
		return testregistry.New(t, testregistry.Options{})
	}, verifyRequests: map[registry.ReferrersMode]int{registry.ReferrersAuto: 5, registry.ReferrersTag: 4}},
	{name: "distribution v3", start: func(t *testing.T) *testregistry.Registry {
		return testregistry.Distribution(t, testregistry.DistributionOptions{})
	}, verifyRequests: map[registry.ReferrersMode]int{registry.ReferrersAuto: 5, registry.ReferrersTag: 4}},
}

func open(t *testing.T, ref string, opts registry.RemoteOptions) *registry.Repository {
	t.Helper()
	r, _, err := registry.NewRepository(ref, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSignVerifyRemote signs an image in a registry through signet.SignOCI,
// once in each manifest form (MAN-2) and envelope format, lists both
// (MAN-8, DISC-1/DISC-2), verifies through signet.VerifyOCI with a fresh
// repository as a new process would (VER-1..6), and counts the registry
// requests of that verification (the floor is 4: the subject's
// manifest, the referrers list, the signature manifest, the envelope).
// An unsigned image and a signer outside the trust store are refused.
func TestSignVerifyRemote(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256")
	local, err := signer.NewLocal(chain.Leaf.Key, chain.Certs())
	if err != nil {
		t.Fatal(err)
	}
	stranger := testpki.NewChain(t, "ec-256")
	jws, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	cose, _ := envelope.ForMediaType(signature.MediaTypeCOSE)
	for _, rc := range registryCases {
		t.Run(rc.name, func(t *testing.T) {
			ctx := context.Background()
			reg := rc.start(t)
			scope := reg.Host + "/app"
			repo := open(t, scope, registry.RemoteOptions{})
			img := testregistry.PushImage(t, repo, "app", "v1")
			unsigned := testregistry.PushImage(t, repo, "unsigned", "v2")

			byConfig, err := signet.SignOCI(ctx, repo, "v1", signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: local, Format: jws}, Form: registry.FormConfig})
			if err != nil {
				t.Fatal(err)
			}
			byArtifactType, err := signet.SignOCI(ctx, repo, img.Digest.String(), signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: local, Format: cose}, Form: registry.FormArtifactType})
			if err != nil {
				t.Fatal(err)
			}
			if byConfig.Target.Digest != img.Digest || byArtifactType.Target.Digest != img.Digest {
				t.Fatalf("signed %s and %s, want %s", byConfig.Target.Digest, byArtifactType.Target.Digest, img.Digest)
			}

			sigs, _, err := registry.ListSignatures(ctx, open(t, scope, registry.RemoteOptions{}), img, 0)
			if err != nil {
				t.Fatal(err)
			}
			listed := map[string]bool{}
			for _, s := range sigs {
				listed[s.Digest.String()] = true
			}
			if len(sigs) != 2 || !listed[byConfig.Manifest.Digest.String()] || !listed[byArtifactType.Manifest.Digest.String()] {
				t.Fatalf("listed %v, want both forms", sigs)
			}

			opts := signet.VerifyOCIOptions{Policy: policy(t, scope), Verifier: &verifier.Verifier{Store: trustStore{chain.Root.Cert}}, Scope: scope}
			for mode, want := range rc.verifyRequests {
				var count testregistry.Counter
				fresh := open(t, scope, registry.RemoteOptions{Referrers: mode, WrapTransport: count.Wrap})
				start := time.Now()
				out, err := signet.VerifyOCI(ctx, fresh, img.Digest.String(), opts)
				took := time.Since(start)
				if err != nil || out.Verdict != signet.VerdictTrusted {
					t.Fatalf("verify (%s): %v %+v", mode, err, out)
				}
				t.Logf("verify by digest, referrers mode %s: %d requests in %v: %s", mode, count.Count(), took.Round(time.Microsecond), strings.Join(count.Requests(), ", "))
				if count.Count() != want {
					t.Errorf("verify (%s) made %d registry requests, want %d", mode, count.Count(), want)
				}
			}

			// By tag: resolved once, verified by digest (VER-1).
			out, err := signet.VerifyOCI(ctx, open(t, scope, registry.RemoteOptions{}), "v1", opts)
			if err != nil || out.Artifact != img.Digest.String() {
				t.Fatalf("verify by tag: %v %+v", err, out)
			}

			if _, err := signet.VerifyOCI(ctx, open(t, scope, registry.RemoteOptions{}), unsigned.Digest.String(), opts); !errors.Is(err, signet.ErrNoSignature) {
				t.Errorf("unsigned image: %v", err)
			}
			opts.Verifier = &verifier.Verifier{Store: trustStore{stranger.Root.Cert}}
			if _, err := signet.VerifyOCI(ctx, open(t, scope, registry.RemoteOptions{}), img.Digest.String(), opts); !errors.Is(err, signet.ErrNotTrusted) {
				t.Errorf("signer outside the trust store: %v", err)
			}
		})
	}
}

// TestSignRecursiveRemote signs an index and its platform manifests
// (--recursive) in each registry and verifies every one.
func TestSignRecursiveRemote(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256")
	local, err := signer.NewLocal(chain.Leaf.Key, chain.Certs())
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range registryCases {
		t.Run(rc.name, func(t *testing.T) {
			ctx := context.Background()
			reg := rc.start(t)
			scope := reg.Host + "/multi"
			repo := open(t, scope, registry.RemoteOptions{})
			testregistry.PushIndex(t, repo, "multi", "v1", "linux/amd64", "linux/arm64", "windows/amd64", "linux/s390x")
			s, err := signet.SignOCI(ctx, repo, "v1", signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: local}, Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Children) != 4 {
				t.Fatalf("signed %d children", len(s.Children))
			}
			opts := signet.VerifyOCIOptions{Policy: policy(t, scope), Verifier: &verifier.Verifier{Store: trustStore{chain.Root.Cert}}, Scope: scope}
			for _, d := range append([]*signet.Signed{s}, s.Children...) {
				if _, err := signet.VerifyOCI(ctx, open(t, scope, registry.RemoteOptions{}), d.Target.Digest.String(), opts); err != nil {
					t.Errorf("verify %s: %v", d.Target.Digest, err)
				}
			}
		})
	}
}

// TestGGCRReferrersFixNeeded shows why testregistry wraps
// go-containerregistry's referrers API: unwrapped, it reports an OCI 1.1
// signature (artifactType form) under the empty config's media type, so
// the signature is not found; wrapped, it is.
func TestGGCRReferrersFixNeeded(t *testing.T) {
	chain := testpki.NewChain(t, "ec-256")
	for _, unfixed := range []bool{true, false} {
		t.Run(fmt.Sprintf("unfixed=%v", unfixed), func(t *testing.T) {
			ctx := context.Background()
			reg := testregistry.New(t, testregistry.Options{Referrers: true, Unfixed: unfixed})
			repo := open(t, reg.Ref("app"), registry.RemoteOptions{})
			img := testregistry.PushImage(t, repo, "app", "")
			if _, err := registry.PushSignature(ctx, repo, img, signature.MediaTypeJWS, []byte("env"), chain.Certs(), time.Now(), registry.FormArtifactType); err != nil {
				t.Fatal(err)
			}
			sigs, _, err := registry.ListSignatures(ctx, open(t, reg.Ref("app"), registry.RemoteOptions{}), img, 0)
			if err != nil {
				t.Fatal(err)
			}
			if found := len(sigs) == 1; found == unfixed {
				t.Fatalf("unfixed=%v: listed %v", unfixed, sigs)
			}
			// The filter: ask the registry directly for another artifact type.
			resp, err := http.Get(reg.URL + "/v2/app/referrers/" + img.Digest.String() + "?artifactType=application/spdx%2Bjson")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if applied := resp.Header.Get("OCI-Filters-Applied") == "artifactType"; applied == unfixed {
				t.Fatalf("unfixed=%v: OCI-Filters-Applied %q", unfixed, resp.Header.Get("OCI-Filters-Applied"))
			}
		})
	}
}
