package signet

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// CounterSignOCIOptions configure CounterSignOCI.
type CounterSignOCIOptions struct {
	// Sign is how each counter-signature is made and stored; Recursive,
	// Platform and BindTag must be unset.
	Sign SignOCIOptions
	// Policy and Verifier decide which signatures are accepted: those that
	// verify under the statement selected for Scope (SEL-1) and whose
	// signer matches its trusted identities. Required.
	Policy   *trustpolicy.Document
	Verifier *verifier.Verifier
	Scope    string
	// Signature, when set, is the digest of the one signature to
	// counter-sign; it must be an accepted signature of the artifact.
	Signature string
	// MaxSignatures bounds the signatures listed; <= 0 means
	// registry.DefaultMaxSignatures.
	MaxSignatures int
}

// CounterSigned is one counter-signature made by CounterSignOCI.
type CounterSigned struct {
	// On is the signature manifest counter-signed.
	On ocispec.Descriptor
	*Signed
}

// CounterSignOCI counter-signs the signatures of the artifact reference
// names in t: every signature the trust policy accepts, or only
// opts.Signature. A counter-signature is an ordinary signature whose
// subject (and payload target) is the signature manifest
// (docs/policy-extensions.md). It returns ErrNotTrusted when no signature
// is accepted, ErrInvalidInput when opts.Signature is not an accepted
// signature of the artifact.
func CounterSignOCI(ctx context.Context, t Target, reference string, opts CounterSignOCIOptions) ([]CounterSigned, error) {
	if opts.Policy == nil || opts.Verifier == nil {
		return nil, fmt.Errorf("counter-sign: policy and verifier are required")
	}
	if opts.Sign.Recursive || opts.Sign.Platform != "" || opts.Sign.BindTag {
		return nil, fmt.Errorf("%w: a counter-signature excludes --recursive, --platform and --bind-tag", ErrInvalidInput)
	}
	stmt, err := opts.Policy.Match(opts.Scope)
	if err != nil {
		return nil, err
	}
	if stmt.IsSkip() {
		return nil, fmt.Errorf("%w: trust policy statement %q skips verification, so no signature of %s is accepted to counter-sign", ErrInvalidInput, stmt.Name, reference)
	}
	if err := opts.Verifier.CheckTrustStores(ctx, stmt); err != nil {
		return nil, err
	}
	desc, err := resolve(ctx, t, reference)
	if err != nil {
		return nil, err
	}
	max := opts.MaxSignatures
	if max <= 0 {
		max = registry.DefaultMaxSignatures
	}
	sigs, _, err := registry.ListSignatures(ctx, t, desc, max)
	if err != nil {
		return nil, errors.Join(ErrIO, err)
	}
	check := func(_ context.Context, target ocispec.Descriptor, _ *signature.Content) error {
		if target.MediaType != desc.MediaType || target.Digest != desc.Digest || target.Size != desc.Size {
			return fmt.Errorf("the signature is for %s, not for %s", target.Digest, desc.Digest)
		}
		return nil
	}
	var todo []ocispec.Descriptor
	var why []string
	found := false
	for _, sd := range sigs {
		if opts.Signature != "" && sd.Digest.String() != opts.Signature {
			continue
		}
		found = true
		sig, err := registry.FetchSignature(ctx, t, sd, desc)
		if err != nil {
			why = append(why, fmt.Sprintf("%s: %v", sd.Digest, err))
			continue
		}
		res, err := opts.Verifier.Verify(ctx, verifier.Input{Statement: stmt, MediaType: sig.MediaType, Envelope: sig.Envelope, CheckTarget: check})
		if err != nil {
			return nil, err
		}
		if err := accepted(stmt.TrustedIdentities, res); err != nil {
			if res.Err != nil {
				err = res.Err
			}
			why = append(why, fmt.Sprintf("%s: %v", sd.Digest, err))
			continue
		}
		todo = append(todo, ocispec.Descriptor{MediaType: sd.MediaType, Digest: sd.Digest, Size: sd.Size})
	}
	switch {
	case opts.Signature != "" && !found:
		return nil, fmt.Errorf("%w: %s is not a signature of %s", ErrInvalidInput, opts.Signature, desc.Digest)
	case len(todo) == 0 && opts.Signature != "":
		return nil, fmt.Errorf("%w: signature %s is not accepted by trust policy statement %q: %s", ErrInvalidInput, opts.Signature, stmt.Name, why[0])
	case len(todo) == 0 && len(sigs) == 0:
		return nil, fmt.Errorf("%w: %w", ErrNotTrusted, ErrNoSignature)
	case len(todo) == 0:
		return nil, fmt.Errorf("%w: no signature of %s is accepted by trust policy statement %q to counter-sign (the first: %s)", ErrNotTrusted, desc.Digest, stmt.Name, why[0])
	}
	var out []CounterSigned
	for _, sd := range todo {
		s, err := signTree(ctx, t, sd, opts.Sign, 0)
		if err != nil {
			return out, fmt.Errorf("counter-sign %s: %w", sd.Digest, err)
		}
		out = append(out, CounterSigned{On: sd, Signed: s})
	}
	return out, nil
}
