package admission

import "errors"

// Sentinel errors that callers classify with errors.Is.
var (
	// ErrUnknownPolicySet: a namespace names a policy set the webhook was
	// not started with.
	ErrUnknownPolicySet = errors.New("unknown policy set")
	// ErrPolicySet: a policy set's directory could not be read or holds an
	// invalid trust policy or trust store.
	ErrPolicySet = errors.New("policy set cannot be loaded")
	// ErrBadReview: the AdmissionReview request is malformed.
	ErrBadReview = errors.New("malformed AdmissionReview")
)
