package signet

import (
	"context"
	"errors"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/cosign"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// CosignSignature is one cosign signature of an artifact as found in a
// registry or OCI layout, not yet verified: a bundle referrer or one layer
// of the legacy sha256-<hex>.sig manifest.
type CosignSignature struct {
	// Source names it: the referrer manifest's digest, or the legacy tag
	// (with "#<n>" when its manifest holds several signatures).
	Source string
	// Format is verifier.FormatCosignBundle or
	// verifier.FormatCosignSimpleSigning.
	Format string
	// Descriptor is the referrer manifest (bundle form) or the layer
	// (legacy form).
	Descriptor ocispec.Descriptor
	// Exactly one of these is set.
	bundle *ocispec.Descriptor
	legacy *registry.CosignLegacySignature
}

// ListCosignSignatures finds the cosign signatures of subject in t: its
// bundle referrers (at most max; <= 0 means registry.DefaultMaxSignatures)
// and the layers of its legacy signature tag. Errors are I/O errors.
func ListCosignSignatures(ctx context.Context, t ReadTarget, subject ocispec.Descriptor, max int) (sigs []CosignSignature, truncated bool, err error) {
	bundles, truncated, err := registry.ListCosignBundles(ctx, t, subject, max)
	if err != nil {
		return nil, false, err
	}
	for i := range bundles {
		sigs = append(sigs, CosignSignature{Source: bundles[i].Digest.String(), Format: verifier.FormatCosignBundle, Descriptor: bundles[i], bundle: &bundles[i]})
	}
	legacy, err := registry.FetchCosignLegacy(ctx, t, subject)
	if err != nil {
		return nil, false, err
	}
	tag, _ := registry.CosignLegacyTag(subject)
	for i := range legacy {
		src := tag
		if len(legacy) > 1 {
			src = fmt.Sprintf("%s#%d", tag, i)
		}
		sigs = append(sigs, CosignSignature{Source: src, Format: verifier.FormatCosignSimpleSigning, Descriptor: legacy[i].Layer, legacy: &legacy[i]})
	}
	return sigs, truncated, nil
}

// verifyCosign evaluates the cosign signatures of desc in order, adding
// each verdict to out and handing it to next, until next says stop; it
// reports whether next did. Only a statement naming a publickey store looks
// for them.
func verifyCosign(ctx context.Context, t ReadTarget, desc ocispec.Descriptor, stmt *trustpolicy.Statement, opts VerifyOCIOptions, max int, out *Outcome, next func(*SignatureOutcome) (bool, error)) (bool, error) {
	if !stmt.TrustsCosign() {
		return false, nil
	}
	sigs, _, err := ListCosignSignatures(ctx, t, desc, max)
	if err != nil {
		return false, errors.Join(ErrIO, err)
	}
	for _, s := range sigs {
		res, mediaType, err := verifyCosignSignature(ctx, t, desc, s, stmt, opts)
		if err != nil {
			return false, err
		}
		out.add(s.Source, mediaType, res)
		stop, err := next(&out.Signatures[len(out.Signatures)-1])
		if err != nil || stop {
			return stop, err
		}
	}
	return false, nil
}

// verifyCosignSignature fetches (bundle form) and verifies one cosign
// signature; a bundle that cannot be fetched fails its integrity check.
func verifyCosignSignature(ctx context.Context, t ReadTarget, subject ocispec.Descriptor, s CosignSignature, stmt *trustpolicy.Statement, opts VerifyOCIOptions) (*verifier.Result, string, error) {
	in := verifier.CosignInput{Statement: stmt, Digest: subject.Digest.String(), UserMetadata: opts.UserMetadata}
	mediaType := registry.MediaTypeCosignSimpleSigning
	if s.bundle != nil {
		mediaType = registry.MediaTypeSigstoreBundle
		b, err := registry.FetchCosignBundle(ctx, t, *s.bundle, subject)
		if err != nil {
			return &verifier.Result{
				Checks: []verifier.Check{{Type: trustpolicy.Integrity, Action: trustpolicy.ActionEnforce, Status: verifier.StatusFailed, Reason: err.Error()}},
				Err:    &verifier.CheckError{Type: trustpolicy.Integrity, Err: err},
				Cosign: &verifier.CosignInfo{Format: s.Format},
			}, mediaType, nil
		}
		in.Bundle = b
	} else {
		in.Payload, in.Signature, in.RekorBundle = s.legacy.Payload, s.legacy.Signature, s.legacy.RekorBundle
	}
	res, err := opts.Verifier.VerifyCosign(ctx, in)
	return res, mediaType, err
}

// InspectCosign describes one cosign signature of subject without deciding
// trust: the format, what it claims to cover, its key hint and
// transparency log entries. A signature that cannot be fetched or parsed
// yields an Inspection whose Error says why.
func InspectCosign(ctx context.Context, t ReadTarget, subject ocispec.Descriptor, s CosignSignature) *Inspection {
	in := &Inspection{Source: s.Source, Format: s.Format, MediaType: registry.MediaTypeCosignSimpleSigning}
	var sig *cosign.Signature
	var err error
	if s.bundle != nil {
		in.MediaType = registry.MediaTypeSigstoreBundle
		var b []byte
		if b, err = registry.FetchCosignBundle(ctx, t, *s.bundle, subject); err == nil {
			sig, err = cosign.ParseBundle(b)
		}
	} else {
		sig, err = cosign.ParseSimpleSigning(s.legacy.Payload, s.legacy.Signature, s.legacy.RekorBundle)
	}
	if err != nil {
		in.Error = err.Error()
		return in
	}
	d := sig.Describe()
	in.Cosign = &d
	return in
}
