package trustpolicy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// extDoc is a valid signet/v1 document using every extension member.
func extDoc() *Document {
	d := ociDoc()
	d.Version = ExtensionVersion
	d.TrustPolicies[0].RegistryScopes = []string{"reg.example/app", "reg.example/team/*"}
	d.TrustPolicies[0].MinSignatures = 2
	d.TrustPolicies[0].CounterSignatures = []CounterSignature{
		{Name: "security", TrustStores: []string{"ca:security"}, TrustedIdentities: []string{"x509.subject: C=US, ST=WA, O=acme security"}},
	}
	d.TrustPolicies[0].TagBinding = &TagBinding{MaxAge: "7d"}
	d.TrustPolicies[1].RegistryScopes = append(d.TrustPolicies[1].RegistryScopes, "reg.example/*")
	return d
}

const extJSON = `{
    "version": "signet/v1",
    "trustPolicies": [
        {
            "name": "releases",
            "registryScopes": ["registry.example.com/releases/*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:release-keys"],
            "trustedIdentities": ["*"],
            "minSignatures": 2,
            "counterSignatures": [{"name": "security", "trustStores": ["ca:security"], "trustedIdentities": ["*"]}],
            "tagBinding": {"maxAge": "168h"}
        }
    ]
}`

// TestParseExtension: a signet/v1 document with every member parses, and
// the same members in a "1.0" document are refused (TP-1, TP-13).
func TestParseExtension(t *testing.T) {
	d, err := ParseOCI(strings.NewReader(extJSON))
	if err != nil {
		t.Fatal(err)
	}
	s := &d.TrustPolicies[0]
	if !d.Extended() || s.RequiredSignatures() != 2 || len(s.CounterSignatures) != 1 || s.TagBinding.MaxAgeDuration() != 168*time.Hour {
		t.Fatalf("parsed %+v", s)
	}
	_, err = ParseOCI(strings.NewReader(strings.Replace(extJSON, `"signet/v1"`, `"1.0"`, 1)))
	if !isInvalid(err) {
		t.Fatalf("1.0 document with extension members: %v", err)
	}
	for _, member := range []string{"minSignatures", "counterSignatures", "tagBinding", `prefix scope "registry.example.com/releases/*"`} {
		if !strings.Contains(err.Error(), member) {
			t.Errorf("error does not name %s: %v", member, err)
		}
	}
	// Blob documents are unchanged: no signet/v1, no extension members.
	_, err = ParseBlob(strings.NewReader(strings.Replace(strings.Replace(extJSON, `"signet/v1"`, `"1.0"`, 1), `"name"`, `"globalPolicy": true, "name"`, 1)))
	if !isInvalid(err) || !strings.Contains(err.Error(), "blob trust policies do not support it") {
		t.Fatalf("blob document with extension members: %v", err)
	}
}

func TestValidateExtension(t *testing.T) {
	if err := extDoc().Validate(); err != nil {
		t.Fatalf("base extension document invalid: %v", err)
	}
	cs := func(name string, stores, ids []string) []CounterSignature {
		return []CounterSignature{{Name: name, TrustStores: stores, TrustedIdentities: ids}}
	}
	tests := []struct {
		name         string
		edit         func(s []Statement)
		field, msg   string
		statementArg string
	}{
		// TP-5 holds for prefix scopes too.
		{"prefix scope in two statements", func(s []Statement) { s[0].RegistryScopes = append(s[0].RegistryScopes, "reg.example/*") },
			"registryScopes", `scope "reg.example/*" is also listed by statement "app"`, "other"},
		{"prefix scope twice in a statement", func(s []Statement) { s[1].RegistryScopes = append(s[1].RegistryScopes, "reg.example/*") },
			"registryScopes", "listed more than once", "other"},
		{"wildcard inside a prefix scope", func(s []Statement) { s[1].RegistryScopes = []string{"reg.example/a*/*"} },
			"registryScopes", "only as its last path element", "other"},
		{"prefix scope of a bad host", func(s []Statement) { s[1].RegistryScopes = []string{"-bad-/*"} },
			"registryScopes", "does not start with a registry host name", "other"},
		{"prefix scope with a bad path", func(s []Statement) { s[1].RegistryScopes = []string{"reg.example/Team/*"} },
			"registryScopes", "valid repository path", "other"},
		{"bare host prefix without slash star", func(s []Statement) { s[1].RegistryScopes = []string{"reg.example*"} },
			"registryScopes", `contains "*"`, "other"},
		{"global scope still alone", func(s []Statement) { s[1].RegistryScopes = []string{"*", "reg.example/*"} },
			"registryScopes", "cannot be combined", "other"},
		{"minSignatures negative", func(s []Statement) { s[0].MinSignatures = -1 }, "minSignatures", "out of range", "app"},
		{"minSignatures too large", func(s []Statement) { s[0].MinSignatures = MaxMinSignatures + 1 }, "minSignatures", "out of range", "app"},
		{"extension members on skip", func(s []Statement) {
			s[1].SignatureVerification = SignatureVerification{Level: LevelSkip}
			s[1].TrustStores, s[1].TrustedIdentities = nil, nil
			s[1].MinSignatures = 2
		}, "", "level skip cannot be configured with minSignatures", "other"},
		{"counter-signer without name", func(s []Statement) { s[0].CounterSignatures[0].Name = " " },
			"counterSignatures[0].name", "name is missing", "app"},
		{"counter-signer names repeated", func(s []Statement) {
			s[0].CounterSignatures = append(s[0].CounterSignatures, s[0].CounterSignatures[0])
		}, "counterSignatures[1].name", `name "security" is used by more than one entry`, "app"},
		{"counter-signer without stores", func(s []Statement) { s[0].CounterSignatures = cs("x", nil, []string{"*"}) },
			"counterSignatures[0].trustStores", "trust stores are missing", "app"},
		{"counter-signer with only a tsa store", func(s []Statement) { s[0].CounterSignatures = cs("x", []string{"tsa:t"}, []string{"*"}) },
			"counterSignatures[0].trustStores", "no ca or signingAuthority store", "app"},
		{"counter-signer with a malformed store", func(s []Statement) { s[0].CounterSignatures = cs("x", []string{"ca:a", "x509:b"}, []string{"*"}) },
			"counterSignatures[0].trustStores", "unsupported trust store type", "app"},
		{"counter-signer without identities", func(s []Statement) { s[0].CounterSignatures = cs("x", []string{"ca:a"}, nil) },
			"counterSignatures[0].trustedIdentities", "trusted identities are missing", "app"},
		{"counter-signer with a bad identity", func(s []Statement) {
			s[0].CounterSignatures = cs("x", []string{"ca:a"}, []string{"x509.subject: C=US"})
		}, "counterSignatures[0].trustedIdentities", "invalid identity", "app"},
		{"too many counter-signers", func(s []Statement) {
			for i := range MaxCounterSignatureEntries {
				s[0].CounterSignatures = append(s[0].CounterSignatures, CounterSignature{Name: strings.Repeat("n", i+2), TrustStores: []string{"ca:a"}, TrustedIdentities: []string{"*"}})
			}
		}, "counterSignatures", "exceed the limit", "app"},
		{"tagBinding without maxAge", func(s []Statement) { s[0].TagBinding = &TagBinding{} }, "tagBinding.maxAge", "maxAge is missing", "app"},
		{"tagBinding with a zero maxAge", func(s []Statement) { s[0].TagBinding.MaxAge = "0s" }, "tagBinding.maxAge", "must be positive", "app"},
		{"tagBinding with a negative maxAge", func(s []Statement) { s[0].TagBinding.MaxAge = "-1h" }, "tagBinding.maxAge", "must be positive", "app"},
		{"tagBinding with words", func(s []Statement) { s[0].TagBinding.MaxAge = "a week" }, "tagBinding.maxAge", "not a duration", "app"},
		{"tagBinding longer than a century", func(s []Statement) { s[0].TagBinding.MaxAge = "36501d" }, "tagBinding.maxAge", "longer than 100 years", "app"},
		{"tagBinding days overflow", func(s []Statement) { s[0].TagBinding.MaxAge = "99999999999999999999d" }, "tagBinding.maxAge", "longer than 100 years", "app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := extDoc()
			tc.edit(d.TrustPolicies)
			checkOne(t, d.Validate(), checklistCase{stmt: tc.statementArg, field: tc.field, msg: tc.msg})
		})
	}
}

func TestParseMaxAge(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"hours", "168h", 168 * time.Hour},
		{"minutes", "90m", 90 * time.Minute},
		{"days", "7d", 7 * 24 * time.Hour},
		{"one hundred years of days", "36500d", 36500 * 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMaxAge(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("parseMaxAge(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "d", "-7d", "7 d", "1.5d", "1w", "0d"} {
		if _, err := parseMaxAge(bad); err == nil {
			t.Errorf("parseMaxAge(%q) accepted", bad)
		}
	}
}

// TestMatchPrefix covers SEL-2 extended by prefix scopes: exact, then the
// longest matching prefix, then the global scope. Matching stays literal
// (SEL-3).
func TestMatchPrefix(t *testing.T) {
	d := &Document{Version: ExtensionVersion}
	add := func(name string, scopes ...string) {
		d.TrustPolicies = append(d.TrustPolicies, Statement{
			Name: name, RegistryScopes: scopes,
			SignatureVerification: SignatureVerification{Level: LevelStrict},
			TrustStores:           []string{"ca:a"}, TrustedIdentities: []string{"*"},
		})
	}
	add("global", "*")
	add("host", "reg.example/*")
	add("team", "reg.example/team/*")
	add("deep", "reg.example/team/app/*")
	add("exact", "reg.example/team/app/one")
	add("other-port", "reg.example:5000/*")
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, repo, want string }{
		{"exact beats every prefix", "reg.example/team/app/one", "exact"},
		{"longest prefix", "reg.example/team/app/two", "deep"},
		{"any depth under a prefix", "reg.example/team/app/two/three/four", "deep"},
		{"middle prefix", "reg.example/team/tool", "team"},
		{"prefix does not match its own path", "reg.example/team", "host"},
		{"prefix is path-element aligned", "reg.example/teams/a", "host"},
		{"host prefix", "reg.example/x", "host"},
		{"another host gets global", "other.example/x", "global"},
		{"host prefix does not cover another port", "reg.example:5000/x", "other-port"},
		{"no port normalisation", "reg.example:443/x", "global"},
		{"literal comparison", "REG.example/team/x", "global"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := d.Match(tc.repo)
			if err != nil || s.Name != tc.want {
				t.Fatalf("Match(%q) = %v, %v; want %q", tc.repo, s, err, tc.want)
			}
		})
	}
	for _, bad := range []string{"reg.example/*", "reg.example/team/*", "*"} {
		if _, err := d.Match(bad); !errors.Is(err, ErrNoApplicablePolicy) {
			t.Errorf("Match(%q) = %v; a repository never contains *", bad, err)
		}
	}
	d.TrustPolicies = d.TrustPolicies[1:] // without global
	if _, err := d.Match("other.example/x"); !errors.Is(err, ErrNoApplicablePolicy) {
		t.Errorf("no prefix and no global: %v", err)
	}
}

func TestExtensionMembers(t *testing.T) {
	if got := ociDoc().ExtensionMembers(); got != nil {
		t.Fatalf("1.0 document lists %v", got)
	}
	got := extDoc().ExtensionMembers()
	var names []string
	for _, m := range got {
		names = append(names, m.Statement+":"+m.Member+"="+m.Value)
	}
	want := []string{
		":version=signet/v1",
		"app:registryScopes[1]=reg.example/team/*",
		"app:minSignatures=2",
		"app:counterSignatures[0]=security",
		"app:tagBinding=maxAge 7d",
		"other:registryScopes[2]=reg.example/*",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ExtensionMembers:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
}
