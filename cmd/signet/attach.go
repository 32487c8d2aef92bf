package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/registry"
)

type attachOpts struct {
	signFlags
	registry     registryFlags
	output       outputFlag
	ociLayout    bool
	artifactType string
	annotations  []string
	sign         bool
	form         string
}

func newAttachCmd(env *Env) *cobra.Command {
	o := &attachOpts{}
	cmd := &cobra.Command{
		Use:   "attach [--oci-layout] REFERENCE --artifact-type TYPE [FILE[:MEDIATYPE]...]",
		Short: "Attach files (an SBOM, a scan report) to an artifact as a referrer, and optionally sign them",
		Long: `Push an OCI 1.1 artifact whose subject is the artifact REFERENCE names: an
image manifest of the given artifact type, the empty config, and one layer
per file, titled with the file's name (org.opencontainers.image.title) as
oras attach titles it. A file's media type follows a colon
(sbom.json:application/spdx+json); the default is ` + graph.DefaultFileMediaType + `,
oras's. --annotation sets manifest annotations; the creation time is
recorded in org.opencontainers.image.created unless given.

The new artifact is found as a referrer through the referrers API or the
referrers tag schema, as --referrers decides (as for 'signet sign').
With --sign it is signed in the same call with the signing flags of
'signet sign'. A tag is resolved once; the digest is what the artifact
refers to.`,
		Example: `  signet attach registry.example.com/app@sha256:9f2c... --artifact-type application/spdx+json sbom.spdx.json:application/spdx+json
  signet attach registry.example.com/app:v1 --artifact-type application/sarif+json --annotation scanner=trivy report.sarif --sign
  signet attach --oci-layout ./layout:v1 --artifact-type application/vnd.example.approval -a approved-by=qa`,
		Args: minArgs(1, "an artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runAttach(cmd, env, o, args[0], args[1:]) },
	}
	o.signFlags.AddFlags(cmd, env)
	o.registry.AddFlags(cmd)
	o.output.AddFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&o.ociLayout, "oci-layout", false, "the reference is an OCI image layout directory or tar archive")
	fl.StringVar(&o.artifactType, "artifact-type", "", "artifact type of the attached artifact (required), e.g. application/spdx+json")
	fl.StringArrayVarP(&o.annotations, "annotation", "a", nil, "manifest annotation key=value (repeatable)")
	fl.BoolVar(&o.sign, "sign", false, "sign the attached artifact (with --key, --signature-format, ... as 'signet sign')")
	addManifestFormFlag(cmd, &o.form, "with --sign, the signature manifest form: image or artifact (see 'signet sign')")
	return cmd
}

// attachResult is the JSON form of an attached artifact.
type attachResult struct {
	// Reference is REPO@DIGEST of the new artifact.
	Reference    string            `json:"reference"`
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Subject is REPO@DIGEST of the artifact it refers to.
	Subject string `json:"subject"`
	// Signature is the new artifact's signature (with --sign).
	Signature *signResult `json:"signature,omitempty"`
}

func runAttach(cmd *cobra.Command, env *Env, o *attachOpts, arg string, fileArgs []string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.artifactType == "" {
		return withHint(usageErr(errors.New("--artifact-type is required")), "name the kind of artifact, e.g. --artifact-type application/spdx+json for an SPDX SBOM")
	}
	form, err := parseManifestForm(o.form)
	if err != nil {
		return err
	}
	if !o.sign && signFlagsChanged(cmd) {
		return usageErr(errors.New("signing flags (--key, --signature-format, ...) need --sign"))
	}
	files := make([]graph.File, len(fileArgs))
	for i, f := range fileArgs {
		var err error
		if files[i], err = graph.ParseFileRef(f); err != nil {
			return usageErr(err)
		}
	}
	annotations, err := graph.ParseAnnotations(o.annotations)
	if err != nil {
		return usageErr(err)
	}
	if len(files) == 0 && len(annotations) == 0 {
		return withHint(usageErr(errors.New("nothing to attach")), "name files to attach, or give --annotation for an artifact without files")
	}
	refs, err := parseArtifactRefs(env, []string{arg}, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	a := refs[0]
	ctx := cmd.Context()
	var sopts signet.SignOCIOptions
	if o.sign {
		so, err := o.signOptions(ctx, env)
		if err != nil {
			return err
		}
		sopts = signet.SignOCIOptions{SignOptions: so, Form: form}
	}
	if !a.isDigest() {
		fmt.Fprintf(env.Stderr, "Warning: attach to the artifact by digest (@sha256:...) rather than a tag (%s): the tag may point to other content later\n", a)
	}
	var res attachResult
	err = a.withWritable(ctx, func(t signet.Target) error {
		subject, err := registry.ResolveManifest(ctx, t, a.reference)
		if err != nil {
			return fmt.Errorf("%w: %w", signet.ErrIO, err)
		}
		desc, err := graph.Attach(ctx, t, subject, graph.AttachOptions{
			ArtifactType: o.artifactType, Files: files, Annotations: annotations, Now: env.Now,
		})
		if err != nil {
			return attachErr(err)
		}
		res = attachResult{
			Reference: a.prefix() + "@" + desc.Digest.String(), MediaType: desc.MediaType, Digest: desc.Digest.String(),
			Size: desc.Size, ArtifactType: desc.ArtifactType, Annotations: desc.Annotations,
			Subject: a.prefix() + "@" + subject.Digest.String(),
		}
		if !o.sign {
			return nil
		}
		signed, err := signet.SignOCI(ctx, t, desc.Digest.String(), sopts)
		if err != nil {
			if errors.Is(err, signet.ErrInvalidInput) {
				err = usageErr(err)
			}
			return fmt.Errorf("attached %s, but signing it failed: %w", res.Reference, err)
		}
		sr := toSignResult(a.prefix(), signed)
		res.Signature = &sr
		return nil
	})
	if err != nil {
		return err
	}
	if o.output.json() {
		return writeJSON(env.Stdout, res)
	}
	fmt.Fprintf(env.Stdout, "Attached to %s\nDigest: %s\nArtifact type: %s\n", res.Subject, res.Digest, res.ArtifactType)
	if res.Signature != nil {
		fmt.Fprintf(env.Stdout, "Signature manifest: %s (%s)\n", res.Signature.Signature, res.Signature.SignatureMediaType)
	}
	return nil
}

// attachErr classifies a failed attach: invalid input is a usage error
// (2), a file that cannot be read or a store that cannot be written is
// I/O (3).
func attachErr(err error) error {
	if errors.Is(err, graph.ErrInvalidAttach) {
		return usageErr(err)
	}
	return fmt.Errorf("%w: %w", signet.ErrIO, err)
}

// signFlagsChanged reports whether any signing flag was given.
func signFlagsChanged(cmd *cobra.Command) bool {
	for _, f := range []string{"key", "signature-format", "expiry", "user-metadata", "plugin", "id", "plugin-config", "timestamp-url", "timestamp-root-cert", "signature-manifest"} {
		if cmd.Flags().Changed(f) {
			return true
		}
	}
	return false
}
