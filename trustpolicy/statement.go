package trustpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Trust store types (TP-9, TS-7).
const (
	StoreCA               = "ca"
	StoreSigningAuthority = "signingAuthority"
	StoreTSA              = "tsa"
	// StorePublicKey is signet's publickey store type (signet/v1 only;
	// cosign.go).
	StorePublicKey = "publickey"
)

// MaxTrustedIdentities bounds the trusted identities of one statement.
// Overlap detection (ID-6) compares identities pairwise, so an unbounded
// list would make validation quadratic in the policy size; real policies
// list a handful.
const MaxTrustedIdentities = 1024

// Statement is one trust policy statement of an OCI or a blob document.
// The zero value is invalid; Validate on the enclosing document checks it.
// Its methods only read it.
type Statement struct {
	// Name identifies the statement; required and unique (TP-3).
	Name string `json:"name"`
	// RegistryScopes are the repositories the statement applies to, or the
	// single global scope "*" (TP-4). OCI documents only.
	RegistryScopes []string `json:"registryScopes,omitempty"`
	// SignatureVerification holds the level and its customisation (TP-8).
	SignatureVerification SignatureVerification `json:"signatureVerification"`
	// TrustStores are "<type>:<name>" references (TP-9); empty for skip.
	TrustStores []string `json:"trustStores,omitempty"`
	// TrustedIdentities are "*" or x509.subject identities (TP-10, ID-1);
	// empty for skip.
	TrustedIdentities []string `json:"trustedIdentities,omitempty"`
	// GlobalPolicy marks the blob statement used when none is named
	// (BTP-2). Blob documents only.
	GlobalPolicy bool `json:"globalPolicy,omitempty"`

	// The members below are signet/v1 extensions (extension.go,
	// docs/policy-extensions.md): only a "signet/v1" OCI document may set
	// them.

	// MinSignatures is K of k-of-n: at least K signatures by K distinct
	// signing keys must verify; 0 means 1.
	MinSignatures int `json:"minSignatures,omitempty"`
	// CounterSignatures must each be satisfied by a counter-signature on
	// one of the accepted signatures.
	CounterSignatures []CounterSignature `json:"counterSignatures,omitempty"`
	// TagBinding, when set, requires a verified tag to be bound by a fresh
	// trusted signature, and refuses rollbacks.
	TagBinding *TagBinding `json:"tagBinding,omitempty"`
	// TransparencyLog is how cosign signatures' transparency log entries
	// are treated: TlogRequire, TlogVerify (the default) or TlogSkip.
	TransparencyLog string `json:"transparencyLog,omitempty"`
	// RekorTrustStores are "publickey:<name>" stores holding the Rekor
	// public keys that transparency log entries are checked against.
	RekorTrustStores []string `json:"rekorTrustStores,omitempty"`
}

// Actions returns the action of each of the five validations: the level's
// column of the LVL table with the overrides applied (LVL-2). Level skip
// skips everything. The map is new on every call.
func (s *Statement) Actions() map[ValidationType]Action {
	return s.SignatureVerification.actions()
}

// IsSkip reports whether the level is skip: signatures are neither fetched
// nor verified (LVL-1).
func (s *Statement) IsSkip() bool { return s.SignatureVerification.Level == LevelSkip }

// VerifyTimestampAlways reports whether a timestamp is verified even when
// the signing chain is unexpired (TSV-4): true unless verifyTimestamp is
// afterCertExpiry.
func (s *Statement) VerifyTimestampAlways() bool {
	return s.SignatureVerification.VerifyTimestamp != TimestampAfterCertExpiry
}

// StoresOfType returns the names of the statement's trust stores of type t
// ("ca", "signingAuthority" or "tsa"), without duplicates, in listed order
// (TS-8). Malformed entries are left out.
func (s *Statement) StoresOfType(t string) []string {
	var out []string
	for _, e := range s.TrustStores {
		typ, name, ok := strings.Cut(e, ":")
		if ok && typ == t && name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// reporter collects the violations of one statement.
type reporter struct {
	stmt   string // statement name, "" when it has none
	prefix string // field prefix when stmt is "", e.g. "trustPolicies[2]."
	errs   *[]error
}

func newReporter(errs *[]error, s *Statement, index int) reporter {
	if strings.TrimSpace(s.Name) == "" {
		return reporter{prefix: fmt.Sprintf("trustPolicies[%d].", index), errs: errs}
	}
	return reporter{stmt: s.Name, errs: errs}
}

func (r reporter) add(field, msg string) { r.addErr(field, msg, nil) }

func (r reporter) addErr(field, msg string, err error) {
	*r.errs = append(*r.errs, &PolicyError{Statement: r.stmt, Field: r.prefix + field, Msg: msg, Err: err})
}

// validateCommon checks what OCI and blob statements share: TP-3's name
// syntax, TP-8, TP-9..TP-11 and §5.6. Document-level rules (unique names,
// scopes, global statements) are the caller's.
func (s *Statement) validateCommon(r reporter) {
	if strings.TrimSpace(s.Name) == "" {
		r.add("name", "name is missing or blank")
	}
	s.SignatureVerification.validate(r.add)

	// TP-11: skip needs neither stores nor identities and may not have
	// them; every other level needs both.
	if s.IsSkip() {
		if len(s.TrustStores) > 0 || len(s.TrustedIdentities) > 0 {
			r.add("", "level skip cannot be configured with trust stores or trusted identities")
		}
		return
	}
	if len(s.TrustStores) == 0 {
		r.add("trustStores", "trust stores are missing; a level other than skip needs at least one")
	}
	if len(s.TrustedIdentities) == 0 {
		r.add("trustedIdentities", "trusted identities are missing; a level other than skip needs at least one")
	}
	validateTrustStores(s.TrustStores, r)
	validateIdentities(s.TrustedIdentities, r)
}

// validateTrustStores checks each "<type>:<name>" entry (TP-9, TS-6).
func validateTrustStores(stores []string, r reporter) {
	for _, e := range stores {
		typ, name, ok := strings.Cut(e, ":")
		switch {
		case !ok:
			r.add("trustStores", fmt.Sprintf("entry %q is not of the form <type>:<name>", e))
		case typ != StoreCA && typ != StoreSigningAuthority && typ != StoreTSA && typ != StorePublicKey:
			r.add("trustStores", fmt.Sprintf("entry %q has unsupported trust store type %q; use ca, signingAuthority or tsa", e, typ))
		case !validStoreName(name):
			r.add("trustStores", fmt.Sprintf("entry %q has invalid store name %q; a name matches [a-zA-Z0-9_.-]+", e, name))
		}
	}
}

// validateIdentities checks ID-1..ID-4 and ID-6.
func validateIdentities(ids []string, r reporter) {
	const field = "trustedIdentities"
	if len(ids) > MaxTrustedIdentities {
		r.add(field, fmt.Sprintf("%d trusted identities exceed the limit of %d", len(ids), MaxTrustedIdentities))
		return
	}
	if len(ids) > 1 && slices.Contains(ids, Wildcard) {
		r.add(field, fmt.Sprintf("the wildcard %q cannot be combined with other identities", Wildcard))
	}
	var parsed []Identity
	var raw []string
	for _, s := range ids {
		if s == Wildcard {
			continue
		}
		if s == "" {
			r.add(field, "an identity is empty")
			continue
		}
		prefix, _, ok := strings.Cut(s, ":")
		if ok && prefix != X509SubjectPrefix {
			// ID-2 [REF]: other prefixes are reserved for future identity
			// types; they pass validation and are ignored when matching.
			continue
		}
		id, err := ParseIdentity(s)
		if err != nil {
			r.addErr(field, "invalid identity", err)
			continue
		}
		parsed = append(parsed, id)
		raw = append(raw, s)
	}
	for i := range parsed {
		for j := i + 1; j < len(parsed); j++ {
			if parsed[i].overlaps(parsed[j]) {
				r.add(field, fmt.Sprintf("identities %q and %q overlap: one certificate could match both", raw[i], raw[j]))
			}
		}
	}
}
