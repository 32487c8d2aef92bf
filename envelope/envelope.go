// Package envelope encodes and decodes Notary Project signature envelopes
// and enforces the rules every format shares. Format packages (jws, cose)
// do encoding only; Sign and Open in this package wrap them with the
// specification's checks (STYLE B2.10).
package envelope

import (
	"context"

	"github.com/signet-dev/signet/signature"
)

// MaxEnvelopeBytes bounds an envelope we decode: 32 MiB, the limit the
// reference applies to a signature blob fetched from a registry (§0.5).
const MaxEnvelopeBytes = 32 << 20

// Format is one envelope encoding.
type Format interface {
	// MediaType is the envelope media type, e.g. application/jose+json.
	MediaType() string
	// Encode produces an envelope for req, calling req.Signer.Sign once.
	// It checks nothing beyond what encoding needs; use Sign.
	Encode(ctx context.Context, req *signature.SignRequest) ([]byte, error)
	// Decode parses raw, enforcing the format's encoding rules, and
	// verifies the primitive signature with the leaf certificate's key under
	// the algorithm the envelope names. Use Open.
	Decode(raw []byte) (*signature.Content, error)
}
