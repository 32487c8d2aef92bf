package main

import (
	"fmt"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
)

type listOpts struct {
	registry      registryFlags
	output        outputFlag
	ociLayout     bool
	maxSignatures int
}

func newListCmd(env *Env) *cobra.Command {
	o := &listOpts{}
	cmd := &cobra.Command{
		Use:     "list [--oci-layout] REFERENCE",
		Aliases: []string{"ls"},
		Short:   "List the signatures of an artifact",
		Args:    exactArgs(1, "one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.output.validate(); err != nil {
				return err
			}
			if err := checkMaxSignatures(o.maxSignatures); err != nil {
				return err
			}
			store, desc, a, err := openArtifact(cmd, env, args[0], o.ociLayout, &o.registry)
			if err != nil {
				return err
			}
			sigs, truncated, err := registry.ListSignatures(cmd.Context(), store, desc, o.maxSignatures)
			if err != nil {
				return fmt.Errorf("%w: %w", signet.ErrIO, err)
			}
			ref := a.prefix() + "@" + desc.Digest.String()
			// Counter-signatures (signatures of a signature manifest,
			// docs/policy-extensions.md) are listed under their signature.
			listed := make([]listedSignature, len(sigs))
			for i, sd := range sigs {
				listed[i].Descriptor = sd
				sub := ocispec.Descriptor{MediaType: sd.MediaType, Digest: sd.Digest, Size: sd.Size}
				cs, _, err := registry.ListSignatures(cmd.Context(), store, sub, o.maxSignatures)
				if err != nil {
					return fmt.Errorf("%w: %w", signet.ErrIO, err)
				}
				listed[i].CounterSignatures = cs
			}
			// cosign signatures (docs/cosign.md), listed beside them.
			cosignSigs, cosignTruncated, err := signet.ListCosignSignatures(cmd.Context(), store, desc, o.maxSignatures)
			if err != nil {
				return fmt.Errorf("%w: %w", signet.ErrIO, err)
			}
			truncated = truncated || cosignTruncated
			cosignListed := []listedCosign{}
			for _, c := range cosignSigs {
				cosignListed = append(cosignListed, listedCosign{Source: c.Source, Format: c.Format, Descriptor: c.Descriptor})
			}
			if o.output.json() {
				return writeJSON(env.Stdout, map[string]any{"reference": ref, "signatures": listed, "cosignSignatures": cosignListed, "truncated": truncated})
			}
			if len(sigs) == 0 && len(cosignSigs) == 0 {
				fmt.Fprintf(env.Stdout, "%s has no associated signature\n", ref)
				return nil
			}
			fmt.Fprintln(env.Stdout, ref)
			groups := 0
			if len(sigs) > 0 {
				groups++
			}
			if len(cosignSigs) > 0 {
				groups++
			}
			if len(sigs) > 0 {
				top, indent := "└──", "    "
				if groups > 1 {
					top, indent = "├──", "│   "
				}
				fmt.Fprintf(env.Stdout, "%s %s\n", top, "application/vnd.cncf.notary.signature")
				for i, s := range listed {
					branch, below := "├──", "│  "
					if i == len(sigs)-1 {
						branch, below = "└──", "   "
					}
					fmt.Fprintf(env.Stdout, "%s%s %s\n", indent, branch, s.Digest)
					if len(s.CounterSignatures) == 0 {
						continue
					}
					fmt.Fprintf(env.Stdout, "%s%s └── counter-signatures\n", indent, below)
					for j, c := range s.CounterSignatures {
						b := "├──"
						if j == len(s.CounterSignatures)-1 {
							b = "└──"
						}
						fmt.Fprintf(env.Stdout, "%s%s     %s %s\n", indent, below, b, c.Digest)
					}
				}
			}
			if len(cosignSigs) > 0 {
				fmt.Fprintf(env.Stdout, "└── cosign signatures\n")
				for i, c := range cosignSigs {
					branch := "├──"
					if i == len(cosignSigs)-1 {
						branch = "└──"
					}
					fmt.Fprintf(env.Stdout, "    %s %s (%s)\n", branch, c.Source, c.Format)
				}
			}
			if truncated {
				fmt.Fprintf(env.Stderr, "Warning: only the first %d signatures are listed; raise --max-signatures to see more\n", len(sigs))
			}
			return nil
		},
	}
	o.output.AddFlags(cmd)
	o.registry.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.ociLayout, "oci-layout", false, "the reference is an OCI image layout directory or tar archive")
	cmd.Flags().IntVar(&o.maxSignatures, "max-signatures", registry.DefaultMaxSignatures, "maximum number of signatures to list")
	return cmd
}

// listedSignature is one signature in list's output: its descriptor and
// its counter-signatures.
type listedSignature struct {
	ocispec.Descriptor
	CounterSignatures []ocispec.Descriptor `json:"counterSignatures,omitempty"`
}

// listedCosign is one cosign signature in list's output.
type listedCosign struct {
	// Source is the bundle referrer's digest, or the legacy tag.
	Source string `json:"source"`
	// Format is cosignBundle or cosignSimpleSigning.
	Format string `json:"format"`
	// Descriptor is the referrer manifest (bundle) or the payload layer
	// (legacy).
	Descriptor ocispec.Descriptor `json:"descriptor"`
}

// checkMaxSignatures refuses a --max-signatures that is not positive, as
// verify does, rather than reading it as the default.
func checkMaxSignatures(n int) error {
	if n <= 0 {
		return usageErr(fmt.Errorf("--max-signatures must be positive, got %d", n))
	}
	return nil
}

// openArtifact opens the artifact a reference names and resolves it.
func openArtifact(cmd *cobra.Command, env *Env, arg string, ociLayout bool, rf *registryFlags) (signet.ReadTarget, ocispec.Descriptor, artifactRef, error) {
	refs, err := parseArtifactRefs(env, []string{arg}, ociLayout, rf)
	if err != nil {
		return nil, ocispec.Descriptor{}, artifactRef{}, err
	}
	a := refs[0]
	store, err := a.openRead(cmd.Context())
	if err != nil {
		return nil, ocispec.Descriptor{}, a, err
	}
	desc, err := registry.ResolveManifest(cmd.Context(), store, a.reference)
	if err != nil {
		return nil, ocispec.Descriptor{}, a, fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return store, desc, a, nil
}
