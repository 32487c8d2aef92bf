package plugin

import (
	"context"
	"fmt"
	"regexp"
	"sync"

	"golang.org/x/mod/semver"

	"github.com/signet-dev/signet/plugin/proto"
)

// VerifySignature runs verify-signature on p with the checks of
// Plugin.VerifySignature (VPLG-3, VPLG-5, VPLG-6, VPLG-7). The caller
// builds req: the signature's critical attributes and chain, the
// unprocessed critical attributes, the trust policy's identities, and the
// capabilities VerifierCapabilities selects. Enforcing or logging each
// failed result according to the policy is the caller's job (VPLG-6), as
// are the verification steps a plugin may not replace (VPLG-4).
func VerifySignature(ctx context.Context, p *Plugin, req *proto.VerifySignatureRequest) (*proto.VerifySignatureResponse, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no plugin", ErrInvalidRequest)
	}
	return p.VerifySignature(ctx, req)
}

// VerificationPlugin finds the verification plugin a signature names in
// io.cncf.notary.verificationPlugin and applies VPLG-1..3: the plugin must
// be installed (VPLG-1; the error names the plugin and the directory
// searched), when minVersion (io.cncf.notary.verificationPluginMinVersion)
// is not empty the plugin's version must be SemVer and not below it
// (VPLG-2), and the plugin must declare at least one SIGNATURE_VERIFIER
// capability (VPLG-3). Errors are *Error values.
func (m *Manager) VerificationPlugin(ctx context.Context, name, minVersion string) (*Plugin, error) {
	p, err := m.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("signature requires verification plugin %s, which is not usable (install it in %s): %w", quote(name), m.Dir, err)
	}
	if minVersion != "" {
		if err := CheckMinVersion(p.metadata.Version, minVersion); err != nil {
			return nil, p.fail("", err)
		}
	}
	if !HasVerifier(p) {
		return nil, p.fail("", fmt.Errorf("%w: a verification plugin must declare %s or %s (VPLG-3)", ErrUnsupportedCapability,
			proto.CapabilityTrustedIdentityVerifier, proto.CapabilityRevocationCheckVerifier))
	}
	return p, nil
}

// HasVerifier reports whether p declares a SIGNATURE_VERIFIER capability
// (VPLG-3). A nil p has none.
func HasVerifier(p *Plugin) bool {
	if p == nil {
		return false
	}
	return p.HasCapability(proto.CapabilityTrustedIdentityVerifier) || p.HasCapability(proto.CapabilityRevocationCheckVerifier)
}

// VerifierCapabilities returns the capabilities to put in
// trustPolicy.signatureVerification (VPLG-5): those p declares among the
// checks still required, trusted identity when identity is set and
// revocation when revocation is set (a check the verification level skips
// is not requested). The order is fixed: identity, then revocation. An
// empty result means the plugin is not to be called.
func VerifierCapabilities(p *Plugin, identity, revocation bool) []proto.Capability {
	var out []proto.Capability
	if p == nil {
		return nil
	}
	if identity && p.HasCapability(proto.CapabilityTrustedIdentityVerifier) {
		out = append(out, proto.CapabilityTrustedIdentityVerifier)
	}
	if revocation && p.HasCapability(proto.CapabilityRevocationCheckVerifier) {
		out = append(out, proto.CapabilityRevocationCheckVerifier)
	}
	return out
}

// maxVersionLength bounds a version string we parse; SemVer sets no limit
// and real versions are under 30 characters.
const maxVersionLength = 256

// semVerPattern is SemVer 2.0.0 (semver.org's regular expression): exactly
// MAJOR.MINOR.PATCH with optional pre-release and build, no "v" prefix.
// It is compiled on first use, not at start-up: only plugin commands need
// it, and compiling it costs about 0.3 million CPU instructions
// (docs/benchmarks.md).
var semVerPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
})

// IsSemVer reports whether v is a SemVer 2.0.0 version without a "v"
// prefix, as VPLG-2 requires ("1.2.3", "1.2.3-rc.1+build.5"; not "v1.2.3",
// not "1.2").
func IsSemVer(v string) bool {
	return len(v) <= maxVersionLength && semVerPattern().MatchString(v) && semver.IsValid("v"+v)
}

// CheckMinVersion implements VPLG-2: both versions must be SemVer and
// pluginVersion must not be lower than minVersion by SemVer precedence
// (pre-releases sort before their release; build metadata is ignored).
// Errors wrap ErrVersion.
func CheckMinVersion(pluginVersion, minVersion string) error {
	if !IsSemVer(minVersion) {
		return fmt.Errorf("%w: the signature's minimum plugin version %s is not a SemVer version (VPLG-2)", ErrVersion, quote(minVersion))
	}
	if !IsSemVer(pluginVersion) {
		return fmt.Errorf("%w: the plugin's version %s is not a SemVer version, so it cannot be compared with the minimum %s (VPLG-2)",
			ErrVersion, quote(pluginVersion), minVersion)
	}
	if semver.Compare("v"+pluginVersion, "v"+minVersion) < 0 {
		return fmt.Errorf("%w: the plugin's version %s is lower than the minimum %s the signature requires (VPLG-2)", ErrVersion, pluginVersion, minVersion)
	}
	return nil
}
