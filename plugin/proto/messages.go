package proto

import "fmt"

// Request is a plugin request. Command names the command it belongs to.
type Request interface {
	Command() Command
	Validate() error
}

// Response is a plugin response.
type Response interface {
	Validate() error
}

// Compile-time checks that every message implements its interface.
var (
	_ Request  = (*GetMetadataRequest)(nil)
	_ Request  = (*DescribeKeyRequest)(nil)
	_ Request  = (*GenerateSignatureRequest)(nil)
	_ Request  = (*GenerateEnvelopeRequest)(nil)
	_ Request  = (*VerifySignatureRequest)(nil)
	_ Response = (*GetMetadataResponse)(nil)
	_ Response = (*DescribeKeyResponse)(nil)
	_ Response = (*GenerateSignatureResponse)(nil)
	_ Response = (*GenerateEnvelopeResponse)(nil)
	_ Response = (*VerifySignatureResponse)(nil)
	_ Response = (*Error)(nil)
)

// checkContractVersion is the contractVersion rule of every request but
// get-plugin-metadata (PROC-5).
func checkContractVersion(v string) error {
	switch v {
	case "":
		return invalid("contractVersion cannot be empty")
	case ContractVersion:
		return nil
	}
	return &Error{Code: ErrorCodeUnsupportedContractVersion,
		Message: fmt.Sprintf("%q is not a supported plugin contract version (supported: %s)", v, ContractVersion)}
}

// checkPluginConfig requires non-empty keys (PCFG-1, PCFG-2).
func checkPluginConfig(c map[string]string) error {
	for k := range c {
		if k == "" {
			return invalid("pluginConfig has an empty key")
		}
	}
	return nil
}

// GetMetadataRequest is the request of get-plugin-metadata. It has no
// contractVersion.
type GetMetadataRequest struct {
	PluginConfig map[string]string `json:"pluginConfig,omitempty"`
}

// Command returns get-plugin-metadata.
func (*GetMetadataRequest) Command() Command { return CommandGetMetadata }

// Validate checks pluginConfig keys.
func (r *GetMetadataRequest) Validate() error { return checkPluginConfig(r.PluginConfig) }

// GetMetadataResponse describes a plugin (digest §7.4).
type GetMetadataResponse struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// Version must be SemVer for the minimum-version rule (VPLG-2); it is
	// not checked here.
	Version                   string       `json:"version"`
	URL                       string       `json:"url"`
	SupportedContractVersions []string     `json:"supportedContractVersions"`
	Capabilities              []Capability `json:"capabilities"`
}

// Validate requires every member non-empty, as the reference does, and no
// empty entries in the two lists. Capabilities unknown to this package are
// accepted (a newer plugin may declare a newer capability); the host asks
// for the ones it knows with HasCapability. Whether the plugin supports
// contract version 1.0 and whether name matches the executable are host
// checks.
func (r *GetMetadataResponse) Validate() error {
	switch {
	case r.Name == "":
		return invalid("name cannot be empty")
	case r.Description == "":
		return invalid("description cannot be empty")
	case r.Version == "":
		return invalid("version cannot be empty")
	case r.URL == "":
		return invalid("url cannot be empty")
	case len(r.SupportedContractVersions) == 0:
		return invalid("supportedContractVersions cannot be empty")
	case len(r.Capabilities) == 0:
		return invalid("capabilities cannot be empty (CAP-1)")
	}
	for i, v := range r.SupportedContractVersions {
		if v == "" {
			return invalid("supportedContractVersions[%d] is empty", i)
		}
	}
	for i, c := range r.Capabilities {
		if c == "" {
			return invalid("capabilities[%d] is empty", i)
		}
	}
	return nil
}

// HasCapability reports whether the plugin declares c.
func (r *GetMetadataResponse) HasCapability(c Capability) bool {
	for _, have := range r.Capabilities {
		if have == c {
			return true
		}
	}
	return false
}

// SupportsContractVersion reports whether supportedContractVersions
// contains v literally ([REF] PROC-5).
func (r *GetMetadataResponse) SupportsContractVersion(v string) bool {
	for _, have := range r.SupportedContractVersions {
		if have == v {
			return true
		}
	}
	return false
}

// DescribeKeyRequest is the request of describe-key.
type DescribeKeyRequest struct {
	ContractVersion string            `json:"contractVersion"`
	KeyID           string            `json:"keyId"`
	PluginConfig    map[string]string `json:"pluginConfig,omitempty"`
}

// Command returns describe-key.
func (*DescribeKeyRequest) Command() Command { return CommandDescribeKey }

// Validate checks contractVersion, keyId and pluginConfig.
func (r *DescribeKeyRequest) Validate() error {
	if err := checkContractVersion(r.ContractVersion); err != nil {
		return err
	}
	if r.KeyID == "" {
		return invalid("keyId cannot be empty")
	}
	return checkPluginConfig(r.PluginConfig)
}

// DescribeKeyResponse is the response of describe-key.
type DescribeKeyResponse struct {
	KeyID   string  `json:"keyId"`
	KeySpec KeySpec `json:"keySpec"`
}

// Validate requires keyId and a known keySpec.
func (r *DescribeKeyResponse) Validate() error {
	if r.KeyID == "" {
		return invalid("keyId cannot be empty")
	}
	if !r.KeySpec.Known() {
		return invalid("keySpec %q is not one of RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384, EC-521", r.KeySpec)
	}
	return nil
}

// GenerateSignatureRequest is the request of generate-signature.
type GenerateSignatureRequest struct {
	ContractVersion string        `json:"contractVersion"`
	KeyID           string        `json:"keyId"`
	KeySpec         KeySpec       `json:"keySpec"`
	HashAlgorithm   HashAlgorithm `json:"hashAlgorithm"`
	// Payload is the message to sign, unhashed: the JWS signing input or
	// the COSE Sig_structure. The plugin hashes it with HashAlgorithm.
	Payload      []byte            `json:"payload"`
	PluginConfig map[string]string `json:"pluginConfig,omitempty"`
}

// Command returns generate-signature.
func (*GenerateSignatureRequest) Command() Command { return CommandGenerateSignature }

// Validate checks every member and that hashAlgorithm is the one keySpec
// implies (ALG-2).
func (r *GenerateSignatureRequest) Validate() error {
	if err := checkContractVersion(r.ContractVersion); err != nil {
		return err
	}
	switch {
	case r.KeyID == "":
		return invalid("keyId cannot be empty")
	case !r.KeySpec.Known():
		return invalid("keySpec %q is not a known key spec", r.KeySpec)
	case !r.HashAlgorithm.Known():
		return invalid("hashAlgorithm %q is not one of SHA-256, SHA-384, SHA-512", r.HashAlgorithm)
	case r.HashAlgorithm != r.KeySpec.HashAlgorithm():
		return invalid("hashAlgorithm %s does not match keySpec %s (want %s)", r.HashAlgorithm, r.KeySpec, r.KeySpec.HashAlgorithm())
	case len(r.Payload) == 0:
		return invalid("payload cannot be empty")
	}
	return checkPluginConfig(r.PluginConfig)
}

// GenerateSignatureResponse is the response of generate-signature.
type GenerateSignatureResponse struct {
	KeyID string `json:"keyId"`
	// Signature is the raw signature: RSASSA-PSS bytes, or ECDSA as
	// fixed-width r||s.
	Signature        []byte             `json:"signature"`
	SigningAlgorithm SignatureAlgorithm `json:"signingAlgorithm"`
	// CertificateChain is DER certificates, leaf first, root last.
	CertificateChain [][]byte `json:"certificateChain"`
}

// Validate requires every member, a known signingAlgorithm and no empty
// certificate.
func (r *GenerateSignatureResponse) Validate() error {
	switch {
	case r.KeyID == "":
		return invalid("keyId cannot be empty")
	case len(r.Signature) == 0:
		return invalid("signature cannot be empty")
	case !r.SigningAlgorithm.Known():
		return invalid("signingAlgorithm %q is not a known signing algorithm", r.SigningAlgorithm)
	case len(r.CertificateChain) == 0:
		return invalid("certificateChain cannot be empty")
	}
	for i, c := range r.CertificateChain {
		if len(c) == 0 {
			return invalid("certificateChain[%d] is empty", i)
		}
	}
	return nil
}

// GenerateEnvelopeRequest is the request of generate-envelope.
type GenerateEnvelopeRequest struct {
	ContractVersion string `json:"contractVersion"`
	KeyID           string `json:"keyId"`
	// PayloadType is always MediaTypePayloadV1.
	PayloadType string `json:"payloadType"`
	// SignatureEnvelopeType is MediaTypeJWS or MediaTypeCOSE.
	SignatureEnvelopeType string `json:"signatureEnvelopeType"`
	// Payload is the Notary payload JSON to sign.
	Payload []byte `json:"payload"`
	// ExpiryDurationInSeconds is the signature lifetime; 0 (omitted) for
	// none.
	ExpiryDurationInSeconds uint64            `json:"expiryDurationInSeconds,omitempty"`
	PluginConfig            map[string]string `json:"pluginConfig,omitempty"`
}

// Command returns generate-envelope.
func (*GenerateEnvelopeRequest) Command() Command { return CommandGenerateEnvelope }

// Validate checks every member; payloadType must be MediaTypePayloadV1 and
// signatureEnvelopeType JWS or COSE.
func (r *GenerateEnvelopeRequest) Validate() error {
	if err := checkContractVersion(r.ContractVersion); err != nil {
		return err
	}
	switch {
	case r.KeyID == "":
		return invalid("keyId cannot be empty")
	case r.PayloadType != MediaTypePayloadV1:
		return invalid("payloadType %q is not %s", r.PayloadType, MediaTypePayloadV1)
	case !knownEnvelopeType(r.SignatureEnvelopeType):
		return invalid("signatureEnvelopeType %q is not %s or %s", r.SignatureEnvelopeType, MediaTypeJWS, MediaTypeCOSE)
	case len(r.Payload) == 0:
		return invalid("payload cannot be empty")
	}
	return checkPluginConfig(r.PluginConfig)
}

func knownEnvelopeType(t string) bool { return t == MediaTypeJWS || t == MediaTypeCOSE }

// GenerateEnvelopeResponse is the response of generate-envelope.
type GenerateEnvelopeResponse struct {
	SignatureEnvelope     []byte `json:"signatureEnvelope"`
	SignatureEnvelopeType string `json:"signatureEnvelopeType"`
	// Annotations are added to the signature manifest.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Validate requires an envelope of a known type and non-empty annotation
// keys.
func (r *GenerateEnvelopeResponse) Validate() error {
	switch {
	case len(r.SignatureEnvelope) == 0:
		return invalid("signatureEnvelope cannot be empty")
	case !knownEnvelopeType(r.SignatureEnvelopeType):
		return invalid("signatureEnvelopeType %q is not %s or %s", r.SignatureEnvelopeType, MediaTypeJWS, MediaTypeCOSE)
	}
	for k := range r.Annotations {
		if k == "" {
			return invalid("annotations has an empty key")
		}
	}
	return nil
}
