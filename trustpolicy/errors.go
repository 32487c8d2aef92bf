package trustpolicy

import (
	"errors"
	"strconv"
)

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrInvalidPolicy is wrapped by every error that means the policy
	// document itself is wrong: malformed JSON, too large, or a broken rule.
	ErrInvalidPolicy = errors.New("invalid trust policy")
	// ErrNoApplicablePolicy means no statement applies to the artifact; the
	// artifact is untrusted (SEL-2, BTP-4).
	ErrNoApplicablePolicy = errors.New("no applicable trust policy statement")
	// ErrPolicyNotFound means the trust policy file does not exist.
	ErrPolicyNotFound = errors.New("trust policy is not present")
	// ErrUntrustedIdentity means the signing certificate matches none of the
	// statement's trusted identities (ID-5), or its subject cannot be
	// compared with them (ID-7).
	ErrUntrustedIdentity = errors.New("signing certificate is not a trusted identity")
)

// PolicyError is one violation of the trust policy rules. Validate returns
// one PolicyError per violation, joined with errors.Join.
type PolicyError struct {
	// Statement is the name of the offending statement; empty for a
	// document-level problem, or when the statement has no usable name, in
	// which case Field starts with its position, e.g. "trustPolicies[2].".
	Statement string
	// Field is the member at fault, e.g. "trustedIdentities" or
	// "signatureVerification.override"; may be empty.
	Field string
	// Msg says what is wrong: lowercase, no trailing period.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

var _ error = (*PolicyError)(nil)

// Error renders `trust policy statement "x": field: msg: cause`.
func (e *PolicyError) Error() string {
	s := "trust policy"
	if e.Statement != "" {
		s += " statement " + strconv.Quote(e.Statement)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	s += ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrInvalidPolicy and the cause, if any.
func (e *PolicyError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidPolicy}
	}
	return []error{ErrInvalidPolicy, e.Err}
}
