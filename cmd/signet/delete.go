package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/registry"
)

type deleteOpts struct {
	registry  registryFlags
	output    outputFlag
	ociLayout bool
	cascade   bool
	dryRun    bool
	yes       bool
}

func newDeleteCmd(env *Env) *cobra.Command {
	o := &deleteOpts{}
	cmd := &cobra.Command{
		Use:   "delete [--oci-layout] REFERENCE [--cascade] [--dry-run] [-y]",
		Short: "Delete an artifact, or one signature, and with --cascade its referrers",
		Long: `Delete the manifest REFERENCE names. An artifact with referrers
(signatures, SBOMs, ...) is refused, because they would be left orphaned,
unless --cascade is given: then its whole referrer graph is deleted, each
referrer before the artifact it refers to. Deleting one signature is
'signet delete REPO@SIGNATURE_DIGEST'.

On a registry without the referrers API the referrers tag index
(sha256-<digest>) is kept consistent: each deleted referrer is removed from
it, and an index left empty is deleted, tag and all. The registry must
allow deletes. From an OCI layout, blobs that only the deleted manifests
used go too.

--dry-run lists what would be deleted and deletes nothing. Deleting asks
for confirmation on a terminal; -y (--yes) is required otherwise.`,
		Example: `  signet delete --dry-run --cascade registry.example.com/app@sha256:9f2c...
  signet delete -y registry.example.com/app@sha256:<signature digest>
  signet delete --cascade -y --oci-layout ./layout:v1`,
		Args: exactArgs(1, "one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runDelete(cmd, env, o, args[0]) },
	}
	o.registry.AddFlags(cmd)
	o.output.AddFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&o.ociLayout, "oci-layout", false, "the reference is an OCI image layout directory or tar archive")
	fl.BoolVar(&o.cascade, "cascade", false, "also delete every referrer below the artifact (children first)")
	fl.BoolVar(&o.dryRun, "dry-run", false, "list what would be deleted; delete nothing")
	fl.BoolVarP(&o.yes, "yes", "y", false, "delete without asking for confirmation")
	return cmd
}

// deleteResult is the JSON form of a delete.
type deleteResult struct {
	// Reference is REPO@DIGEST of the artifact named.
	Reference string `json:"reference"`
	DryRun    bool   `json:"dryRun"`
	// Artifacts are deleted (or, with dryRun, would be), in order.
	Artifacts []deletedArtifact `json:"artifacts"`
}

type deletedArtifact struct {
	Reference    string `json:"reference"`
	MediaType    string `json:"mediaType"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
	ArtifactType string `json:"artifactType,omitempty"`
}

func runDelete(cmd *cobra.Command, env *Env, o *deleteOpts, arg string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	refs, err := parseArtifactRefs(env, []string{arg}, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	a := refs[0]
	ctx := cmd.Context()
	res := deleteResult{DryRun: o.dryRun, Artifacts: []deletedArtifact{}}
	toArtifact := func(d ocispec.Descriptor) deletedArtifact {
		return deletedArtifact{Reference: a.prefix() + "@" + d.Digest.String(), MediaType: d.MediaType, Digest: d.Digest.String(), Size: d.Size, ArtifactType: d.ArtifactType}
	}
	plan := func(t signet.ReadTarget) (*graph.Plan, error) {
		subject, err := registry.ResolveManifest(ctx, t, a.reference)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", signet.ErrIO, err)
		}
		res.Reference = a.prefix() + "@" + subject.Digest.String()
		p, err := graph.PlanDelete(ctx, t, subject, graph.DeleteOptions{Cascade: o.cascade})
		if errors.Is(err, graph.ErrHasReferrers) {
			printDeleteList(env.Stderr, "Referrers that would be orphaned:", p.Graph, a.prefix())
			return nil, withHint(usageErr(err), "add --cascade to delete them too (each before the artifact it refers to); --dry-run lists what would go")
		}
		if err != nil {
			return nil, walkErr(err)
		}
		return p, nil
	}
	if o.dryRun {
		t, err := a.openRead(ctx)
		if err != nil {
			return err
		}
		p, err := plan(t)
		if err != nil {
			return err
		}
		for _, d := range p.Order {
			res.Artifacts = append(res.Artifacts, toArtifact(d))
		}
		if o.output.json() {
			return writeJSON(env.Stdout, res)
		}
		fmt.Fprintf(env.Stdout, "Would delete %d artifacts (dry run: nothing deleted):\n", len(p.Order))
		for _, d := range p.Order {
			fmt.Fprintf(env.Stdout, "  %s\n", describeArtifact(a.prefix(), d))
		}
		return nil
	}
	var executed bool
	err = a.withWritable(ctx, func(t signet.Target) error {
		p, err := plan(t)
		if err != nil {
			return err
		}
		d, ok := t.(content.Deleter)
		if !ok {
			return usageErr(fmt.Errorf("%s cannot delete content", a))
		}
		if !o.yes {
			if err := confirmDelete(env, a.prefix(), p); err != nil {
				return err
			}
		}
		executed = true
		_, err = p.Execute(ctx, d, func(d ocispec.Descriptor) {
			res.Artifacts = append(res.Artifacts, toArtifact(d))
			if !o.output.json() {
				fmt.Fprintf(env.Stdout, "Deleted %s\n", describeArtifact(a.prefix(), d))
			}
		})
		if err != nil {
			return fmt.Errorf("%w: %w (deleted %d of %d artifacts)", signet.ErrIO, err, len(res.Artifacts), len(p.Order))
		}
		return nil
	})
	if o.output.json() && executed {
		if jerr := writeJSON(env.Stdout, res); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// describeArtifact is one artifact's line: REPO@DIGEST and its type.
func describeArtifact(prefix string, d ocispec.Descriptor) string {
	s := prefix + "@" + d.Digest.String()
	if d.ArtifactType != "" {
		s += " (" + d.ArtifactType + ")"
	}
	return s
}

func printDeleteList(w io.Writer, title string, root *graph.Node, prefix string) {
	fmt.Fprintln(w, title)
	for _, c := range root.Referrers {
		_ = c.Walk(func(n *graph.Node) error {
			fmt.Fprintf(w, "%s%s\n", strings.Repeat("  ", n.Depth), describeArtifact(prefix, n.Descriptor))
			return nil
		})
	}
}

// confirmDelete asks on a terminal, as notation and oras do; elsewhere -y
// is required so that a script never deletes by accident.
func confirmDelete(env *Env, prefix string, p *graph.Plan) error {
	if !stdinTerminal(env.Stdin) {
		return withHint(usageErr(errors.New("delete needs confirmation and standard input is not a terminal")),
			"add -y (--yes) to delete without a prompt, or --dry-run to list what would go")
	}
	fmt.Fprintf(env.Stderr, "These %d artifacts will be deleted:\n", len(p.Order))
	for _, d := range p.Order {
		fmt.Fprintf(env.Stderr, "  %s\n", describeArtifact(prefix, d))
	}
	fmt.Fprint(env.Stderr, "Are you sure you want to continue? [y/N] ")
	// One line, bounded: a terminal, but still input.
	line, err := bufio.NewReader(io.LimitReader(env.Stdin, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: read the answer: %w", signet.ErrIO, err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return usageErr(errors.New("delete cancelled: nothing was deleted"))
}

// stdinTerminal reports whether r is a terminal (a character device).
func stdinTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}
