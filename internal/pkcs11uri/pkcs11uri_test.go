package pkcs11uri

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		path  map[string]string
		query map[string]string
	}{
		{
			name:  "token, object, module and PIN",
			in:    "pkcs11:token=signet;object=release-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
			path:  map[string]string{Token: "signet", Object: "release-key"},
			query: map[string]string{ModulePath: "/usr/lib/softhsm/libsofthsm2.so", PinValue: "1234"},
		},
		{
			name: "empty path",
			in:   "pkcs11:",
			path: map[string]string{},
		},
		{
			name: "scheme is case-insensitive",
			in:   "PKCS11:object=a",
			path: map[string]string{Object: "a"},
		},
		{
			name: "percent-encoded id bytes and label with spaces and separators",
			in:   "pkcs11:id=%01%ff%0A;object=my%20key%3Bv2%3Fx%26y",
			path: map[string]string{ID: "\x01\xff\x0a", Object: "my key;v2?x&y"},
		},
		{
			name: "plus is a plus; '=' and '&' may appear in path values",
			in:   "pkcs11:object=a+b=c&d",
			path: map[string]string{Object: "a+b=c&d"},
		},
		{
			name: "empty value is present",
			in:   "pkcs11:token=;object=k",
			path: map[string]string{Token: "", Object: "k"},
		},
		{
			name: "all RFC 7512 path attributes and a vendor one",
			in: "pkcs11:token=t;manufacturer=m;serial=s;model=mo;library-manufacturer=lm;library-description=ld;" +
				"library-version=2.6;object=o;type=private;id=%02;slot-description=sd;slot-manufacturer=sm;slot-id=42;x-vendor=v",
			path: map[string]string{Token: "t", Manufacturer: "m", Serial: "s", Model: "mo", LibraryManufacturer: "lm",
				LibraryDescription: "ld", LibraryVersion: "2.6", Object: "o", Type: "private", ID: "\x02",
				SlotDescription: "sd", SlotManufacturer: "sm", SlotID: "42", "x-vendor": "v"},
		},
		{
			name:  "unknown query attributes are ignored; '?' and '|' allowed in query values",
			in:    "pkcs11:object=k?x-foo=1&other=2&pin-source=file:/run/pin?x|y",
			path:  map[string]string{Object: "k"},
			query: map[string]string{PinSource: "file:/run/pin?x|y"},
		},
		{
			name:  "module-name",
			in:    "pkcs11:object=k?module-name=softhsm2",
			path:  map[string]string{Object: "k"},
			query: map[string]string{ModuleName: "softhsm2"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.path {
				if got, ok := u.Path(k); !ok || got != want {
					t.Errorf("Path(%q) = %q, %v; want %q", k, got, ok, want)
				}
			}
			if len(u.path) != len(tc.path) {
				t.Errorf("path attributes %v, want %v", u.path, tc.path)
			}
			for k, want := range tc.query {
				if got, ok := u.Query(k); !ok || got != want {
					t.Errorf("Query(%q) = %q, %v; want %q", k, got, ok, want)
				}
			}
			if len(u.query) != len(tc.query) {
				t.Errorf("query attributes %v, want %v", u.query, tc.query)
			}
			// Redacted re-encodes: parsing it gives the same attributes
			// (but the PIN).
			back, err := Parse(u.Redacted())
			if err != nil {
				t.Fatalf("Parse(Redacted()=%q): %v", u.Redacted(), err)
			}
			for k, v := range u.path {
				if got, _ := back.Path(k); got != v {
					t.Errorf("round trip of %s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestSlotIDAndVersion(t *testing.T) {
	u, err := Parse("pkcs11:slot-id=18446744073709551615;library-version=3")
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := u.SlotID(); !ok || id != 1<<64-1 {
		t.Errorf("SlotID = %d, %v", id, ok)
	}
	if _, ok := (&URI{}).SlotID(); ok {
		t.Error("SlotID of a URI without slot-id reports one")
	}
	for _, tc := range []struct {
		name         string
		in           string
		major, minor uint8
		ok           bool
	}{
		{"major only", "3", 3, 0, true},
		{"major.minor", "2.61", 2, 61, true},
		{"over 255", "256.1", 0, 0, false},
		{"letters", "2.x", 0, 0, false},
		{"empty minor", "2.", 0, 0, false},
		{"three parts", "1.2.3", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ma, mi, err := ParseVersion(tc.in)
			if (err == nil) != tc.ok || ma != tc.major || mi != tc.minor {
				t.Errorf("ParseVersion(%q) = %d, %d, %v", tc.in, ma, mi, err)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // in the message
	}{
		{"not a pkcs11 URI", "file:/x", `does not start with "pkcs11:"`},
		{"key ID that is a plain name", "release-key", `does not start with "pkcs11:"`},
		{"too long", "pkcs11:object=" + strings.Repeat("a", MaxLength), "over the limit"},
		{"fragment", "pkcs11:object=a#b", "fragment"},
		{"no '='", "pkcs11:object", "has no '='"},
		{"empty name", "pkcs11:=x", "empty name"},
		{"empty element", "pkcs11:object=a;;token=b", "has no '='"},
		{"trailing separator", "pkcs11:object=a;", "has no '='"},
		{"unknown path attribute", "pkcs11:label=a", "unknown path attribute"},
		{"upper-case name", "pkcs11:Object=a", "invalid attribute name"},
		{"duplicate path attribute", "pkcs11:object=a;object=b", "more than once"},
		{"duplicate query attribute", "pkcs11:object=a?module-path=/a&module-path=/b", "more than once"},
		{"pin-source and pin-value", "pkcs11:object=a?pin-source=/p&pin-value=1", "cannot both"},
		{"bad percent-encoding", "pkcs11:id=%zz", "invalid percent-encoding"},
		{"truncated percent-encoding", "pkcs11:id=%0", "truncated"},
		{"space", "pkcs11:object=a b", "must be percent-encoded"},
		{"non-ASCII", "pkcs11:object=clé", "must be percent-encoded"},
		{"control character", "pkcs11:object=a\x00", "must be percent-encoded"},
		{"bad type", "pkcs11:type=privkey", "is not public, private"},
		{"slot-id not a number", "pkcs11:slot-id=-1", "not a decimal number"},
		{"slot-id too large", "pkcs11:slot-id=18446744073709551616", "out of range"},
		{"bad library-version", "pkcs11:library-version=v2", "library-version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", tc.in, u)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v does not wrap ErrSyntax", err)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Errorf("error %T is not *Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestErrorsHidePIN: a malformed URI never has its PIN quoted in the
// error, and Redacted drops it.
func TestErrorsHidePIN(t *testing.T) {
	for _, in := range []string{
		"pkcs11:object=a?pin-value=s3cret&pin-value=s3cret",
		"pkcs11:object=a?pin-value=s3cret&pin-source=/x",
		"pkcs11:s3cret;object=a",
		"pkcs11:object=a;S3CRET=1",
	} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		if strings.Contains(strings.ToLower(err.Error()), "s3cret") {
			t.Errorf("Parse(%q): the error quotes the PIN: %v", in, err)
		}
	}
	u, err := Parse("pkcs11:object=a?pin-value=s3cret&module-path=/m.so")
	if err != nil {
		t.Fatal(err)
	}
	if r := u.Redacted(); strings.Contains(r, "s3cret") || !strings.Contains(r, "pin-value=REDACTED") || !strings.Contains(r, "module-path=/m.so") {
		t.Errorf("Redacted() = %q", r)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=signet;object=release-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
		"pkcs11:",
		"pkcs11:id=%01%ff;type=private;slot-id=3;library-version=2.6",
		"pkcs11:object=a?pin-source=file:/p&x-y=z",
		"pkcs11:object=%",
		"PKCS11:x-a=b;token=%20",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		if len(s) > MaxLength {
			t.Fatalf("accepted %d bytes", len(s))
		}
		// Whatever parses re-encodes to a URI that parses to the same
		// attributes.
		r := u.Redacted()
		back, err := Parse(r)
		if err != nil {
			if len(r) > MaxLength {
				return // re-encoding grew it past the limit
			}
			t.Fatalf("Parse(%q) = %v for Redacted of %q", r, err, s)
		}
		for k, v := range u.path {
			if got, ok := back.Path(k); !ok || got != v {
				t.Fatalf("round trip of %s: %q, want %q", k, got, v)
			}
		}
		for k, v := range u.query {
			if k == PinValue {
				continue
			}
			if got, ok := back.Query(k); !ok || got != v {
				t.Fatalf("round trip of %s: %q, want %q", k, got, v)
			}
		}
		u.SlotID()
	})
}
