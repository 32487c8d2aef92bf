package verifier

import (
	"errors"
	"fmt"

	"github.com/signet-dev/signet/trustpolicy"
)

// ErrVerification is wrapped by every error that means "this signature is
// not trusted" (as opposed to an I/O or configuration error).
var ErrVerification = errors.New("signature verification failed")

// CheckError is an enforced check that failed.
type CheckError struct {
	Type trustpolicy.ValidationType
	Err  error
}

var _ error = (*CheckError)(nil)

func (e *CheckError) Error() string { return fmt.Sprintf("%s check failed: %v", e.Type, e.Err) }

// Unwrap returns both the cause and ErrVerification.
func (e *CheckError) Unwrap() []error { return []error{e.Err, ErrVerification} }
