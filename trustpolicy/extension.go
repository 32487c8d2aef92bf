package trustpolicy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file holds signet's extension of the OCI trust policy, version
// ExtensionVersion ("signet/v1"); docs/policy-extensions.md is its
// reference. A "signet/v1" document is a "1.0" document plus the members
// below, and every "1.0" rule still holds. A "1.0" document keeps the
// specification's exact behaviour and refuses the extension members, so
// that a policy written for signet/v1 is never read as weaker: notation
// refuses the "signet/v1" version (TP-1) and prefix scopes (TP-4), and a
// "1.0" document cannot carry a member that another tool would ignore
// (TP-13).

// Limits of the extension members. Each bounds work done per verification.
const (
	// MaxMinSignatures bounds minSignatures: every counted signature is a
	// full verification, and a registry lists at most a few dozen.
	MaxMinSignatures = 32
	// MaxCounterSignatureEntries bounds counterSignatures per statement:
	// each entry may verify every counter-signature of every accepted
	// signature.
	MaxCounterSignatureEntries = 16
)

// CounterSignature is one entry of a statement's counterSignatures: a
// party that must counter-sign one of the artifact's accepted signatures.
type CounterSignature struct {
	// Name identifies the entry in verdicts; required, unique in the
	// statement.
	Name string `json:"name"`
	// TrustStores are "<type>:<name>" references (TP-9) the
	// counter-signature must chain to; at least one ca or signingAuthority
	// store. When none is of type tsa, the statement's tsa stores verify
	// timestamps.
	TrustStores []string `json:"trustStores"`
	// TrustedIdentities are "*" or x509.subject identities (ID-1) the
	// counter-signer must match.
	TrustedIdentities []string `json:"trustedIdentities"`
}

// TagBinding is a statement's tagBinding member: when a tag is verified,
// a trusted signature of its digest must bind the tag, and the newest
// binding must be younger than MaxAge.
type TagBinding struct {
	// MaxAge is a Go duration ("168h", "90m") or a whole number of days
	// ("7d"); required, positive.
	MaxAge string `json:"maxAge"`
}

// MaxAgeDuration returns MaxAge parsed; zero when it is invalid (a
// validated document has a valid one).
func (t *TagBinding) MaxAgeDuration() time.Duration {
	if t == nil {
		return 0
	}
	d, _ := parseMaxAge(t.MaxAge)
	return d
}

// maxMaxAge bounds tagBinding.maxAge to 100 years: longer means no
// freshness at all and overflows time arithmetic soon after.
const maxMaxAge = 100 * 365 * 24 * time.Hour

func parseMaxAge(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
		days, err := strconv.ParseInt(n, 10, 64)
		if err != nil || days > int64(maxMaxAge/(24*time.Hour)) {
			return 0, fmt.Errorf("maxAge %q is longer than 100 years", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("maxAge %q is not a duration such as \"168h\" or \"7d\"", s)
		}
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("maxAge %q must be positive", s)
	case d > maxMaxAge:
		return 0, fmt.Errorf("maxAge %q is longer than 100 years", s)
	}
	return d, nil
}

// Extended reports whether the document is a "signet/v1" document.
func (d *Document) Extended() bool { return d.Version == ExtensionVersion }

// RequiredSignatures is the number of distinct signing keys that must
// sign: minSignatures, or 1 when it is not set.
func (s *Statement) RequiredSignatures() int {
	if s.MinSignatures > 1 {
		return s.MinSignatures
	}
	return 1
}

// HasExtensions reports whether the statement uses a verification member
// of the extension (minSignatures above 1, counterSignatures, tagBinding).
func (s *Statement) HasExtensions() bool {
	return s.MinSignatures > 1 || len(s.CounterSignatures) > 0 || s.TagBinding != nil
}

// IsPrefixScope reports whether sc is a prefix scope: "HOST/*" or
// "HOST/PATH/*" (signet/v1).
func IsPrefixScope(sc string) bool { return sc != Wildcard && strings.HasSuffix(sc, "/*") }

// prefixOf returns the literal prefix of a prefix scope: "HOST/" or
// "HOST/PATH/".
func prefixOf(sc string) string { return strings.TrimSuffix(sc, "*") }

// validatePrefixScope checks a prefix scope: HOST must match TP-7's
// registry syntax, HOST/PATH TP-7's scope syntax, and "*" appears once, as
// the whole last path element.
func validatePrefixScope(sc string) error {
	base := strings.TrimSuffix(sc, "/*")
	if strings.Contains(base, Wildcard) {
		return fmt.Errorf("prefix scope %q may contain \"*\" only as its last path element", sc)
	}
	if !strings.Contains(base, "/") {
		if !validRegistry(base) {
			return fmt.Errorf("prefix scope %q does not start with a registry host name", sc)
		}
		return nil
	}
	if err := validateScope(base); err != nil {
		return fmt.Errorf("prefix scope %q is not REGISTRY/*, or REGISTRY/PATH/* with a valid repository path", sc)
	}
	return nil
}

// validateExtensions checks the extension members of an OCI statement.
// ext is whether the document is a "signet/v1" document; a "1.0" document
// may not use them.
func (s *Statement) validateExtensions(r reporter, ext bool) {
	if !ext {
		s.refuseExtensions(r, fmt.Sprintf("it is a signet extension: set \"version\" to %q (notation then refuses the document instead of ignoring the member)", ExtensionVersion))
		return
	}
	s.validateCosign(r)
	if s.IsSkip() {
		if s.MinSignatures != 0 || len(s.CounterSignatures) > 0 || s.TagBinding != nil {
			r.add("", "level skip cannot be configured with minSignatures, counterSignatures or tagBinding")
		}
		return
	}
	if s.MinSignatures < 0 || s.MinSignatures > MaxMinSignatures {
		r.add("minSignatures", fmt.Sprintf("minSignatures %d is out of range; use 1 to %d", s.MinSignatures, MaxMinSignatures))
	}
	if len(s.CounterSignatures) > MaxCounterSignatureEntries {
		r.add("counterSignatures", fmt.Sprintf("%d entries exceed the limit of %d", len(s.CounterSignatures), MaxCounterSignatureEntries))
	} else {
		seen := map[string]bool{}
		for i := range s.CounterSignatures {
			s.CounterSignatures[i].validate(r, i, seen)
		}
	}
	if s.TagBinding != nil {
		if _, err := parseMaxAge(s.TagBinding.MaxAge); err != nil {
			if s.TagBinding.MaxAge == "" {
				err = fmt.Errorf("maxAge is missing; give a duration such as \"168h\" or \"7d\"")
			}
			r.add("tagBinding.maxAge", err.Error())
		}
	}
}

func (c *CounterSignature) validate(r reporter, i int, seen map[string]bool) {
	field := fmt.Sprintf("counterSignatures[%d]", i)
	name := strings.TrimSpace(c.Name)
	switch {
	case name == "":
		r.add(field+".name", "name is missing or blank")
	case seen[c.Name]:
		r.add(field+".name", fmt.Sprintf("name %q is used by more than one entry", c.Name))
	}
	seen[c.Name] = true
	sub := reporter{stmt: r.stmt, prefix: r.prefix + field + ".", errs: r.errs}
	if len(c.TrustStores) == 0 {
		sub.add("trustStores", "trust stores are missing; a counter-signer needs at least one ca or signingAuthority store")
	} else {
		signing := false
		for _, e := range c.TrustStores {
			typ, _, _ := strings.Cut(e, ":")
			signing = signing || typ == StoreCA || typ == StoreSigningAuthority
		}
		if !signing {
			sub.add("trustStores", "no ca or signingAuthority store is listed; a counter-signer needs one")
		}
	}
	if len(c.TrustedIdentities) == 0 {
		sub.add("trustedIdentities", "trusted identities are missing; a counter-signer needs at least one")
	}
	validateTrustStores(c.TrustStores, sub)
	validateIdentities(c.TrustedIdentities, sub)
}

// refuseExtensions reports every extension member the statement sets, for
// documents that do not support them.
func (s *Statement) refuseExtensions(r reporter, why string) {
	if s.MinSignatures != 0 {
		r.add("minSignatures", "minSignatures is not allowed: "+why)
	}
	if len(s.CounterSignatures) > 0 {
		r.add("counterSignatures", "counterSignatures is not allowed: "+why)
	}
	if s.TagBinding != nil {
		r.add("tagBinding", "tagBinding is not allowed: "+why)
	}
	s.refuseCosign(r, why)
}

// ExtensionMember is one use of a signet/v1 extension in a document.
type ExtensionMember struct {
	// Statement is the statement's name; empty for the version member.
	Statement string `json:"statement,omitempty"`
	// Member is the JSON member, e.g. "minSignatures" or
	// "registryScopes[1]".
	Member string `json:"member"`
	// Value is the member's value, rendered briefly.
	Value string `json:"value"`
	// Meaning says what the member requires, in a few words.
	Meaning string `json:"meaning"`
}

// ExtensionMembers lists every extension member the document uses, in
// document order: the version, prefix scopes and the members of
// docs/policy-extensions.md. Empty for a "1.0" document.
func (d *Document) ExtensionMembers() []ExtensionMember {
	if !d.Extended() {
		return nil
	}
	out := []ExtensionMember{{Member: "version", Value: ExtensionVersion, Meaning: "signet extension document; notation refuses it"}}
	for i := range d.TrustPolicies {
		s := &d.TrustPolicies[i]
		for j, sc := range s.RegistryScopes {
			if IsPrefixScope(sc) {
				out = append(out, ExtensionMember{Statement: s.Name, Member: fmt.Sprintf("registryScopes[%d]", j), Value: sc,
					Meaning: "prefix scope: every repository under " + prefixOf(sc)})
			}
		}
		if s.MinSignatures != 0 {
			out = append(out, ExtensionMember{Statement: s.Name, Member: "minSignatures", Value: strconv.Itoa(s.MinSignatures),
				Meaning: fmt.Sprintf("at least %d signatures by distinct trusted keys", s.MinSignatures)})
		}
		for j, c := range s.CounterSignatures {
			out = append(out, ExtensionMember{Statement: s.Name, Member: fmt.Sprintf("counterSignatures[%d]", j), Value: c.Name,
				Meaning: fmt.Sprintf("an accepted signature must be counter-signed by %s (%s)", c.Name, strings.Join(c.TrustStores, ", "))})
		}
		out = append(out, s.cosignMembers()...)
		if s.TagBinding != nil {
			out = append(out, ExtensionMember{Statement: s.Name, Member: "tagBinding", Value: "maxAge " + s.TagBinding.MaxAge,
				Meaning: "a verified tag must be bound by a signature younger than " + s.TagBinding.MaxAge})
		}
	}
	return out
}
