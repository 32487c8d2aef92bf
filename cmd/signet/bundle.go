package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/revocation"
)

// bundleInfo is what verify --bundle adds to the verdict: which evidence
// the revocation check used.
type bundleInfo struct {
	File string `json:"file"`
	// Evidence is the revocation evidence artifact used; absent when the
	// archive has none (every revocation status is then unknown).
	Evidence *graph.EvidenceSummary `json:"evidence,omitempty"`
}

// runVerifyBundle verifies an artifact inside an exported archive, with
// the local trust policy and trust store and the archive's revocation
// evidence, offline: the revocation validator can make no request, and
// nothing else here touches the network.
func runVerifyBundle(cmd *cobra.Command, env *Env, o *verifyOpts) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.scope == "" {
		return usageErr(errors.New("--scope is required with --bundle: it names the repository (REGISTRY/REPO) whose trust policy statement applies"))
	}
	if o.ociLayout {
		return usageErr(errors.New("--bundle names an archive itself: leave out --oci-layout"))
	}
	if err := checkMaxSignatures(o.maxSignatures); err != nil {
		return err
	}
	md, err := parseMetadata(o.userMetadata)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	file, ref := splitBundleRef(o.bundle)
	if !registry.IsLayoutTar(file) {
		return withHint(fmt.Errorf("%w: %s is not a file", signet.ErrIO, file), "name the archive 'signet export' wrote, FILE.tar[@DIGEST|:TAG]")
	}
	store, err := registry.OpenLayoutTar(ctx, file)
	if err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	defer store.Close()
	root, rootErr := graph.BundleRoot(ctx, file, store)
	if ref == "" {
		if rootErr != nil {
			return withHint(rootErr, "name the artifact: --bundle FILE.tar@DIGEST or FILE.tar:TAG")
		}
		ref = root.Digest.String()
	}
	target, err := registry.ResolveManifest(ctx, store, ref)
	if err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	if rootErr != nil {
		root = target // the evidence then comes from the artifact's own referrers
	}
	ev, sum, err := graph.LoadEvidence(ctx, store, root)
	if err != nil {
		return err
	}
	policy, v, err := ociVerification(env, &o.revocation)
	if err != nil {
		return err
	}
	v.Revocation = &revocation.Validator{Evidence: ev, Now: env.Now, Logger: env.logger()}
	out, err := signet.VerifyOCI(ctx, store, target.Digest.String(), signet.VerifyOCIOptions{
		Policy: policy, Verifier: v, Scope: o.scope, UserMetadata: md, MaxSignatures: o.maxSignatures,
	})
	info := bundleInfo{File: file, Evidence: sum}
	what := fmt.Sprintf("%s@%s (scope %s)", file, target.Digest, o.scope)
	if out == nil {
		return err
	}
	out.Artifact = file + "@" + out.Artifact
	if o.output.json() {
		if werr := writeJSON(env.Stdout, struct {
			*signet.Outcome
			Bundle bundleInfo `json:"bundle"`
		}{out, info}); werr != nil {
			return werr
		}
		return explainOutcome(out, err, what)
	}
	printOutcomeText(env.Stdout, env.Stderr, out)
	if sum != nil {
		fmt.Fprintf(env.Stdout, "  revocation evidence: %s, collected %s (offline)\n", sum.Digest, sum.Created.Format(time.RFC3339))
	} else {
		fmt.Fprintf(env.Stdout, "  revocation evidence: none in the archive (offline: every revocation status is unknown)\n")
	}
	return explainOutcome(out, err, what)
}
