// Package exitcode maps errors from the signet library to the exit codes
// that signet and signet-containerd-verifier document
// (docs/exit-codes.md). It is the one place both commands classify at the
// edge (STYLE B2.5); each command checks its own error types first.
package exitcode

import (
	"errors"
	"io/fs"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// Exit codes, the same for every command (docs/exit-codes.md).
const (
	OK = 0
	// NotTrusted: verification ran and failed.
	NotTrusted = 1
	// Usage: bad usage, or invalid configuration or input.
	Usage = 2
	// IO: a file, layout, network or registry could not be read/written.
	IO = 3
)

// Of classifies err (not nil): a library error's documented exit code, and
// Usage for an error it does not know.
func Of(err error) int {
	var tse *verifier.TrustStoreError
	switch {
	case errors.As(err, &tse):
		// TS-6: a missing, empty or invalid store the trust policy names
		// is invalid configuration; a store that cannot be read is I/O.
		if TrustStoreContent(err) {
			return Usage
		}
		return IO
	case errors.Is(err, signet.ErrNotTrusted), errors.Is(err, verifier.ErrVerification),
		errors.Is(err, trustpolicy.ErrNoApplicablePolicy):
		return NotTrusted
	case errors.Is(err, signet.ErrIO):
		return IO
	case errors.Is(err, signet.ErrInvalidInput), errors.Is(err, trustpolicy.ErrInvalidPolicy),
		errors.Is(err, trustpolicy.ErrPolicyNotFound):
		return Usage
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return IO
	}
	return Usage
}

// TrustStoreContent reports whether a trust store error is about the
// store's existence or content (invalid configuration), not about reading
// it.
func TrustStoreContent(err error) bool {
	for _, s := range []error{truststore.ErrStoreNotFound, truststore.ErrEmptyStore, truststore.ErrNotRegular,
		truststore.ErrInvalidCertificate, truststore.ErrInvalidStoreName, truststore.ErrInvalidStoreType} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
