// Package pkcs11uri parses PKCS #11 URIs (RFC 7512), the key IDs of the
// io.signet.pkcs11 signing plugin:
//
//	pkcs11:token=signet;object=release-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234
//
// It is pure Go (no cgo) so that it can be tested and fuzzed anywhere; the
// plugin, which needs cgo to load a PKCS #11 module, matches the parsed
// attributes against slots, tokens and objects.
//
// What is accepted:
//   - the scheme "pkcs11:" (case-insensitive, RFC 3986 §3.1);
//   - path attributes separated by ';', query attributes separated by '&',
//     each NAME=VALUE with a non-empty name;
//   - values percent-encoded as RFC 3986 (%HH, either case); '+' is a plus
//     sign, not a space; characters outside printable ASCII, white space
//     and the characters RFC 3986 excludes from URIs (`"<>\^`{}`, but not
//     '|', which RFC 7512 allows in query values) must be
//     percent-encoded;
//   - the path attributes of RFC 7512 §2.3 and vendor attributes ("x-…");
//     any other path attribute is an error (RFC 7512 has a URI with an
//     unknown path attribute match nothing: an error says so sooner);
//   - the query attributes pin-source, pin-value, module-name and
//     module-path; unknown query attributes are ignored (RFC 7512 §2.3).
//
// Each attribute may appear once (RFC 7512 §2.3); pin-source and pin-value
// together are refused (RFC 7512 §2.3 says such a URI should be refused).
package pkcs11uri

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// MaxLength bounds the URI Parse accepts, in bytes. A key ID carries a
// token, an object and a module path: a few hundred bytes. 4 KiB leaves
// room for long paths and percent-encoded IDs.
const MaxLength = 4096

// Path attribute names (RFC 7512 §2.3).
const (
	Token               = "token"
	Manufacturer        = "manufacturer"
	Serial              = "serial"
	Model               = "model"
	LibraryManufacturer = "library-manufacturer"
	LibraryDescription  = "library-description"
	LibraryVersion      = "library-version"
	Object              = "object"
	Type                = "type"
	ID                  = "id"
	SlotDescription     = "slot-description"
	SlotManufacturer    = "slot-manufacturer"
	SlotID              = "slot-id"
)

// Query attribute names (RFC 7512 §2.3).
const (
	PinSource  = "pin-source"
	PinValue   = "pin-value"
	ModuleName = "module-name"
	ModulePath = "module-path"
)

// The values of the type attribute.
const (
	TypePublic    = "public"
	TypePrivate   = "private"
	TypeCert      = "cert"
	TypeSecretKey = "secret-key"
	TypeData      = "data"
)

var pathAttrs = map[string]bool{
	Token: true, Manufacturer: true, Serial: true, Model: true,
	LibraryManufacturer: true, LibraryDescription: true, LibraryVersion: true,
	Object: true, Type: true, ID: true,
	SlotDescription: true, SlotManufacturer: true, SlotID: true,
}

var queryAttrs = map[string]bool{PinSource: true, PinValue: true, ModuleName: true, ModulePath: true}

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("invalid PKCS #11 URI")

// Error is a Parse failure: the attribute concerned (if any) and why. It
// never quotes the value of pin-value.
type Error struct {
	Attr   string // attribute name, or ""
	Reason string
}

func (e *Error) Error() string {
	if e.Attr == "" {
		return ErrSyntax.Error() + ": " + e.Reason
	}
	return fmt.Sprintf("%v: %s: %s", ErrSyntax, e.Attr, e.Reason)
}

// Unwrap returns ErrSyntax.
func (e *Error) Unwrap() error { return ErrSyntax }

// URI is a parsed PKCS #11 URI. Values are percent-decoded; id is raw
// bytes (held in a string). An attribute present with an empty value
// ("token=") is present: it matches only an empty field.
type URI struct {
	path  map[string]string
	query map[string]string
}

// Path returns the decoded value of path attribute name and whether it is
// present. Vendor attributes ("x-…") are returned as given.
func (u *URI) Path(name string) (string, bool) {
	v, ok := u.path[name]
	return v, ok
}

// Query returns the decoded value of query attribute name (one of the four
// RFC 7512 names) and whether it is present.
func (u *URI) Query(name string) (string, bool) {
	v, ok := u.query[name]
	return v, ok
}

// SlotID returns the slot-id attribute as a number.
func (u *URI) SlotID() (uint64, bool) {
	v, ok := u.path[SlotID]
	if !ok {
		return 0, false
	}
	n, _ := strconv.ParseUint(v, 10, 64) // checked by Parse
	return n, true
}

// Redacted returns the URI with pin-value replaced by "REDACTED", for
// messages. Values are re-encoded, so it may differ in form from the input.
func (u *URI) Redacted() string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	writeAttrs(&b, u.path, ';', nil)
	if len(u.query) > 0 {
		b.WriteByte('?')
		writeAttrs(&b, u.query, '&', map[string]bool{PinValue: true})
	}
	return b.String()
}

func writeAttrs(b *strings.Builder, m map[string]string, sep byte, redact map[string]bool) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for i, k := range names {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(k)
		b.WriteByte('=')
		if redact[k] {
			b.WriteString("REDACTED")
			continue
		}
		b.WriteString(escape(m[k]))
	}
}

// escape percent-encodes everything but RFC 3986 unreserved characters
// and '/' (module paths stay readable).
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// Parse parses s, which must start with "pkcs11:" and be at most MaxLength
// bytes. Errors wrap ErrSyntax and are *Error.
func Parse(s string) (*URI, error) {
	if len(s) > MaxLength {
		return nil, &Error{Reason: fmt.Sprintf("%d bytes, over the limit of %d", len(s), MaxLength)}
	}
	const scheme = "pkcs11:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return nil, &Error{Reason: `does not start with "pkcs11:"`}
	}
	rest := s[len(scheme):]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return nil, &Error{Reason: "a fragment ('#') is not allowed"}
	}
	pathPart, queryPart, hasQuery := strings.Cut(rest, "?")
	u := &URI{path: map[string]string{}, query: map[string]string{}}
	if err := parseAttrs(pathPart, ';', func(name, value string) error {
		if !pathAttrs[name] && !strings.HasPrefix(name, "x-") {
			return &Error{Attr: name, Reason: "unknown path attribute"}
		}
		if _, dup := u.path[name]; dup {
			return &Error{Attr: name, Reason: "appears more than once"}
		}
		u.path[name] = value
		return nil
	}); err != nil {
		return nil, err
	}
	if hasQuery {
		if err := parseAttrs(queryPart, '&', func(name, value string) error {
			if !queryAttrs[name] {
				return nil // unknown query attributes are ignored
			}
			if _, dup := u.query[name]; dup {
				return &Error{Attr: name, Reason: "appears more than once"}
			}
			u.query[name] = value
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if err := u.check(); err != nil {
		return nil, err
	}
	return u, nil
}

// check validates the attributes whose values have a syntax.
func (u *URI) check() error {
	if v, ok := u.path[Type]; ok {
		switch v {
		case TypePublic, TypePrivate, TypeCert, TypeSecretKey, TypeData:
		default:
			return &Error{Attr: Type, Reason: fmt.Sprintf("%q is not public, private, cert, secret-key or data", v)}
		}
	}
	if v, ok := u.path[SlotID]; ok {
		if v == "" || strings.TrimLeft(v, "0123456789") != "" {
			return &Error{Attr: SlotID, Reason: "not a decimal number"}
		}
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return &Error{Attr: SlotID, Reason: "out of range"}
		}
	}
	if v, ok := u.path[LibraryVersion]; ok {
		if _, _, err := ParseVersion(v); err != nil {
			return &Error{Attr: LibraryVersion, Reason: err.Error()}
		}
	}
	_, hasSource := u.query[PinSource]
	_, hasValue := u.query[PinValue]
	if hasSource && hasValue {
		return &Error{Attr: PinValue, Reason: "pin-source and pin-value cannot both be given"}
	}
	return nil
}

// ParseVersion parses a library-version value, "M" or "M.N" with decimal
// numbers of at most 255 (CK_VERSION holds bytes). "M" means "M.0".
func ParseVersion(v string) (major, minor uint8, err error) {
	ma, mi, hasMinor := strings.Cut(v, ".")
	parse := func(s string) (uint8, error) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, errors.New("not M or M.N with decimal numbers")
		}
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil {
			return 0, errors.New("a number is over 255")
		}
		return uint8(n), nil
	}
	if major, err = parse(ma); err != nil {
		return 0, 0, err
	}
	if hasMinor {
		if minor, err = parse(mi); err != nil {
			return 0, 0, err
		}
	}
	return major, minor, nil
}

// parseAttrs splits s at sep into NAME=VALUE attributes and calls f with
// each, the value percent-decoded. An empty s has no attributes; an empty
// element (";;" or a trailing ';') is an error.
func parseAttrs(s string, sep byte, f func(name, value string) error) error {
	if s == "" {
		return nil
	}
	for _, attr := range strings.Split(s, string(sep)) {
		name, raw, ok := strings.Cut(attr, "=")
		if !ok {
			return &Error{Reason: "an attribute has no '='"}
		}
		if name == "" {
			return &Error{Reason: "an attribute has an empty name"}
		}
		if !validName(name) {
			return &Error{Attr: safeName(name), Reason: "invalid attribute name"}
		}
		value, err := unescape(raw)
		if err != nil {
			return &Error{Attr: name, Reason: err.Error()}
		}
		if err := f(name, value); err != nil {
			return err
		}
	}
	return nil
}

// validName: lowercase letters, digits and '-' (RFC 7512's attribute
// names; vendor names are "x-" and the same characters).
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// safeName returns s for an error message when it is a plausible name,
// else a placeholder (so that errors do not echo arbitrary input, such as
// a PIN typed in the wrong place).
func safeName(s string) string {
	if len(s) <= 32 && validName(s) {
		return s
	}
	return "(attribute)"
}

// unescape percent-decodes s and rejects characters that must be
// encoded.
func unescape(s string) (string, error) {
	if !strings.ContainsAny(s, "%") {
		if err := checkChars(s); err != nil {
			return "", err
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if err := checkChar(c); err != nil {
				return "", err
			}
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errors.New("truncated percent-encoding")
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", errors.New("invalid percent-encoding")
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	return string(b), nil
}

func checkChars(s string) error {
	for i := 0; i < len(s); i++ {
		if err := checkChar(s[i]); err != nil {
			return err
		}
	}
	return nil
}

// checkChar rejects bytes that cannot appear literally in a URI.
func checkChar(c byte) error {
	if c <= ' ' || c >= 0x7f || strings.IndexByte("\"<>\\^`{}", c) >= 0 {
		return fmt.Errorf("character %q must be percent-encoded", c)
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
