package proto

import (
	"encoding/json"
	"testing"
)

// FuzzParseResponses decodes arbitrary bytes as each response type a
// plugin can send (and as the stderr error). No input may panic; a
// response Decode accepts must validate, re-encode, and decode again to a
// response that still validates (the host never acts on a half-checked
// value).
func FuzzParseResponses(f *testing.F) {
	for _, seed := range []string{
		goodMetadata, goodDescribe, goodSig, goodEnvelope, goodVerify, goodError,
		`{}`, `null`, `[]`, `{"keyId":"k","keySpec":"EC-256","keyId":"j"}`,
		`{"verificationResults":{"SIGNATURE_VERIFIER.TRUSTED_IDENTITY":null}}`,
		`{"signature":"AAEC=","certificateChain":[null,""]}`,
		`{"capabilities":[1],"name":{"a":[]}}`,
		`{"errorCode":"ERROR","errorMetadata":{"a":1}}`,
		"{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(seed))
	}
	responses := []func() Message{
		func() Message { return new(GetMetadataResponse) },
		func() Message { return new(DescribeKeyResponse) },
		func() Message { return new(GenerateSignatureResponse) },
		func() Message { return new(GenerateEnvelopeResponse) },
		func() Message { return new(VerifySignatureResponse) },
		func() Message { return new(Error) },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newMsg := range responses {
			m := newMsg()
			if err := Decode(data, m); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("%T: error %v is a %T, not a *Error", m, err, err)
				}
				continue
			}
			if err := m.Validate(); err != nil {
				t.Fatalf("%T: Decode accepted a message that does not validate: %v", m, err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("%T: re-encode: %v", m, err)
			}
			again := newMsg()
			if err := Decode(b, again); err != nil {
				t.Fatalf("%T: re-encoded %s does not decode: %v", m, b, err)
			}
		}
	})
}
