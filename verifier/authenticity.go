package verifier

import (
	"bytes"
	"context"
	"fmt"

	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
)

// authenticity is PIPE-3 and PIPE-4: the chain must contain a certificate
// from one of the statement's stores of the type bound to the signing
// scheme (TS-7), and the leaf must match a trusted identity (§5.6). The
// stores were loaded, and found usable, before the pipeline (TS-6).
func (r *run) authenticity(ctx context.Context) error {
	c := r.res.Content
	storeType := truststore.TypeCA
	if c.Signed.SigningScheme == signature.SchemeX509SigningAuthority {
		storeType = truststore.TypeSigningAuthority
	}
	names := r.in.Statement.StoresOfType(string(storeType))
	if len(names) == 0 {
		return fmt.Errorf("trust policy statement %q lists no %s trust store, which signing scheme %s needs", r.in.Statement.Name, storeType, c.Signed.SigningScheme)
	}
	for _, name := range names {
		for _, anchor := range r.stores[storeType][name] {
			for _, cert := range c.CertificateChain {
				if bytes.Equal(anchor.Raw, cert.Raw) {
					return r.identity(ctx)
				}
			}
		}
	}
	return fmt.Errorf("the signature's certificate chain (leaf %q) does not chain to any certificate in trust stores %s:%v", c.CertificateChain[0].Subject, storeType, names)
}

// identity is PIPE-4: the verification plugin's check when it has the
// capability, else signet's (§5.6).
func (r *run) identity(ctx context.Context) error {
	if r.plugin != nil && r.plugin.HasCapability(proto.CapabilityTrustedIdentityVerifier) {
		return r.pluginResult(ctx, proto.CapabilityTrustedIdentityVerifier)
	}
	return trustpolicy.MatchIdentities(r.in.Statement.TrustedIdentities, r.res.Content.CertificateChain[0])
}
