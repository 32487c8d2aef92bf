package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/revocation"
)

type signOpts struct {
	signFlags
	registry  registryFlags
	output    outputFlag
	ociLayout bool
	form      string
	recursive bool
	platform  string
	// signet/v1 extensions (docs/policy-extensions.md).
	bindTag     bool
	countersign bool
	signature   string
	scope       string
}

func newSignCmd(env *Env) *cobra.Command {
	o := &signOpts{}
	cmd := &cobra.Command{
		Use:   "sign [--oci-layout] REFERENCE...",
		Short: "Sign artifacts and store each signature as a referrer",
		Long: `Sign the manifest that each reference names and store the signature manifest
as a referrer of it. A reference is REGISTRY/REPOSITORY@sha256:DIGEST (or
:TAG) in a registry; with --oci-layout it is an OCI image layout
directory or tar archive followed by @digest or :tag; a tag is resolved once
and the digest is signed. With --recursive an image index is signed together
with every manifest it lists; --platform signs one platform's manifest.

--bind-tag signs the digest a tag resolves to with the signed user metadata
io.signet.tag=TAG, which a trust policy's tagBinding requires.
--countersign signs, instead of the artifact, every signature of it that the
OCI trust policy accepts (or the one --signature names): a counter-signature
is a signature whose subject is the signature manifest, which a trust policy's
counterSignatures requires (docs/policy-extensions.md).`,
		Example: `  signet sign registry.example.com/app@sha256:9f2c...
  signet sign --oci-layout ./layout@sha256:9f2c...
  signet sign --oci-layout --key release --signature-format cose -e 720h -m build=42 ./layout:v1
  signet sign --oci-layout --recursive ./image.tar:latest
  signet sign --key release --bind-tag registry.example.com/app:v1
  signet sign --key security --countersign registry.example.com/app@sha256:9f2c...`,
		Args: minArgs(1, "at least one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, env, o, args) },
	}
	o.signFlags.AddFlags(cmd, env)
	o.registry.AddFlags(cmd)
	o.output.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.ociLayout, "oci-layout", false, "references are OCI image layout directories or tar archives")
	addManifestFormFlag(cmd, &o.form, "signature manifest form: image (config media type, what notation v1.3.2 reads) or artifact (OCI 1.1 artifactType)")
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "r", false, "sign an image index and every manifest it lists")
	cmd.Flags().StringVar(&o.platform, "platform", "", "sign only this platform's manifest of an image index (os/arch[/variant])")
	cmd.Flags().BoolVar(&o.bindTag, "bind-tag", false, "bind the tag: sign the digest it resolves to with user metadata io.signet.tag=TAG")
	cmd.Flags().BoolVar(&o.countersign, "countersign", false, "counter-sign the artifact's signatures that the OCI trust policy accepts")
	cmd.Flags().StringVar(&o.signature, "signature", "", "with --countersign: counter-sign only the signature with this manifest digest")
	cmd.Flags().StringVar(&o.scope, "scope", "", "with --countersign --oci-layout: repository URI (REGISTRY/REPO) that selects the trust policy statement")
	return cmd
}

// addManifestFormFlag adds --signature-manifest (image or artifact), read
// with parseManifestForm.
func addManifestFormFlag(cmd *cobra.Command, p *string, usage string) {
	cmd.Flags().StringVar(p, "signature-manifest", "image", usage)
	_ = cmd.RegisterFlagCompletionFunc("signature-manifest", cobra.FixedCompletions([]string{"image", "artifact"}, cobra.ShellCompDirectiveNoFileComp))
}

// parseManifestForm reads --signature-manifest.
func parseManifestForm(s string) (registry.ManifestForm, error) {
	switch s {
	case "image":
		return registry.FormConfig, nil
	case "artifact":
		return registry.FormArtifactType, nil
	}
	return registry.FormConfig, usageErr(fmt.Errorf("unsupported --signature-manifest %q: use image or artifact", s))
}

// signResult is the JSON form of one signed artifact.
type signResult struct {
	Reference          string       `json:"reference"`
	Signature          string       `json:"signature"`
	SignatureMediaType string       `json:"signatureMediaType"`
	SigningTime        string       `json:"signingTime"`
	Children           []signResult `json:"children,omitempty"`
}

func toSignResult(prefix string, s *signet.Signed) signResult {
	r := signResult{
		Reference:          prefix + "@" + s.Target.Digest.String(),
		Signature:          s.Manifest.Digest.String(),
		SignatureMediaType: s.MediaType,
		SigningTime:        s.SigningTime.UTC().Format("2006-01-02T15:04:05Z"),
	}
	for _, c := range s.Children {
		r.Children = append(r.Children, toSignResult(prefix, c))
	}
	return r
}

func runSign(cmd *cobra.Command, env *Env, o *signOpts, args []string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	form, err := parseManifestForm(o.form)
	if err != nil {
		return err
	}
	if o.recursive && o.platform != "" {
		return usageErr(errors.New("--recursive and --platform exclude each other"))
	}
	if err := o.checkExtensionFlags(); err != nil {
		return err
	}
	refs, err := parseArtifactRefs(env, args, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	sopts, err := o.signOptions(cmd.Context(), env)
	if err != nil {
		return err
	}
	opts := signet.SignOCIOptions{SignOptions: sopts, Form: form, Recursive: o.recursive, Platform: o.platform, BindTag: o.bindTag}
	ctx := cmd.Context()
	if o.countersign {
		return runCounterSign(cmd, env, o, refs, opts)
	}
	for _, a := range refs {
		if o.bindTag {
			if a.isDigest() {
				return usageErr(fmt.Errorf("--bind-tag needs a tag reference (REPO:TAG), and %s names a digest", a))
			}
			continue
		}
		if !a.isDigest() {
			fmt.Fprintf(env.Stderr, "Warning: always sign the artifact by digest (@sha256:...) rather than a tag (%s): the tag may point to other content later\n", a)
		}
	}
	results := make([]*signResult, len(refs))
	errs := make([]error, len(refs))
	sign := func(i int) {
		a := refs[i]
		var signed *signet.Signed
		err := a.withWritable(ctx, func(t signet.Target) error {
			var err error
			signed, err = signet.SignOCI(ctx, t, a.reference, opts)
			return err
		})
		if err != nil {
			if errors.Is(err, signet.ErrInvalidInput) {
				err = usageErr(err)
			}
			errs[i] = fmt.Errorf("sign %s: %w", a, err)
			return
		}
		r := toSignResult(a.prefix(), signed)
		results[i] = &r
	}
	// Remote references are signed concurrently. Layout references are
	// signed one after another: two writers of one layout's index.json
	// would lose each other's update.
	limit := signConcurrency
	if o.ociLayout {
		limit = 1
	}
	forEach(len(refs), limit, sign)
	var done []signResult
	for _, r := range results {
		if r == nil {
			continue
		}
		done = append(done, *r)
		if !o.output.json() {
			printSigned(env.Stdout, *r, "")
		}
	}
	if o.output.json() {
		var v any = done
		if len(refs) == 1 && len(done) == 1 {
			v = done[0]
		}
		if err := writeJSON(env.Stdout, v); err != nil {
			return err
		}
	}
	var failed []error
	for _, e := range errs {
		if e != nil {
			failed = append(failed, e)
		}
	}
	return firstError(failed)
}

func (o *signOpts) checkExtensionFlags() error {
	switch {
	case o.countersign && o.bindTag:
		return usageErr(errors.New("--countersign and --bind-tag exclude each other"))
	case o.countersign && (o.recursive || o.platform != ""):
		return usageErr(errors.New("--countersign excludes --recursive and --platform"))
	case o.bindTag && (o.recursive || o.platform != ""):
		return usageErr(errors.New("--bind-tag excludes --recursive and --platform"))
	case o.signature != "" && !o.countersign:
		return usageErr(errors.New("--signature is only for --countersign"))
	case o.scope != "" && !(o.countersign && o.ociLayout):
		return usageErr(errors.New("--scope is only for --countersign with --oci-layout: a registry reference names its own repository"))
	case strings.Contains(o.scope, "*"):
		return usageErr(fmt.Errorf("--scope %q is a pattern: it names the one repository (REGISTRY/REPO) the layout's artifact belongs to", o.scope))
	case o.countersign && o.ociLayout && o.scope == "":
		return usageErr(errors.New("--scope is required with --countersign --oci-layout: it names the repository (REGISTRY/REPO) whose trust policy statement decides which signatures are accepted"))
	}
	return nil
}

// counterSignResult is the JSON form of one counter-signature.
type counterSignResult struct {
	Reference          string `json:"reference"`
	On                 string `json:"on"`
	Signature          string `json:"signature"`
	SignatureMediaType string `json:"signatureMediaType"`
	SigningTime        string `json:"signingTime"`
}

// runCounterSign counter-signs the accepted signatures of each reference.
func runCounterSign(cmd *cobra.Command, env *Env, o *signOpts, refs []artifactRef, opts signet.SignOCIOptions) error {
	// Revocation is checked with the default timeouts, as verify does.
	policy, v, err := ociVerification(env, &verifyFlags{ocspTimeout: revocation.DefaultOCSPTimeout, crlTimeout: revocation.DefaultCRLTimeout})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var done []counterSignResult
	var failed []error
	for _, a := range refs {
		var made []signet.CounterSigned
		err := a.withWritable(ctx, func(t signet.Target) error {
			var err error
			made, err = signet.CounterSignOCI(ctx, t, a.reference, signet.CounterSignOCIOptions{
				Sign: opts, Policy: policy, Verifier: v, Scope: a.scope(o.scope), Signature: o.signature,
			})
			return err
		})
		for _, m := range made {
			r := counterSignResult{
				Reference: a.prefix() + "@" + m.Target.Digest.String(), On: m.On.Digest.String(),
				Signature: m.Manifest.Digest.String(), SignatureMediaType: m.MediaType,
				SigningTime: m.SigningTime.UTC().Format("2006-01-02T15:04:05Z"),
			}
			done = append(done, r)
			if !o.output.json() {
				fmt.Fprintf(env.Stdout, "Successfully counter-signed signature %s of %s\nCounter-signature manifest: %s (%s)\n", r.On, a, r.Signature, r.SignatureMediaType)
			}
		}
		if err != nil {
			if errors.Is(err, signet.ErrInvalidInput) {
				err = usageErr(err)
			}
			failed = append(failed, fmt.Errorf("counter-sign %s: %w", a, err))
		}
	}
	if o.output.json() {
		if done == nil {
			done = []counterSignResult{}
		}
		if err := writeJSON(env.Stdout, done); err != nil {
			return err
		}
	}
	return firstError(failed)
}

// signConcurrency bounds the remote references signed at once.
const signConcurrency = 8

func printSigned(w io.Writer, r signResult, indent string) {
	fmt.Fprintf(w, "%sSuccessfully signed %s\n%sSignature manifest: %s (%s)\n", indent, r.Reference, indent, r.Signature, r.SignatureMediaType)
	for _, c := range r.Children {
		printSigned(w, c, indent+"  ")
	}
}

// firstError returns the first of errs (which sets the exit code), noting
// how many more failed.
func firstError(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more references failed)", errs[0], len(errs)-1)
}
