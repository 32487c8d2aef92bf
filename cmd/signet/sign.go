package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
)

type signOpts struct {
	signFlags
	output    outputFlag
	ociLayout bool
	form      string
}

func newSignCmd(env *Env) *cobra.Command {
	o := &signOpts{}
	cmd := &cobra.Command{
		Use:   "sign --oci-layout DIR@sha256:DIGEST|DIR:TAG",
		Short: "Sign an artifact and store the signature as its referrer",
		Long: `Sign the manifest that the reference names and store the signature manifest
as a referrer of it. With --oci-layout the reference is an OCI image layout
directory followed by @digest or :tag; a tag is resolved once and the digest
is signed.`,
		Example: `  signet sign --oci-layout ./layout@sha256:9f2c...
  signet sign --oci-layout --key release --signature-format cose -e 720h -m build=42 ./layout:v1`,
		Args: exactArgs(1, "one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runSign(cmd, env, o, args[0]) },
	}
	o.signFlags.AddFlags(cmd, env)
	o.output.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.ociLayout, "oci-layout", false, "the reference is an OCI image layout directory")
	cmd.Flags().StringVar(&o.form, "signature-manifest", "image", "signature manifest form: image (config media type, what notation v1.3.2 reads) or artifact (OCI 1.1 artifactType)")
	_ = cmd.RegisterFlagCompletionFunc("signature-manifest", cobra.FixedCompletions([]string{"image", "artifact"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runSign(cmd *cobra.Command, env *Env, o *signOpts, ref string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if !o.ociLayout {
		return usageErr(errNoRegistry)
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
	lref, err := registry.ParseLayoutReference(ref)
	if err != nil {
		return usageErr(err)
	}
	sopts, err := o.signOptions(env)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if !lref.IsDigest() {
		fmt.Fprintf(env.Stderr, "Warning: always sign the artifact by digest (@sha256:...) rather than a tag (:%s): the tag may point to other content later\n", lref.Reference)
	}
	var signed *signet.Signed
	err = withWritableLayout(ctx, lref, func(t signet.Target) error {
		signed, err = signet.SignOCI(ctx, t, lref.Reference, signet.SignOCIOptions{SignOptions: sopts, Form: form})
		return err
	})
	if err != nil {
		return err
	}
	target := lref.Dir + "@" + signed.Target.Digest.String()
	if o.output.json() {
		return writeJSON(env.Stdout, map[string]any{
			"reference":          target,
			"signature":          signed.Manifest.Digest,
			"signatureMediaType": signed.MediaType,
			"signingTime":        signed.SigningTime.UTC(),
		})
	}
	fmt.Fprintf(env.Stdout, "Successfully signed %s\nSignature manifest: %s (%s)\n", target, signed.Manifest.Digest, signed.MediaType)
	return nil
}
