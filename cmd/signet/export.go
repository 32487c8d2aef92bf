package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/registry"
)

type exportOpts struct {
	registry       registryFlags
	revocation     verifyFlags
	format         outputFlag
	file           string
	recursive      bool
	platform       string
	concurrency    int
	ociLayout      bool
	withRevocation bool
}

func newExportCmd(env *Env) *cobra.Command {
	o := &exportOpts{}
	cmd := &cobra.Command{
		Use:   "export [flags] REFERENCE -o FILE.tar",
		Short: "Write an artifact and its referrer graph to an OCI image layout tar archive (air gap)",
		Long: `Write the artifact REFERENCE names, with -r its whole referrer graph, to FILE.tar:
an OCI image layout tar archive that oras reads with --oci-layout, signet with
--oci-layout, 'signet import' pushes into a registry, and 'signet verify
--bundle' verifies without a network. FILE.tar is written whole or not at all.
A tagged REFERENCE keeps its tag inside the archive.

--with-revocation adds the revocation evidence current at export time: the
OCSP responses and CRLs of every certificate chain of every signature in the
graph, timestamp (TSA) chains included, as an artifact referring to the root
(docs/cli.md). They are signed by their issuers, so they may travel; trust
still comes only from the trust store where they are used.

-o names the file (as oras and docker save do); --format text|json chooses
the report. Exit codes: 0 written, 2 bad usage, 3 I/O.`,
		Example: `  signet export -r registry.example.com/app:v1 -o app.tar
  signet export -r --with-revocation registry.example.com/app@sha256:9f2c... -o app.tar`,
		Args: exactArgs(1, "one artifact reference"),
		RunE: func(cmd *cobra.Command, args []string) error { return runExport(cmd, env, o, args[0]) },
	}
	o.registry.AddFlags(cmd)
	o.revocation.AddFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&o.file, "output", "o", "", "the OCI layout tar archive to write (required)")
	fl.StringVar(&o.format.format, "format", "text", "report format: text or json")
	fl.BoolVarP(&o.recursive, "recursive", "r", false, "export the referrer graph too (signatures, SBOMs, their referrers)")
	fl.StringVar(&o.platform, "platform", "", "export only this platform's manifest (os/arch[/variant]) of an index")
	fl.IntVar(&o.concurrency, "concurrency", graph.DefaultCopyConcurrency, fmt.Sprintf("nodes transferred at once (1 to %d)", graph.MaxCopyConcurrency))
	fl.BoolVar(&o.ociLayout, "oci-layout", false, "REFERENCE is in an OCI image layout (DIR or tar archive)")
	fl.BoolVar(&o.withRevocation, "with-revocation", false, "add the revocation evidence (OCSP responses, CRLs) of every signature's chains, fetched now")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runExport(cmd *cobra.Command, env *Env, o *exportOpts, ref string) error {
	if err := o.format.validate(); err != nil {
		return err
	}
	if o.file == "" {
		return withHint(usageErr(errors.New("export needs -o FILE.tar: the archive to write")), "run 'signet export --help' for usage")
	}
	if o.concurrency < 1 || o.concurrency > graph.MaxCopyConcurrency {
		return usageErr(fmt.Errorf("--concurrency %d: want 1 to %d", o.concurrency, graph.MaxCopyConcurrency))
	}
	if fi, err := os.Stat(o.file); err == nil && fi.IsDir() {
		return usageErr(fmt.Errorf("-o %s is a directory: name the tar archive to write", o.file))
	}
	if _, err := os.Stat(filepath.Dir(o.file)); err != nil {
		return fmt.Errorf("%w: -o %s: %w", signet.ErrIO, o.file, err)
	}
	ctx := cmd.Context()
	refs, err := parseArtifactRefs(env, []string{ref}, o.ociLayout, &o.registry)
	if err != nil {
		return err
	}
	a := refs[0]
	src, err := a.openRead(ctx)
	if err != nil {
		return err
	}
	opts := graph.ExportOptions{Recursive: o.recursive, Platform: o.platform, Concurrency: o.concurrency, Now: env.Now}
	if !a.isDigest() && o.platform == "" {
		opts.Tag = a.reference
	}
	if o.withRevocation {
		v := o.revocation.validator(env)
		v.Cache, v.OCSPCache = nil, nil // evidence current now, not what a cache kept
		opts.Revocation = v
	}
	stop := showProgress(env, &o.format, "Exporting", &opts.Progress)
	res, err := graph.Export(ctx, src, a.reference, o.file, opts)
	stop()
	if err != nil {
		return withHint(err, "nothing was written; check the source (and, with --with-revocation, that its OCSP responders and CRL distribution points answer) and run the export again")
	}
	if o.format.json() {
		return writeJSON(env.Stdout, struct {
			File string `json:"file"`
			*graph.ExportResult
		}{o.file, res})
	}
	fmt.Fprintf(env.Stdout, "Exported %s@%s to %s\n  %d nodes, %s\n", a.prefix(), res.Root.Digest, o.file, len(res.Nodes), humanBytes(res.Bytes))
	if e := res.Evidence; e != nil {
		fmt.Fprintf(env.Stdout, "  revocation evidence %s: %d OCSP responses, %d CRLs, collected %s\n", e.Digest, e.OCSP, e.CRL, e.Created.Format("2006-01-02T15:04:05Z07:00"))
	}
	return nil
}

type importOpts struct {
	registry    registryFlags
	output      outputFlag
	concurrency int
}

func newImportCmd(env *Env) *cobra.Command {
	o := &importOpts{}
	cmd := &cobra.Command{
		Use:   "import [flags] FILE.tar[@DIGEST|:TAG] DST[:TAG]",
		Short: "Push an exported OCI layout tar archive into a registry",
		Long: `Push the artifact in FILE.tar (written by 'signet export', or any OCI image layout
tar archive) with its whole referrer graph into the repository DST, keeping
every digest; DST:TAG also tags it. Without @DIGEST or :TAG the archive's
one tagged artifact, else its one artifact that nothing else refers to, is
pushed. Idempotent and resumable, as 'signet copy'.

Exit codes: 0 imported, 2 bad usage, 3 I/O.`,
		Example: `  signet import app.tar registry.internal/app:v1`,
		Args:    exactArgs(2, "an archive and a destination repository"),
		RunE:    func(cmd *cobra.Command, args []string) error { return runImport(cmd, env, o, args[0], args[1]) },
	}
	o.output.AddFlags(cmd)
	o.registry.AddFlags(cmd)
	cmd.Flags().IntVar(&o.concurrency, "concurrency", graph.DefaultCopyConcurrency, fmt.Sprintf("nodes transferred at once (1 to %d)", graph.MaxCopyConcurrency))
	return cmd
}

// splitBundleRef splits FILE.tar[@DIGEST|:TAG] into the file and the
// reference inside it ("" for the bundle's root).
func splitBundleRef(arg string) (file, ref string) {
	if registry.IsLayoutTar(arg) {
		return arg, ""
	}
	if r, err := registry.ParseLayoutReference(arg); err == nil {
		return r.Dir, r.Reference
	}
	return arg, ""
}

func runImport(cmd *cobra.Command, env *Env, o *importOpts, archive, dstArg string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if o.concurrency < 1 || o.concurrency > graph.MaxCopyConcurrency {
		return usageErr(fmt.Errorf("--concurrency %d: want 1 to %d", o.concurrency, graph.MaxCopyConcurrency))
	}
	file, ref := splitBundleRef(archive)
	if !registry.IsLayoutTar(file) {
		return withHint(fmt.Errorf("%w: %s is not a file", signet.ErrIO, file), "name the tar archive 'signet export' wrote")
	}
	ctx := cmd.Context()
	dst, err := openCopyDestination(ctx, env, dstArg, false, &o.registry)
	if err != nil {
		return err
	}
	opts := graph.CopyOptions{Concurrency: o.concurrency, Tag: dst.tag}
	stop := showProgress(env, &o.output, "Importing", &opts.Progress)
	res, err := graph.Import(ctx, file, ref, dst.target, opts)
	stop()
	if res != nil {
		if werr := printCopy(env, &o.output, file, dst.name, res); werr != nil {
			return werr
		}
	}
	if err != nil {
		return copyError(err, res, true)
	}
	return nil
}
