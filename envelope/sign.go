package envelope

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/signet-dev/signet/signature"
)

// ErrInvalidRequest is wrapped by Sign when the sign request itself is
// unusable (as opposed to a failing signer or chain).
var ErrInvalidRequest = errors.New("invalid sign request")

// Sign produces an envelope in format f (SIGN-3, SIGN-4, SIGN-6). It
// fills the defaults of req on a copy (content type MediaTypePayloadV1,
// scheme notary.x509), checks the request, checks the signer's chain
// against §3.2 at the signing time and that the leaf key matches the
// signer's key spec, encodes, and finally re-opens the result with Open so
// that it never returns an envelope a verifier would reject.
//
// req is not modified. Times must already be whole seconds (ATTR-6):
// truncating is the caller's job, a fraction is an error.
func Sign(ctx context.Context, f Format, req *signature.SignRequest) ([]byte, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: no envelope format", ErrInvalidRequest)
	}
	if req == nil {
		return nil, fmt.Errorf("%w: request is nil", ErrInvalidRequest)
	}
	r := *req
	if r.PayloadContentType == "" {
		r.PayloadContentType = signature.MediaTypePayloadV1
	}
	if r.SigningScheme == "" {
		r.SigningScheme = signature.SchemeX509
	}
	if err := checkRequest(&r); err != nil {
		return nil, err
	}
	ks, err := r.Signer.KeySpec(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing key spec: %w", err)
	}
	if ks.Algorithm() == 0 {
		return nil, fmt.Errorf("signing key: %w: %s", signature.ErrUnsupportedKey, ks)
	}
	raw, err := f.Encode(ctx, &r)
	if err != nil {
		return nil, err
	}
	// The chain is checked after encoding: a plugin signer knows its chain
	// only once it has signed (nothing leaves this function unchecked).
	chain, err := r.Signer.CertificateChain(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing certificate chain: %w", err)
	}
	if err := signature.ValidateCodeSigningChain(chain, r.SigningTime); err != nil {
		return nil, fmt.Errorf("signing certificate chain: %w", err)
	}
	leaf, err := signature.KeySpecFromCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	if leaf != ks {
		return nil, fmt.Errorf("signing key spec %s does not match the signing certificate's key %s (ALG-2)", ks, leaf)
	}
	if len(raw) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("generated signature is %d bytes, over the limit of %d", len(raw), MaxEnvelopeBytes)
	}
	if _, err := Open(f, raw); err != nil {
		return nil, fmt.Errorf("generated signature failed verification: %w", err)
	}
	return raw, nil
}

// checkRequest checks what Sign can see without the signer (ATTR-4..6).
func checkRequest(r *signature.SignRequest) error {
	if r.Signer == nil {
		return fmt.Errorf("%w: no signer", ErrInvalidRequest)
	}
	if len(r.Payload) == 0 {
		return fmt.Errorf("%w: payload is empty", ErrInvalidRequest)
	}
	if r.PayloadContentType != signature.MediaTypePayloadV1 {
		return fmt.Errorf("%w: payload content type %q is not %s", ErrInvalidRequest, r.PayloadContentType, signature.MediaTypePayloadV1)
	}
	switch r.SigningScheme {
	case signature.SchemeX509, signature.SchemeX509SigningAuthority:
	default:
		return fmt.Errorf("%w: unsupported signing scheme %q (ATTR-1)", ErrInvalidRequest, r.SigningScheme)
	}
	if r.SigningTime.IsZero() {
		return fmt.Errorf("%w: signing time is not set", ErrInvalidRequest)
	}
	if !wholeSeconds(r.SigningTime) {
		return fmt.Errorf("%w: signing time %s has a fractional second (ATTR-6)", ErrInvalidRequest, r.SigningTime.Format(time.RFC3339Nano))
	}
	if !r.Expiry.IsZero() {
		if !wholeSeconds(r.Expiry) {
			return fmt.Errorf("%w: expiry %s has a fractional second (ATTR-6)", ErrInvalidRequest, r.Expiry.Format(time.RFC3339Nano))
		}
		if !r.Expiry.After(r.SigningTime) {
			return fmt.Errorf("%w: expiry %s must be after the signing time %s (ATTR-5)", ErrInvalidRequest,
				r.Expiry.Format(time.RFC3339), r.SigningTime.Format(time.RFC3339))
		}
	}
	seen := make(map[string]bool, len(r.ExtendedSignedAttributes))
	for _, a := range r.ExtendedSignedAttributes {
		switch a.Key {
		case "":
			return fmt.Errorf("%w: extended attribute with an empty name", ErrInvalidRequest)
		case signature.HeaderSigningScheme, signature.HeaderSigningTime, signature.HeaderAuthenticSigningTime,
			signature.HeaderExpiry, signature.HeaderTimestampSignature, signature.HeaderSigningAgent:
			return fmt.Errorf("%w: extended attribute %q is a reserved attribute name", ErrInvalidRequest, a.Key)
		case signature.HeaderVerificationPlugin, signature.HeaderVerificationPluginMinVersion:
			// §1.2: both are critical and carry a string.
			if !a.Critical {
				return fmt.Errorf("%w: extended attribute %q must be critical", ErrInvalidRequest, a.Key)
			}
			if s, ok := a.Value.(string); !ok || s == "" {
				return fmt.Errorf("%w: extended attribute %q must be a non-empty string", ErrInvalidRequest, a.Key)
			}
		}
		if seen[a.Key] {
			return fmt.Errorf("%w: extended attribute %q is repeated", ErrInvalidRequest, a.Key)
		}
		seen[a.Key] = true
	}
	return nil
}

func wholeSeconds(t time.Time) bool { return t.Nanosecond() == 0 }
