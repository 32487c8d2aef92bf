package trustpolicy

import (
	"errors"
	"testing"
)

// violations flattens the joined errors returned by Validate.
func violations(t *testing.T, err error) []*PolicyError {
	t.Helper()
	var out []*PolicyError
	var walk func(error)
	walk = func(e error) {
		if pe, ok := e.(*PolicyError); ok {
			out = append(out, pe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		t.Errorf("unexpected error in join: %T %v", e, e)
	}
	if err != nil {
		walk(err)
	}
	return out
}

// ociDoc is a valid OCI document with two statements to edit.
func ociDoc() *Document {
	return &Document{
		Version: "1.0",
		TrustPolicies: []Statement{
			{
				Name:                  "app",
				RegistryScopes:        []string{"reg.example/app"},
				SignatureVerification: SignatureVerification{Level: LevelStrict},
				TrustStores:           []string{"ca:acme", "tsa:ts"},
				TrustedIdentities:     []string{"x509.subject: C=US, ST=WA, O=acme"},
			},
			{
				Name:                  "other",
				RegistryScopes:        []string{"reg.example/other", "localhost:5000/team/tool"},
				SignatureVerification: SignatureVerification{Level: LevelPermissive},
				TrustStores:           []string{"ca:acme"},
				TrustedIdentities:     []string{"*"},
			},
		},
	}
}

// blobDoc is a valid blob document with two statements, the first global.
func blobDoc() *BlobDocument {
	d := ociDoc()
	b := &BlobDocument{Version: d.Version, TrustPolicies: d.TrustPolicies}
	for i := range b.TrustPolicies {
		b.TrustPolicies[i].RegistryScopes = nil
	}
	b.TrustPolicies[0].GlobalPolicy = true
	return b
}

func isInvalid(err error) bool { return errors.Is(err, ErrInvalidPolicy) }
