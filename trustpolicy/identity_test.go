package trustpolicy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/testpki"
)

// TestParseIdentity covers ID-2..ID-4: RFC 4514 parsing, escaping, the S
// alias, and the strict rejections.
func TestParseIdentity(t *testing.T) {
	base := Identity{"C": "US", "ST": "WA", "O": "acme"}
	with := func(k, v string) Identity {
		m := maps.Clone(base)
		m[k] = v
		return m
	}
	valid := []struct {
		name string
		in   string
		want Identity
	}{
		{"minimal", "x509.subject: C=US, ST=WA, O=acme", base},
		{"no spaces", "x509.subject:C=US,ST=WA,O=acme", base},
		{"S alias", "x509.subject: C=US, S=WA, O=acme", base},
		{"order and spaces irrelevant", "x509.subject:   O = acme ,ST=WA ,  C=US   ", base},
		{"lower-case types", "x509.subject: c=US, st=WA, o=acme", base},
		{"numeric OID type", "x509.subject: 2.5.4.6=US, 2.5.4.8=WA, 2.5.4.10=acme", base},
		{"semicolon separator", "x509.subject: C=US; ST=WA; O=acme", base},
		{"all named attributes", "x509.subject: C=US, ST=WA, L=Seattle, O=acme, OU=eng, CN=signer, SERIALNUMBER=42, STREET=1 Main, POSTALCODE=98101",
			Identity{"C": "US", "ST": "WA", "L": "Seattle", "O": "acme", "OU": "eng", "CN": "signer", "SERIALNUMBER": "42", "STREET": "1 Main", "POSTALCODE": "98101"}},
		{"escaped comma", `x509.subject: C=US, ST=WA, O=acme\, inc`, with("O", "acme, inc")},
		{"escaped semicolon", `x509.subject: C=US, ST=WA, O=a\;b`, with("O", "a;b")},
		{"escaped backslash", `x509.subject: C=US, ST=WA, O=a\\b`, with("O", `a\b`)},
		{"escaped plus", `x509.subject: C=US, ST=WA, O=a\+b`, with("O", "a+b")},
		{"escaped leading and trailing space", `x509.subject: C=US, ST=WA, O=\ acme\ `, with("O", " acme ")},
		{"inner spaces kept", "x509.subject: C=US, ST=WA, O=acme   rockets", with("O", "acme   rockets")},
		{"escaped leading hash", `x509.subject: C=US, ST=WA, O=\#1`, with("O", "#1")},
		{"hex escape", `x509.subject: C=US, ST=WA, O=acme\2C inc`, with("O", "acme, inc")},
		{"hex escaped UTF-8", `x509.subject: C=US, ST=WA, O=caf\C3\a9`, with("O", "café")},
		{"raw UTF-8", "x509.subject: C=US, ST=WA, O=café", with("O", "café")},
		{"equals in value", "x509.subject: C=US, ST=WA, O=a=b", with("O", "a=b")},
		{"hash inside value", "x509.subject: C=US, ST=WA, O=a#b", with("O", "a#b")},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIdentity(tc.in)
			if err != nil {
				t.Fatalf("ParseIdentity(%q) = %v", tc.in, err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("ParseIdentity(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	invalid := []struct {
		name string
		in   string
		msg  string
	}{
		{"wildcard", "*", "missing the separator"},
		{"no separator", "C=US, ST=WA, O=acme", "missing the separator"},
		{"other prefix", "x509.san: example.com", `unsupported prefix "x509.san"`},
		{"prefix case", "X509.subject: C=US, ST=WA, O=acme", "unsupported prefix"},
		{"no value", "x509.subject:", "no identity value"},
		{"blank value", "x509.subject:   ", "no identity value"},
		{"missing C", "x509.subject: ST=WA, O=acme", "lacks C;"},
		{"missing ST", "x509.subject: C=US, O=acme", "lacks ST;"},
		{"missing O", "x509.subject: C=US, ST=WA", "lacks O;"},
		{"missing all", "x509.subject: CN=x", "lacks C, ST, O;"},
		{"hex value", "x509.subject: C=US, ST=WA, O=#0c0461636d65", "hex-encoded"},
		{"hex value after space", "x509.subject: C=US, ST=WA, O= #0c0461636d65", "hex-encoded"},
		{"multi-valued", "x509.subject: C=US, ST=WA, O=acme+OU=eng", "multi-valued"},
		{"duplicate", "x509.subject: C=US, ST=WA, O=a, O=b", "O appears more than once"},
		{"duplicate through alias", "x509.subject: C=US, ST=WA, S=WA, O=a", "ST appears more than once"},
		{"duplicate through case", "x509.subject: C=US, ST=WA, O=a, o=a", "O appears more than once"},
		{"empty value", "x509.subject: C=US, ST=WA, O=, OU=x", "O has an empty value"},
		{"only spaces value", "x509.subject: C=US, ST=WA, O=   ", "O has an empty value"},
		{"trailing separator", "x509.subject: C=US, ST=WA, O=acme, ", "ends with a separator"},
		{"empty RDN", "x509.subject: C=US,, ST=WA, O=acme", "has no '='"},
		{"RDN without equals", "x509.subject: C=US, ST, O=acme", `"ST" has no '='`},
		{"missing type", "x509.subject: C=US, =WA, O=acme", "attribute type is missing"},
		{"invalid escape", `x509.subject: C=US, ST=WA, O=a\x`, `invalid escape sequence \x`},
		{"half hex escape", `x509.subject: C=US, ST=WA, O=a\4`, `invalid escape sequence \4`},
		{"lone backslash", `x509.subject: C=US, ST=WA, O=acme\`, "lone backslash"},
		{"invalid UTF-8", `x509.subject: C=US, ST=WA, O=\ff`, "not valid UTF-8"},
		{"unsupported keyword", "x509.subject: C=US, ST=WA, O=acme, E=a@example.com", `attribute type "E" is not supported`},
		{"unsupported OID", "x509.subject: C=US, ST=WA, O=acme, 1.2.840.113549.1.9.1=a@example.com", "is not supported"},
		{"malformed type", "x509.subject: C=US, ST=WA, 1O=acme", `attribute type "1O" is not supported`},
		{"type with space", "x509.subject: C=US, ST=WA, O X=acme", `attribute type "O X" is not supported`},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIdentity(tc.in)
			if err == nil {
				t.Fatalf("ParseIdentity(%q) = %v, want error", tc.in, got)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("ParseIdentity(%q) error %q does not mention %q", tc.in, err, tc.msg)
			}
		})
	}
}

// leaf issues a self-signed code-signing certificate with the subject.
func leaf(t *testing.T, subject pkix.Name) *x509.Certificate {
	t.Helper()
	return testpki.Issue(t, testpki.Cert{Subject: subject, KeyType: "ec-256"}, nil).Cert
}

// leafRaw issues a certificate whose encoded subject is exactly rdns.
func leafRaw(t *testing.T, rdns pkix.RDNSequence) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	return testpki.Issue(t, testpki.Cert{KeyType: "ec-256", Modify: func(c *x509.Certificate) { c.RawSubject = raw }}, nil).Cert
}

var (
	oidC  = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidST = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
)

func atv(oid asn1.ObjectIdentifier, v any) pkix.AttributeTypeAndValue {
	return pkix.AttributeTypeAndValue{Type: oid, Value: v}
}

// TestMatchIdentities covers ID-5..ID-8 against test-PKI leaves, including
// TC-12 and the escaped-comma case of TC-13.
func TestMatchIdentities(t *testing.T) {
	l := testpki.NewChain(t, "ec-256").Leaf.Cert // C=US, ST=WA, L=Seattle, O=acme, OU=eng, CN=signer
	commaOrg := testpki.Name("signer")
	commaOrg.Organization = []string{"acme, inc"}
	email := testpki.Name("signer")
	email.ExtraNames = []pkix.AttributeTypeAndValue{atv(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, "signer@acme.example")}
	noST := testpki.Name("signer")
	noST.Province = nil
	twoOU := testpki.Name("signer")
	twoOU.OrganizationalUnit = []string{"eng", "ops"}
	special := testpki.Name(` a+b;c\d `)

	tests := []struct {
		name       string
		identities []string
		leaf       *x509.Certificate
		wantErr    error // nil: must match
	}{
		{"wildcard (ID-8)", []string{"*"}, l, nil},
		{"wildcard matches a subject that cannot be parsed", []string{"*"}, leaf(t, email), nil},
		{"TC-12 S alias subset", []string{"x509.subject: C=US, S=WA, O=acme"}, l, nil},
		{"TC-12 OU=ops added", []string{"x509.subject: C=US, S=WA, O=acme, OU=ops"}, l, ErrUntrustedIdentity},
		{"full subject", []string{"x509.subject: CN=signer, OU=eng, O=acme, L=Seattle, ST=WA, C=US"}, l, nil},
		{"second identity matches", []string{"x509.subject: C=US, ST=WA, O=wabbit", "x509.subject: C=US, ST=WA, O=acme, CN=signer"}, l, nil},
		{"values are case-sensitive", []string{"x509.subject: C=US, ST=WA, O=ACME"}, l, ErrUntrustedIdentity},
		{"TC-13 escaped comma", []string{`x509.subject: C=US, ST=WA, O=acme\, inc`}, leaf(t, commaOrg), nil},
		{"escaped comma does not match split value", []string{`x509.subject: C=US, ST=WA, O=acme\, inc`}, l, ErrUntrustedIdentity},
		{"escaped specials", []string{`x509.subject: C=US, ST=WA, O=acme, CN=\ a\+b\;c\\d\ `}, leaf(t, special), nil},
		{"ID-7 emailAddress in leaf", []string{"x509.subject: C=US, ST=WA, O=acme"}, leaf(t, email), ErrUntrustedIdentity},
		{"ID-7 leaf without ST", []string{"x509.subject: C=US, ST=WA, O=acme"}, leaf(t, noST), ErrUntrustedIdentity},
		{"ID-7 leaf with repeated OU", []string{"x509.subject: C=US, ST=WA, O=acme"}, leaf(t, twoOU), ErrUntrustedIdentity},
		{"ID-7 leaf with multi-valued RDN", []string{"x509.subject: C=US, ST=WA, O=acme"},
			leafRaw(t, pkix.RDNSequence{{atv(oidC, "US")}, {atv(oidST, "WA")}, {atv(oidO, "acme"), atv(oidOU, "eng")}}), ErrUntrustedIdentity},
		{"single-valued raw subject", []string{"x509.subject: C=US, ST=WA, O=acme, OU=eng"},
			leafRaw(t, pkix.RDNSequence{{atv(oidOU, "eng")}, {atv(oidO, "acme")}, {atv(oidST, "WA")}, {atv(oidC, "US")}}), nil},
		{"other prefixes ignored", []string{"x509.san: signer.acme.example", "x509.subject: C=US, ST=WA, O=acme"}, l, nil},
		{"only other prefixes", []string{"x509.san: signer.acme.example"}, l, ErrUntrustedIdentity},
		{"no identities", nil, l, ErrUntrustedIdentity},
		{"nil leaf", []string{"*"}, nil, ErrUntrustedIdentity},
		{"wildcard mixed is invalid", []string{"*", "x509.subject: C=US, ST=WA, O=acme"}, l, ErrInvalidPolicy},
		{"unparsable identity is invalid", []string{"x509.subject: C=US, O=acme"}, l, ErrInvalidPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := MatchIdentities(tc.identities, tc.leaf)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("MatchIdentities() = %v, want match", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("MatchIdentities() = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestMatchIdentitiesErrorNamesSubject checks that a mismatch names the leaf
// subject and the identities, so users can fix their policy.
func TestMatchIdentitiesErrorNamesSubject(t *testing.T) {
	l := testpki.NewChain(t, "ec-256").Leaf.Cert
	id := "x509.subject: C=US, ST=WA, O=wabbit"
	err := MatchIdentities([]string{id}, l)
	if err == nil {
		t.Fatal("want mismatch")
	}
	for _, want := range []string{l.Subject.String(), "O=wabbit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// TestTC12 is conformance case TC-12 end to end: the third identity list is
// an invalid policy (ID-3).
func TestTC12(t *testing.T) {
	l := testpki.NewChain(t, "rsa-2048").Leaf.Cert
	tests := []struct {
		name     string
		identity string
		invalid  bool
		match    bool
	}{
		{"S alias subset passes", "x509.subject: C=US, S=WA, O=acme", false, true},
		{"extra OU fails authenticity", "x509.subject: C=US, S=WA, O=acme, OU=ops", false, false},
		{"missing ST is invalid policy", "x509.subject: C=US, O=acme", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ociDoc()
			d.TrustPolicies[0].TrustedIdentities = []string{tc.identity}
			err := d.Validate()
			if tc.invalid {
				if !isInvalid(err) {
					t.Fatalf("Validate() = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			err = MatchIdentities(d.TrustPolicies[0].TrustedIdentities, l)
			if (err == nil) != tc.match {
				t.Errorf("MatchIdentities() = %v, want match %v", err, tc.match)
			}
		})
	}
}

// TestTC13 is conformance case TC-13: overlapping and mixed-wildcard lists
// are invalid; an escaped comma (written \\, inside JSON) matches.
func TestTC13(t *testing.T) {
	tests := []struct {
		name       string
		identities string
		valid      bool
	}{
		{"overlap", `["x509.subject: C=US, ST=WA, O=acme", "x509.subject: C=US, ST=WA, O=acme, OU=eng"]`, false},
		{"wildcard mixed", `["*", "x509.subject: C=US, ST=WA, O=acme"]`, false},
		{"escaped comma", `["x509.subject: C=US, ST=WA, O=acme\\, inc"]`, true},
	}
	name := testpki.Name("signer")
	name.Organization = []string{"acme, inc"}
	l := leaf(t, name)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["reg.example/app"],` +
				`"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":` + tc.identities + `}]}`
			d, err := ParseOCI(strings.NewReader(doc))
			if !tc.valid {
				if !isInvalid(err) {
					t.Fatalf("ParseOCI() = %v, want invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOCI() = %v", err)
			}
			if err := MatchIdentities(d.TrustPolicies[0].TrustedIdentities, l); err != nil {
				t.Errorf("MatchIdentities() = %v", err)
			}
		})
	}
}

// TestOverlap pins the overlap rule (ID-6) as the reference applies it: one
// identity's attributes are a subset of the other's. Identities that name
// different attributes ("OU=eng" next to "CN=release") stay valid, so a
// policy notation accepts is accepted here too.
func TestOverlap(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"identical", "C=US, ST=WA, O=acme", "C=US, S=WA, O=acme", true},
		{"subset", "C=US, ST=WA, O=acme", "C=US, ST=WA, O=acme, OU=eng", true},
		{"compatible, neither a subset", "C=US, ST=WA, O=acme, OU=eng", "C=US, ST=WA, O=acme, CN=release", false},
		{"conflicting OU", "C=US, ST=WA, O=acme, OU=eng", "C=US, ST=WA, O=acme, OU=ops", false},
		{"conflicting O", "C=US, ST=WA, O=acme", "C=US, ST=WA, O=wabbit", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseIdentity(X509SubjectPrefix + ":" + tc.a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ParseIdentity(X509SubjectPrefix + ":" + tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if a.overlaps(b) != tc.want || b.overlaps(a) != tc.want {
				t.Errorf("overlaps = %v/%v, want %v", a.overlaps(b), b.overlaps(a), tc.want)
			}
		})
	}
}

func TestMaxTrustedIdentities(t *testing.T) {
	d := ociDoc()
	ids := make([]string, MaxTrustedIdentities+1)
	for i := range ids {
		ids[i] = "x509.subject: C=US, ST=WA, O=acme, CN=" + strings.Repeat("a", i+1)
	}
	d.TrustPolicies[0].TrustedIdentities = ids[:MaxTrustedIdentities]
	if err := d.Validate(); err != nil {
		t.Fatalf("Validate() at the limit = %v", err)
	}
	d.TrustPolicies[0].TrustedIdentities = ids
	if err := d.Validate(); !isInvalid(err) || !strings.Contains(err.Error(), "exceed the limit") {
		t.Fatalf("Validate() over the limit = %v", err)
	}
}
