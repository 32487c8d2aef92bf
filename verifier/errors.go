package verifier

import (
	"errors"
	"fmt"

	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
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

// ErrTrustStore is wrapped by every error about a trust store that a trust
// policy statement names and that cannot be used: it does not exist, holds
// no certificate, or holds a file that is not a valid certificate (TS-6).
// It is invalid configuration, never a verification failure.
var ErrTrustStore = errors.New("a trust store named by the trust policy cannot be used")

// TrustStoreError reports a trust store of a statement that could not be
// loaded.
type TrustStoreError struct {
	// Statement is the trust policy statement's name.
	Statement string
	// Type and Name identify the store.
	Type truststore.Type
	Name string
	// Err is the cause, usually a *truststore.StoreError wrapping one of
	// truststore's sentinels.
	Err error
}

var _ error = (*TrustStoreError)(nil)

func (e *TrustStoreError) Error() string {
	var se *truststore.StoreError
	if errors.As(e.Err, &se) {
		// The store error names the store already.
		return fmt.Sprintf("trust policy statement %q: %v", e.Statement, e.Err)
	}
	return fmt.Sprintf("trust policy statement %q: trust store \"%s:%s\": %v", e.Statement, e.Type, e.Name, e.Err)
}

// Unwrap returns both the cause and ErrTrustStore.
func (e *TrustStoreError) Unwrap() []error { return []error{e.Err, ErrTrustStore} }
