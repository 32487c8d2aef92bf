package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
)

// verifyRequest builds a verify-signature request for a fresh chain.
func verifyRequest(t *testing.T, identities []string, caps []proto.Capability, unprocessed []string) (*proto.VerifySignatureRequest, *testpki.Chain) {
	t.Helper()
	c := testpki.NewChain(t, "ec-256")
	var chain [][]byte
	for _, cert := range c.Certs() {
		chain = append(chain, cert.Raw)
	}
	expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	return &proto.VerifySignatureRequest{
		Signature: proto.Signature{
			CriticalAttributes: proto.CriticalAttributes{
				ContentType:        proto.MediaTypePayloadV1,
				SigningScheme:      proto.SigningSchemeX509,
				Expiry:             &expiry,
				ExtendedAttributes: map[string]any{"com.example.policy": "strict", "com.example.level": 3.0},
			},
			UnprocessedAttributes: unprocessed,
			CertificateChain:      chain,
		},
		TrustPolicy: proto.TrustPolicy{TrustedIdentities: identities, SignatureVerification: caps},
	}, c
}

var bothVerifiers = []proto.Capability{proto.CapabilityTrustedIdentityVerifier, proto.CapabilityRevocationCheckVerifier}

// §7.4 verify-signature, VPLG-6, VPLG-7: results come back per requested
// capability; a failed result is returned, not turned into an error; a
// response that answers other capabilities, leaves one out, or skips an
// unprocessed critical attribute is refused.
func TestVerifySignature(t *testing.T) {
	m := newManager(t, "com.example.verifier", "com.example.identity")
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.verifier")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode        string
		caps        []proto.Capability
		unprocessed []string
		wantErr     error
		wantMsg     string
		wantSuccess bool
	}{
		{mode: "", caps: bothVerifiers, unprocessed: []string{"com.example.policy"}, wantSuccess: true},
		{mode: "", caps: []proto.Capability{proto.CapabilityRevocationCheckVerifier}, wantSuccess: true},
		{mode: "fail", caps: bothVerifiers, wantSuccess: false},
		{mode: "noreason", caps: bothVerifiers, wantErr: plugin.ErrMalformedResponse, wantMsg: "failed without a reason"},
		{mode: "missingresult", caps: bothVerifiers, wantErr: plugin.ErrInvalidResponse, wantMsg: "no result for the requested SIGNATURE_VERIFIER.TRUSTED_IDENTITY (VPLG-6)"},
		{mode: "extraresult", caps: []proto.Capability{proto.CapabilityTrustedIdentityVerifier}, wantErr: plugin.ErrInvalidResponse, wantMsg: "SIGNATURE_VERIFIER.REVOCATION_CHECK, which was not requested (VPLG-6)"},
		{mode: "unprocessed", caps: bothVerifiers, unprocessed: []string{"com.example.policy"}, wantErr: plugin.ErrInvalidResponse, wantMsg: `did not process the critical attribute "com.example.policy" (VPLG-7)`},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("mode=%s/%v", tc.mode, tc.caps), func(t *testing.T) {
			req, _ := verifyRequest(t, []string{"*"}, tc.caps, tc.unprocessed)
			if tc.mode != "" {
				req.PluginConfig = map[string]string{"mode": tc.mode}
			}
			resp, err := plugin.VerifySignature(ctx, p, req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.VerificationResults) != len(tc.caps) {
				t.Errorf("results = %v", resp.VerificationResults)
			}
			for _, c := range tc.caps {
				r := resp.VerificationResults[c]
				if r.Success != tc.wantSuccess || (!r.Success && r.Reason == "") {
					t.Errorf("%s = %+v, want success %v", c, r, tc.wantSuccess)
				}
			}
			if !slices.Equal(resp.ProcessedAttributes, tc.unprocessed) && len(tc.unprocessed) > 0 {
				t.Errorf("processed = %v", resp.ProcessedAttributes)
			}
		})
	}

	// VPLG-5: asking for a capability the plugin does not declare is
	// refused without running it.
	id, err := m.Get(ctx, "com.example.identity")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := verifyRequest(t, []string{"*"}, bothVerifiers, nil)
	if _, err := plugin.VerifySignature(ctx, id, req); !errors.Is(err, plugin.ErrUnsupportedCapability) {
		t.Errorf("err = %v, want ErrUnsupportedCapability", err)
	}
	// An invalid request never reaches the plugin.
	req.TrustPolicy.SignatureVerification = nil
	if _, err := plugin.VerifySignature(ctx, p, req); !errors.Is(err, plugin.ErrInvalidRequest) {
		t.Errorf("err = %v, want ErrInvalidRequest", err)
	}
}

// The SDK-built plugin answers verify-signature: it trusts the leaf when
// the trusted identities name its subject, and says why not otherwise.
func TestVerifySignatureSDKPlugin(t *testing.T) {
	needSDK(t)
	m := &plugin.Manager{Dir: t.TempDir()}
	install(t, m.Dir, "io.signet.sdktest", bins.sdk)
	ctx := context.Background()
	p, err := m.Get(ctx, "io.signet.sdktest")
	if err != nil {
		t.Fatal(err)
	}
	caps := []proto.Capability{proto.CapabilityTrustedIdentityVerifier}
	req, chain := verifyRequest(t, nil, caps, []string{"com.example.policy"})
	subject := "x509.subject: " + chain.Leaf.Cert.Subject.String()
	for _, tc := range []struct {
		name       string
		identities []string
		want       bool
	}{
		{"subject trusted", []string{subject}, true},
		{"wildcard", []string{"*"}, true},
		{"other subject", []string{"x509.subject: CN=someone else"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req.TrustPolicy.TrustedIdentities = tc.identities
			resp, err := plugin.VerifySignature(ctx, p, req)
			if err != nil {
				t.Fatal(err)
			}
			r := resp.VerificationResults[proto.CapabilityTrustedIdentityVerifier]
			if r.Success != tc.want || (!tc.want && !strings.Contains(r.Reason, "is not trusted")) {
				t.Errorf("result = %+v", r)
			}
		})
	}
}

// VPLG-1..3 and TC-23: the verification plugin a signature names must be
// installed, not older than the minimum version, and a verifier.
func TestVerificationPlugin(t *testing.T) {
	m := newManager(t, "com.example.verifier", "com.example.oldverifier", "com.example.vverifier", "com.example.raw")
	ctx := context.Background()
	tests := []struct {
		name       string
		plugin     string
		minVersion string
		wantErr    error
		wantMsg    string
	}{
		{name: "installed, no minimum", plugin: "com.example.verifier"},
		{name: "installed, version above the minimum", plugin: "com.example.verifier", minVersion: "1.2.0"},
		{name: "installed, version equal to the minimum", plugin: "com.example.verifier", minVersion: "1.2.3"},
		{name: "version 1.1.9 below minimum 1.2.0", plugin: "com.example.oldverifier", minVersion: "1.2.0", wantErr: plugin.ErrVersion, wantMsg: "1.1.9 is lower than the minimum 1.2.0"},
		{name: "plugin version v1.3.0 is not SemVer", plugin: "com.example.vverifier", minVersion: "1.2.0", wantErr: plugin.ErrVersion, wantMsg: `"v1.3.0" is not a SemVer version`},
		{name: "minimum version is not SemVer", plugin: "com.example.verifier", minVersion: "1.2", wantErr: plugin.ErrVersion, wantMsg: `minimum plugin version "1.2"`},
		{name: "plugin absent", plugin: "com.example.absent", wantErr: plugin.ErrNotFound, wantMsg: `verification plugin "com.example.absent"`},
		{name: "plugin without SIGNATURE_VERIFIER capability", plugin: "com.example.raw", wantErr: plugin.ErrUnsupportedCapability, wantMsg: "VPLG-3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := m.VerificationPlugin(ctx, tc.plugin, tc.minVersion)
			if tc.wantErr == nil {
				if err != nil || p.Name() != tc.plugin {
					t.Fatalf("VerificationPlugin = %v, %v", p, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}

// VPLG-5: request only what the plugin supports and the level still needs.
func TestVerifierCapabilities(t *testing.T) {
	m := newManager(t, "com.example.verifier", "com.example.identity")
	ctx := context.Background()
	both, err := m.Get(ctx, "com.example.verifier")
	if err != nil {
		t.Fatal(err)
	}
	identity, err := m.Get(ctx, "com.example.identity")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                 string
		p                    *plugin.Plugin
		identity, revocation bool
		want                 []proto.Capability
	}{
		{"both needed, both supported", both, true, true, bothVerifiers},
		{"revocation skipped by the level", both, true, false, []proto.Capability{proto.CapabilityTrustedIdentityVerifier}},
		{"identity only", both, false, true, []proto.Capability{proto.CapabilityRevocationCheckVerifier}},
		{"nothing needed", both, false, false, nil},
		{"revocation needed, not supported", identity, false, true, nil},
		{"both needed, identity supported", identity, true, true, []proto.Capability{proto.CapabilityTrustedIdentityVerifier}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := plugin.VerifierCapabilities(tc.p, tc.identity, tc.revocation); !slices.Equal(got, tc.want) {
				t.Errorf("VerifierCapabilities = %v, want %v", got, tc.want)
			}
		})
	}
}

// VPLG-2: SemVer 2.0.0 precedence, no "v" prefix, no shorthand.
func TestCheckMinVersion(t *testing.T) {
	tests := []struct {
		plugin, min string
		ok          bool
	}{
		{"1.0.0", "1.0.0", true},
		{"1.10.0", "1.9.0", true}, // numeric, not lexical
		{"2.0.0", "1.99.99", true},
		{"1.0.0", "1.0.0-rc.1", true}, // a release follows its pre-releases
		{"1.0.0-rc.1", "1.0.0", false},
		{"1.0.0-rc.10", "1.0.0-rc.9", true}, // numeric identifiers compare numerically
		{"1.0.0-alpha", "1.0.0-alpha.1", false},
		{"1.0.0+build.9", "1.0.0+build.1", true}, // build metadata is ignored
		{"1.0.0+build.1", "1.0.0", true},
		{"0.9.9", "1.0.0", false},
		{"v1.0.0", "1.0.0", false}, // not SemVer: "v" prefix
		{"1.0.0", "v1.0.0", false},
		{"1.0", "1.0.0", false}, // shorthand that x/mod/semver would accept
		{"1", "0.0.1", false},
		{"01.0.0", "1.0.0", false}, // leading zero
		{"1.0.0-01", "1.0.0-0", false},
		{"", "1.0.0", false},
		{"1.0.0", "", false},
		{strings.Repeat("1", 300) + ".0.0", "1.0.0", false},
	}
	for _, tc := range tests {
		t.Run(tc.plugin+">="+tc.min, func(t *testing.T) {
			err := plugin.CheckMinVersion(tc.plugin, tc.min)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckMinVersion(%q, %q) = %v, want ok=%v", tc.plugin, tc.min, err, tc.ok)
			}
			if err != nil && !errors.Is(err, plugin.ErrVersion) {
				t.Errorf("error %v does not wrap ErrVersion", err)
			}
		})
	}
}

func ExampleCheckMinVersion() {
	fmt.Println(plugin.CheckMinVersion("1.2.0", "1.2.0-rc.1"))
	fmt.Println(plugin.CheckMinVersion("1.1.9", "1.2.0"))
	fmt.Println(plugin.IsSemVer("v1.2.0"), plugin.IsSemVer("1.2"), plugin.IsSemVer("1.2.0+build.7"))
	// Output:
	// <nil>
	// plugin version is not acceptable: the plugin's version 1.1.9 is lower than the minimum 1.2.0 the signature requires (VPLG-2)
	// false false true
}
