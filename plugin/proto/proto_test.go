package proto

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Good messages of every type, as a plugin or the host writes them.
const (
	goodMetadata = `{"name":"com.example.p","description":"d","version":"1.0.0","url":"https://example.com","supportedContractVersions":["1.0"],"capabilities":["SIGNATURE_GENERATOR.RAW"]}`
	goodDescribe = `{"keyId":"k","keySpec":"EC-384"}`
	goodSig      = `{"keyId":"k","signature":"AAEC","signingAlgorithm":"ECDSA-SHA-384","certificateChain":["MIIB","MIIC"]}`
	goodEnvelope = `{"signatureEnvelope":"e30=","signatureEnvelopeType":"application/jose+json","annotations":{"a":"b"}}`
	goodVerify   = `{"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":{"success":true},"SIGNATURE_VERIFIER.REVOCATION_CHECK":{"success":false,"reason":"revoked"}},"processedAttributes":["com.example.a"]}`
	goodError    = `{"errorCode":"ACCESS_DENIED","errorMessage":"no","errorMetadata":{"k":"v"}}`
)

// edit decodes a JSON object, applies f and re-encodes it.
func edit(t *testing.T, doc string, f func(map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func del(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
func set(k string, v any) func(map[string]any) {
	return func(m map[string]any) { m[k] = v }
}

// §7.4: every response type validates its required members and names.
func TestDecodeResponses(t *testing.T) {
	tests := []struct {
		name    string
		newMsg  func() Message
		doc     string
		wantErr string // "" when valid
	}{
		{"metadata", func() Message { return new(GetMetadataResponse) }, goodMetadata, ""},
		{"metadata with unknown capability and member", func() Message { return new(GetMetadataResponse) },
			edit(t, goodMetadata, func(m map[string]any) { m["capabilities"] = []string{"X.NEW"}; m["extra"] = 1 }), ""},
		{"metadata without name", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, del("name")), "name cannot be empty"},
		{"metadata without description", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, set("description", "")), "description cannot be empty"},
		{"metadata without version", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, del("version")), "version cannot be empty"},
		{"metadata without url", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, del("url")), "url cannot be empty"},
		{"metadata without contract versions", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, del("supportedContractVersions")), "supportedContractVersions cannot be empty"},
		{"metadata with empty contract version", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, set("supportedContractVersions", []string{""})), "supportedContractVersions[0] is empty"},
		{"metadata without capabilities (CAP-1)", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, set("capabilities", []string{})), "capabilities cannot be empty"},
		{"metadata with empty capability", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, set("capabilities", []string{""})), "capabilities[0] is empty"},
		{"metadata with a number for name", func() Message { return new(GetMetadataResponse) }, edit(t, goodMetadata, set("name", 7)), "not valid JSON"},

		{"describe-key", func() Message { return new(DescribeKeyResponse) }, goodDescribe, ""},
		{"describe-key without keyId", func() Message { return new(DescribeKeyResponse) }, edit(t, goodDescribe, del("keyId")), "keyId cannot be empty"},
		{"describe-key with unknown key spec", func() Message { return new(DescribeKeyResponse) }, edit(t, goodDescribe, set("keySpec", "RSA-1024")), `keySpec "RSA-1024"`},
		{"describe-key with lower-case key spec", func() Message { return new(DescribeKeyResponse) }, edit(t, goodDescribe, set("keySpec", "ec-384")), `keySpec "ec-384"`},

		{"generate-signature", func() Message { return new(GenerateSignatureResponse) }, goodSig, ""},
		{"generate-signature without keyId", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, del("keyId")), "keyId cannot be empty"},
		{"generate-signature without signature", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, del("signature")), "signature cannot be empty"},
		{"generate-signature with unpadded base64", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, set("signature", "AAECAw")), "not valid JSON"},
		{"generate-signature with base64url", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, set("signature", "-_8=")), "not valid JSON"},
		{"generate-signature with unknown algorithm", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, set("signingAlgorithm", "PS256")), `signingAlgorithm "PS256"`},
		{"generate-signature without chain", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, set("certificateChain", []string{})), "certificateChain cannot be empty"},
		{"generate-signature with empty certificate", func() Message { return new(GenerateSignatureResponse) }, edit(t, goodSig, set("certificateChain", []string{"MIIB", ""})), "certificateChain[1] is empty"},

		{"generate-envelope", func() Message { return new(GenerateEnvelopeResponse) }, goodEnvelope, ""},
		{"generate-envelope without envelope", func() Message { return new(GenerateEnvelopeResponse) }, edit(t, goodEnvelope, del("signatureEnvelope")), "signatureEnvelope cannot be empty"},
		{"generate-envelope with unknown type", func() Message { return new(GenerateEnvelopeResponse) }, edit(t, goodEnvelope, set("signatureEnvelopeType", "application/json")), `signatureEnvelopeType "application/json"`},
		{"generate-envelope with empty annotation key", func() Message { return new(GenerateEnvelopeResponse) }, edit(t, goodEnvelope, set("annotations", map[string]string{"": "x"})), "annotations has an empty key"},
		{"generate-envelope with a non-string annotation", func() Message { return new(GenerateEnvelopeResponse) }, edit(t, goodEnvelope, set("annotations", map[string]any{"a": 1})), "not valid JSON"},

		{"verify-signature", func() Message { return new(VerifySignatureResponse) }, goodVerify, ""},
		{"verify-signature without results", func() Message { return new(VerifySignatureResponse) }, edit(t, goodVerify, del("verificationResults")), "verificationResults cannot be empty"},
		{"verify-signature with a non-verifier result", func() Message { return new(VerifySignatureResponse) },
			edit(t, goodVerify, set("verificationResults", map[string]any{"SIGNATURE_GENERATOR.RAW": map[string]any{"success": true}})), "not a SIGNATURE_VERIFIER capability"},
		{"verify-signature with a null result", func() Message { return new(VerifySignatureResponse) },
			edit(t, goodVerify, set("verificationResults", map[string]any{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY": nil})), "is null"},
		{"verify-signature failure without reason", func() Message { return new(VerifySignatureResponse) },
			edit(t, goodVerify, set("verificationResults", map[string]any{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY": map[string]any{"success": false}})), "failed without a reason"},
		{"verify-signature with duplicate processed attribute", func() Message { return new(VerifySignatureResponse) },
			edit(t, goodVerify, set("processedAttributes", []string{"a", "a"})), `names "a" twice`},
		{"verify-signature with a non-string processed attribute", func() Message { return new(VerifySignatureResponse) },
			edit(t, goodVerify, set("processedAttributes", []any{1})), "not valid JSON"},

		{"error", func() Message { return new(Error) }, goodError, ""},
		{"error with unknown code", func() Message { return new(Error) }, `{"errorCode":"NEW_CODE"}`, ""},
		{"error without code", func() Message { return new(Error) }, `{"errorMessage":"x"}`, "errorCode cannot be empty"},

		{"not an object", func() Message { return new(DescribeKeyResponse) }, `["keyId"]`, "not a JSON object"},
		{"null", func() Message { return new(DescribeKeyResponse) }, `null`, "not a JSON object"},
		{"empty", func() Message { return new(DescribeKeyResponse) }, " \n", "message is empty"},
		{"trailing data", func() Message { return new(DescribeKeyResponse) }, goodDescribe + `{}`, "not valid JSON"},
		{"too large", func() Message { return new(DescribeKeyResponse) }, `{"keyId":"` + strings.Repeat("k", MaxMessageBytes) + `","keySpec":"EC-256"}`, "over the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Decode([]byte(tc.doc), tc.newMsg())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Decode = %v", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != ErrorCodeValidation || !strings.Contains(pe.Message, tc.wantErr) {
				t.Fatalf("Decode = %v, want VALIDATION_ERROR containing %q", err, tc.wantErr)
			}
		})
	}
}

// PROC-5, §7.4: request validation, as a plugin would apply it.
func TestValidateRequests(t *testing.T) {
	payload := []byte("hdr.payload")
	chain := [][]byte{{0x30}}
	goodVerify := func() *VerifySignatureRequest {
		return &VerifySignatureRequest{
			ContractVersion: ContractVersion,
			Signature: Signature{
				CriticalAttributes: CriticalAttributes{ContentType: MediaTypePayloadV1, SigningScheme: SigningSchemeX509,
					ExtendedAttributes: map[string]any{"s": "x", "n": 1.5, "b": true, "z": nil}},
				CertificateChain: chain,
			},
			TrustPolicy: TrustPolicy{SignatureVerification: []Capability{CapabilityTrustedIdentityVerifier}},
		}
	}
	tests := []struct {
		name     string
		req      Request
		wantCode ErrorCode // "" when valid
		wantMsg  string
	}{
		{"metadata", &GetMetadataRequest{}, "", ""},
		{"metadata with empty config key", &GetMetadataRequest{PluginConfig: map[string]string{"": "v"}}, ErrorCodeValidation, "pluginConfig has an empty key"},
		{"describe-key", &DescribeKeyRequest{ContractVersion: "1.0", KeyID: "k"}, "", ""},
		{"describe-key without contract version", &DescribeKeyRequest{KeyID: "k"}, ErrorCodeValidation, "contractVersion cannot be empty"},
		{"describe-key with contract version 2.0", &DescribeKeyRequest{ContractVersion: "2.0", KeyID: "k"}, ErrorCodeUnsupportedContractVersion, `"2.0"`},
		{"describe-key without keyId", &DescribeKeyRequest{ContractVersion: "1.0"}, ErrorCodeValidation, "keyId cannot be empty"},
		{"generate-signature", &GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: KeySpecRSA3072, HashAlgorithm: HashAlgorithmSHA384, Payload: payload}, "", ""},
		{"generate-signature hash not bound to key (ALG-2)", &GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: KeySpecRSA3072, HashAlgorithm: HashAlgorithmSHA256, Payload: payload}, ErrorCodeValidation, "does not match keySpec RSA-3072 (want SHA-384)"},
		{"generate-signature unknown hash", &GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: KeySpecEC256, HashAlgorithm: "SHA-1", Payload: payload}, ErrorCodeValidation, `hashAlgorithm "SHA-1"`},
		{"generate-signature unknown key spec", &GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: "EC-224", HashAlgorithm: HashAlgorithmSHA256, Payload: payload}, ErrorCodeValidation, `keySpec "EC-224"`},
		{"generate-signature without payload", &GenerateSignatureRequest{ContractVersion: "1.0", KeyID: "k", KeySpec: KeySpecEC256, HashAlgorithm: HashAlgorithmSHA256}, ErrorCodeValidation, "payload cannot be empty"},
		{"generate-envelope", &GenerateEnvelopeRequest{ContractVersion: "1.0", KeyID: "k", PayloadType: MediaTypePayloadV1, SignatureEnvelopeType: MediaTypeCOSE, Payload: []byte("{}")}, "", ""},
		{"generate-envelope other payload type", &GenerateEnvelopeRequest{ContractVersion: "1.0", KeyID: "k", PayloadType: "application/json", SignatureEnvelopeType: MediaTypeCOSE, Payload: []byte("{}")}, ErrorCodeValidation, "payloadType"},
		{"generate-envelope other envelope type", &GenerateEnvelopeRequest{ContractVersion: "1.0", KeyID: "k", PayloadType: MediaTypePayloadV1, SignatureEnvelopeType: "application/json", Payload: []byte("{}")}, ErrorCodeValidation, "signatureEnvelopeType"},
		{"verify-signature", goodVerify(), "", ""},
		{"verify-signature unknown scheme", func() Request {
			r := goodVerify()
			r.Signature.CriticalAttributes.SigningScheme = "notary.x509.other"
			return r
		}(), ErrorCodeValidation, "signingScheme"},
		{"verify-signature without chain", func() Request { r := goodVerify(); r.Signature.CertificateChain = nil; return r }(), ErrorCodeValidation, "certificateChain cannot be empty"},
		{"verify-signature without capabilities", func() Request { r := goodVerify(); r.TrustPolicy.SignatureVerification = nil; return r }(), ErrorCodeValidation, "signatureVerification cannot be empty"},
		{"verify-signature with a generator capability", func() Request {
			r := goodVerify()
			r.TrustPolicy.SignatureVerification = []Capability{CapabilitySignatureGenerator}
			return r
		}(), ErrorCodeValidation, "not a SIGNATURE_VERIFIER capability"},
		{"verify-signature with a capability twice", func() Request {
			r := goodVerify()
			r.TrustPolicy.SignatureVerification = []Capability{CapabilityRevocationCheckVerifier, CapabilityRevocationCheckVerifier}
			return r
		}(), ErrorCodeValidation, "twice"},
		{"verify-signature with an object attribute", func() Request {
			r := goodVerify()
			r.Signature.CriticalAttributes.ExtendedAttributes["o"] = map[string]any{}
			return r
		}(), ErrorCodeValidation, "not a JSON primitive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Code != tc.wantCode || !strings.Contains(pe.Message, tc.wantMsg) {
				t.Fatalf("Validate = %v, want %s containing %q", err, tc.wantCode, tc.wantMsg)
			}
		})
	}
}

// PROC-7, §7.4: member names and base64 on the wire, and the request a
// plugin receives decodes back to the same values.
func TestWireFormat(t *testing.T) {
	req := &GenerateSignatureRequest{ContractVersion: ContractVersion, KeyID: "k", KeySpec: KeySpecEC521,
		HashAlgorithm: KeySpecEC521.HashAlgorithm(), Payload: []byte{0xfb, 0xff}, PluginConfig: map[string]string{"a": "b"}}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"contractVersion":"1.0","keyId":"k","keySpec":"EC-521","hashAlgorithm":"SHA-512","payload":"+/8=","pluginConfig":{"a":"b"}}`
	if string(b) != want {
		t.Errorf("wire = %s\nwant   %s", b, want)
	}
	var back GenerateSignatureRequest
	if err := Decode(b, &back); err != nil || string(back.Payload) != string(req.Payload) {
		t.Errorf("Decode = %+v, %v", back, err)
	}
	if b, _ := json.Marshal(&GetMetadataRequest{}); string(b) != `{}` {
		t.Errorf("empty metadata request = %s", b)
	}
	if b, _ := json.Marshal(&Error{Code: ErrorCodeThrottled}); string(b) != `{"errorCode":"THROTTLED"}` {
		t.Errorf("error = %s", b)
	}
}

// ALG-2: each key spec binds one hash and one signing algorithm.
func TestKeySpecBindings(t *testing.T) {
	tests := []struct {
		spec KeySpec
		hash HashAlgorithm
		alg  SignatureAlgorithm
	}{
		{KeySpecRSA2048, HashAlgorithmSHA256, SignatureAlgorithmRSASSAPSSSHA256},
		{KeySpecRSA3072, HashAlgorithmSHA384, SignatureAlgorithmRSASSAPSSSHA384},
		{KeySpecRSA4096, HashAlgorithmSHA512, SignatureAlgorithmRSASSAPSSSHA512},
		{KeySpecEC256, HashAlgorithmSHA256, SignatureAlgorithmECDSASHA256},
		{KeySpecEC384, HashAlgorithmSHA384, SignatureAlgorithmECDSASHA384},
		{KeySpecEC521, HashAlgorithmSHA512, SignatureAlgorithmECDSASHA512},
		{"EC-224", "", ""},
	}
	for _, tc := range tests {
		t.Run(string(tc.spec), func(t *testing.T) {
			if tc.spec.Known() != (tc.hash != "") || tc.spec.HashAlgorithm() != tc.hash || tc.spec.SignatureAlgorithm() != tc.alg {
				t.Errorf("%s: known %v, hash %q, alg %q", tc.spec, tc.spec.Known(), tc.spec.HashAlgorithm(), tc.spec.SignatureAlgorithm())
			}
			if tc.alg != "" && !tc.alg.Known() {
				t.Errorf("%s not known", tc.alg)
			}
		})
	}
	if SignatureAlgorithm("").Known() || SignatureAlgorithm("RSASSA-PSS-SHA-1").Known() {
		t.Error("unknown algorithm reported known")
	}
}
