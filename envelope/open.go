package envelope

import (
	"errors"
	"fmt"
	"time"

	"github.com/signet-dev/signet/signature"
)

// Open decodes raw with format f, verifies its primitive signature and
// applies the checks every format shares (§2.3, ATTR-1..7, ALG-2, §3.2
// without time checks). A returned Content is cryptographically verified
// and well formed; whether it is trusted is the verifier's business.
//
// Every failure is, or wraps, a *signature.EnvelopeError naming the rule
// broken, so callers can classify it as an integrity failure.
//
// Unknown critical extended attributes are returned, not rejected, in
// Content.Signed.ExtendedAttributes with Critical set: a verification
// plugin may process them, so failing on them (ATTR-3) is the verifier's
// job. Scheme-specific time attributes (ATTR-5: which of signingTime and
// authenticSigningTime must be present or absent) are enforced by the
// formats, since Content holds only the one that applies.
func Open(f Format, raw []byte) (*signature.Content, error) {
	if f == nil {
		return nil, &signature.EnvelopeError{Msg: "no envelope format"}
	}
	if len(raw) == 0 {
		return nil, &signature.EnvelopeError{Rule: "§2.3", Msg: "envelope is empty"}
	}
	if len(raw) > MaxEnvelopeBytes {
		return nil, &signature.EnvelopeError{Rule: "§2.3", Msg: fmt.Sprintf("envelope is %d bytes, over the limit of %d", len(raw), MaxEnvelopeBytes)}
	}
	c, err := f.Decode(raw)
	if err != nil {
		var ee *signature.EnvelopeError
		if errors.As(err, &ee) {
			return nil, err
		}
		return nil, &signature.EnvelopeError{Msg: "decode " + f.MediaType(), Err: err}
	}
	if err := checkContent(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkContent applies the format-independent rules to decoded content.
func checkContent(c *signature.Content) error {
	if c == nil {
		return &signature.EnvelopeError{Msg: "format returned no content"}
	}
	switch c.Signed.SigningScheme {
	case signature.SchemeX509, signature.SchemeX509SigningAuthority:
	default:
		return &signature.EnvelopeError{Rule: "ATTR-1", Msg: fmt.Sprintf("unsupported signing scheme %q", c.Signed.SigningScheme)}
	}
	if c.Signed.SigningTime.IsZero() {
		return &signature.EnvelopeError{Rule: "ATTR-5", Msg: "signing time is missing"}
	}
	if !c.Signed.Expiry.IsZero() && !c.Signed.Expiry.After(c.Signed.SigningTime) {
		return &signature.EnvelopeError{Rule: "ATTR-5", Msg: fmt.Sprintf("expiry %s cannot be equal to or before the signing time %s",
			c.Signed.Expiry.Format(time.RFC3339), c.Signed.SigningTime.Format(time.RFC3339))}
	}
	if c.PayloadContentType != signature.MediaTypePayloadV1 {
		return &signature.EnvelopeError{Rule: "§2.3", Msg: fmt.Sprintf("payload content type %q is not %s", c.PayloadContentType, signature.MediaTypePayloadV1)}
	}
	if len(c.Payload) == 0 {
		return &signature.EnvelopeError{Rule: "§2.3", Msg: "payload is empty"}
	}
	if len(c.Signature) == 0 {
		return &signature.EnvelopeError{Rule: "§2.3", Msg: "signature is empty"}
	}
	if len(c.CertificateChain) == 0 {
		return &signature.EnvelopeError{Rule: "UATTR-1", Msg: "certificate chain is missing"}
	}
	ks, err := signature.KeySpecFromCertificate(c.CertificateChain[0])
	if err != nil {
		return &signature.EnvelopeError{Rule: "ALG-3", Msg: "signing certificate key is not allowed", Err: err}
	}
	if want := ks.Algorithm(); c.Algorithm != want {
		return &signature.EnvelopeError{Rule: "ALG-2", Msg: fmt.Sprintf("envelope algorithm %s does not match the algorithm %s bound to the signing certificate's %s key",
			c.Algorithm, want, ks)}
	}
	if err := signature.ValidateCodeSigningChain(c.CertificateChain, time.Time{}); err != nil {
		rule := ""
		var ce *signature.ChainError
		if errors.As(err, &ce) {
			rule = ce.Rule
		}
		return &signature.EnvelopeError{Rule: rule, Msg: "certificate chain", Err: err}
	}
	return nil
}
