package trustpolicy

import (
	"encoding/json"
	"strings"
	"testing"
)

// cosignDoc is a valid signet/v1 document whose statement mixes x509 and
// publickey stores, edited by edit.
func cosignDoc(edit func(s map[string]any)) string {
	s := map[string]any{
		"name":                  "mixed",
		"registryScopes":        []string{"reg.example/app"},
		"signatureVerification": map[string]any{"level": "strict"},
		"trustStores":           []string{"ca:acme", "publickey:vendor"},
		"trustedIdentities":     []string{"*"},
		"transparencyLog":       "require",
		"rekorTrustStores":      []string{"publickey:rekor"},
	}
	if edit != nil {
		edit(s)
	}
	return mustJSON(map[string]any{"version": ExtensionVersion, "trustPolicies": []any{s}})
}

func TestCosignMembers(t *testing.T) {
	d, err := ParseOCI(strings.NewReader(cosignDoc(nil)))
	if err != nil {
		t.Fatal(err)
	}
	s := &d.TrustPolicies[0]
	if !s.TrustsCosign() || s.TransparencyLogMode() != TlogRequire || len(s.RekorStores()) != 1 || s.RekorStores()[0] != "rekor" {
		t.Fatalf("parsed %+v", s)
	}
	if got := s.StoresOfType(StorePublicKey); len(got) != 1 || got[0] != "vendor" {
		t.Fatalf("publickey stores %v", got)
	}
	members := map[string]bool{}
	for _, m := range d.ExtensionMembers() {
		members[m.Member] = true
	}
	for _, want := range []string{"trustStores[1]", "transparencyLog", "rekorTrustStores"} {
		if !members[want] {
			t.Errorf("ExtensionMembers lacks %s: %v", want, members)
		}
	}
	d, err = ParseOCI(strings.NewReader(cosignDoc(func(s map[string]any) { delete(s, "transparencyLog"); delete(s, "rekorTrustStores") })))
	if err != nil {
		t.Fatal(err)
	}
	if d.TrustPolicies[0].TransparencyLogMode() != TlogVerify {
		t.Fatalf("default transparencyLog %q", d.TrustPolicies[0].TransparencyLogMode())
	}
}

func TestCosignMembersRefused(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "publickey store in a 1.0 document", doc: strings.Replace(cosignDoc(func(s map[string]any) { delete(s, "transparencyLog"); delete(s, "rekorTrustStores") }), ExtensionVersion, "1.0", 1), want: `"publickey:vendor" is not allowed`},
		{name: "transparencyLog in a 1.0 document", doc: strings.Replace(cosignDoc(nil), ExtensionVersion, "1.0", 1), want: "transparencyLog is not allowed"},
		{name: "identities other than *", doc: cosignDoc(func(s map[string]any) {
			s["trustedIdentities"] = []string{"x509.subject: CN=a"}
		}), want: "a public key has no identity"},
		{name: "unknown transparencyLog", doc: cosignDoc(func(s map[string]any) { s["transparencyLog"] = "sometimes" }), want: `transparencyLog "sometimes"`},
		{name: "require without rekor stores", doc: cosignDoc(func(s map[string]any) { delete(s, "rekorTrustStores") }), want: "needs rekorTrustStores"},
		{name: "rekor store of another type", doc: cosignDoc(func(s map[string]any) { s["rekorTrustStores"] = []string{"ca:rekor"} }), want: "publickey:<name>"},
		{name: "transparencyLog without a publickey store", doc: cosignDoc(func(s map[string]any) {
			s["trustStores"] = []string{"ca:acme"}
			delete(s, "rekorTrustStores")
		}), want: "names no publickey trust store"},
		{name: "publickey store for a counter-signer", doc: cosignDoc(func(s map[string]any) {
			s["counterSignatures"] = []any{map[string]any{"name": "sec", "trustStores": []string{"ca:sec", "publickey:sec"}, "trustedIdentities": []string{"*"}}}
		}), want: "publickey stores cannot authenticate them"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOCI(strings.NewReader(tc.doc))
			if !isInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Blob policies know nothing of publickey stores.
	blob := `{"version":"1.0","trustPolicies":[{"name":"b","globalPolicy":true,"signatureVerification":{"level":"strict"},"trustStores":["publickey:vendor"],"trustedIdentities":["*"]}]}`
	if _, err := ParseBlob(strings.NewReader(blob)); !isInvalid(err) || !strings.Contains(err.Error(), "publickey:vendor") {
		t.Fatalf("blob document with a publickey store: %v", err)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
