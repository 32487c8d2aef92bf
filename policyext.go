package signet

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// This file evaluates the verification members of a "signet/v1" trust
// policy statement (docs/policy-extensions.md): minSignatures,
// counterSignatures and tagBinding. Without them VerifyOCI stops at the
// first signature that verifies (VER-4, VER-5).

// TagAnnotation is the signed user metadata key that binds a signature to
// a tag: `signet sign --bind-tag REPO:TAG`, or notation's `--user-metadata
// io.signet.tag=TAG`.
const TagAnnotation = "io.signet.tag"

// Errors of the extension members, each wrapped with ErrNotTrusted.
var (
	// ErrTooFewSignatures: fewer than minSignatures distinct trusted keys
	// signed.
	ErrTooFewSignatures = errors.New("too few signatures by distinct trusted keys")
	// ErrCounterSignatureMissing: a counterSignatures entry is satisfied by
	// no counter-signature on an accepted signature.
	ErrCounterSignatureMissing = errors.New("a required counter-signature is missing")
	// ErrTagNotBound: no trusted signature of the digest binds the tag.
	ErrTagNotBound = errors.New("the tag is not bound to the artifact by a trusted signature")
	// ErrTagBindingExpired: the newest binding is older than maxAge (the
	// registry may be freezing the tag).
	ErrTagBindingExpired = errors.New("the tag binding is older than its maximum age")
	// ErrTagRollback: the binding is older than one already accepted for
	// another digest.
	ErrTagRollback = errors.New("the tag was rolled back to an older binding")
)

// Requirements reports the extension members of the statement and whether
// each was met. Its JSON form is documented in docs/json.md.
type Requirements struct {
	MinSignatures     *MinSignaturesResult     `json:"minSignatures,omitempty"`
	CounterSignatures []CounterSignatureResult `json:"counterSignatures,omitempty"`
	TagBinding        *TagBindingResult        `json:"tagBinding,omitempty"`
}

// MinSignaturesResult is k-of-n: Counted distinct trusted keys of Required.
type MinSignaturesResult struct {
	Required int  `json:"required"`
	Counted  int  `json:"counted"`
	Met      bool `json:"met"`
}

// CounterSignatureResult is one counterSignatures entry.
type CounterSignatureResult struct {
	Name string `json:"name"`
	Met  bool   `json:"met"`
	// CounterSignature is the counter-signature manifest that satisfied
	// the entry, On the signature it counter-signs, Signer its signer.
	CounterSignature string `json:"counterSignature,omitempty"`
	On               string `json:"on,omitempty"`
	Signer           string `json:"signer,omitempty"`
}

// TagBindingResult is the tagBinding check of a verified tag.
type TagBindingResult struct {
	Tag    string `json:"tag"`
	MaxAge string `json:"maxAge"`
	Met    bool   `json:"met"`
	// BoundBy is the newest binding signature, BindingTime its time (the
	// verified timestamp when it has one, else its signing time), Age its
	// age at verification.
	BoundBy     string     `json:"boundBy,omitempty"`
	BindingTime *time.Time `json:"bindingTime,omitempty"`
	Age         string     `json:"age,omitempty"`
	// Previous is the newest binding accepted before for this repository
	// and tag, when one is recorded.
	Previous *TagBindingRecord `json:"previous,omitempty"`
	Reason   string            `json:"reason,omitempty"`
}

// extEval is the state of one verification under extension members.
type extEval struct {
	stmt     *trustpolicy.Statement
	opts     *VerifyOCIOptions
	scope    string
	tag      string // "" when the reference is a digest
	required int
	// keys maps each counted key to the signature that counted it.
	keys    map[string]string
	counted int
	// satisfied per counterSignatures entry, by index.
	csResults []CounterSignatureResult
	csStmts   []*trustpolicy.Statement
	// newest tag binding seen on an accepted signature.
	bindBy   string
	bindTime time.Time
	// future counts bindings dated after now + maxClockSkew, ignored.
	future int
}

// maxClockSkew is how far in the future a tag binding may be dated and
// still count. A binding dated later is ignored: accepted, it would make
// every later binding look like a rollback until its time came.
const maxClockSkew = 5 * time.Minute

func (e *extEval) now() time.Time {
	if e.opts.Verifier.Now != nil {
		return e.opts.Verifier.Now()
	}
	return time.Now()
}

// newExtEval returns nil when the statement needs nothing beyond the first
// signature that verifies.
func newExtEval(stmt *trustpolicy.Statement, opts *VerifyOCIOptions, reference string) *extEval {
	tag := ""
	if !isDigestRef(reference) {
		tag = reference
	}
	if stmt.RequiredSignatures() <= 1 && len(stmt.CounterSignatures) == 0 && (stmt.TagBinding == nil || tag == "") {
		return nil
	}
	e := &extEval{stmt: stmt, opts: opts, scope: opts.Scope, required: stmt.RequiredSignatures(), keys: map[string]string{}}
	if stmt.TagBinding != nil {
		e.tag = tag
	}
	for _, c := range stmt.CounterSignatures {
		e.csResults = append(e.csResults, CounterSignatureResult{Name: c.Name})
		e.csStmts = append(e.csStmts, counterStatement(stmt, c))
	}
	return e
}

// counterStatement is the statement a counter-signature of entry c is
// verified with: the statement's level, overrides and verifyTimestamp, the
// entry's stores and identities, and the statement's tsa stores when the
// entry lists none.
func counterStatement(stmt *trustpolicy.Statement, c trustpolicy.CounterSignature) *trustpolicy.Statement {
	cs := &trustpolicy.Statement{
		Name:                  stmt.Name + " counter-signer " + c.Name,
		SignatureVerification: stmt.SignatureVerification,
		TrustStores:           append([]string(nil), c.TrustStores...),
		TrustedIdentities:     c.TrustedIdentities,
	}
	if len(cs.StoresOfType(trustpolicy.StoreTSA)) == 0 {
		for _, name := range stmt.StoresOfType(trustpolicy.StoreTSA) {
			cs.TrustStores = append(cs.TrustStores, trustpolicy.StoreTSA+":"+name)
		}
	}
	return cs
}

// checkStores is TS-6 for the counter-signers' stores.
func (e *extEval) checkStores(ctx context.Context) error {
	for _, cs := range e.csStmts {
		if err := e.opts.Verifier.CheckTrustStores(ctx, cs); err != nil {
			return err
		}
	}
	return nil
}

// KeyID names a signing key: "sha256:" and the hex SHA-256 of the leaf
// certificate's SubjectPublicKeyInfo. Two certificates for one key have
// the same KeyID.
func KeyID(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// accepted reports whether a verified signature is accepted for the
// extension members: its leaf matches the statement's trusted identities
// (authenticity passed, which includes the identity, or the identity
// matches on its own at levels that only log authenticity).
func accepted(identities []string, res *verifier.Result) error {
	if !res.Verified {
		return errors.New("it did not verify")
	}
	for _, c := range res.Checks {
		if c.Type == trustpolicy.Authenticity && c.Status == verifier.StatusPassed {
			return nil
		}
	}
	if res.Content == nil || len(res.Content.CertificateChain) == 0 {
		return errors.New("it has no signing certificate")
	}
	if err := trustpolicy.MatchIdentities(identities, res.Content.CertificateChain[0]); err != nil {
		return fmt.Errorf("its signer is not a trusted identity: %w", err)
	}
	return nil
}

// consider records what one evaluated signature contributes.
func (e *extEval) consider(ctx context.Context, t ReadTarget, sd ocispec.Descriptor, so *SignatureOutcome) error {
	res := so.result
	if err := accepted(e.stmt.TrustedIdentities, res); err != nil {
		so.NotCounted = "not counted: " + err.Error()
		return nil
	}
	var key string
	if ci := res.Cosign; ci != nil && ci.Key != nil {
		key = "sha256:" + ci.Key.Fingerprint() // the same SPKI hash as KeyID
	} else {
		key = KeyID(res.Content.CertificateChain[0])
	}
	so.KeyID = key
	if prev, dup := e.keys[key]; dup {
		so.NotCounted = "not counted: the same signing key as signature " + prev + " (one key counts once)"
	} else {
		e.keys[key] = so.Source
		e.counted++
		so.Counted = true
	}
	if e.tag != "" && res.Payload != nil && res.Payload.TargetArtifact.Annotations[TagAnnotation] == e.tag {
		so.BindsTag = e.tag
		bt := res.Content.Signed.SigningTime
		if res.Timestamp != nil {
			bt = res.Timestamp.GenTime
		}
		switch {
		case bt.After(e.now().Add(maxClockSkew)):
			e.future++
			so.BindsTag = ""
			so.TagBindingIgnored = fmt.Sprintf("its binding of tag %q is dated %s, in the future: ignored", e.tag, bt.UTC().Format(time.RFC3339))
		case e.bindBy == "" || bt.After(e.bindTime):
			e.bindBy, e.bindTime = so.Source, bt.UTC()
		}
	}
	if e.allCounterSigned() || res.Cosign != nil {
		// Counter-signatures are Notary Project signatures of a Notary
		// Project signature manifest.
		return nil
	}
	return e.counterSignatures(ctx, t, sd, so)
}

func (e *extEval) allCounterSigned() bool {
	for _, r := range e.csResults {
		if !r.Met {
			return false
		}
	}
	return true
}

// counterSignatures verifies the counter-signatures of the accepted
// signature sd against every entry not yet satisfied.
func (e *extEval) counterSignatures(ctx context.Context, t ReadTarget, sd ocispec.Descriptor, so *SignatureOutcome) error {
	subject := ocispec.Descriptor{MediaType: sd.MediaType, Digest: sd.Digest, Size: sd.Size}
	cds, _, err := registry.ListSignatures(ctx, t, subject, e.opts.maxSignatures())
	if err != nil {
		return errors.Join(ErrIO, err)
	}
	check := func(_ context.Context, target ocispec.Descriptor, _ *signature.Content) error {
		if target.MediaType != subject.MediaType || target.Digest != subject.Digest || target.Size != subject.Size {
			return fmt.Errorf("the counter-signature is for %s (%s, %d bytes), not for the signature %s (%s, %d bytes)",
				target.Digest, target.MediaType, target.Size, subject.Digest, subject.MediaType, subject.Size)
		}
		return nil
	}
	for _, cd := range cds {
		if e.allCounterSigned() {
			return nil
		}
		sig, err := registry.FetchSignature(ctx, t, cd, subject)
		if err != nil {
			so.CounterSignatures = append(so.CounterSignatures, failedFetch(cd.Digest.String(), err))
			continue
		}
		var cso *SignatureOutcome
		var why []string
		for i, cs := range e.csStmts {
			if e.csResults[i].Met {
				continue
			}
			res, err := e.opts.Verifier.Verify(ctx, verifier.Input{Statement: cs, MediaType: sig.MediaType, Envelope: sig.Envelope, CheckTarget: check})
			if err != nil {
				return err
			}
			o := newSignatureOutcome(cd.Digest.String(), sig.MediaType, res)
			if err := accepted(cs.TrustedIdentities, res); err != nil {
				if res.Err != nil {
					err = res.Err
				}
				why = append(why, fmt.Sprintf("%s: %v", e.csResults[i].Name, err))
				if cso == nil {
					cso = &o
				}
				continue
			}
			if cso == nil || !cso.Verified || len(cso.Satisfies) == 0 {
				cso = &o
			}
			cso.Satisfies = append(cso.Satisfies, e.csResults[i].Name)
			e.csResults[i] = CounterSignatureResult{Name: e.csResults[i].Name, Met: true, CounterSignature: cd.Digest.String(), On: so.Source, Signer: o.Signer}
		}
		if cso == nil {
			continue // every entry was already met
		}
		if len(cso.Satisfies) == 0 {
			cso.NotCounted = "satisfies no counterSignatures entry: " + strings.Join(why, "; ")
		}
		so.CounterSignatures = append(so.CounterSignatures, *cso)
	}
	return nil
}

func failedFetch(source string, err error) SignatureOutcome {
	return newSignatureOutcome(source, "", &verifier.Result{
		Checks: []verifier.Check{{Type: trustpolicy.Integrity, Action: trustpolicy.ActionEnforce, Status: verifier.StatusFailed, Reason: err.Error()}},
		Err:    &verifier.CheckError{Type: trustpolicy.Integrity, Err: err},
	})
}

// done reports whether evaluation may stop: K keys counted, every
// counter-signer satisfied, and no tag binding to find (the newest binding
// needs every signature).
func (e *extEval) done() bool {
	return e.counted >= e.required && e.allCounterSigned() && e.tag == ""
}

// finish decides the verdict from the requirements.
func (e *extEval) finish(ctx context.Context, out *Outcome, truncated bool, max int) error {
	req := &Requirements{}
	out.Requirements = req
	var errs []error
	var reasons []string
	fail := func(sentinel error, msg string) {
		errs = append(errs, sentinel)
		reasons = append(reasons, msg)
	}
	if e.required > 1 {
		req.MinSignatures = &MinSignaturesResult{Required: e.required, Counted: e.counted, Met: e.counted >= e.required}
	}
	if e.counted < e.required {
		msg := fmt.Sprintf("%d of the required %d signatures by distinct trusted signing keys verified", e.counted, e.required)
		if e.required == 1 {
			msg = "no signature by a trusted signing key verified"
		}
		if truncated {
			msg += fmt.Sprintf(" (evaluation stopped at the limit of %d signatures)", max)
		}
		fail(ErrTooFewSignatures, msg)
	}
	req.CounterSignatures = e.csResults
	for _, r := range e.csResults {
		if !r.Met {
			fail(ErrCounterSignatureMissing, fmt.Sprintf("no accepted signature is counter-signed by %q", r.Name))
		}
	}
	if e.tag != "" && len(errs) == 0 {
		if err := e.tagBinding(ctx, out, req); err != nil {
			var te *tagError
			if errors.As(err, &te) {
				fail(te.sentinel, te.msg)
			} else {
				return err
			}
		}
	} else if e.tag != "" {
		req.TagBinding = &TagBindingResult{Tag: e.tag, MaxAge: e.stmt.TagBinding.MaxAge, Reason: "not evaluated: the artifact is not trusted"}
	}
	if len(errs) == 0 {
		out.Verdict = VerdictTrusted
		return nil
	}
	out.Verdict = VerdictNotTrusted
	out.Reason = strings.Join(reasons, "; ")
	err := fmt.Errorf("%w: %w: %s", ErrNotTrusted, errors.Join(errs...), out.Reason)
	if truncated {
		err = fmt.Errorf("%w: %w", err, ErrSignatureLimit)
	}
	return err
}

type tagError struct {
	sentinel error
	msg      string
}

func (e *tagError) Error() string { return e.msg }

// tagBinding checks the tag's binding, its age and the rollback state.
func (e *extEval) tagBinding(ctx context.Context, out *Outcome, req *Requirements) error {
	maxAge := e.stmt.TagBinding.MaxAgeDuration()
	r := &TagBindingResult{Tag: e.tag, MaxAge: e.stmt.TagBinding.MaxAge}
	req.TagBinding = r
	if e.bindBy == "" {
		r.Reason = fmt.Sprintf("no trusted signature of %s binds tag %q (%s=%s): the tag may have been re-pointed", out.Artifact, e.tag, TagAnnotation, e.tag)
		if e.future > 0 {
			r.Reason += fmt.Sprintf(" (%d bindings dated more than %s in the future were ignored: the signer's clock is wrong)", e.future, maxClockSkew)
		}
		return &tagError{ErrTagNotBound, r.Reason}
	}
	bt := e.bindTime
	r.BoundBy, r.BindingTime = e.bindBy, &bt
	age := e.now().Sub(bt)
	if age < 0 {
		age = 0
	}
	r.Age = age.Round(time.Second).String()
	if age >= maxAge {
		r.Reason = fmt.Sprintf("the newest binding of tag %q (signature %s, %s) is %s old, older than maxAge %s: the registry may be serving a frozen tag; the publisher must re-sign it", e.tag, e.bindBy, bt.Format(time.RFC3339), r.Age, r.MaxAge)
		return &tagError{ErrTagBindingExpired, r.Reason}
	}
	if e.opts.TagBindings == nil {
		return fmt.Errorf("%w: trust policy statement %q has tagBinding but no tag binding state was configured", ErrInvalidInput, e.stmt.Name)
	}
	rec := TagBindingRecord{Digest: out.Artifact, Time: bt}
	prev, err := e.opts.TagBindings.Accept(ctx, e.scope, e.tag, rec)
	if prev != nil {
		p := *prev
		r.Previous = &p
	}
	if errors.Is(err, ErrTagRollback) {
		r.Reason = fmt.Sprintf("rollback: tag %q now names %s bound at %s, older than the binding at %s already accepted for %s",
			e.tag, out.Artifact, bt.Format(time.RFC3339), prev.Time.Format(time.RFC3339), prev.Digest)
		return &tagError{ErrTagRollback, r.Reason}
	}
	if err != nil {
		return errors.Join(ErrIO, err)
	}
	r.Met = true
	return nil
}
