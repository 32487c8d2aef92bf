package envelope

import "errors"

// ErrUnsupportedFormat is wrapped by ForMediaType and ForSignatureFile when
// the envelope format is not JWS or COSE (DISC-4, BLOB-2).
var ErrUnsupportedFormat = errors.New("unsupported signature envelope format")
