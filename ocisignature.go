package signet

import (
	"context"
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// VerifyOCISignature verifies one signature manifest, sig, of the artifact
// subject in t under the trust policy statement for opts.Scope (as
// VerifyOCI verifies each signature it evaluates): for showing the verdict
// of every signature of a referrer graph (signet discover --verify).
// UserMetadata applies; MaxSignatures does not. The Outcome holds that one
// signature; its Verdict is VerdictTrusted when the signature verified,
// VerdictSkipped when the statement's level is skip, VerdictNotTrusted
// otherwise, and says nothing about the statement's artifact-level
// requirements (signet/v1 minSignatures, counterSignatures, tagBinding):
// only VerifyOCI decides whether the artifact is trusted. A signature that
// cannot be fetched or is malformed fails its integrity check; an error is
// returned only when verification could not run (policy, trust store, or a
// verifier failure).
func VerifyOCISignature(ctx context.Context, t ReadTarget, subject, sig ocispec.Descriptor, opts VerifyOCIOptions) (*Outcome, error) {
	stmt, err := opts.statement(ctx)
	if err != nil {
		return nil, err
	}
	out := newOutcome(stmt)
	out.Artifact = subject.Digest.String()
	if stmt.IsSkip() {
		out.Verdict = VerdictSkipped
		return out, nil
	}
	subject = ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	if sig.ArtifactType == registry.MediaTypeSigstoreBundle {
		// A cosign bundle referrer (docs/cosign.md).
		sd := ocispec.Descriptor{MediaType: sig.MediaType, Digest: sig.Digest, Size: sig.Size, ArtifactType: sig.ArtifactType}
		cs := CosignSignature{Source: sig.Digest.String(), Format: verifier.FormatCosignBundle, Descriptor: sd, bundle: &sd}
		res, mediaType, err := verifyCosignSignature(ctx, t, subject, cs, stmt, opts)
		if err != nil {
			return nil, err
		}
		out.add(cs.Source, mediaType, res)
		if res.Err != nil {
			out.Reason = res.Err.Error()
		}
		return out, nil
	}
	fetched, err := registry.FetchSignature(ctx, t, ocispec.Descriptor{MediaType: sig.MediaType, Digest: sig.Digest, Size: sig.Size}, subject)
	if err != nil {
		out.add(sig.Digest.String(), "", &verifier.Result{
			Checks: []verifier.Check{{Type: trustpolicy.Integrity, Action: trustpolicy.ActionEnforce, Status: verifier.StatusFailed, Reason: err.Error()}},
			Err:    &verifier.CheckError{Type: trustpolicy.Integrity, Err: err},
		})
		out.Reason = err.Error()
		return out, nil
	}
	check := func(_ context.Context, target ocispec.Descriptor, _ *signature.Content) error {
		if target.MediaType != subject.MediaType || target.Digest != subject.Digest || target.Size != subject.Size {
			return fmt.Errorf("the signature is for %s (%s, %d bytes), not for the artifact %s (%s, %d bytes)",
				target.Digest, target.MediaType, target.Size, subject.Digest, subject.MediaType, subject.Size)
		}
		return nil
	}
	res, err := opts.Verifier.Verify(ctx, verifier.Input{
		Statement:    stmt,
		MediaType:    fetched.MediaType,
		Envelope:     fetched.Envelope,
		CheckTarget:  check,
		UserMetadata: opts.UserMetadata,
	})
	if err != nil {
		return nil, err
	}
	out.add(sig.Digest.String(), fetched.MediaType, res)
	if res.Err != nil {
		out.Reason = res.Err.Error()
	}
	return out, nil
}
