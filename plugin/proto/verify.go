package proto

import (
	"encoding/json"
	"time"
)

// The signing schemes a verify-signature request may name.
const (
	SigningSchemeX509                 = "notary.x509"
	SigningSchemeX509SigningAuthority = "notary.x509.signingAuthority"
)

// VerifySignatureRequest is the request of verify-signature (digest §7.4).
type VerifySignatureRequest struct {
	ContractVersion string            `json:"contractVersion"`
	Signature       Signature         `json:"signature"`
	TrustPolicy     TrustPolicy       `json:"trustPolicy"`
	PluginConfig    map[string]string `json:"pluginConfig,omitempty"`
}

// Signature is the part of a signature a verification plugin sees.
type Signature struct {
	CriticalAttributes CriticalAttributes `json:"criticalAttributes"`
	// UnprocessedAttributes names the critical extended attributes the
	// host did not process; the plugin must process each (VPLG-7).
	UnprocessedAttributes []string `json:"unprocessedAttributes"`
	// CertificateChain is DER certificates, leaf first.
	CertificateChain [][]byte `json:"certificateChain"`
}

// CriticalAttributes are the signed attributes of the signature.
type CriticalAttributes struct {
	ContentType   string `json:"contentType"`
	SigningScheme string `json:"signingScheme"`
	// Expiry is nil when the signature does not expire. (The reference
	// always sends it, as 0001-01-01T00:00:00Z when absent.)
	Expiry *time.Time `json:"expiry,omitempty"`
	// AuthenticSigningTime is set for notary.x509.signingAuthority.
	AuthenticSigningTime *time.Time `json:"authenticSigningTime,omitempty"`
	// VerificationPlugin and VerificationPluginMinVersion are the two
	// plugin attributes; the specification sends them, the reference does
	// not.
	VerificationPlugin           string `json:"verificationPlugin,omitempty"`
	VerificationPluginMinVersion string `json:"verificationPluginMinVersion,omitempty"`
	// ExtendedAttributes holds the other extended attributes; values are
	// JSON primitives (string, number, boolean or null).
	ExtendedAttributes map[string]any `json:"extendedAttributes,omitempty"`
}

// TrustPolicy is the part of the applicable trust policy statement a
// verification plugin sees.
type TrustPolicy struct {
	TrustedIdentities []string `json:"trustedIdentities"`
	// SignatureVerification lists the SIGNATURE_VERIFIER capabilities the
	// host asks the plugin to run (VPLG-5).
	SignatureVerification []Capability `json:"signatureVerification"`
}

// Command returns verify-signature.
func (*VerifySignatureRequest) Command() Command { return CommandVerifySignature }

// Validate checks the members the specification requires: contractVersion,
// contentType, a known signingScheme, a non-empty certificate chain,
// primitive extended attribute values, and a non-empty list of distinct
// SIGNATURE_VERIFIER capabilities.
func (r *VerifySignatureRequest) Validate() error {
	if err := checkContractVersion(r.ContractVersion); err != nil {
		return err
	}
	ca := r.Signature.CriticalAttributes
	switch {
	case ca.ContentType == "":
		return invalid("signature.criticalAttributes.contentType cannot be empty")
	case ca.SigningScheme != SigningSchemeX509 && ca.SigningScheme != SigningSchemeX509SigningAuthority:
		return invalid("signature.criticalAttributes.signingScheme %q is not %s or %s", ca.SigningScheme, SigningSchemeX509, SigningSchemeX509SigningAuthority)
	case len(r.Signature.CertificateChain) == 0:
		return invalid("signature.certificateChain cannot be empty")
	case len(r.TrustPolicy.SignatureVerification) == 0:
		return invalid("trustPolicy.signatureVerification cannot be empty")
	}
	for k, v := range ca.ExtendedAttributes {
		if k == "" {
			return invalid("signature.criticalAttributes.extendedAttributes has an empty name")
		}
		switch v.(type) {
		case nil, string, bool, float64, json.Number,
			int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32:
		default:
			return invalid("signature.criticalAttributes.extendedAttributes[%q] is %T, not a JSON primitive", k, v)
		}
	}
	for i, c := range r.Signature.CertificateChain {
		if len(c) == 0 {
			return invalid("signature.certificateChain[%d] is empty", i)
		}
	}
	if err := distinctNames("signature.unprocessedAttributes", r.Signature.UnprocessedAttributes); err != nil {
		return err
	}
	seen := make(map[Capability]bool, len(r.TrustPolicy.SignatureVerification))
	for _, c := range r.TrustPolicy.SignatureVerification {
		if !c.IsVerifier() {
			return invalid("trustPolicy.signatureVerification names %q, not a SIGNATURE_VERIFIER capability", c)
		}
		if seen[c] {
			return invalid("trustPolicy.signatureVerification names %s twice", c)
		}
		seen[c] = true
	}
	return checkPluginConfig(r.PluginConfig)
}

// distinctNames requires non-empty, distinct entries.
func distinctNames(field string, names []string) error {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		if n == "" {
			return invalid("%s[%d] is empty", field, i)
		}
		if seen[n] {
			return invalid("%s names %q twice", field, n)
		}
		seen[n] = true
	}
	return nil
}

// VerifySignatureResponse is the response of verify-signature.
type VerifySignatureResponse struct {
	// VerificationResults has one entry per capability requested.
	VerificationResults map[Capability]*VerificationResult `json:"verificationResults"`
	// ProcessedAttributes names the unprocessed attributes the plugin
	// processed.
	ProcessedAttributes []string `json:"processedAttributes"`
}

// VerificationResult is the outcome of one capability.
type VerificationResult struct {
	Success bool `json:"success"`
	// Reason says why the check failed; required when Success is false.
	Reason string `json:"reason,omitempty"`
}

// Validate requires at least one result, keyed by SIGNATURE_VERIFIER
// capabilities, each with a reason when it failed, and distinct non-empty
// processed attribute names. Whether the keys are exactly the requested
// capabilities (VPLG-6) and whether every unprocessed attribute was
// processed (VPLG-7) are host checks.
func (r *VerifySignatureResponse) Validate() error {
	if len(r.VerificationResults) == 0 {
		return invalid("verificationResults cannot be empty")
	}
	for c, res := range r.VerificationResults {
		if !c.IsVerifier() {
			return invalid("verificationResults has %q, not a SIGNATURE_VERIFIER capability", c)
		}
		if res == nil {
			return invalid("verificationResults[%q] is null", c)
		}
		if !res.Success && res.Reason == "" {
			return invalid("verificationResults[%q] failed without a reason", c)
		}
	}
	return distinctNames("processedAttributes", r.ProcessedAttributes)
}
