package signet

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// ReadTarget is where OCI artifacts and their signatures are read from: an
// OCI image layout directory or tar archive, or a remote repository.
type ReadTarget interface {
	content.ReadOnlyStorage
	registry.Resolver
	content.PredecessorFinder
}

// Target is a ReadTarget that signatures can be pushed to.
type Target interface {
	ReadTarget
	content.Pusher
}

// resolve resolves reference in t, classifying the failure: content altered
// under its digest means the artifact is not trusted; anything else is I/O.
func resolve(ctx context.Context, t ReadTarget, reference string) (ocispec.Descriptor, error) {
	desc, err := registry.ResolveManifest(ctx, t, reference)
	switch {
	case err == nil:
		return desc, nil
	case errors.Is(err, registry.ErrDigestMismatch):
		return desc, fmt.Errorf("%w: %w", ErrNotTrusted, err)
	default:
		return desc, errors.Join(ErrIO, err)
	}
}

// SignOCIOptions configure SignOCI.
type SignOCIOptions struct {
	SignOptions
	// Form is the signature manifest form; the zero value is the config
	// form that notation v1.3.2 finds in OCI layouts.
	Form registry.ManifestForm
	// Recursive, when the reference is an image index, signs the index and
	// then every manifest it lists (nested indexes included), each with its
	// own signature.
	Recursive bool
	// Platform, when set ("os/arch" or "os/arch/variant"), signs only the
	// manifest of that platform in the index the reference names.
	Platform string
	// BindTag signs the digest the reference (a tag) resolves to with the
	// signed user metadata io.signet.tag=TAG (TagAnnotation), which a
	// statement's tagBinding requires (docs/policy-extensions.md).
	BindTag bool
}

// SignOCI signs the manifest that reference names in t and stores the
// signature as its referrer (§6.1). reference is a digest or a tag; a tag is
// resolved once and the digest is used from then on (SIGN-1, PUSH-5).
func SignOCI(ctx context.Context, t Target, reference string, opts SignOCIOptions) (*Signed, error) {
	if opts.BindTag {
		if isDigestRef(reference) {
			return nil, fmt.Errorf("%w: binding a tag needs a tag reference, not the digest %s", ErrInvalidInput, reference)
		}
		if opts.Recursive || opts.Platform != "" {
			return nil, fmt.Errorf("%w: binding a tag excludes --recursive and --platform", ErrInvalidInput)
		}
		if v, ok := opts.UserMetadata[TagAnnotation]; ok && v != reference {
			return nil, fmt.Errorf("%w: user metadata %s=%s contradicts the tag %s being bound", ErrInvalidInput, TagAnnotation, v, reference)
		}
		md := make(map[string]string, len(opts.UserMetadata)+1)
		for k, v := range opts.UserMetadata {
			md[k] = v
		}
		md[TagAnnotation] = reference
		opts.UserMetadata = md
	}
	desc, err := resolve(ctx, t, reference)
	if err != nil {
		return nil, err
	}
	if opts.Platform != "" {
		if opts.Recursive {
			return nil, fmt.Errorf("%w: --platform and --recursive exclude each other", ErrInvalidInput)
		}
		if desc, err = PlatformManifest(ctx, t, desc, opts.Platform); err != nil {
			return nil, err
		}
	}
	return signTree(ctx, t, desc, opts, 0)
}

// maxIndexDepth bounds nested indexes followed by a recursive signing.
const maxIndexDepth = 8

// signTree signs desc and, with opts.Recursive, every manifest below it.
func signTree(ctx context.Context, t Target, desc ocispec.Descriptor, opts SignOCIOptions, depth int) (*Signed, error) {
	s, err := signDescriptor(ctx, desc, opts.SignOptions)
	if err != nil {
		return nil, err
	}
	m, err := registry.PushSignatureAnnotated(ctx, t, desc, s.MediaType, s.Envelope, s.Chain, s.SigningTime, opts.Form, s.Annotations)
	if err != nil {
		return nil, errors.Join(ErrIO, err)
	}
	s.Manifest = m
	if !opts.Recursive || !isIndex(desc) {
		return s, nil
	}
	if depth >= maxIndexDepth {
		return nil, fmt.Errorf("%w: image indexes nested deeper than %d", ErrInvalidInput, maxIndexDepth)
	}
	idx, err := registry.FetchIndex(ctx, t, desc)
	if err != nil {
		return nil, errors.Join(ErrIO, err)
	}
	for _, child := range idx.Manifests {
		child = ocispec.Descriptor{MediaType: child.MediaType, Digest: child.Digest, Size: child.Size}
		cs, err := signTree(ctx, t, child, opts, depth+1)
		if err != nil {
			return nil, fmt.Errorf("sign %s: %w", child.Digest, err)
		}
		s.Children = append(s.Children, cs)
	}
	return s, nil
}

// isDigestRef reports whether reference names a digest, not a tag.
func isDigestRef(reference string) bool { return strings.Contains(reference, ":") }

func isIndex(d ocispec.Descriptor) bool {
	return d.MediaType == ocispec.MediaTypeImageIndex || d.MediaType == "application/vnd.docker.distribution.manifest.list.v2+json"
}

// PlatformManifest picks the one manifest of the index desc whose platform
// is platform ("os/arch[/variant]"), read through f. A malformed platform,
// a desc that is not an index and an index without that platform wrap
// ErrInvalidInput; a failed read wraps ErrIO.
func PlatformManifest(ctx context.Context, f content.Fetcher, desc ocispec.Descriptor, platform string) (ocispec.Descriptor, error) {
	parts := strings.Split(platform, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return desc, fmt.Errorf("%w: platform %q: want os/arch or os/arch/variant", ErrInvalidInput, platform)
	}
	if !isIndex(desc) {
		return desc, fmt.Errorf("%w: --platform needs an image index, and %s is a %s", ErrInvalidInput, desc.Digest, desc.MediaType)
	}
	idx, err := registry.FetchIndex(ctx, f, desc)
	if err != nil {
		return desc, errors.Join(ErrIO, err)
	}
	var have []string
	for _, m := range idx.Manifests {
		p := m.Platform
		if p == nil {
			continue
		}
		name := p.OS + "/" + p.Architecture
		if p.Variant != "" {
			name += "/" + p.Variant
		}
		have = append(have, name)
		if p.OS == parts[0] && p.Architecture == parts[1] && (len(parts) == 2 || p.Variant == parts[2]) {
			return ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size}, nil
		}
	}
	return desc, fmt.Errorf("%w: the index %s has no manifest for platform %s (it has: %s)", ErrInvalidInput, desc.Digest, platform, strings.Join(have, ", "))
}

// VerifyOCIOptions configure VerifyOCI. Policy and Verifier are required.
type VerifyOCIOptions struct {
	Policy   *trustpolicy.Document
	Verifier *verifier.Verifier
	// Scope is the repository URI (registry/repository) used to select the
	// trust policy statement (SEL-1). Required for OCI layouts.
	Scope string
	// UserMetadata must be present in the signature (PAY-8).
	UserMetadata map[string]string
	// MaxSignatures bounds the signatures evaluated (VER-4); <= 0 means
	// registry.DefaultMaxSignatures. Under counterSignatures it also
	// bounds the counter-signatures listed per signature.
	MaxSignatures int
	// TagBindings keeps the newest accepted tag binding per repository and
	// tag; required when a tag is verified under a statement with
	// tagBinding (docs/policy-extensions.md), unused otherwise.
	TagBindings TagBindingState
}

// statement checks opts, selects the trust policy statement of opts.Scope
// and checks that every trust store it names is usable (TS-6) before any
// signature, or the artifact, is looked at.
func (opts *VerifyOCIOptions) statement(ctx context.Context) (*trustpolicy.Statement, error) {
	if opts.Policy == nil || opts.Verifier == nil {
		return nil, fmt.Errorf("verify: policy and verifier are required")
	}
	stmt, err := opts.Policy.Match(opts.Scope)
	if err != nil {
		return nil, err
	}
	if err := opts.Verifier.CheckTrustStores(ctx, stmt); err != nil {
		return nil, err
	}
	return stmt, nil
}

func (o *VerifyOCIOptions) maxSignatures() int {
	if o.MaxSignatures <= 0 {
		return registry.DefaultMaxSignatures
	}
	return o.MaxSignatures
}

// VerifyOCI verifies the artifact reference names in t (§6.4): it selects
// the statement for opts.Scope, checks that every trust store it names is
// usable (a *verifier.TrustStoreError otherwise, TS-6), lists the
// signatures, and evaluates them in order until one verifies. A signature
// that cannot be fetched or is not a well-formed signature manifest counts
// as a failed signature and the next is tried (the digest's recommendation
// for DISC-6).
//
// Under a "signet/v1" statement with minSignatures, counterSignatures or
// (for a tag reference) tagBinding, evaluation goes on until every
// requirement is met or the signatures run out, and the verdict reports
// each in Outcome.Requirements (docs/policy-extensions.md).
func VerifyOCI(ctx context.Context, t ReadTarget, reference string, opts VerifyOCIOptions) (*Outcome, error) {
	stmt, err := opts.statement(ctx)
	if err != nil {
		return nil, err
	}
	ext := newExtEval(stmt, &opts, reference)
	if ext != nil {
		if err := ext.checkStores(ctx); err != nil {
			return nil, err
		}
		if ext.tag != "" && opts.TagBindings == nil {
			return nil, fmt.Errorf("%w: trust policy statement %q has tagBinding, and no tag binding state was configured to verify a tag with", ErrInvalidInput, stmt.Name)
		}
	}
	out := newOutcome(stmt)
	desc, err := resolve(ctx, t, reference)
	if err != nil {
		return nil, err
	}
	out.Artifact = desc.Digest.String()
	if stmt.IsSkip() {
		out.Verdict = VerdictSkipped
		return out, nil
	}
	max := opts.maxSignatures()
	sigs, truncated, err := registry.ListSignatures(ctx, t, desc, max)
	if err != nil {
		return nil, errors.Join(ErrIO, err)
	}
	check := func(_ context.Context, target ocispec.Descriptor, _ *signature.Content) error {
		if target.MediaType != desc.MediaType || target.Digest != desc.Digest || target.Size != desc.Size {
			return fmt.Errorf("the signature is for %s (%s, %d bytes), not for the artifact %s (%s, %d bytes)",
				target.Digest, target.MediaType, target.Size, desc.Digest, desc.MediaType, desc.Size)
		}
		return nil
	}
	for _, sd := range sigs {
		sig, err := registry.FetchSignature(ctx, t, sd, desc)
		if err != nil {
			out.add(sd.Digest.String(), "", &verifier.Result{
				Checks: []verifier.Check{{Type: trustpolicy.Integrity, Action: trustpolicy.ActionEnforce, Status: verifier.StatusFailed, Reason: err.Error()}},
				Err:    &verifier.CheckError{Type: trustpolicy.Integrity, Err: err},
			})
			continue
		}
		res, err := opts.Verifier.Verify(ctx, verifier.Input{
			Statement:    stmt,
			MediaType:    sig.MediaType,
			Envelope:     sig.Envelope,
			CheckTarget:  check,
			UserMetadata: opts.UserMetadata,
		})
		if err != nil {
			return nil, err
		}
		out.add(sd.Digest.String(), sig.MediaType, res)
		if ext == nil {
			if res.Verified {
				return out, nil
			}
			continue
		}
		if err := ext.consider(ctx, t, sd, &out.Signatures[len(out.Signatures)-1]); err != nil {
			return nil, err
		}
		if ext.done() {
			break
		}
	}
	// cosign signatures, when the statement names a publickey store
	// (signet/v1, docs/cosign.md): they count like Notary ones.
	if ext == nil || !ext.done() {
		stop, err := verifyCosign(ctx, t, desc, stmt, opts, max, out, func(so *SignatureOutcome) (bool, error) {
			if ext == nil {
				return so.Verified, nil
			}
			if err := ext.consider(ctx, t, ocispec.Descriptor{}, so); err != nil {
				return false, err
			}
			return ext.done(), nil
		})
		if err != nil {
			return nil, err
		}
		if stop && ext == nil {
			return out, nil
		}
	}
	if ext != nil && len(out.Signatures) > 0 {
		return out, ext.finish(ctx, out, truncated, max)
	}
	if truncated && out.Verdict == VerdictNotTrusted {
		out.Reason = fmt.Sprintf("signature evaluation stopped: the configured limit of %d signatures to verify per artifact was exceeded", max)
		return out, fmt.Errorf("%w: %w: %s", ErrNotTrusted, ErrSignatureLimit, out.Reason)
	}
	return out, out.err()
}
