package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
)

type signOpts struct {
	signFlags
	registry  registryFlags
	output    outputFlag
	ociLayout bool
	form      string
	recursive bool
	platform  string
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
with every manifest it lists; --platform signs one platform's manifest.`,
		Example: `  signet sign registry.example.com/app@sha256:9f2c...
  signet sign --oci-layout ./layout@sha256:9f2c...
  signet sign --oci-layout --key release --signature-format cose -e 720h -m build=42 ./layout:v1
  signet sign --oci-layout --recursive ./image.tar:latest`,
		Args: minArgs(1, "at least one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, env, o, args) },
	}
	o.signFlags.AddFlags(cmd, env)
	o.registry.AddFlags(cmd)
	o.output.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.ociLayout, "oci-layout", false, "references are OCI image layout directories or tar archives")
	cmd.Flags().StringVar(&o.form, "signature-manifest", "image", "signature manifest form: image (config media type, what notation v1.3.2 reads) or artifact (OCI 1.1 artifactType)")
	cmd.Flags().BoolVarP(&o.recursive, "recursive", "r", false, "sign an image index and every manifest it lists")
	cmd.Flags().StringVar(&o.platform, "platform", "", "sign only this platform's manifest of an image index (os/arch[/variant])")
	_ = cmd.RegisterFlagCompletionFunc("signature-manifest", cobra.FixedCompletions([]string{"image", "artifact"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
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
	var form registry.ManifestForm
	switch o.form {
	case "image":
		form = registry.FormConfig
	case "artifact":
		form = registry.FormArtifactType
	default:
		return usageErr(fmt.Errorf("unsupported --signature-manifest %q: use image or artifact", o.form))
	}
	if o.recursive && o.platform != "" {
		return usageErr(errors.New("--recursive and --platform exclude each other"))
	}
	refs, err := parseArtifactRefs(env, args, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	sopts, err := o.signOptions(cmd.Context(), env)
	if err != nil {
		return err
	}
	opts := signet.SignOCIOptions{SignOptions: sopts, Form: form, Recursive: o.recursive, Platform: o.platform}
	ctx := cmd.Context()
	for _, a := range refs {
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
