package envelope

import (
	"errors"
	"fmt"
)

// TimestampAdder is implemented by formats that can embed an RFC 3161
// timestamp token into an envelope after signing. The token goes in the
// unprotected header, so the signature is untouched.
type TimestampAdder interface {
	// AddTimestamp returns raw with token set as the unsigned attribute
	// io.cncf.notary.timestampSignature, replacing any previous one.
	AddTimestamp(raw, token []byte) ([]byte, error)
}

// AddTimestamp embeds token, a DER TimeStampToken over the envelope's
// primitive signature (Content.Signature), into raw (SIGN-5, UATTR-2). It
// opens raw first and the result afterwards, so it never returns an
// envelope that Open rejects. The token itself is not checked here: that is
// the timestamping client's and the verifier's job.
func AddTimestamp(f Format, raw, token []byte) ([]byte, error) {
	if len(token) == 0 {
		return nil, errors.New("add timestamp: token is empty")
	}
	ta, ok := f.(TimestampAdder)
	if !ok {
		return nil, fmt.Errorf("add timestamp: format %T cannot embed a timestamp", f)
	}
	if _, err := Open(f, raw); err != nil {
		return nil, fmt.Errorf("add timestamp: %w", err)
	}
	out, err := ta.AddTimestamp(raw, token)
	if err != nil {
		return nil, fmt.Errorf("add timestamp: %w", err)
	}
	if len(out) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("add timestamp: envelope is %d bytes, over the limit of %d", len(out), MaxEnvelopeBytes)
	}
	if _, err := Open(f, out); err != nil {
		return nil, fmt.Errorf("add timestamp: timestamped envelope failed verification: %w", err)
	}
	return out, nil
}
