package verifier

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
)

// VerificationPlugins finds the verification plugin a signature names,
// applying VPLG-1..3 (plugin.Manager).
type VerificationPlugins interface {
	VerificationPlugin(ctx context.Context, name, minVersion string) (*plugin.Plugin, error)
}

// resolvePlugin is PIPE-2: the named plugin must be installed, new enough
// and a verifier; otherwise the signature fails at every level.
func (r *run) resolvePlugin(ctx context.Context, name, minVersion string) error {
	if r.v.Plugins == nil {
		return fmt.Errorf("the signature requires verification plugin %q, and this verifier runs no plugins", name)
	}
	p, err := r.v.Plugins.VerificationPlugin(ctx, name, minVersion)
	if err != nil {
		return fmt.Errorf("verification plugin %q: %w", name, err)
	}
	r.plugin = p
	return nil
}

// pluginResponse calls verify-signature once (PIPE-8), asking for the
// capabilities the plugin has among the checks the level does not skip
// (VPLG-5), with every critical attribute signet did not process (VPLG-7).
func (r *run) pluginResponse(ctx context.Context) (*proto.VerifySignatureResponse, error) {
	if r.pluginDone {
		return r.pluginResp, r.pluginErr
	}
	r.pluginDone = true
	caps := plugin.VerifierCapabilities(r.plugin,
		r.actions[trustpolicy.Authenticity] != trustpolicy.ActionSkip,
		r.actions[trustpolicy.Revocation] != trustpolicy.ActionSkip)
	if len(caps) == 0 && len(r.unprocessed) == 0 {
		return nil, nil
	}
	c := r.res.Content
	attrs := proto.CriticalAttributes{
		ContentType:   c.PayloadContentType,
		SigningScheme: string(c.Signed.SigningScheme),
	}
	if !c.Signed.Expiry.IsZero() {
		e := c.Signed.Expiry
		attrs.Expiry = &e
	}
	if c.Signed.SigningScheme == signature.SchemeX509SigningAuthority {
		t := c.Signed.SigningTime
		attrs.AuthenticSigningTime = &t
	}
	for _, a := range c.Signed.ExtendedAttributes {
		switch a.Key {
		case signature.HeaderVerificationPlugin:
			attrs.VerificationPlugin = fmt.Sprint(a.Value)
		case signature.HeaderVerificationPluginMinVersion:
			attrs.VerificationPluginMinVersion = fmt.Sprint(a.Value)
		default:
			if attrs.ExtendedAttributes == nil {
				attrs.ExtendedAttributes = map[string]any{}
			}
			attrs.ExtendedAttributes[a.Key] = a.Value
		}
	}
	chain := make([][]byte, len(c.CertificateChain))
	for i, cert := range c.CertificateChain {
		chain[i] = cert.Raw
	}
	unprocessed := append([]string{}, r.unprocessed...)
	sort.Strings(unprocessed)
	req := &proto.VerifySignatureRequest{
		ContractVersion: proto.ContractVersion,
		Signature:       proto.Signature{CriticalAttributes: attrs, UnprocessedAttributes: unprocessed, CertificateChain: chain},
		TrustPolicy:     proto.TrustPolicy{TrustedIdentities: r.in.Statement.TrustedIdentities, SignatureVerification: caps},
		PluginConfig:    r.v.PluginConfig,
	}
	r.pluginResp, r.pluginErr = plugin.VerifySignature(ctx, r.plugin, req)
	if r.pluginErr != nil {
		r.pluginErr = fmt.Errorf("verification plugin %q: %w", r.plugin.Name(), r.pluginErr)
	}
	return r.pluginResp, r.pluginErr
}

// pluginResult is the plugin's verdict for one capability (VPLG-6): nil
// when it succeeded, its reason otherwise.
func (r *run) pluginResult(ctx context.Context, c proto.Capability) error {
	resp, err := r.pluginResponse(ctx)
	if err != nil {
		return err
	}
	if resp == nil {
		return errors.New("the verification plugin was not asked")
	}
	res := resp.VerificationResults[c]
	if res == nil {
		return fmt.Errorf("verification plugin %q returned no result for %s", r.plugin.Name(), c)
	}
	if !res.Success {
		return fmt.Errorf("verification plugin %q: %s: %s", r.plugin.Name(), c, res.Reason)
	}
	return nil
}
