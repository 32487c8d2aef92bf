package trustpolicy

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// specOCIExample is the specification's multi-statement OCI example,
// without its comments.
const specOCIExample = `{
    "version": "1.0",
    "trustPolicies": [
        {
            "name": "wabbit-networks-images",
            "registryScopes": [
              "registry.acme-rockets.io/software/net-monitor",
              "registry.acme-rockets.io/software/net-logger"
            ],
            "signatureVerification": { "level" : "strict" },
            "trustStores": ["ca:wabbit-networks"],
            "trustedIdentities": [
              "x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools"
            ]
        },
        {
            "name": "unsigned-image",
            "registryScopes": [ "registry.wabbit-networks.io/software/unsigned/net-utils" ],
            "signatureVerification": { "level" : "skip" }
        },
        {
            "name": "use-expired-image",
            "registryScopes": [ "registry.acme-rockets.io/software/legacy/metrics" ],
            "signatureVerification": {
              "level" : "strict",
              "override" : { "expiry" : "log", "revocation" : "skip" }
            },
            "trustStores": ["ca:acme-rockets"],
            "trustedIdentities": ["*"]
        },
        {
            "name": "global-policy-for-all-other-images",
            "registryScopes": [ "*" ],
            "signatureVerification": { "level" : "audit", "verifyTimestamp": "afterCertExpiry" },
            "trustStores": ["ca:acme-rockets", "ca:acme-rockets-ca2", "tsa:public-tsa"],
            "trustedIdentities": [
              "x509.subject: C=US, ST=WA, L=Seattle, O=acme-rockets.io, OU=Finance, CN=SecureBuilder"
            ]
        }
    ]
}`

// specBlobExample is a blob policy in the shape of the specification's
// blob examples: a named, a skip and a global statement (§5.3).
const specBlobExample = `{
    "version": "1.0",
    "trustPolicies": [
        {
            "name": "wabbit-networks-policy",
            "signatureVerification": { "level": "strict" },
            "trustStores": ["ca:wabbit-networks"],
            "trustedIdentities": ["x509.subject: C=US, ST=WA, L=Seattle, O=wabbit-networks.io, OU=Security Tools"]
        },
        {
            "name": "skip-policy",
            "signatureVerification": { "level": "skip" }
        },
        {
            "name": "global-verification-policy",
            "globalPolicy": true,
            "signatureVerification": { "level": "audit" },
            "trustStores": ["ca:acme-rockets"],
            "trustedIdentities": ["*"]
        }
    ]
}`

func TestParseSpecExamples(t *testing.T) {
	d, err := ParseOCI(strings.NewReader(specOCIExample))
	if err != nil {
		t.Fatalf("ParseOCI(spec example) = %v", err)
	}
	if len(d.TrustPolicies) != 4 {
		t.Fatalf("%d statements", len(d.TrustPolicies))
	}
	s, err := d.Match("registry.acme-rockets.io/software/legacy/metrics")
	if err != nil || s.Name != "use-expired-image" {
		t.Fatalf("Match = %v, %v", s, err)
	}
	if got := s.Actions(); got[Expiry] != ActionLog || got[Revocation] != ActionSkip || got[Authenticity] != ActionEnforce {
		t.Errorf("Actions() = %v", got)
	}
	g, err := d.Match("registry.acme-rockets.io/other")
	if err != nil || g.Name != "global-policy-for-all-other-images" || g.VerifyTimestampAlways() {
		t.Fatalf("Match = %v, %v", g, err)
	}
	if got := g.StoresOfType(StoreCA); !slices.Equal(got, []string{"acme-rockets", "acme-rockets-ca2"}) {
		t.Errorf("StoresOfType(ca) = %v", got)
	}

	b, err := ParseBlob(strings.NewReader(specBlobExample))
	if err != nil {
		t.Fatalf("ParseBlob(spec example) = %v", err)
	}
	if s, err := b.Select(""); err != nil || s.Name != "global-verification-policy" {
		t.Fatalf("Select(\"\") = %v, %v", s, err)
	}
	if s, err := b.Select("skip-policy"); err != nil || !s.IsSkip() {
		t.Fatalf("Select(skip-policy) = %v, %v", s, err)
	}
}

// TestParseLenient covers TP-13: member names match case-insensitively and
// unknown members are ignored, while override keys and values stay exact.
func TestParseLenient(t *testing.T) {
	doc := `{"VERSION":"1.0","comment":"ignored","TrustPolicies":[{"Name":"p","RegistryScopes":["reg.example/app"],` +
		`"signatureverification":{"Level":"permissive","OVERRIDE":{"revocation":"enforce"},"extra":1},` +
		`"trustStores":["ca:acme"],"TRUSTEDIDENTITIES":["*"],"globalPolicy":true,"future":{"a":[1,2]}}]}`
	d, err := ParseOCI(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("ParseOCI() = %v", err)
	}
	s := d.TrustPolicies[0]
	if s.Name != "p" || s.SignatureVerification.Level != LevelPermissive || s.Actions()[Revocation] != ActionEnforce || len(s.TrustedIdentities) != 1 {
		t.Errorf("decoded %+v", s)
	}
	if s.GlobalPolicy {
		t.Error("globalPolicy is not an OCI member and must be dropped")
	}

	blob := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["reg.example/app"],"globalPolicy":true,` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`
	b, err := ParseBlob(strings.NewReader(blob))
	if err != nil {
		t.Fatalf("ParseBlob() = %v", err)
	}
	if b.TrustPolicies[0].RegistryScopes != nil || !b.TrustPolicies[0].GlobalPolicy {
		t.Errorf("decoded %+v", b.TrustPolicies[0])
	}

	upper := strings.Replace(doc, `"revocation":"enforce"`, `"Revocation":"enforce"`, 1)
	if _, err := ParseOCI(strings.NewReader(upper)); !isInvalid(err) {
		t.Errorf("override key Revocation accepted: %v", err)
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		msg  string
	}{
		{"syntax error", "{\n  \"version\": \"1.0\",\n  \"trustPolicies\": [,]\n}", "malformed JSON at line 3, column 21"},
		{"wrong type", `{"version":"1.0","trustPolicies":[{"name":"p","trustStores":"ca:acme"}]}`, "malformed JSON at line 1"},
		{"number version", `{"version":1.0,"trustPolicies":[]}`, "malformed JSON"},
		{"trailing data", `{"version":"1.0","trustPolicies":[]} {}`, "malformed JSON"},
		{"not an object", `[]`, "malformed JSON"},
		{"empty", ``, "malformed JSON"},
		{"null", `null`, "version is missing"},
		{"too large", `{"version":"1.0","pad":"` + strings.Repeat("a", MaxPolicyBytes) + `"}`, "larger than 1048576 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, parse := range []func(string) error{
				func(s string) error { _, err := ParseOCI(strings.NewReader(s)); return err },
				func(s string) error { _, err := ParseBlob(strings.NewReader(s)); return err },
			} {
				err := parse(tc.doc)
				if !isInvalid(err) || !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %v, want invalid policy mentioning %q", err, tc.msg)
				}
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	d, err := ParseOCI(strings.NewReader(specOCIExample))
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out, []byte("}\n")) || !bytes.Contains(out, []byte("\n    \"trustPolicies\": [")) {
		t.Errorf("Marshal() is not indented:\n%s", out)
	}
	if bytes.Contains(out, []byte("globalPolicy")) {
		t.Errorf("OCI Marshal() emits globalPolicy:\n%s", out)
	}
	d2, err := ParseOCI(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("ParseOCI(Marshal()) = %v", err)
	}
	if !reflect.DeepEqual(d, d2) {
		t.Errorf("round trip changed the document:\n%+v\n%+v", d, d2)
	}

	b, err := ParseBlob(strings.NewReader(specBlobExample))
	if err != nil {
		t.Fatal(err)
	}
	out, err = b.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("registryScopes")) {
		t.Errorf("blob Marshal() emits registryScopes:\n%s", out)
	}
	b2, err := ParseBlob(bytes.NewReader(out))
	if err != nil || !reflect.DeepEqual(b, b2) {
		t.Errorf("blob round trip: %v\n%+v\n%+v", err, b, b2)
	}
}

func TestInit(t *testing.T) {
	stores := []string{"ca:acme", "tsa:ts"}
	ids := []string{"x509.subject: C=US, ST=WA, O=acme"}
	d, err := InitOCI("p", []string{"reg.example/app"}, stores, ids)
	if err != nil {
		t.Fatalf("InitOCI() = %v", err)
	}
	stores[0] = "changed"
	s := d.TrustPolicies[0]
	if d.Version != SupportedVersion || s.SignatureVerification.Level != LevelStrict || s.TrustStores[0] != "ca:acme" {
		t.Errorf("InitOCI() = %+v (slices must be copied)", d)
	}
	if _, err := InitOCI("p", []string{"reg.example/app:v1"}, []string{"ca:acme"}, ids); !isInvalid(err) {
		t.Errorf("InitOCI(bad scope) = %v", err)
	}
	if _, err := InitOCI("p", []string{"*"}, []string{"ca:acme"}, []string{"x509.subject: C=US, O=acme"}); !isInvalid(err) {
		t.Errorf("InitOCI(bad identity) = %v", err)
	}

	b, err := InitBlob("p", []string{"ca:acme"}, []string{"*"}, true)
	if err != nil {
		t.Fatalf("InitBlob() = %v", err)
	}
	if s, err := b.Select(""); err != nil || s.Name != "p" {
		t.Errorf("Select on InitBlob = %v, %v", s, err)
	}
	if _, err := InitBlob("", []string{"ca:acme"}, []string{"*"}, false); !isInvalid(err) {
		t.Errorf("InitBlob(no name) = %v", err)
	}
	if _, err := InitBlob("p", nil, []string{"*"}, false); !isInvalid(err) {
		t.Errorf("InitBlob(no stores) = %v", err)
	}
}
