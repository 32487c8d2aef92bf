package proto

// ContractVersion is the plugin contract version this package implements.
// Every request but get-plugin-metadata carries it (PROC-5).
const ContractVersion = "1.0"

// BinaryPrefix is the prefix of every plugin executable's name: a plugin
// named com.example.p is the executable notation-com.example.p (PLG-1).
const BinaryPrefix = "notation-"

// MediaTypePayloadV1 is the only payloadType of generate-envelope.
const MediaTypePayloadV1 = "application/vnd.cncf.notary.payload.v1+json"

// The envelope media types of signatureEnvelopeType.
const (
	MediaTypeJWS  = "application/jose+json"
	MediaTypeCOSE = "application/cose"
)

// Command is a plugin command, passed as the executable's only argument.
type Command string

// The commands of contract version 1.0 (digest §0.3).
const (
	CommandGetMetadata       Command = "get-plugin-metadata"
	CommandDescribeKey       Command = "describe-key"
	CommandGenerateSignature Command = "generate-signature"
	CommandGenerateEnvelope  Command = "generate-envelope"
	CommandVerifySignature   Command = "verify-signature"
)

// Capability is a feature a plugin declares in its metadata (CAP-*).
type Capability string

// The capabilities of the specification.
const (
	// CapabilitySignatureGenerator: describe-key and generate-signature;
	// the host builds the envelope.
	CapabilitySignatureGenerator Capability = "SIGNATURE_GENERATOR.RAW"
	// CapabilityEnvelopeGenerator: generate-envelope for OCI signing.
	CapabilityEnvelopeGenerator Capability = "SIGNATURE_GENERATOR.ENVELOPE"
	// CapabilityEnvelopeGeneratorForBlob: describe-key and
	// generate-envelope for blob signing (specification, May 2025; unknown
	// to notation v1.3 and the plugin framework v1.0.0).
	CapabilityEnvelopeGeneratorForBlob Capability = "SIGNATURE_GENERATOR.ENVELOPE_FOR_BLOB"
	// CapabilityTrustedIdentityVerifier: verify-signature replaces the
	// host's trusted-identity check.
	CapabilityTrustedIdentityVerifier Capability = "SIGNATURE_VERIFIER.TRUSTED_IDENTITY"
	// CapabilityRevocationCheckVerifier: verify-signature replaces the
	// host's revocation check.
	CapabilityRevocationCheckVerifier Capability = "SIGNATURE_VERIFIER.REVOCATION_CHECK"
)

// IsVerifier reports whether c is one of the two SIGNATURE_VERIFIER
// capabilities.
func (c Capability) IsVerifier() bool {
	return c == CapabilityTrustedIdentityVerifier || c == CapabilityRevocationCheckVerifier
}

// Known reports whether c is a capability of the specification.
func (c Capability) Known() bool {
	switch c {
	case CapabilitySignatureGenerator, CapabilityEnvelopeGenerator, CapabilityEnvelopeGeneratorForBlob,
		CapabilityTrustedIdentityVerifier, CapabilityRevocationCheckVerifier:
		return true
	}
	return false
}

// KeySpec names a key type and size (digest §3.1).
type KeySpec string

// The six key specs.
const (
	KeySpecRSA2048 KeySpec = "RSA-2048"
	KeySpecRSA3072 KeySpec = "RSA-3072"
	KeySpecRSA4096 KeySpec = "RSA-4096"
	KeySpecEC256   KeySpec = "EC-256"
	KeySpecEC384   KeySpec = "EC-384"
	KeySpecEC521   KeySpec = "EC-521"
)

// HashAlgorithm names the hash a plugin must apply in generate-signature.
type HashAlgorithm string

// The three hash algorithms.
const (
	HashAlgorithmSHA256 HashAlgorithm = "SHA-256"
	HashAlgorithmSHA384 HashAlgorithm = "SHA-384"
	HashAlgorithmSHA512 HashAlgorithm = "SHA-512"
)

// SignatureAlgorithm names the algorithm of a generate-signature response.
type SignatureAlgorithm string

// The six signing algorithms.
const (
	SignatureAlgorithmRSASSAPSSSHA256 SignatureAlgorithm = "RSASSA-PSS-SHA-256"
	SignatureAlgorithmRSASSAPSSSHA384 SignatureAlgorithm = "RSASSA-PSS-SHA-384"
	SignatureAlgorithmRSASSAPSSSHA512 SignatureAlgorithm = "RSASSA-PSS-SHA-512"
	SignatureAlgorithmECDSASHA256     SignatureAlgorithm = "ECDSA-SHA-256"
	SignatureAlgorithmECDSASHA384     SignatureAlgorithm = "ECDSA-SHA-384"
	SignatureAlgorithmECDSASHA512     SignatureAlgorithm = "ECDSA-SHA-512"
)

// keySpecs binds each key spec to its hash and signing algorithm (ALG-2).
var keySpecs = map[KeySpec]struct {
	hash HashAlgorithm
	alg  SignatureAlgorithm
}{
	KeySpecRSA2048: {HashAlgorithmSHA256, SignatureAlgorithmRSASSAPSSSHA256},
	KeySpecRSA3072: {HashAlgorithmSHA384, SignatureAlgorithmRSASSAPSSSHA384},
	KeySpecRSA4096: {HashAlgorithmSHA512, SignatureAlgorithmRSASSAPSSSHA512},
	KeySpecEC256:   {HashAlgorithmSHA256, SignatureAlgorithmECDSASHA256},
	KeySpecEC384:   {HashAlgorithmSHA384, SignatureAlgorithmECDSASHA384},
	KeySpecEC521:   {HashAlgorithmSHA512, SignatureAlgorithmECDSASHA512},
}

// Known reports whether k is one of the six key specs.
func (k KeySpec) Known() bool { _, ok := keySpecs[k]; return ok }

// HashAlgorithm returns the hash bound to k (ALG-2), or "" for an unknown
// key spec.
func (k KeySpec) HashAlgorithm() HashAlgorithm { return keySpecs[k].hash }

// SignatureAlgorithm returns the signing algorithm bound to k (ALG-2), or
// "" for an unknown key spec.
func (k KeySpec) SignatureAlgorithm() SignatureAlgorithm { return keySpecs[k].alg }

// Known reports whether h is one of the three hash algorithms.
func (h HashAlgorithm) Known() bool {
	switch h {
	case HashAlgorithmSHA256, HashAlgorithmSHA384, HashAlgorithmSHA512:
		return true
	}
	return false
}

// Known reports whether a is one of the six signing algorithms.
func (a SignatureAlgorithm) Known() bool {
	for _, v := range keySpecs {
		if v.alg == a {
			return true
		}
	}
	return false
}

// ErrorCode is the errorCode of a plugin error (digest §7.5).
type ErrorCode string

// The error codes of the specification.
const (
	// ErrorCodeValidation: a required member is empty or malformed, the
	// keyId is unknown, or the payload or envelope type is unsupported.
	ErrorCodeValidation ErrorCode = "VALIDATION_ERROR"
	// ErrorCodeUnsupportedContractVersion: the request's contractVersion
	// is not supported.
	ErrorCodeUnsupportedContractVersion ErrorCode = "UNSUPPORTED_CONTRACT_VERSION"
	// ErrorCodeAccessDenied: authentication or authorization failed for
	// the key or for a service the plugin called.
	ErrorCodeAccessDenied ErrorCode = "ACCESS_DENIED"
	// ErrorCodeTimeout: the operation timed out; a retry may succeed.
	ErrorCodeTimeout ErrorCode = "TIMEOUT"
	// ErrorCodeThrottled: the plugin or its service throttled the
	// request; a retry later may succeed.
	ErrorCodeThrottled ErrorCode = "THROTTLED"
	// ErrorCodeGeneric: any other error.
	ErrorCodeGeneric ErrorCode = "ERROR"
)

// Known reports whether c is one of the six error codes.
func (c ErrorCode) Known() bool {
	switch c {
	case ErrorCodeValidation, ErrorCodeUnsupportedContractVersion, ErrorCodeAccessDenied,
		ErrorCodeTimeout, ErrorCodeThrottled, ErrorCodeGeneric:
		return true
	}
	return false
}
