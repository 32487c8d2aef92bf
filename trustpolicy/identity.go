package trustpolicy

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Wildcard is the trusted identity (and registry scope) that matches
// everything (ID-1, TP-4).
const Wildcard = "*"

// X509SubjectPrefix introduces an X.509 subject identity (ID-2).
const X509SubjectPrefix = "x509.subject"

// attributeNames maps the OIDs that crypto/x509/pkix renders by name to
// those names. Any other attribute is rendered as OID=#hex by Go and by the
// reference implementation, and is therefore unsupported on both sides of a
// comparison (ID-7).
var attributeNames = map[string]string{
	"2.5.4.6":  "C",
	"2.5.4.8":  "ST",
	"2.5.4.7":  "L",
	"2.5.4.10": "O",
	"2.5.4.11": "OU",
	"2.5.4.3":  "CN",
	"2.5.4.5":  "SERIALNUMBER",
	"2.5.4.9":  "STREET",
	"2.5.4.17": "POSTALCODE",
}

// mandatoryAttributes must appear in every identity (ID-3).
var mandatoryAttributes = []string{"C", "ST", "O"}

// Identity is an X.509 subject identity: attribute type to value, with type
// names upper-cased and S normalised to ST (ID-4). A parsed Identity always
// holds C, ST and O.
type Identity map[string]string

// matchedBy reports whether every attribute of id is in subject with an
// equal value (ID-5: subset match, case-sensitive values).
func (id Identity) matchedBy(subject Identity) bool {
	for k, v := range id {
		if sv, ok := subject[k]; !ok || sv != v {
			return false
		}
	}
	return true
}

// overlaps reports whether one identity's attributes are a subset of the
// other's (ID-6, as the reference applies it). Identities that name
// different attributes, such as "…, OU=eng" next to "…, CN=release", are
// allowed even though one subject could match both: rejecting them would
// refuse trust policies that notation accepts, and the spec's example of an
// overlap is a subset.
func (id Identity) overlaps(other Identity) bool {
	return id.subsetOf(other) || other.subsetOf(id)
}

// subsetOf reports whether every attribute of id is in other with the same
// value.
func (id Identity) subsetOf(other Identity) bool {
	for k, v := range id {
		if ov, ok := other[k]; !ok || ov != v {
			return false
		}
	}
	return true
}

// ParseIdentity parses a trusted identity of the form
// "x509.subject: C=US, ST=WA, O=acme" (ID-2..ID-4). The distinguished name
// follows RFC 4514: RDNs are separated by ',' (or ';'), spaces around types
// and values are ignored, and a value escapes ',', ';', '+', '"', '\', '<',
// '>', '=', '#' and leading or trailing spaces with a backslash, or any byte
// as \XX. It rejects hex-encoded values (=#…), multi-valued RDNs (+), a
// repeated attribute type, an empty value, attribute types that certificate
// subjects cannot be compared on (see MatchIdentities), and a DN without C,
// ST (or S) and O.
func ParseIdentity(s string) (Identity, error) {
	prefix, value, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("trusted identity %q is missing the separator ':'", s)
	}
	if prefix != X509SubjectPrefix {
		return nil, fmt.Errorf("trusted identity %q has unsupported prefix %q; use %s", s, prefix, X509SubjectPrefix)
	}
	if strings.TrimSpace(value) == "" {
		return nil, fmt.Errorf("trusted identity %q has no identity value", s)
	}
	id, err := parseDN(value)
	if err != nil {
		return nil, fmt.Errorf("trusted identity %q: %w", s, err)
	}
	return id, nil
}

// dnSpecials are the characters that may follow a backslash literally.
const dnSpecials = ",;+\"\\<>=# "

// parseDN parses an RFC 4514 distinguished name into an Identity.
func parseDN(s string) (Identity, error) {
	id := Identity{}
	n := len(s)
	i := 0
	for {
		// Attribute type.
		i = skipSpaces(s, i)
		start := i
		for i < n && s[i] != '=' && s[i] != ',' && s[i] != ';' && s[i] != '+' {
			i++
		}
		rawType := strings.TrimRight(s[start:i], " ")
		if i >= n || s[i] != '=' {
			return nil, fmt.Errorf("relative distinguished name %q has no '='", strings.TrimSpace(s[start:i]))
		}
		typ, err := attributeType(rawType)
		if err != nil {
			return nil, err
		}
		i++ // '='

		// Attribute value.
		i = skipSpaces(s, i)
		if i < n && s[i] == '#' {
			return nil, fmt.Errorf("attribute %s has a hex-encoded (=#) value, which is not supported", rawType)
		}
		var val []byte
		trailing := 0 // unescaped spaces at the end of val, dropped below
	value:
		for i < n {
			c := s[i]
			switch c {
			case ',', ';':
				break value
			case '+':
				return nil, fmt.Errorf("attribute %s is part of a multi-valued relative distinguished name (+), which is not supported; escape a literal + as \\+", rawType)
			case '\\':
				if i+1 >= n {
					return nil, fmt.Errorf("attribute %s ends with a lone backslash", rawType)
				}
				d := s[i+1]
				switch {
				case i+2 < n && isHex(d) && isHex(s[i+2]):
					val = append(val, unhex(d)<<4|unhex(s[i+2]))
					i += 3
				case strings.IndexByte(dnSpecials, d) >= 0:
					val = append(val, d)
					i += 2
				default:
					return nil, fmt.Errorf("attribute %s has an invalid escape sequence \\%c", rawType, d)
				}
				trailing = 0
				continue
			}
			val = append(val, c)
			if c == ' ' {
				trailing++
			} else {
				trailing = 0
			}
			i++
		}
		val = val[:len(val)-trailing]
		if len(val) == 0 {
			return nil, fmt.Errorf("attribute %s has an empty value", rawType)
		}
		if !utf8.Valid(val) {
			return nil, fmt.Errorf("attribute %s is not valid UTF-8", rawType)
		}
		if _, dup := id[typ]; dup {
			return nil, fmt.Errorf("attribute %s appears more than once", typ)
		}
		id[typ] = string(val)
		if i >= n {
			break
		}
		i++ // separator
		if skipSpaces(s, i) >= n {
			return nil, errors.New("distinguished name ends with a separator")
		}
	}
	if err := checkMandatory(id); err != nil {
		return nil, err
	}
	return id, nil
}

// attributeType validates and normalises an attribute type: a keyword
// (case-insensitive, RFC 4512 §1.4) or a dotted OID, S meaning ST.
func attributeType(t string) (string, error) {
	if t == "" {
		return "", errors.New("an attribute type is missing")
	}
	var name string
	switch {
	case isKeyword(t):
		name = strings.ToUpper(t)
		if name == "S" {
			name = "ST"
		}
	case isNumericOID(t):
		name = attributeNames[t]
	}
	if name == "" || !isSupportedName(name) {
		return "", fmt.Errorf("attribute type %q is not supported; use C, ST (or S), L, O, OU, CN, SERIALNUMBER, STREET or POSTALCODE", t)
	}
	return name, nil
}

func isSupportedName(name string) bool {
	for _, v := range attributeNames {
		if v == name {
			return true
		}
	}
	return false
}

func isKeyword(t string) bool {
	for i := 0; i < len(t); i++ {
		c := t[i]
		alpha := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
		if i == 0 && !alpha || !alpha && !(c >= '0' && c <= '9') && c != '-' {
			return false
		}
	}
	return t != ""
}

func isNumericOID(t string) bool {
	for _, arc := range strings.Split(t, ".") {
		if arc == "" || strings.Trim(arc, "0123456789") != "" {
			return false
		}
	}
	return true
}

func checkMandatory(id Identity) error {
	var missing []string
	for _, a := range mandatoryAttributes {
		if _, ok := id[a]; !ok {
			missing = append(missing, a)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("distinguished name lacks %s; C, ST (or S) and O are required", strings.Join(missing, ", "))
	}
	return nil
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// subjectIdentity reads a certificate subject with the same strict rules
// as an identity (ID-7): one attribute per RDN, only the attribute types Go
// renders by name, string values, no repeated type, and C, ST and O
// present. It reads the encoded subject, so a multi-valued RDN that
// crypto/x509 would flatten is still seen.
func subjectIdentity(cert *x509.Certificate) (Identity, error) {
	var rdns pkix.RDNSequence
	if len(cert.RawSubject) > 0 {
		rest, err := asn1.Unmarshal(cert.RawSubject, &rdns)
		if err != nil {
			return nil, fmt.Errorf("parse subject: %w", err)
		}
		if len(rest) > 0 {
			return nil, errors.New("parse subject: trailing data")
		}
	} else {
		rdns = cert.Subject.ToRDNSequence()
	}
	id := Identity{}
	for _, rdn := range rdns {
		if len(rdn) != 1 {
			return nil, fmt.Errorf("subject has a relative distinguished name with %d attributes; only single-valued RDNs are supported", len(rdn))
		}
		atv := rdn[0]
		name, ok := attributeNames[atv.Type.String()]
		if !ok {
			return nil, fmt.Errorf("subject attribute %s is not supported in trusted identity matching", atv.Type)
		}
		v, ok := atv.Value.(string)
		if !ok {
			return nil, fmt.Errorf("subject attribute %s does not have a string value", name)
		}
		if _, dup := id[name]; dup {
			return nil, fmt.Errorf("subject attribute %s appears more than once", name)
		}
		id[name] = v
	}
	if err := checkMandatory(id); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	return id, nil
}

// MatchIdentities checks the signing (leaf) certificate against a
// statement's trusted identities (ID-5..ID-8). It returns nil when the
// identities are the single wildcard "*" or when one x509.subject identity
// is a subset of the leaf subject. Identities with another prefix are
// ignored, as the reference does (ID-2). Otherwise the error wraps
// ErrUntrustedIdentity and names the leaf subject and the identities; an
// identity list that is itself invalid gives an error wrapping
// ErrInvalidPolicy. The leaf subject is read with the strict rules of
// ParseIdentity (ID-7): a subject with an attribute such as emailAddress, a
// multi-valued RDN, a repeated attribute, or lacking C, ST or O matches no
// identity.
func MatchIdentities(identities []string, leaf *x509.Certificate) error {
	if leaf == nil {
		return fmt.Errorf("%w: no signing certificate", ErrUntrustedIdentity)
	}
	if len(identities) == 0 {
		return fmt.Errorf("%w: no trusted identities are configured", ErrUntrustedIdentity)
	}
	if slices.Contains(identities, Wildcard) {
		if len(identities) == 1 {
			return nil // ID-8
		}
		return fmt.Errorf("%w: trusted identity %q cannot be combined with other values", ErrInvalidPolicy, Wildcard)
	}
	var parsed []Identity
	var used []string
	for _, s := range identities {
		prefix, _, ok := strings.Cut(s, ":")
		if ok && prefix != X509SubjectPrefix {
			continue
		}
		id, err := ParseIdentity(s)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
		}
		parsed = append(parsed, id)
		used = append(used, s)
	}
	if len(parsed) == 0 {
		return fmt.Errorf("%w: no %s trusted identities are configured", ErrUntrustedIdentity, X509SubjectPrefix)
	}
	subject, err := subjectIdentity(leaf)
	if err != nil {
		return fmt.Errorf("%w: signing certificate subject %q cannot be matched: %w", ErrUntrustedIdentity, leaf.Subject.String(), err)
	}
	for _, id := range parsed {
		if id.matchedBy(subject) {
			return nil
		}
	}
	return fmt.Errorf("%w: signing certificate subject %q matches none of the trusted identities %q", ErrUntrustedIdentity, leaf.Subject.String(), used)
}
