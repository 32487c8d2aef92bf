package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/registry"
)

type copyOpts struct {
	registry      registryFlags
	revocation    verifyFlags
	output        outputFlag
	recursive     bool
	platform      string
	concurrency   int
	verify        bool
	verifyAll     bool
	fromLayout    bool
	toLayout      bool
	fromScope     string
	toScope       string
	maxSignatures int
}

func newCopyCmd(env *Env) *cobra.Command {
	o := &copyOpts{}
	cmd := &cobra.Command{
		Use:     "copy [flags] SRC DST[:TAG]",
		Aliases: []string{"cp"},
		Short:   "Copy an artifact and its referrer graph to another repository (promote)",
		Long: `Copy the artifact SRC names into the repository DST, keeping its digest; DST:TAG
also tags it there. With -r the whole referrer graph goes along: signatures,
SBOMs, signatures on SBOMs, and for an image index every platform manifest's
referrers too. A copy is idempotent and resumable: run it again after an
interruption and it finishes the job, transferring only what DST lacks
(blobs are mounted across repositories of one registry). Works into
registries with the referrers API and with the referrers tag schema, and
between registries and OCI image layouts (--from-oci-layout, --to-oci-layout).

With --verify, SRC is verified against the trust policy (its repository's
statement) before anything is written: the root, and with -r every other
manifest of the graph that has signatures (platform manifests, SBOMs, scan
results), each by its own signatures; one that is not trusted stops the
copy and nothing is written. Unsigned nodes are reported ("unsigned") and
pass; --verify-all requires every one of them to carry a signature that
verifies. After the copy every node is looked up at DST (n of n, by
digest) and the same nodes are verified there, under DST's statement.
With --platform, the platform manifest copied is what is verified, by its
own signatures: an index's signature does not travel with it.

Progress (nodes, bytes) is shown on a terminal, never with -o json.

Exit codes: 0 copied (and verified), 1 not trusted, 2 bad usage or
configuration, 3 I/O (including a node missing at DST).`,
		Example: `  signet copy -r build.example.com/app:v1 prod.example.com/app
  signet copy -r --verify build.example.com/app@sha256:9f2c... prod.example.com/app:v1
  signet copy -r --verify-all build.example.com/app:v1 prod.example.com/app
  signet copy -r --verify --platform linux/arm64 build.example.com/app:v1 edge.example.com/app
  signet copy -r --to-oci-layout registry.example.com/app:v1 ./layout:v1
  signet copy -r --from-oci-layout ./layout:v1 registry.example.com/app`,
		Args: exactArgs(2, "a source reference and a destination repository"),
		RunE: func(cmd *cobra.Command, args []string) error { return runCopy(cmd, env, o, args[0], args[1]) },
	}
	o.output.AddFlags(cmd)
	o.registry.AddFlags(cmd)
	o.revocation.AddFlags(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&o.recursive, "recursive", "r", false, "copy the referrer graph too (signatures, SBOMs, their referrers; every platform manifest's for an index)")
	fl.StringVar(&o.platform, "platform", "", "copy only this platform's manifest (os/arch[/variant]) of an index")
	fl.IntVar(&o.concurrency, "concurrency", graph.DefaultCopyConcurrency, fmt.Sprintf("nodes transferred at once (1 to %d)", graph.MaxCopyConcurrency))
	fl.BoolVar(&o.verify, "verify", false, "verify SRC before copying and DST after: every node arrived, the root and every signed node verify at both ends")
	fl.BoolVar(&o.verifyAll, "verify-all", false, "--verify, and every manifest of the graph but the signatures must carry a signature that verifies (needs -r)")
	fl.BoolVar(&o.fromLayout, "from-oci-layout", false, "SRC is an OCI image layout (DIR or tar archive, :TAG or @DIGEST)")
	fl.BoolVar(&o.toLayout, "to-oci-layout", false, "DST is an OCI image layout directory (created if missing), DIR[:TAG]")
	fl.StringVar(&o.fromScope, "from-scope", "", "with --verify and --from-oci-layout: the repository (REGISTRY/REPO) whose trust policy statement applies to SRC")
	fl.StringVar(&o.toScope, "to-scope", "", "with --verify and --to-oci-layout: the repository (REGISTRY/REPO) whose trust policy statement applies at DST")
	fl.IntVar(&o.maxSignatures, "max-signatures", registry.DefaultMaxSignatures, "with --verify: maximum number of signatures to evaluate")
	return cmd
}

func runCopy(cmd *cobra.Command, env *Env, o *copyOpts, srcArg, dstArg string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.concurrency < 1 || o.concurrency > graph.MaxCopyConcurrency {
		return usageErr(fmt.Errorf("--concurrency %d: want 1 to %d", o.concurrency, graph.MaxCopyConcurrency))
	}
	if o.verifyAll {
		if !o.recursive {
			return usageErr(errors.New("--verify-all verifies every node of the referrer graph: it needs -r"))
		}
		o.verify = true
	}
	if (o.fromScope != "" && !(o.verify && o.fromLayout)) || (o.toScope != "" && !(o.verify && o.toLayout)) {
		return usageErr(errors.New("--from-scope and --to-scope name the trust policy scope of an OCI layout with --verify (--from-oci-layout, --to-oci-layout)"))
	}
	if o.verify && ((o.fromLayout && o.fromScope == "") || (o.toLayout && o.toScope == "")) {
		return usageErr(errors.New("--verify with an OCI layout needs its scope: --from-scope or --to-scope REGISTRY/REPO"))
	}
	if err := checkMaxSignatures(o.maxSignatures); err != nil {
		return err
	}
	ctx := cmd.Context()
	src, err := parseArtifactRefs(env, []string{srcArg}, o.fromLayout, &o.registry)
	if err != nil {
		return err
	}
	a := src[0]
	srcT, err := a.openRead(ctx)
	if err != nil {
		return err
	}
	dst, err := openCopyDestination(ctx, env, dstArg, o.toLayout, &o.registry)
	if err != nil {
		return err
	}
	opts := graph.CopyOptions{Recursive: o.recursive, Platform: o.platform, Concurrency: o.concurrency, Tag: dst.tag}
	if o.verify {
		v, err := loadVerify(env, &o.revocation, o.maxSignatures)
		if err != nil {
			return err
		}
		v.SourceScope = a.scope(o.fromScope)
		v.All = o.verifyAll
		v.DestinationScope = dst.scope(o.toScope)
		opts.Verify = v
	}
	stop := showProgress(env, &o.output, "Copying", &opts.Progress)
	res, err := graph.Copy(ctx, srcT, a.reference, dst.target, opts)
	stop()
	if res != nil {
		if werr := printCopy(env, &o.output, a.prefix(), dst.name, res); werr != nil {
			return werr
		}
	}
	if err != nil {
		return copyError(err, res, o.recursive)
	}
	return nil
}

// loadVerify loads the trust policy and the verifier for a verified
// transfer.
func loadVerify(env *Env, vf *verifyFlags, maxSignatures int) (*graph.VerifyOptions, error) {
	policy, v, err := ociVerification(env, vf)
	if err != nil {
		return nil, err
	}
	return &graph.VerifyOptions{VerifyOCIOptions: signet.VerifyOCIOptions{Policy: policy, Verifier: v, MaxSignatures: maxSignatures}}, nil
}

// copyError adds the hint that fits a failed copy.
func copyError(err error, res *graph.CopyResult, recursive bool) error {
	var ve *graph.VerifyError
	switch {
	case errors.Is(err, graph.ErrIncomplete):
		return withHint(err, "run the same copy again: it transfers only what is missing")
	case errors.Is(err, graph.ErrPlatformUnsigned):
		return withHint(err, "nothing was written to the destination; sign the platform manifests ('signet sign --recursive' on the index, or '--platform'), or copy the whole index")
	case res != nil && res.Verification != nil && res.Verification.Refused:
		return withHint(err, "nothing was written to the destination; 'signet verify' (or 'signet discover --verify') on the source explains each check")
	case errors.As(err, &ve) && ve.End == graph.EndDestination && !recursive && errors.Is(err, signet.ErrNoSignature):
		return withHint(err, "signatures travel with the copy only with -r: run it again with -r")
	case errors.As(err, &ve) && ve.End == graph.EndDestination:
		return withHint(err, "the graph is at the destination; 'signet discover --verify' there shows each signature's verdict under its trust policy statement")
	case errors.Is(err, signet.ErrIO):
		return withHint(err, "check the registries and run the same copy again: it resumes where it stopped")
	}
	return err
}

// copyDestination is where a copy or an import writes.
type copyDestination struct {
	target graph.Destination
	// name is the repository name or layout directory, for display.
	name   string
	tag    string
	remote *registry.Repository
}

func (d copyDestination) scope(flag string) string {
	if d.remote != nil {
		return d.remote.Name()
	}
	return flag
}

// openCopyDestination opens DST: REGISTRY/REPO[:TAG], or with layout
// DIR[:TAG] (the directory is created when missing).
func openCopyDestination(ctx context.Context, env *Env, arg string, layout bool, rf *registryFlags) (copyDestination, error) {
	if layout {
		dir, tag := arg, ""
		if r, err := registry.ParseLayoutReference(arg); err == nil {
			if r.IsDigest() {
				return copyDestination{}, usageErr(fmt.Errorf("destination %q names a digest: name the layout directory, optionally with :TAG (the digest is kept)", arg))
			}
			dir, tag = r.Dir, r.Reference
		}
		if registry.IsLayoutTar(dir) {
			return copyDestination{}, usageErr(fmt.Errorf("destination %s is a file: copy into a layout directory, or write a tar archive with 'signet export'", dir))
		}
		s, err := oci.NewWithContext(ctx, dir)
		if err != nil {
			return copyDestination{}, fmt.Errorf("%w: open the OCI layout %s: %w", signet.ErrIO, dir, err)
		}
		return copyDestination{target: s, name: dir, tag: tag}, nil
	}
	d, err := env.configDir()
	if err != nil {
		return copyDestination{}, err
	}
	ro, err := rf.remoteOptions(env, d)
	if err != nil {
		return copyDestination{}, err
	}
	repo, ref, err := registry.NewRepository(arg, ro)
	if err != nil {
		return copyDestination{}, withHint(usageErr(err), "name the destination as REGISTRY/REPOSITORY, optionally with :TAG, or pass --to-oci-layout for a local OCI layout")
	}
	if _, err := digest.Parse(ref); err == nil {
		return copyDestination{}, usageErr(fmt.Errorf("destination %q names a digest: name the repository, optionally with :TAG (the digest is kept)", arg))
	}
	return copyDestination{target: repo, name: repo.Name(), tag: ref, remote: repo}, nil
}

func printCopy(env *Env, of *outputFlag, srcName, dstName string, res *graph.CopyResult) error {
	if of.json() {
		return writeJSON(env.Stdout, res)
	}
	w := env.Stdout
	v := res.Verification
	if v != nil && v.Refused {
		fmt.Fprintf(w, "Not copied: %s@%s did not verify at the source; nothing was written to %s\n", srcName, res.Root.Digest, dstName)
		printNodeVerdicts(w, v.Nodes, graph.EndSource)
		return nil
	}
	fmt.Fprintf(w, "Copied %s@%s to %s", srcName, res.Root.Digest, dstName)
	if res.Tag != "" {
		fmt.Fprintf(w, " (tagged %s)", res.Tag)
	}
	fmt.Fprintf(w, "\n  %d nodes: %d copied, %d mounted, %d already present; %s read\n", len(res.Nodes), res.Copied, res.Mounted, res.Present, humanBytes(res.Bytes))
	if v == nil {
		return nil
	}
	fmt.Fprintf(w, "  verified at the source: %s\n", verdictLine(v.Source))
	fmt.Fprintf(w, "  arrived at the destination: %d of %d nodes\n", v.Arrived, v.Expected)
	for _, n := range res.Nodes {
		line := fmt.Sprintf("    %-8s %-8s %-8s %s", n.State, n.Transfer, n.Kind, n.Digest)
		if n.ArtifactType != "" {
			line += " " + n.ArtifactType
		}
		fmt.Fprintln(w, line)
	}
	if v.Destination != nil {
		fmt.Fprintf(w, "  verified at the destination: %s\n", verdictLine(v.Destination))
	}
	if v.Arrived == v.Expected {
		printNodeVerdicts(w, v.Nodes, graph.EndDestination)
	}
	return nil
}

// printNodeVerdicts prints a summary line and one line per manifest of a
// verified copy's graph: its verdict at end, signatures, kind, digest and
// type, and why it failed.
func printNodeVerdicts(w io.Writer, nodes []graph.NodeVerification, end string) {
	trusted, failed, unsigned := 0, 0, 0
	for _, n := range nodes {
		switch {
		case !n.Required:
			unsigned++
		case n.Error != "":
			failed++
		default:
			trusted++
		}
	}
	where := "at the destination"
	if end == graph.EndSource {
		where = "at the source"
	}
	fmt.Fprintf(w, "  nodes verified %s: %d trusted, %d failed, %d unsigned (not required)\n", where, trusted, failed, unsigned)
	for _, n := range nodes {
		sigs := fmt.Sprintf("%d signatures", n.Signatures)
		if n.Signatures == 1 {
			sigs = "1 signature"
		}
		typ := n.ArtifactType
		if typ == "" {
			typ = n.MediaType
		}
		line := fmt.Sprintf("    %-10s %-12s %-8s %s %s", n.Verdict, sigs, n.Kind, n.Digest, typ)
		if n.Error != "" {
			line += ": " + n.Error
		}
		fmt.Fprintln(w, line)
	}
}

func verdictLine(out *signet.Outcome) string {
	if out == nil {
		return "not reached"
	}
	line := fmt.Sprintf("%s (policy %q)", out.Verdict, out.Policy.Name)
	if s, ok := out.Trusted(); ok {
		line += ", signer " + s.Signer
	}
	return line
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// progressInterval is how often progress is redrawn on a terminal.
const progressInterval = 200 * time.Millisecond

// showProgress sets *p and draws it on stderr until stop is called, when
// stderr is a terminal and the output is not JSON; otherwise it draws
// nothing (*p is still set, and counts).
func showProgress(env *Env, of *outputFlag, verb string, p **graph.Progress) (stop func()) {
	*p = &graph.Progress{}
	if of.json() || !isTerminal(env.Stderr) {
		return func() {}
	}
	return drawProgress(env.Stderr, verb, *p, progressInterval)
}

// drawProgress redraws one line "VERB: n/N nodes, bytes/total" on w every
// interval, and a last time (with a newline) when stop is called.
func drawProgress(w io.Writer, verb string, prog *graph.Progress, interval time.Duration) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	draw := func() {
		total := prog.TotalBytes.Load()
		// A blob listed under two media types may be read twice: never
		// show more than the total.
		fmt.Fprintf(w, "\r%s: %d/%d nodes, %s/%s   ", verb, prog.Nodes.Load(), prog.TotalNodes.Load(),
			humanBytes(min(prog.Bytes.Load(), total)), humanBytes(total))
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw()
				fmt.Fprintln(w)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
