package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
)

type discoverOpts struct {
	registry     registryFlags
	revocation   verifyFlags
	format       string
	ociLayout    bool
	artifactType string
	depth        int
	verify       bool
	scope        string
}

func newDiscoverCmd(env *Env) *cobra.Command {
	o := &discoverOpts{}
	cmd := &cobra.Command{
		Use:   "discover [--oci-layout] REFERENCE",
		Short: "Show the referrer graph of an artifact: signatures, SBOMs, signatures on SBOMs, ...",
		Long: `Show the artifacts that refer to an artifact (its referrers: signatures,
SBOMs, scan reports), the artifacts that refer to those, and so on, as a tree
grouped by artifact type, as oras discover shows it: each referrer's digest,
size and annotations. -o json prints the same graph as one JSON document.

The walk is bounded: --depth levels (default ` + fmt.Sprint(graph.DefaultMaxDepth) + `), at most ` + fmt.Sprint(graph.DefaultMaxReferrers) + `
referrers per artifact and ` + fmt.Sprint(graph.DefaultMaxNodes) + ` artifacts in all; a graph cut by a default
limit is shown with a warning. Each request has the registry timeout.

With --verify each signature (artifact type ` + signature.ArtifactType + `, or a cosign
bundle, docs/cosign.md)
shows its signer and whether it verifies under the trust policy statement
of the repository (--scope for an OCI layout). The verdict is per signature;
'signet verify' decides whether the artifact is trusted. discover exits 0
whatever the verdicts.`,
		Example: `  signet discover registry.example.com/app@sha256:9f2c...
  signet discover --artifact-type application/spdx+json --depth 1 registry.example.com/app:v1
  signet discover --verify -o json registry.example.com/app:v1
  signet discover --oci-layout --verify --scope example.com/app ./layout:v1`,
		Args: exactArgs(1, "one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runDiscover(cmd, env, o, args[0]) },
	}
	o.registry.AddFlags(cmd)
	o.revocation.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&o.format, "output", "o", "tree", "output format: tree (or text) or json")
	fl.BoolVar(&o.ociLayout, "oci-layout", false, "the reference is an OCI image layout directory or tar archive")
	fl.StringVar(&o.artifactType, "artifact-type", "", "show only referrers of this artifact type (at every level)")
	fl.IntVar(&o.depth, "depth", 0, fmt.Sprintf("levels of referrers to show (default %d)", graph.DefaultMaxDepth))
	fl.BoolVar(&o.verify, "verify", false, "verify each signature under the trust policy and show its signer and verdict")
	fl.StringVar(&o.scope, "scope", "", "repository URI (REGISTRY/REPO) whose trust policy statement applies, for --verify with --oci-layout")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"tree", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// discoverNode is the JSON form of one node of the referrer graph: oras
// discover's (reference, descriptor fields, referrers) plus signet's marks.
type discoverNode struct {
	Reference    string            `json:"reference"`
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// Repeated: the digest appears earlier in the graph (a listing that
	// loops); its referrers are shown there.
	Repeated bool `json:"repeated,omitempty"`
	// Unlisted: the depth limit stopped the walk here.
	Unlisted bool `json:"unlisted,omitempty"`
	// Truncated: a limit kept some referrers out.
	Truncated    bool              `json:"truncated,omitempty"`
	Verification *nodeVerification `json:"verification,omitempty"`
	Referrers    []*discoverNode   `json:"referrers"`
}

// nodeVerification is one signature's verdict under the trust policy.
type nodeVerification struct {
	// Verdict is verified, failed or skipped.
	Verdict string `json:"verdict"`
	Signer  string `json:"signer,omitempty"`
	Policy  string `json:"policy"`
	// Reason says why verification failed.
	Reason string `json:"reason,omitempty"`
}

func runDiscover(cmd *cobra.Command, env *Env, o *discoverOpts, arg string) error {
	switch o.format {
	case "tree", "text", "json":
	default:
		return usageErr(fmt.Errorf("unsupported output format %q: use tree or json", o.format))
	}
	if cmd.Flags().Changed("depth") && o.depth < 1 {
		return usageErr(fmt.Errorf("--depth must be at least 1, got %d", o.depth))
	}
	if o.artifactType != "" && !graph.ValidMediaType(o.artifactType) {
		return usageErr(fmt.Errorf("--artifact-type %q is not a media type (type/subtype)", o.artifactType))
	}
	if o.scope != "" && (!o.verify || !o.ociLayout) {
		return usageErr(errors.New("--scope is only for --verify with --oci-layout: a registry reference names its own repository"))
	}
	if o.verify && o.ociLayout && o.scope == "" {
		return usageErr(errors.New("--scope is required with --verify and --oci-layout: it names the repository (REGISTRY/REPO) whose trust policy statement applies"))
	}
	store, desc, a, err := openArtifact(cmd, env, arg, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	root, err := graph.Walk(ctx, store, desc, graph.Options{ArtifactType: o.artifactType, MaxDepth: o.depth, Truncate: true})
	if err != nil {
		return walkErr(err)
	}
	if !cmd.Flags().Changed("depth") && root.Incomplete() || hasTruncated(root) {
		fmt.Fprintf(env.Stderr, "Warning: the referrer graph is larger than signet shows (limits: depth %d, %d referrers per artifact, %d artifacts)\n",
			graph.DefaultMaxDepth, graph.DefaultMaxReferrers, graph.DefaultMaxNodes)
	}
	var verify func(subject, sig *graph.Node) *nodeVerification
	if o.verify {
		if verify, err = discoverVerifier(ctx, env, o, store, a.scope(o.scope)); err != nil {
			return err
		}
	}
	doc := toDiscoverNode(a.prefix(), root, nil, verify)
	if o.format == "json" {
		return writeJSON(env.Stdout, doc)
	}
	printDiscoverTree(env.Stdout, doc)
	return nil
}

func hasTruncated(n *graph.Node) bool {
	return n.Walk(func(c *graph.Node) error {
		if c.Truncated {
			return errors.New("truncated")
		}
		return nil
	}) != nil
}

// walkErr classifies a failed walk: a graph over a limit is input signet
// refuses (2, as copy refuses it); one that could not be read is an I/O
// failure (3) like any registry failure.
func walkErr(err error) error {
	if errors.Is(err, graph.ErrLimit) {
		return withHint(usageErr(err), "the graph is larger than signet acts on (docs/cli.md, 'Referrer graph limits'); 'signet discover' shows it")
	}
	return fmt.Errorf("%w: %w", signet.ErrIO, err)
}

// discoverVerifier loads the trust policy and the verifier once and returns
// the per-signature check.
func discoverVerifier(ctx context.Context, env *Env, o *discoverOpts, store signet.ReadTarget, scope string) (func(subject, sig *graph.Node) *nodeVerification, error) {
	policy, v, err := ociVerification(env, &o.revocation)
	if err != nil {
		return nil, err
	}
	opts := signet.VerifyOCIOptions{Policy: policy, Verifier: v, Scope: scope}
	// Refuse up front what would refuse every signature: no statement for
	// the scope, an unusable trust store.
	stmt, err := policy.Match(scope)
	if err != nil {
		return nil, err
	}
	if err := v.CheckTrustStores(ctx, stmt); err != nil {
		return nil, err
	}
	return func(subject, sig *graph.Node) *nodeVerification {
		out, err := signet.VerifyOCISignature(ctx, store, subject.Descriptor, sig.Descriptor, opts)
		if err != nil {
			return &nodeVerification{Verdict: "failed", Policy: stmt.Name, Reason: err.Error()}
		}
		nv := &nodeVerification{Policy: out.Policy.Name, Reason: out.Reason}
		switch out.Verdict {
		case signet.VerdictSkipped:
			nv.Verdict = "skipped"
		case signet.VerdictTrusted:
			nv.Verdict = "verified"
		default:
			nv.Verdict = "failed"
		}
		if len(out.Signatures) > 0 {
			nv.Signer = out.Signatures[0].Signer
		}
		return nv
	}, nil
}

func toDiscoverNode(prefix string, n, parent *graph.Node, verify func(subject, sig *graph.Node) *nodeVerification) *discoverNode {
	d := n.Descriptor
	out := &discoverNode{
		Reference:    prefix + "@" + d.Digest.String(),
		MediaType:    d.MediaType,
		Digest:       d.Digest.String(),
		Size:         d.Size,
		ArtifactType: d.ArtifactType,
		Annotations:  d.Annotations,
		Repeated:     n.Repeated,
		Unlisted:     n.Unlisted,
		Truncated:    n.Truncated,
		Referrers:    []*discoverNode{},
	}
	// Notary Project signatures and cosign bundles (docs/cosign.md).
	isSig := d.ArtifactType == signature.ArtifactType || d.ArtifactType == registry.MediaTypeSigstoreBundle
	if parent != nil && verify != nil && isSig && !n.Repeated {
		out.Verification = verify(parent, n)
	}
	for _, c := range n.Referrers {
		out.Referrers = append(out.Referrers, toDiscoverNode(prefix, c, n, verify))
	}
	return out
}

// printDiscoverTree prints the graph as oras discover's tree: the subject,
// then its referrers grouped by artifact type (in order of first
// appearance), each referrer's digest and size, its annotations (sorted),
// its verification, and its own referrers.
func printDiscoverTree(w io.Writer, root *discoverNode) {
	fmt.Fprintln(w, root.Reference)
	printReferrers(w, root, "")
}

func printReferrers(w io.Writer, n *discoverNode, indent string) {
	var types []string
	byType := map[string][]*discoverNode{}
	for _, c := range n.Referrers {
		t := c.ArtifactType
		if t == "" {
			t = "<unknown>"
		}
		if _, ok := byType[t]; !ok {
			types = append(types, t)
		}
		byType[t] = append(byType[t], c)
	}
	lines := make([]treeLine, 0, len(types))
	for _, t := range types {
		lines = append(lines, treeLine{text: t, children: func(w io.Writer, indent string) {
			kids := byType[t]
			kl := make([]treeLine, len(kids))
			for i, c := range kids {
				kl[i] = treeLine{text: nodeLine(c), children: func(w io.Writer, indent string) { printNodeBody(w, c, indent) }}
			}
			printLines(w, kl, indent)
		}})
	}
	printLines(w, lines, indent)
}

// printNodeBody prints a referrer's annotations, then its own referrers.
func printNodeBody(w io.Writer, n *discoverNode, indent string) {
	var lines []treeLine
	if len(n.Annotations) > 0 {
		keys := slices.Sorted(maps.Keys(n.Annotations))
		lines = append(lines, treeLine{text: "[annotations]", children: func(w io.Writer, indent string) {
			al := make([]treeLine, len(keys))
			for i, k := range keys {
				al[i] = treeLine{text: k + ": " + oneLine(n.Annotations[k])}
			}
			printLines(w, al, indent)
		}})
	}
	if len(n.Referrers) > 0 {
		lines = append(lines, treeLine{children: func(w io.Writer, indent string) { printReferrers(w, n, indent) }, inline: true})
	}
	printLines(w, lines, indent)
}

// nodeLine is a referrer's line: digest, size, marks and verdict.
func nodeLine(n *discoverNode) string {
	s := fmt.Sprintf("%s (%d bytes)", n.Digest, n.Size)
	switch {
	case n.Repeated:
		s += " (repeated: shown above)"
	case n.Unlisted:
		s += " (referrers not listed: depth limit)"
	case n.Truncated:
		s += " (more referrers than shown)"
	}
	if v := n.Verification; v != nil {
		switch v.Verdict {
		case "verified":
			s += fmt.Sprintf(" [verified: signed by %q, policy %q]", v.Signer, v.Policy)
		case "skipped":
			s += fmt.Sprintf(" [skipped: policy %q skips verification]", v.Policy)
		default:
			s += fmt.Sprintf(" [failed: %s]", oneLine(v.Reason))
			if v.Signer != "" {
				s += fmt.Sprintf(" [signer %q]", v.Signer)
			}
		}
	}
	return s
}

// oneLine keeps a value on its tree line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// treeLine is one line of a tree and what hangs below it. An inline entry
// has no line of its own: its children continue at the same level.
type treeLine struct {
	text     string
	children func(w io.Writer, indent string)
	inline   bool
}

func printLines(w io.Writer, lines []treeLine, indent string) {
	// An inline entry's children are the last lines of this level.
	for i, l := range lines {
		if l.inline {
			if l.children != nil {
				l.children(w, indent)
			}
			continue
		}
		last := i == len(lines)-1
		branch, next := "├── ", "│   "
		if last {
			branch, next = "└── ", "    "
		}
		fmt.Fprintf(w, "%s%s%s\n", indent, branch, l.text)
		if l.children != nil {
			l.children(w, indent+next)
		}
	}
}
