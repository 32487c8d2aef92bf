package signet

import (
	"errors"

	"github.com/signet-dev/signet/verifier"
)

// Sentinel errors that callers classify with errors.Is.
var (
	// ErrNotTrusted: verification ran and the artifact is not trusted
	// (wraps verifier.ErrVerification where a signature failed).
	ErrNotTrusted = errors.New("artifact is not trusted")
	// ErrNoSignature: no signature is associated with the artifact.
	ErrNoSignature = errors.New("no signature is associated with the artifact")
	// ErrInvalidInput: the caller's input is unusable (bad flag values,
	// unsupported media type, reserved metadata key).
	ErrInvalidInput = errors.New("invalid input")
)

// ErrVerification is re-exported for callers that do not import verifier.
var ErrVerification = verifier.ErrVerification

// ErrIO: reading a file, a layout or a registry failed; the verdict could
// not be reached.
var ErrIO = errors.New("i/o failure")
