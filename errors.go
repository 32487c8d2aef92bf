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
	// ErrSignatureLimit: every signature evaluated failed and more were
	// listed than the configured limit allows (VER-4); raising the limit
	// may find one that verifies. Wrapped together with ErrNotTrusted.
	ErrSignatureLimit = errors.New("signature evaluation stopped at the configured limit")
	// ErrInvalidInput: the caller's input is unusable (bad flag values,
	// unsupported media type, reserved metadata key).
	ErrInvalidInput = errors.New("invalid input")
)

// ErrVerification is re-exported for callers that do not import verifier.
var ErrVerification = verifier.ErrVerification

// ErrIO: reading a file, a layout or a registry failed; the verdict could
// not be reached.
var ErrIO = errors.New("i/o failure")
