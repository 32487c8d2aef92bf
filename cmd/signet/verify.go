package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/verifier"
)

type verifyOpts struct {
	registry      registryFlags
	revocation    verifyFlags
	output        outputFlag
	ociLayout     bool
	scope         string
	userMetadata  []string
	maxSignatures int
	bundle        string
}

func newVerifyCmd(env *Env) *cobra.Command {
	o := &verifyOpts{}
	cmd := &cobra.Command{
		Use:   "verify [--oci-layout --scope REGISTRY/REPO] REFERENCE...",
		Short: "Verify artifacts' signatures against the OCI trust policy",
		Long: `Verify the signatures of artifacts against the OCI trust policy
(trustpolicy.oci.json, else trustpolicy.json) and the trust store. An
artifact is trusted when one signature verifies. A registry reference's
repository selects the trust policy statement; with --oci-layout, --scope
names it. Several
references are verified concurrently, each with its own verdict; -o json
prints one object for one reference and an array for several.

With --bundle FILE.tar[@DIGEST|:TAG] (an archive 'signet export' wrote) the
artifact is verified inside the archive without any network connection: the
trust policy and trust store are the local ones (trust never comes from the
archive) and revocation is checked against the OCSP responses and CRLs the
archive carries (--with-revocation at export). Evidence past its nextUpdate,
or none, makes the status unknown, which the policy's revocation action
fails (strict) or reports as a warning (permissive, audit, "log").

Exit codes: 0 trusted, 1 not trusted, 2 bad usage or configuration, 3 I/O.`,
		Example: `  signet verify registry.example.com/app@sha256:9f2c...
  signet verify --bundle app.tar --scope registry.example.com/app
  signet verify --oci-layout --scope example.com/app ./layout@sha256:9f2c...
  signet verify --oci-layout --scope example.com/app -o json ./layout:v1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.bundle != "" {
				return exactArgs(0, "no reference with --bundle (name the artifact as FILE.tar@DIGEST or FILE.tar:TAG)")(cmd, args)
			}
			return minArgs(1, "at least one artifact reference")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.bundle != "" {
				return runVerifyBundle(cmd, env, o)
			}
			return runVerify(cmd, env, o, args)
		},
	}
	o.output.AddFlags(cmd)
	o.registry.AddFlags(cmd)
	o.revocation.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.ociLayout, "oci-layout", false, "references are OCI image layout directories or tar archives")
	cmd.Flags().StringVar(&o.scope, "scope", "", "repository URI (REGISTRY/REPO) used to select the trust policy statement for an OCI layout")
	cmd.Flags().StringArrayVarP(&o.userMetadata, "user-metadata", "m", nil, "user metadata k=v the signature must carry (repeatable)")
	cmd.Flags().IntVar(&o.maxSignatures, "max-signatures", registry.DefaultMaxSignatures, "maximum number of signatures to evaluate")
	cmd.Flags().StringVar(&o.bundle, "bundle", "", "verify offline inside an archive written by 'signet export', FILE.tar[@DIGEST|:TAG], with its revocation evidence (needs --scope)")
	return cmd
}

func runVerify(cmd *cobra.Command, env *Env, o *verifyOpts, args []string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.ociLayout && o.scope == "" {
		return usageErr(errors.New("--scope is required with --oci-layout: it names the repository (REGISTRY/REPO) whose trust policy statement applies"))
	}
	if strings.Contains(o.scope, "*") {
		return usageErr(fmt.Errorf("--scope %q is a pattern: it names the one repository (REGISTRY/REPO) the layout's artifact belongs to; prefix scopes belong in the trust policy", o.scope))
	}
	if !o.ociLayout && o.scope != "" {
		return usageErr(errors.New("--scope is only for --oci-layout: a registry reference names its own repository"))
	}
	if err := checkMaxSignatures(o.maxSignatures); err != nil {
		return err
	}
	refs, err := parseArtifactRefs(env, args, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	if len(refs) > 1 {
		env.parallel()
	}
	md, err := parseMetadata(o.userMetadata)
	if err != nil {
		return err
	}
	policy, v, err := ociVerification(env, &o.revocation)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	for _, a := range refs {
		if !a.isDigest() {
			fmt.Fprintf(env.Stderr, "Warning: always verify the artifact by digest (@sha256:...) rather than a tag (%s)\n", a)
		}
	}
	tagState, err := env.tagBindings()
	if err != nil {
		return err
	}
	outs := make([]*signet.Outcome, len(refs))
	errs := make([]error, len(refs))
	forEach(len(refs), verifyConcurrency, func(i int) {
		a := refs[i]
		t, err := a.openRead(ctx)
		if err != nil {
			errs[i] = err
			return
		}
		outs[i], errs[i] = signet.VerifyOCI(ctx, t, a.reference, signet.VerifyOCIOptions{
			Policy: policy, Verifier: v, Scope: a.scope(o.scope), UserMetadata: md, MaxSignatures: o.maxSignatures,
			TagBindings: tagState,
		})
		if outs[i] != nil {
			outs[i].Artifact = a.prefix() + "@" + outs[i].Artifact
		}
	})
	var failed []error
	for i, a := range refs {
		if errs[i] == nil {
			continue
		}
		what := a.String()
		if a.layout != nil {
			what = fmt.Sprintf("%s (scope %s)", a, o.scope)
		}
		failed = append(failed, explainOutcome(outs[i], errs[i], what))
		if outs[i] == nil {
			outs[i] = &signet.Outcome{Verdict: signet.VerdictError, Artifact: a.String(), Signatures: []signet.SignatureOutcome{}, Reason: errs[i].Error()}
		}
	}
	if o.output.json() {
		var doc any = outs
		if len(outs) == 1 {
			doc = outs[0]
		}
		if err := writeJSON(env.Stdout, doc); err != nil {
			return err
		}
	} else {
		for i, out := range outs {
			if errs[i] != nil && out.Verdict == signet.VerdictError {
				continue // reported on stderr
			}
			printOutcomeText(env.Stdout, env.Stderr, out)
		}
	}
	return firstError(failed)
}

// verifyConcurrency bounds the references verified at once: as many as
// the shared client keeps idle connections per registry
// (registry.maxIdleConnsPerHost), so that none is closed and reopened.
// Each verify mostly waits on the registry: on distribution v3, 1,000
// references took 3.3-3.8 s at 8, 3.0 s at 16, 2.8 s at 32 and 2.7 s at 64
// (docs/benchmarks.md).
const verifyConcurrency = 32

// forEach calls fn(0..n-1), at most limit at a time, and waits for all.
func forEach(n, limit int, fn func(i int)) {
	if n == 1 {
		fn(0) // one reference (the common case): no goroutine to start and wait for
		return
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// printOutcome prints an Outcome as text or JSON and returns the error that
// sets the exit code (blob verify: one artifact).
func printOutcome(env *Env, of *outputFlag, out *signet.Outcome, err error, what string) error {
	if out == nil {
		return err
	}
	if of.json() {
		if werr := writeJSON(env.Stdout, out); werr != nil {
			return werr
		}
	} else {
		printOutcomeText(env.Stdout, env.Stderr, out)
	}
	return explainOutcome(out, err, what)
}

// explainOutcome turns a verification error into the one Error line (and
// Hint) the user sees: which policy, which check, what to do.
func explainOutcome(out *signet.Outcome, err error, what string) error {
	if err == nil || out == nil {
		return err
	}
	// A requirement's hint when some signature verified; when none did, the
	// first signature's failed check says more (an untrusted signer, say).
	if out.Requirements != nil && slices.ContainsFunc(out.Signatures, func(s signet.SignatureOutcome) bool { return s.Verified }) {
		for _, h := range requirementHints {
			if errors.Is(err, h.err) {
				return withHint(fmt.Errorf("signature verification failed for %s: %w", what, err), h.hint)
			}
		}
	}
	if errors.Is(err, signet.ErrSignatureLimit) {
		return withHint(fmt.Errorf("signature verification failed for %s: %w", what, err), "every signature evaluated failed: raise --max-signatures to evaluate more of them")
	}
	if s := firstFailure(out); s != nil {
		if c, ok := s.Result().FailedCheck(); ok {
			return explainFailure(fmt.Errorf("signature verification failed for %s: %w", what, err), c, out.Policy.Name)
		}
	}
	if errors.Is(err, signet.ErrNoSignature) {
		return withHint(fmt.Errorf("signature verification failed for %s: %w", what, err), "sign the artifact first ('signet sign'), or check the reference")
	}
	return fmt.Errorf("signature verification failed for %s: %w", what, err)
}

// requirementHints say what to do when a signet/v1 requirement is not met.
var requirementHints = []struct {
	err  error
	hint string
}{
	{signet.ErrTagRollback, "the registry serves an older image under this tag than one already verified; verify by digest if the rollback is intended"},
	{signet.ErrTagBindingExpired, "the publisher must bind the tag again: 'signet sign --bind-tag REPO:TAG' (e.g. from a scheduled job)"},
	{signet.ErrTagNotBound, "verify by digest, or have the publisher bind the tag: 'signet sign --bind-tag REPO:TAG'"},
	{signet.ErrTooFewSignatures, "more trusted signers must sign ('signet sign' with their keys); one key counts once"},
	{signet.ErrCounterSignatureMissing, "the counter-signer must sign a signature: 'signet sign --countersign REF' (or 'notation sign REPO@SIGNATURE_DIGEST')"},
}

// firstFailure is the first signature evaluated: the error message names
// its failure.
func firstFailure(out *signet.Outcome) *signet.SignatureOutcome {
	if len(out.Signatures) == 0 {
		return nil
	}
	return &out.Signatures[0]
}

func printOutcomeText(stdout, stderr io.Writer, out *signet.Outcome) {
	switch out.Verdict {
	case signet.VerdictSkipped:
		fmt.Fprintf(stdout, "Trust policy %q is configured to skip signature verification for %s\n", out.Policy.Name, out.Artifact)
		return
	case signet.VerdictTrusted:
		s, _ := out.Trusted()
		for _, w := range s.Result().Warnings() {
			fmt.Fprintf(stderr, "Warning: %s was set to %q and failed: %s\n", w.Type, w.Action, w.Reason)
		}
		for _, c := range s.Checks {
			if c.Status == verifier.StatusNotChecked {
				fmt.Fprintf(stderr, "Note: %s\n", c.Reason)
			}
		}
		fmt.Fprintf(stdout, "Successfully verified signature for %s\n", out.Artifact)
		fmt.Fprintf(stdout, "  policy: %s (level %s)\n", out.Policy.Name, out.Policy.Level)
		if k := s.Key; k != nil {
			fmt.Fprintf(stdout, "  format: %s\n  key: %s/%s (%s, sha256 %s)\n", s.Format, k.Store, k.File, k.Algorithm, k.SHA256Fingerprint)
			if tl := s.TransparencyLog; tl != nil {
				when := ""
				if tl.IntegratedTime != nil {
					when = ", integrated " + tl.IntegratedTime.Format("2006-01-02T15:04:05Z07:00")
				}
				fmt.Fprintf(stdout, "  transparency log: entry verified (log %s%s)\n", tl.LogID, when)
			}
		} else {
			fmt.Fprintf(stdout, "  signer: %s\n", s.Signer)
		}
		if s.SigningTime != nil {
			fmt.Fprintf(stdout, "  signed: %s\n", s.SigningTime.Format("2006-01-02T15:04:05Z07:00"))
		}
		if s.Expiry != nil {
			fmt.Fprintf(stdout, "  expiry: %s\n", s.Expiry.Format("2006-01-02T15:04:05Z07:00"))
		}
		if ts := s.Timestamp; ts != nil {
			fmt.Fprintf(stdout, "  timestamp: %s (±%s, RFC 3161, verified)\n", ts.GenTime.Format("2006-01-02T15:04:05Z07:00"), ts.Accuracy)
			if line := revocationLine(ts.Revocation); line != "" {
				fmt.Fprintf(stdout, "  TSA chain revocation: %s\n", line)
			}
		}
		if line := revocationLine(s.Revocation); line != "" {
			fmt.Fprintf(stdout, "  revocation: %s\n", line)
		}
		printRequirements(stdout, out)
		return
	}
	if out.Requirements != nil {
		fmt.Fprintf(stdout, "%s: not trusted: %s\n", out.Artifact, out.Reason)
		printRequirements(stdout, out)
	}
	for i, s := range out.Signatures {
		if out.Requirements != nil {
			printSignatureLine(stdout, "  ", s)
			continue
		}
		name := s.Source
		if name == "" {
			name = fmt.Sprintf("signature %d", i+1)
		}
		if s.Format != "" && s.Format != "notary" {
			name += " (" + s.Format + ")"
		}
		fmt.Fprintf(stdout, "%s: not verified\n", name)
		for _, c := range s.Checks {
			line := fmt.Sprintf("  %-19s %-12s %s", c.Type, c.Status, c.Action)
			if c.Reason != "" && c.Status != verifier.StatusNotEvaluated {
				line += ": " + c.Reason
			}
			fmt.Fprintln(stdout, line)
		}
	}
}

// printRequirements prints the signet/v1 requirements of a verdict and
// what each signature contributed (docs/policy-extensions.md).
func printRequirements(w io.Writer, out *signet.Outcome) {
	r := out.Requirements
	if r == nil {
		return
	}
	if m := r.MinSignatures; m != nil {
		fmt.Fprintf(w, "  minSignatures: %d of %d distinct trusted signing keys (%s)\n", m.Counted, m.Required, metWord(m.Met))
	}
	for _, c := range r.CounterSignatures {
		if c.Met {
			fmt.Fprintf(w, "  counter-signer %q: met by %s on signature %s (%s)\n", c.Name, c.CounterSignature, c.On, c.Signer)
		} else {
			fmt.Fprintf(w, "  counter-signer %q: not met\n", c.Name)
		}
	}
	if tb := r.TagBinding; tb != nil {
		switch {
		case tb.Met:
			fmt.Fprintf(w, "  tag binding: %q bound by %s at %s (age %s, maxAge %s)\n", tb.Tag, tb.BoundBy, tb.BindingTime.Format(time.RFC3339), tb.Age, tb.MaxAge)
		default:
			fmt.Fprintf(w, "  tag binding: %q not met: %s\n", tb.Tag, tb.Reason)
		}
		if p := tb.Previous; p != nil {
			fmt.Fprintf(w, "  tag binding accepted before: %s at %s\n", p.Digest, p.Time.Format(time.RFC3339))
		}
	}
	if out.Verdict == signet.VerdictTrusted {
		for _, s := range out.Signatures {
			printSignatureLine(w, "  ", s)
		}
	}
}

func metWord(met bool) string {
	if met {
		return "met"
	}
	return "not met"
}

// printSignatureLine prints one signature under signet/v1 requirements:
// counted or why not, with its counter-signatures below it.
func printSignatureLine(w io.Writer, indent string, s signet.SignatureOutcome) {
	state := "counted"
	switch {
	case len(s.Satisfies) > 0:
		state = "satisfies " + strings.Join(s.Satisfies, ", ")
	case s.Error != "":
		state = "failed: " + s.Error
	case s.NotCounted != "":
		state = s.NotCounted
	case !s.Counted:
		state = "not counted"
	}
	signer := ""
	if s.Signer != "" {
		signer = " (" + s.Signer + ")"
	}
	tag := ""
	if s.BindsTag != "" {
		tag = fmt.Sprintf(" [binds tag %q]", s.BindsTag)
	}
	if s.TagBindingIgnored != "" {
		tag = " [" + s.TagBindingIgnored + "]"
	}
	fmt.Fprintf(w, "%ssignature %s%s%s: %s\n", indent, s.Source, signer, tag, state)
	for _, c := range s.CounterSignatures {
		printSignatureLine(w, indent+"  counter-", c)
	}
}

// revocationLine summarises a chain's revocation results for text output:
// each checked certificate with its result and method; "" when none was
// checked (the verdict's Note already says why).
func revocationLine(rs []signet.RevocationInfo) string {
	var parts []string
	for _, r := range rs {
		if r.Result == "nonRevokable" {
			continue
		}
		name := r.Subject
		if i := strings.Index(name, ","); strings.HasPrefix(name, "CN=") && i > 0 {
			name = name[:i]
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", name, r.Result, r.Method))
	}
	return strings.Join(parts, "; ")
}

// tagBindings is the rollback state of tagBinding, {CACHE}/tagbinding
// (docs/policy-extensions.md). Without a cache directory it is nil, and a
// tag verified under tagBinding is refused (exit 2) rather than verified
// without rollback protection.
func (e *Env) tagBindings() (signet.TagBindingState, error) {
	dir, err := config.ResolveCacheDir(e.Getenv)
	if err != nil {
		return nil, nil
	}
	return &signet.FileTagBindings{Dir: filepath.Join(dir, "tagbinding")}, nil
}
