package signature

import "errors"

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrUnsupportedKey: the key is not one of the six specs of §3.1.
	ErrUnsupportedKey = errors.New("unsupported signing key")
	// ErrUnsupportedAlgorithm: the algorithm is not one of §3.1.
	ErrUnsupportedAlgorithm = errors.New("unsupported signature algorithm")
	// ErrInvalidChain: the certificate chain breaks a rule of §3.2 or §3.3.
	ErrInvalidChain = errors.New("invalid certificate chain")
	// ErrInvalidSignature: the signature bytes do not verify.
	ErrInvalidSignature = errors.New("signature is not valid")
)

// EnvelopeError reports an envelope that is malformed or breaks a rule of
// the specification. Every EnvelopeError is an integrity failure.
type EnvelopeError struct {
	// Rule is the requirement ID broken, e.g. "JWS-4"; may be empty.
	Rule string
	// Msg says what is wrong, lowercase, no trailing period.
	Msg string
	// Err is the underlying cause, if any.
	Err error
}

var _ error = (*EnvelopeError)(nil)

func (e *EnvelopeError) Error() string {
	msg := "invalid signature envelope: " + e.Msg
	if e.Rule != "" {
		msg += " (" + e.Rule + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *EnvelopeError) Unwrap() error { return e.Err }
