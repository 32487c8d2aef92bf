package trustpolicy

import (
	"bytes"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
)

// seedDocs returns the spec examples and every checklist case, OCI or blob.
func seedDocs(f *testing.F, blob bool) [][]byte {
	var out [][]byte
	if blob {
		out = append(out, []byte(specBlobExample))
	} else {
		out = append(out, []byte(specOCIExample), []byte(extJSON))
		b, err := extDoc().Marshal()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b, bytes.Replace(b, []byte(`"signet/v1"`), []byte(`"1.0"`), 1),
			[]byte(`{"version":"signet/v1","trustPolicies":[{"name":"a","registryScopes":["r.example/*","r.example/a/*","r.example/a/b"],"signatureVerification":{"level":"audit"},"trustStores":["ca:a"],"trustedIdentities":["*"],"MINSIGNATURES":3,"tagbinding":{"maxage":"1d"}}]}`),
			[]byte(`{"version":"signet/v1","trustPolicies":[{"name":"a","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:a"],"trustedIdentities":["*"],"counterSignatures":[{"name":"s","trustStores":["ca:s","tsa:t"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=s"]},{"name":"","trustStores":null}]}]}`),
		)
	}
	for _, tc := range checklist() {
		var b []byte
		var err error
		switch {
		case blob && tc.kind != ociOnly:
			d := blobDoc()
			tc.edit(&d.Version, &d.TrustPolicies)
			b, err = d.Marshal()
		case !blob && tc.kind != blobOnly:
			d := ociDoc()
			tc.edit(&d.Version, &d.TrustPolicies)
			b, err = d.Marshal()
		default:
			continue
		}
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out,
		[]byte(`{"version":"1.0","trustPolicies":[,]}`),
		[]byte(`{"VERSION":"1.0","trustpolicies":[{"NAME":"p","registryscopes":["*"],"signatureVerification":{"level":"audit"},"trustStores":["ca:a"],"trustedIdentities":["x509.subject: C=US, S=WA, O=a\\, b"]}]}`),
		[]byte(`null`), []byte(``), []byte(`{"version":"1.0","trustPolicies":null}`),
	)
}

// checkStatement asserts what holds for every statement of a valid document.
func checkStatement(t *testing.T, s *Statement) {
	acts := s.Actions()
	if len(acts) != len(ValidationTypes) {
		t.Fatalf("Actions() has %d entries", len(acts))
	}
	if s.IsSkip() != (acts[Integrity] == ActionSkip) {
		t.Fatalf("integrity action %q at level %q", acts[Integrity], s.SignatureVerification.Level)
	}
	for _, id := range s.TrustedIdentities {
		if strings.HasPrefix(id, X509SubjectPrefix+":") {
			if _, err := ParseIdentity(id); err != nil {
				t.Fatalf("valid document has unparsable identity %q: %v", id, err)
			}
		}
	}
	n := 0
	for _, typ := range []string{StoreCA, StoreSigningAuthority, StoreTSA} {
		n += len(s.StoresOfType(typ))
	}
	if n > len(s.TrustStores) || len(s.TrustStores) > 0 && n == 0 {
		t.Fatalf("StoresOfType found %d of %q", n, s.TrustStores)
	}
}

func FuzzParseOCI(f *testing.F) {
	for _, s := range seedDocs(f, false) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseOCI(bytes.NewReader(data))
		if err != nil {
			if !isInvalid(err) {
				t.Fatalf("error does not wrap ErrInvalidPolicy: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed document fails Validate: %v", err)
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseOCI(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-parse of Marshal output: %v\n%s", err, out)
		}
		if out2, _ := d2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("round trip not stable:\n%s\n%s", out, out2)
		}
		if !d.Extended() && d.ExtensionMembers() != nil {
			t.Fatal("a 1.0 document lists extension members")
		}
		for i := range d.TrustPolicies {
			s := &d.TrustPolicies[i]
			checkStatement(t, s)
			if !d.Extended() && s.HasExtensions() {
				t.Fatalf("1.0 document accepted with extension members: %+v", s)
			}
			if s.TagBinding != nil && s.TagBinding.MaxAgeDuration() <= 0 {
				t.Fatalf("accepted tagBinding.maxAge %q", s.TagBinding.MaxAge)
			}
			if n := s.RequiredSignatures(); n < 1 || n > MaxMinSignatures {
				t.Fatalf("RequiredSignatures() = %d", n)
			}
			for _, sc := range s.RegistryScopes {
				if sc == Wildcard {
					continue
				}
				if IsPrefixScope(sc) {
					if !d.Extended() {
						t.Fatalf("1.0 document accepted prefix scope %q", sc)
					}
					checkPrefixMatch(t, d, prefixOf(sc)+"x")
					continue
				}
				if m, err := d.Match(sc); err != nil || m != s {
					t.Fatalf("Match(%q) = %v, %v; want %q", sc, m, err, s.Name)
				}
				checkPrefixMatch(t, d, sc+"/x")
			}
		}
	})
}

// checkPrefixMatch asserts SEL-2 with prefix scopes for repo: the exact
// scope wins, else the longest matching prefix, else the global statement.
func checkPrefixMatch(t *testing.T, d *Document, repo string) {
	t.Helper()
	var want *Statement
	best := -1
	var global *Statement
	for i := range d.TrustPolicies {
		s := &d.TrustPolicies[i]
		for _, sc := range s.RegistryScopes {
			switch {
			case sc == repo:
				want, best = s, 1<<30
			case sc == Wildcard:
				global = s
			case IsPrefixScope(sc) && strings.HasPrefix(repo, prefixOf(sc)) && len(sc) > best:
				want, best = s, len(sc)
			}
		}
	}
	if want == nil {
		want = global
	}
	got, err := d.Match(repo)
	if want == nil {
		if err == nil {
			t.Fatalf("Match(%q) = %q; want no applicable statement", repo, got.Name)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("Match(%q) = %v, %v; want %q", repo, got, err, want.Name)
	}
}

func FuzzParseBlob(f *testing.F) {
	for _, s := range seedDocs(f, true) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseBlob(bytes.NewReader(data))
		if err != nil {
			if !isInvalid(err) {
				t.Fatalf("error does not wrap ErrInvalidPolicy: %v", err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed document fails Validate: %v", err)
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseBlob(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-parse of Marshal output: %v\n%s", err, out)
		}
		if out2, _ := d2.Marshal(); !bytes.Equal(out, out2) {
			t.Fatalf("round trip not stable:\n%s\n%s", out, out2)
		}
		globals := 0
		for i := range d.TrustPolicies {
			s := &d.TrustPolicies[i]
			checkStatement(t, s)
			if got, err := d.Select(s.Name); err != nil || got != s {
				t.Fatalf("Select(%q) = %v, %v", s.Name, got, err)
			}
			if s.GlobalPolicy {
				globals++
				if s.IsSkip() {
					t.Fatal("global skip statement accepted")
				}
			}
		}
		if _, err := d.Select(""); (err == nil) != (globals == 1) || globals > 1 {
			t.Fatalf("Select(\"\") = %v with %d global statements", err, globals)
		}
	})
}

// escapeValue renders v as an RFC 4514 attribute value.
func escapeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case strings.IndexByte(`,;+"\<>=#`, c) >= 0:
			b.WriteByte('\\')
		case c == ' ' && (i == 0 || i == len(v)-1):
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{
		"x509.subject: C=US, ST=WA, O=acme",
		"x509.subject:C=US,S=WA,O=acme,OU=eng,CN=signer,L=Seattle",
		`x509.subject: C=US, ST=WA, O=acme\, inc`,
		`x509.subject: C=US, ST=WA, O=\ a\;b\\c\+d\ `,
		`x509.subject: C=US, ST=WA, O=caf\C3\A9`,
		"x509.subject: c=US; st=WA; o=acme",
		"x509.subject: 2.5.4.6=US, 2.5.4.8=WA, 2.5.4.10=acme",
		"x509.subject: C=US, ST=WA, O=#0c0461636d65",
		"x509.subject: C=US, ST=WA, O=acme+OU=eng",
		"x509.subject: C=US, ST=WA, O=a, O=b",
		"x509.subject: C=US, O=acme",
		"x509.subject: C=US, ST=WA, O=acme,",
		`x509.subject: C=US, ST=WA, O=a\`,
		"x509.subject:", "*", "", "x509.san: a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentity(s)
		if err != nil {
			return
		}
		for _, a := range mandatoryAttributes {
			if id[a] == "" {
				t.Fatalf("ParseIdentity(%q) = %q lacks %s", s, id, a)
			}
		}
		keys := slices.Collect(maps.Keys(id))
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			if !isSupportedName(k) {
				t.Fatalf("ParseIdentity(%q) has attribute type %q", s, k)
			}
			parts = append(parts, k+"="+escapeValue(id[k]))
		}
		canon := X509SubjectPrefix + ": " + strings.Join(parts, ", ")
		again, err := ParseIdentity(canon)
		if err != nil {
			t.Fatalf("ParseIdentity(%q) = %v; canonical form of %q", canon, err, s)
		}
		if !maps.Equal(id, again) {
			t.Fatalf("round trip %q -> %q: %q != %q", s, canon, id, again)
		}
		if !id.matchedBy(id) || !id.overlaps(again) {
			t.Fatal("an identity must match and overlap itself")
		}
	})
}
