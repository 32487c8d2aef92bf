package trustpolicy

import (
	"errors"
	"strings"
	"testing"
)

// docKind says which document types a checklist case applies to.
type docKind int

const (
	both docKind = iota
	ociOnly
	blobOnly
)

// checklistCase is one item of the §5.8 checklist: the edit breaks exactly
// one rule, which Validate must report as exactly one *PolicyError.
type checklistCase struct {
	name  string
	kind  docKind
	edit  func(version *string, s *[]Statement)
	stmt  string // expected PolicyError.Statement
	field string // expected PolicyError.Field
	msg   string // substring of PolicyError.Msg or its cause
}

func checklist() []checklistCase {
	skip := SignatureVerification{Level: LevelSkip}
	return []checklistCase{
		// TP-1
		{name: "version missing", edit: func(v *string, _ *[]Statement) { *v = "" },
			field: "version", msg: "version is missing"},
		{name: "version unsupported", edit: func(v *string, _ *[]Statement) { *v = "2.0" },
			field: "version", msg: `version "2.0" is not supported`},
		// TP-2
		{name: "zero statements", edit: func(_ *string, s *[]Statement) { *s = []Statement{} },
			field: "trustPolicies", msg: "no trust policy statements"},
		{name: "statements absent", edit: func(_ *string, s *[]Statement) { *s = nil },
			field: "trustPolicies", msg: "no trust policy statements"},
		// TP-3
		{name: "name empty", edit: func(_ *string, s *[]Statement) { (*s)[1].Name = "" },
			field: "trustPolicies[1].name", msg: "name is missing or blank"},
		{name: "name blank", edit: func(_ *string, s *[]Statement) { (*s)[1].Name = " \t" },
			field: "trustPolicies[1].name", msg: "name is missing or blank"},
		{name: "name duplicate", edit: func(_ *string, s *[]Statement) { (*s)[1].Name = "app" },
			stmt: "app", field: "name", msg: "more than one statement"},
		// TP-8
		{name: "level missing", edit: func(_ *string, s *[]Statement) { (*s)[0].SignatureVerification.Level = "" },
			stmt: "app", field: "signatureVerification.level", msg: "level is missing"},
		{name: "level invalid", edit: func(_ *string, s *[]Statement) { (*s)[0].SignatureVerification.Level = "Strict" },
			stmt: "app", field: "signatureVerification.level", msg: `level "Strict" is not supported`},
		{name: "verifyTimestamp invalid", edit: func(_ *string, s *[]Statement) { (*s)[0].SignatureVerification.VerifyTimestamp = "never" },
			stmt: "app", field: "signatureVerification.verifyTimestamp", msg: `value "never" is not supported`},
		// LVL-2
		{name: "override on skip", edit: func(_ *string, s *[]Statement) {
			(*s)[1].SignatureVerification = SignatureVerification{Level: LevelSkip, Override: map[ValidationType]Action{Revocation: ActionLog}}
			(*s)[1].TrustStores, (*s)[1].TrustedIdentities = nil, nil
		}, stmt: "other", field: "signatureVerification.override", msg: "level skip cannot be customized"},
		{name: "override integrity", edit: func(_ *string, s *[]Statement) {
			(*s)[0].SignatureVerification.Override = map[ValidationType]Action{Integrity: ActionEnforce}
		}, stmt: "app", field: "signatureVerification.override", msg: "integrity validation cannot be overridden"},
		{name: "override skip for non-revocation", edit: func(_ *string, s *[]Statement) {
			(*s)[0].SignatureVerification.Override = map[ValidationType]Action{Authenticity: ActionSkip}
		}, stmt: "app", field: "signatureVerification.override", msg: "authenticity validation cannot be skipped"},
		{name: "override unknown key", edit: func(_ *string, s *[]Statement) {
			(*s)[0].SignatureVerification.Override = map[ValidationType]Action{"Expiry": ActionLog}
		}, stmt: "app", field: "signatureVerification.override", msg: `validation type "Expiry" is not supported`},
		{name: "override unknown value", edit: func(_ *string, s *[]Statement) {
			(*s)[0].SignatureVerification.Override = map[ValidationType]Action{Revocation: "warn"}
		}, stmt: "app", field: "signatureVerification.override", msg: `action "warn" for revocation is not supported; use enforce, log or skip`},
		// TP-9..TP-11
		{name: "non-skip without trust stores", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustStores = nil },
			stmt: "app", field: "trustStores", msg: "trust stores are missing"},
		// TP-10: a non-skip statement needs at least one trusted identity.
		{name: "non-skip without identities", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = []string{} },
			stmt: "app", field: "trustedIdentities", msg: "trusted identities are missing"},
		{name: "non-skip with identities absent", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = nil },
			stmt: "app", field: "trustedIdentities", msg: "trusted identities are missing"},
		{name: "skip with trust stores", edit: func(_ *string, s *[]Statement) {
			(*s)[1].SignatureVerification, (*s)[1].TrustedIdentities = skip, nil
		}, stmt: "other", field: "", msg: "level skip cannot be configured with trust stores or trusted identities"},
		{name: "skip with identities", edit: func(_ *string, s *[]Statement) {
			(*s)[1].SignatureVerification, (*s)[1].TrustStores = skip, nil
		}, stmt: "other", field: "", msg: "level skip cannot be configured with trust stores or trusted identities"},
		{name: "trust store without colon", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustStores = []string{"acme"} },
			stmt: "app", field: "trustStores", msg: `entry "acme" is not of the form <type>:<name>`},
		{name: "trust store unknown type", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustStores = []string{"CA:acme"} },
			stmt: "app", field: "trustStores", msg: `unsupported trust store type "CA"`},
		{name: "trust store name invalid", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustStores = []string{"ca:acme/../x"} },
			stmt: "app", field: "trustStores", msg: `invalid store name "acme/../x"`},
		{name: "trust store name empty", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustStores = []string{"ca:"} },
			stmt: "app", field: "trustStores", msg: `invalid store name ""`},
		// ID-1..ID-6
		{name: "identity empty string", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = []string{""} },
			stmt: "app", field: "trustedIdentities", msg: "an identity is empty"},
		{name: "identity wildcard mixed", edit: func(_ *string, s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"*", "x509.subject: C=US, ST=WA, O=acme"}
		}, stmt: "app", field: "trustedIdentities", msg: "cannot be combined with other identities"},
		{name: "identity missing separator", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = []string{"C=US, ST=WA, O=acme"} },
			stmt: "app", field: "trustedIdentities", msg: "missing the separator"},
		{name: "identity without value", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = []string{"x509.subject: "} },
			stmt: "app", field: "trustedIdentities", msg: "has no identity value"},
		{name: "identity missing C", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = []string{"x509.subject: ST=WA, O=acme"} },
			stmt: "app", field: "trustedIdentities", msg: "lacks C;"},
		{name: "identity missing ST", edit: func(_ *string, s *[]Statement) { (*s)[0].TrustedIdentities = []string{"x509.subject: C=US, O=acme"} },
			stmt: "app", field: "trustedIdentities", msg: "lacks ST;"},
		{name: "identity missing O", edit: func(_ *string, s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, CN=x"}
		},
			stmt: "app", field: "trustedIdentities", msg: "lacks O;"},
		{name: "identity hex value", edit: func(_ *string, s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, O=#0c0461636d65"}
		},
			stmt: "app", field: "trustedIdentities", msg: "hex-encoded (=#) value"},
		{name: "identity multi-valued", edit: func(_ *string, s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, O=acme+OU=eng"}
		},
			stmt: "app", field: "trustedIdentities", msg: "multi-valued"},
		{name: "identity duplicate attribute", edit: func(_ *string, s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, S=OR, O=acme"}
		},
			stmt: "app", field: "trustedIdentities", msg: "attribute ST appears more than once"},
		{name: "identities overlap", edit: func(_ *string, s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, O=acme, OU=eng", "x509.subject: C=US, ST=WA, O=acme"}
		}, stmt: "app", field: "trustedIdentities", msg: "overlap"},
		// TP-4..TP-7, TP-12
		{name: "registryScopes empty", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{} },
			stmt: "app", field: "registryScopes", msg: "registry scopes are missing"},
		{name: "global scope mixed with scopes", kind: ociOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[0].RegistryScopes = []string{"*", "reg.example/app"}
		}, stmt: "app", field: "registryScopes", msg: "cannot be combined with other scopes"},
		{name: "two global statements", kind: ociOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[0].RegistryScopes = []string{"*"}
			(*s)[1].RegistryScopes = []string{"*"}
		}, stmt: "other", field: "registryScopes", msg: "only one statement may use the global scope"},
		// TP-5: a repository URI appears in at most one statement, and at
		// most once in it.
		{name: "scope repeated across statements", kind: ociOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[1].RegistryScopes = append((*s)[1].RegistryScopes, "reg.example/app")
		}, stmt: "other", field: "registryScopes", msg: `scope "reg.example/app" is also listed by statement "app"`},
		{name: "scope repeated in one statement", kind: ociOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[0].RegistryScopes = []string{"reg.example/app", "reg.example/app"}
		}, stmt: "app", field: "registryScopes", msg: "listed more than once"},
		{name: "scope containing wildcard", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{"reg.example/a*b"} },
			stmt: "app", field: "registryScopes", msg: `scope "reg.example/a*b" contains "*"`},
		// TP-4, TP-13 with the signet/v1 extension: a "1.0" document keeps
		// the specification's rules and refuses what only signet/v1 allows.
		{name: "prefix scope in a 1.0 document", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{"reg.example/*"} },
			stmt: "app", field: "registryScopes", msg: `prefix scope "reg.example/*" is a signet extension`},
		{name: "minSignatures in a 1.0 document", edit: func(_ *string, s *[]Statement) { (*s)[0].MinSignatures = 2 },
			stmt: "app", field: "minSignatures", msg: "minSignatures is not allowed"},
		{name: "counterSignatures in a 1.0 document", edit: func(_ *string, s *[]Statement) {
			(*s)[0].CounterSignatures = []CounterSignature{{Name: "sec", TrustStores: []string{"ca:sec"}, TrustedIdentities: []string{"*"}}}
		}, stmt: "app", field: "counterSignatures", msg: "counterSignatures is not allowed"},
		{name: "tagBinding in a 1.0 document", edit: func(_ *string, s *[]Statement) { (*s)[0].TagBinding = &TagBinding{MaxAge: "24h"} },
			stmt: "app", field: "tagBinding", msg: "tagBinding is not allowed"},
		{name: "signet/v1 version in a blob document", kind: blobOnly, edit: func(v *string, _ *[]Statement) { *v = ExtensionVersion },
			field: "version", msg: "for OCI trust policies only"},
		{name: "scope with tag", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{"reg.example/app:latest"} },
			stmt: "app", field: "registryScopes", msg: "not a fully qualified repository"},
		{name: "scope without registry", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{"app"} },
			stmt: "app", field: "registryScopes", msg: "not a fully qualified repository"},
		{name: "scope with digest", kind: ociOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[0].RegistryScopes = []string{"reg.example/app@sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}
		}, stmt: "app", field: "registryScopes", msg: "not a fully qualified repository"},
		{name: "scope with upper-case repository", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{"reg.example/App"} },
			stmt: "app", field: "registryScopes", msg: "not a fully qualified repository"},
		{name: "scope with scheme", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[0].RegistryScopes = []string{"https://reg.example/app"} },
			stmt: "app", field: "registryScopes", msg: "not a fully qualified repository"},
		{name: "global scope with skip (spec, TP-12)", kind: ociOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[1].RegistryScopes = []string{"*"}
			(*s)[1].SignatureVerification = skip
			(*s)[1].TrustStores, (*s)[1].TrustedIdentities = nil, nil
		}, stmt: "other", field: "signatureVerification.level", msg: "level skip cannot be used with the global scope"},
		{name: "globalPolicy on OCI statement", kind: ociOnly, edit: func(_ *string, s *[]Statement) { (*s)[1].GlobalPolicy = true },
			stmt: "other", field: "globalPolicy", msg: "blob trust policies only"},
		// BTP-2, BTP-3
		{name: "two global blob statements", kind: blobOnly, edit: func(_ *string, s *[]Statement) { (*s)[1].GlobalPolicy = true },
			stmt: "other", field: "globalPolicy", msg: "only one statement may be the global policy"},
		{name: "global blob statement with skip (spec, BTP-3)", kind: blobOnly, edit: func(_ *string, s *[]Statement) {
			(*s)[0].SignatureVerification = skip
			(*s)[0].TrustStores, (*s)[0].TrustedIdentities = nil, nil
		}, stmt: "app", field: "signatureVerification.level", msg: "level skip cannot be used by the global policy"},
		{name: "registryScopes on blob statement", kind: blobOnly, edit: func(_ *string, s *[]Statement) { (*s)[1].RegistryScopes = []string{"reg.example/app"} },
			stmt: "other", field: "registryScopes", msg: "OCI trust policies only"},
	}
}

func checkOne(t *testing.T, err error, tc checklistCase) {
	t.Helper()
	if !isInvalid(err) {
		t.Fatalf("Validate() = %v, want an error wrapping ErrInvalidPolicy", err)
	}
	vs := violations(t, err)
	if len(vs) != 1 {
		t.Fatalf("got %d violations, want 1:\n%v", len(vs), err)
	}
	v := vs[0]
	if v.Statement != tc.stmt || v.Field != tc.field {
		t.Errorf("violation at (%q, %q), want (%q, %q): %v", v.Statement, v.Field, tc.stmt, tc.field, v)
	}
	if !strings.Contains(v.Error(), tc.msg) {
		t.Errorf("violation %q does not mention %q", v.Error(), tc.msg)
	}
}

// TestValidateChecklistOCI covers each item of the §5.8 checklist that
// applies to OCI documents (TP-1..TP-12, LVL-2, ID-1..ID-6).
func TestValidateChecklistOCI(t *testing.T) {
	if err := ociDoc().Validate(); err != nil {
		t.Fatalf("base document invalid: %v", err)
	}
	for _, tc := range checklist() {
		if tc.kind == blobOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			d := ociDoc()
			tc.edit(&d.Version, &d.TrustPolicies)
			checkOne(t, d.Validate(), tc)
		})
	}
}

// TestValidateChecklistBlob covers the checklist items for blob documents
// (BTP-1..BTP-3 and the shared statement rules).
func TestValidateChecklistBlob(t *testing.T) {
	if err := blobDoc().Validate(); err != nil {
		t.Fatalf("base document invalid: %v", err)
	}
	for _, tc := range checklist() {
		if tc.kind == ociOnly {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			d := blobDoc()
			tc.edit(&d.Version, &d.TrustPolicies)
			checkOne(t, d.Validate(), tc)
		})
	}
}

// TestValidateAccepts pins documents that look unusual but are valid.
func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *[]Statement)
	}{
		{"revocation skip override (LVL-2)", func(s *[]Statement) {
			(*s)[0].SignatureVerification.Override = map[ValidationType]Action{Revocation: ActionSkip, Expiry: ActionLog, Authenticity: ActionLog, AuthenticTimestamp: ActionEnforce}
		}},
		{"verifyTimestamp afterCertExpiry", func(s *[]Statement) { (*s)[0].SignatureVerification.VerifyTimestamp = TimestampAfterCertExpiry }},
		{"verifyTimestamp always", func(s *[]Statement) { (*s)[0].SignatureVerification.VerifyTimestamp = TimestampAlways }},
		{"audit level", func(s *[]Statement) { (*s)[0].SignatureVerification.Level = LevelAudit }},
		{"skip statement without stores or identities", func(s *[]Statement) {
			(*s)[1].SignatureVerification = SignatureVerification{Level: LevelSkip}
			(*s)[1].TrustStores, (*s)[1].TrustedIdentities = nil, nil
		}},
		{"signingAuthority store and dotted name", func(s *[]Statement) {
			(*s)[0].TrustStores = []string{"signingAuthority:acme_sa-1.0", "ca:acme", "ca:acme"}
		}},
		{"unknown identity prefix passes validation (ID-2 REF)", func(s *[]Statement) {
			(*s)[0].TrustedIdentities = append((*s)[0].TrustedIdentities, "x509.san: example.com")
		}},
		{"identities conflicting on an attribute do not overlap", func(s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, O=acme, OU=eng", "x509.subject: C=US, ST=WA, O=acme, OU=ops"}
		}},
		{"identities on different organisations", func(s *[]Statement) {
			(*s)[0].TrustedIdentities = []string{"x509.subject: C=US, ST=WA, O=acme", "x509.subject: C=US, S=WA, O=wabbit"}
		}},
		{"local scope", func(s *[]Statement) { (*s)[0].RegistryScopes = []string{"local/app"} }},
		{"nested repository with separators", func(s *[]Statement) {
			(*s)[0].RegistryScopes = []string{"registry-1.docker.io:443/library/net__monitor/a.b-c_d"}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ociDoc()
			tc.edit(&d.TrustPolicies)
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

// TestValidateReportsEveryViolation checks that violations in several
// statements are all reported, in document order.
func TestValidateReportsEveryViolation(t *testing.T) {
	d := ociDoc()
	d.Version = "0.9"
	d.TrustPolicies[0].TrustStores = []string{"x:y"}
	d.TrustPolicies[1].Name = ""
	d.TrustPolicies[1].TrustedIdentities = nil
	vs := violations(t, d.Validate())
	var got []string
	for _, v := range vs {
		got = append(got, v.Statement+"|"+v.Field)
	}
	want := []string{"|version", "app|trustStores", "|trustPolicies[1].name", "|trustPolicies[1].trustedIdentities"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("violations %q, want %q", got, want)
	}
}

func TestPolicyError(t *testing.T) {
	cause := errors.New("boom")
	e := &PolicyError{Statement: "x", Field: "trustedIdentities", Msg: "bad identity", Err: cause}
	if got, want := e.Error(), `trust policy statement "x": trustedIdentities: bad identity: boom`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, ErrInvalidPolicy) || !errors.Is(e, cause) {
		t.Error("PolicyError must unwrap to ErrInvalidPolicy and its cause")
	}
	doc := &PolicyError{Field: "version", Msg: "version is missing"}
	if got, want := doc.Error(), "trust policy: version: version is missing"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var nilDoc *Document
	if err := nilDoc.Validate(); !isInvalid(err) {
		t.Errorf("nil Document Validate() = %v", err)
	}
}

// TestTC10 is conformance case TC-10: scope rules checked when the policy
// is loaded (TP-4..TP-7).
func TestTC10(t *testing.T) {
	stmt := func(name, scopes string) string {
		return `{"name":"` + name + `","registryScopes":` + scopes + `,"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}`
	}
	tests := []struct {
		name       string
		statements []string
	}{
		{"same repository in two statements", []string{stmt("p1", `["reg.example/app"]`), stmt("p2", `["reg.example/app"]`)}},
		{"two global statements", []string{stmt("p1", `["*"]`), stmt("p2", `["*"]`)}},
		{"global mixed with repository", []string{stmt("p1", `["*","reg.example/app"]`)}},
		{"scope with tag", []string{stmt("p1", `["reg.example/app:latest"]`)}},
		{"scope without registry", []string{stmt("p1", `["app"]`)}},
		{"scope with wildcard repository", []string{stmt("p1", `["reg.example/*"]`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"version":"1.0","trustPolicies":[` + strings.Join(tc.statements, ",") + `]}`
			d, err := ParseOCI(strings.NewReader(doc))
			if !isInvalid(err) || d != nil {
				t.Fatalf("ParseOCI() = %v, %v; want invalid policy", d, err)
			}
			if n := len(violations(t, err)); n != 1 {
				t.Errorf("%d violations, want 1: %v", n, err)
			}
		})
	}
}

// TestTC14 is conformance case TC-14: only {"revocation":"skip"} is a
// valid override (LVL-2).
func TestTC14(t *testing.T) {
	tests := []struct {
		name     string
		level    string
		override string
		valid    bool
	}{
		{"integrity log", "strict", `{"integrity":"log"}`, false},
		{"expiry skip", "strict", `{"expiry":"skip"}`, false},
		{"revocation skip", "strict", `{"revocation":"skip"}`, true},
		{"skip level with revocation log", "skip", `{"revocation":"log"}`, false},
		{"authenticity warn", "strict", `{"authenticity":"warn"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := `,"trustStores":["ca:acme"],"trustedIdentities":["*"]`
			if tc.level == LevelSkip {
				extra = ""
			}
			doc := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["reg.example/app"],` +
				`"signatureVerification":{"level":"` + tc.level + `","override":` + tc.override + `}` + extra + `}]}`
			_, err := ParseOCI(strings.NewReader(doc))
			if tc.valid && err != nil {
				t.Fatalf("ParseOCI() = %v, want valid", err)
			}
			if !tc.valid && !isInvalid(err) {
				t.Fatalf("ParseOCI() = %v, want invalid policy", err)
			}
		})
	}
}
