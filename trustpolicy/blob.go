package trustpolicy

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// BlobDocument is a blob trust policy (trustpolicy.blob.json): statements
// without registry scopes, selected by name or by globalPolicy (§5.3). A
// BlobDocument returned by ParseBlob, LoadBlob or InitBlob is valid. Its
// methods only read it.
type BlobDocument struct {
	Version       string      `json:"version"`
	TrustPolicies []Statement `json:"trustPolicies"`
}

// ParseBlob reads at most MaxPolicyBytes from r, decodes a blob trust
// policy and validates it. Unknown members, including an OCI statement's
// registryScopes, are ignored (TP-13). Every error wraps ErrInvalidPolicy
// except a read error from r.
func ParseBlob(r io.Reader) (*BlobDocument, error) {
	var d BlobDocument
	if err := decode(r, &d); err != nil {
		return nil, err
	}
	for i := range d.TrustPolicies {
		d.TrustPolicies[i].RegistryScopes = nil // not a blob member
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks BTP-1..BTP-3 with the statement rules shared with OCI
// policies, and returns nil or the errors.Join of one *PolicyError per
// violation.
func (d *BlobDocument) Validate() error {
	if d == nil {
		return &PolicyError{Msg: "document is nil"}
	}
	var errs []error
	validateHeader(d.Version, len(d.TrustPolicies), false, &errs)
	validateNames(d.TrustPolicies, &errs)
	globals := 0
	for i := range d.TrustPolicies {
		s := &d.TrustPolicies[i]
		r := newReporter(&errs, s, i)
		s.validateCommon(r)
		s.refuseExtensions(r, "blob trust policies do not support it")
		if len(s.RegistryScopes) > 0 {
			r.add("registryScopes", "registry scopes belong to OCI trust policies only")
		}
		if !s.GlobalPolicy {
			continue
		}
		if globals++; globals == 2 {
			r.add("globalPolicy", "only one statement may be the global policy")
		}
		if s.IsSkip() {
			// BTP-3 follows the specification: the global blob statement
			// cannot skip verification. The reference's check never fires
			// (digest §10 item 9).
			r.add("signatureVerification.level", "level skip cannot be used by the global policy")
		}
	}
	return errors.Join(errs...)
}

// Select picks the statement for a blob (BTP-4): the one called name, or
// the global statement when name is "". A name of only white space is an
// error; no such statement wraps ErrNoApplicablePolicy.
func (d *BlobDocument) Select(name string) (*Statement, error) {
	if name != "" && strings.TrimSpace(name) == "" {
		return nil, errors.New("select blob trust policy: policy name cannot be blank")
	}
	for i := range d.TrustPolicies {
		s := &d.TrustPolicies[i]
		if name == "" && s.GlobalPolicy || name != "" && s.Name == name {
			return s, nil
		}
	}
	if name == "" {
		return nil, fmt.Errorf("%w: no policy name was given and no statement is the global policy", ErrNoApplicablePolicy)
	}
	return nil, fmt.Errorf("%w: no statement is named %q", ErrNoApplicablePolicy, name)
}

// Marshal renders the document as indented JSON.
func (d *BlobDocument) Marshal() ([]byte, error) { return marshal(d) }

// InitBlob builds a one-statement blob policy at level strict (the
// `blob policy init` command) and validates it. The slices are copied.
func InitBlob(name string, stores, identities []string, global bool) (*BlobDocument, error) {
	d := &BlobDocument{
		Version: SupportedVersion,
		TrustPolicies: []Statement{{
			Name:                  name,
			SignatureVerification: SignatureVerification{Level: LevelStrict},
			TrustStores:           slices.Clone(stores),
			TrustedIdentities:     slices.Clone(identities),
			GlobalPolicy:          global,
		}},
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
