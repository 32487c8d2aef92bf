package main

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/cosign"
	"github.com/signet-dev/signet/registry"
)

type inspectOpts struct {
	registry      registryFlags
	output        outputFlag
	ociLayout     bool
	maxSignatures int
}

func newInspectCmd(env *Env) *cobra.Command {
	o := &inspectOpts{}
	cmd := &cobra.Command{
		Use:   "inspect [--oci-layout] REFERENCE",
		Short: "Show the signatures of an artifact: attributes, certificates, signed artifact",
		Long: `Show every signature of an artifact without deciding trust: signed and
unsigned attributes, user metadata, the certificate chain and the signed
artifact. An envelope that fails its integrity checks is shown with the error.`,
		Args: exactArgs(1, "one artifact reference"),
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
			ctx := cmd.Context()
			sigs, truncated, err := registry.ListSignatures(ctx, store, desc, o.maxSignatures)
			if err != nil {
				return fmt.Errorf("%w: %w", signet.ErrIO, err)
			}
			if truncated {
				fmt.Fprintf(env.Stderr, "Warning: only the first %d signatures are inspected; raise --max-signatures to see more\n", len(sigs))
			}
			ins := []*signet.Inspection{}
			for _, sd := range sigs {
				sig, err := registry.FetchSignature(ctx, store, sd, desc)
				if err != nil {
					ins = append(ins, &signet.Inspection{Source: sd.Digest.String(), Error: err.Error()})
					continue
				}
				ins = append(ins, signet.Inspect(sd.Digest.String(), sig.MediaType, sig.Envelope))
			}
			// cosign signatures (docs/cosign.md), described beside them.
			cosignSigs, _, err := signet.ListCosignSignatures(ctx, store, desc, o.maxSignatures)
			if err != nil {
				return fmt.Errorf("%w: %w", signet.ErrIO, err)
			}
			for _, cs := range cosignSigs {
				ins = append(ins, signet.InspectCosign(ctx, store, desc, cs))
			}
			ref := a.prefix() + "@" + desc.Digest.String()
			if o.output.json() {
				return writeJSON(env.Stdout, map[string]any{"reference": ref, "mediaType": desc.MediaType, "signatures": ins})
			}
			if len(ins) == 0 {
				fmt.Fprintf(env.Stdout, "%s has no associated signature\n", ref)
				return nil
			}
			fmt.Fprintf(env.Stdout, "%s\n", ref)
			for _, in := range ins {
				printInspection(env.Stdout, in)
			}
			return nil
		},
	}
	o.output.AddFlags(cmd)
	o.registry.AddFlags(cmd)
	cmd.Flags().BoolVar(&o.ociLayout, "oci-layout", false, "the reference is an OCI image layout directory or tar archive")
	cmd.Flags().IntVar(&o.maxSignatures, "max-signatures", registry.DefaultMaxSignatures, "maximum number of signatures to inspect")
	return cmd
}

func printInspection(w io.Writer, in *signet.Inspection) {
	fmt.Fprintf(w, "signature %s\n", in.Source)
	if in.MediaType != "" {
		fmt.Fprintf(w, "  media type:          %s\n", in.MediaType)
	}
	if in.Format != "" {
		fmt.Fprintf(w, "  format:              %s\n", in.Format)
	}
	if in.Error != "" {
		fmt.Fprintf(w, "  error:               %s\n", in.Error)
		if in.SignatureAlgorithm == "" {
			return
		}
	}
	if c := in.Cosign; c != nil {
		printCosign(w, c)
		return
	}
	fmt.Fprintf(w, "  signature algorithm: %s\n", in.SignatureAlgorithm)
	printMap(w, "signed attributes", in.SignedAttributes)
	if len(in.UserMetadata) > 0 {
		m := map[string]any{}
		for k, v := range in.UserMetadata {
			m[k] = v
		}
		printMap(w, "user metadata", m)
	}
	printMap(w, "unsigned attributes", in.UnsignedAttributes)
	fmt.Fprintf(w, "  certificates:\n")
	for _, c := range in.Certificates {
		fmt.Fprintf(w, "    - sha256 fingerprint: %s\n      issued to: %s\n      issued by: %s\n      expiry:    %s\n",
			c.SHA256Fingerprint, c.IssuedTo, c.IssuedBy, c.Expiry.Format("2006-01-02T15:04:05Z"))
	}
	if a := in.SignedArtifact; a != nil {
		fmt.Fprintf(w, "  signed artifact:\n    media type: %s\n    digest:     %s\n    size:       %d\n", a.MediaType, a.Digest, a.Size)
	}
}

// printCosign prints a cosign signature's description (decoded, not
// verified).
func printCosign(w io.Writer, c *cosign.Description) {
	if c.PredicateType != "" {
		fmt.Fprintf(w, "  predicate type:      %s\n", c.PredicateType)
	}
	if c.DockerReference != "" {
		fmt.Fprintf(w, "  docker reference:    %s\n", c.DockerReference)
	}
	for _, d := range c.Covers {
		fmt.Fprintf(w, "  covers:              %s\n", d)
	}
	if c.KeyHint != "" {
		fmt.Fprintf(w, "  key hint:            %s\n", c.KeyHint)
	}
	if c.Keyless {
		fmt.Fprintf(w, "  keyless:             certificate-based (not verifiable with publickey stores)\n")
	}
	for _, e := range c.TlogEntries {
		fmt.Fprintf(w, "  transparency log:    log %s index %d (%s; promise %v, proof %v), not verified here\n", e.LogID, e.LogIndex, e.Kind, e.InclusionPromise, e.InclusionProof)
	}
	if c.Error != "" {
		fmt.Fprintf(w, "  error:               %s\n", c.Error)
	}
}

func printMap(w io.Writer, title string, m map[string]any) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(w, "  %s:\n", title)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if t, ok := v.(time.Time); ok {
			v = t.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "    %s: %v\n", k, v)
	}
}
