package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/fsutil"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
)

func newBlobCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "blob",
		Short: "Sign, verify and inspect detached signatures of plain files",
	}
	cmd.AddCommand(newBlobSignCmd(env), newBlobVerifyCmd(env), newBlobInspectCmd(env), newPolicyCmd(env, true))
	return cmd
}

type blobSignOpts struct {
	signFlags
	output    outputFlag
	mediaType string
	sigDir    string
	force     bool
}

func newBlobSignCmd(env *Env) *cobra.Command {
	o := &blobSignOpts{}
	cmd := &cobra.Command{
		Use:   "sign [flags] FILE",
		Short: "Sign a file, writing FILE.jws.sig or FILE.cose.sig",
		Long: `Sign a file with a detached signature. The file is hashed as it is read, with
the digest algorithm the signing key implies (SHA-256 for RSA-2048 and EC P-256,
SHA-384 for RSA-3072 and P-384, SHA-512 for RSA-4096 and P-521). The signature
is written into --signature-directory (default: the current directory, as
notation does) as <file name>.jws.sig or <file name>.cose.sig.`,
		Example: `  signet blob sign ./release.tar.gz
  signet blob sign --key release --signature-format cose --media-type application/gzip -m build=42 ./release.tar.gz`,
		Args: exactArgs(1, "one file"),
		RunE: func(cmd *cobra.Command, args []string) error { return runBlobSign(cmd, env, o, args[0]) },
	}
	o.signFlags.AddFlags(cmd, env)
	o.output.AddFlags(cmd)
	cmd.Flags().StringVar(&o.mediaType, "media-type", signet.DefaultBlobMediaType, "media type of the file, signed into the payload")
	cmd.Flags().StringVar(&o.sigDir, "signature-directory", ".", "directory to write the signature into")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite an existing signature file")
	return cmd
}

func runBlobSign(cmd *cobra.Command, env *Env, o *blobSignOpts, path string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	sopts, err := o.signOptions(cmd.Context(), env)
	if err != nil {
		return err
	}
	sigPath := filepath.Join(o.sigDir, filepath.Base(path)+"."+sigExtension(sopts.Format.MediaType())+".sig")
	if !o.force {
		if _, err := os.Lstat(sigPath); err == nil {
			return usageErr(fmt.Errorf("signature file %s already exists: use --force to overwrite it", sigPath))
		}
	}
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil || !fi.Mode().IsRegular() {
		return usageErr(fmt.Errorf("%s is not a regular file", path))
	}
	signed, err := signet.SignBlob(cmd.Context(), withProgress(env, file, path), o.mediaType, sopts)
	if err != nil {
		if errors.Is(err, signet.ErrInvalidInput) {
			return usageErr(err)
		}
		return err
	}
	if err := fsutil.WriteFileAtomic(sigPath, signed.Envelope, 0o644); err != nil {
		return fmt.Errorf("%w: write signature: %w", signet.ErrIO, err)
	}
	if o.output.json() {
		return writeJSON(env.Stdout, map[string]any{"file": path, "signature": sigPath, "signedArtifact": signed.Target, "signingTime": signed.SigningTime.UTC()})
	}
	fmt.Fprintf(env.Stdout, "Successfully signed %s\nSignature file written to %s\n", path, sigPath)
	return nil
}

type blobVerifyOpts struct {
	revocation   verifyFlags
	output       outputFlag
	signature    string
	policyName   string
	mediaType    string
	userMetadata []string
}

func newBlobVerifyCmd(env *Env) *cobra.Command {
	o := &blobVerifyOpts{}
	cmd := &cobra.Command{
		Use:   "verify --signature SIG [flags] FILE",
		Short: "Verify a file's detached signature against the blob trust policy",
		Long: `Verify a detached signature of a file against the blob trust policy
(trustpolicy.blob.json) and the trust store. --policy-name selects a statement;
without it the statement with "globalPolicy": true applies. The envelope
format comes from the signature file name (.jws.sig or .cose.sig).

Exit codes: 0 trusted, 1 not trusted, 2 bad usage or configuration, 3 I/O.`,
		Example: `  signet blob verify --signature ./release.tar.gz.jws.sig ./release.tar.gz
  signet blob verify --signature ./release.tar.gz.cose.sig --policy-name releases -m build=42 -o json ./release.tar.gz`,
		Args: exactArgs(1, "one file"),
		RunE: func(cmd *cobra.Command, args []string) error { return runBlobVerify(cmd, env, o, args[0]) },
	}
	o.output.AddFlags(cmd)
	cmd.Flags().StringVarP(&o.signature, "signature", "s", "", "signature file (required)")
	o.revocation.AddFlags(cmd)
	cmd.Flags().StringVar(&o.policyName, "policy-name", "", "name of the blob trust policy statement to use (default: the global one)")
	cmd.Flags().StringVar(&o.mediaType, "media-type", "", "media type the file must have been signed with")
	cmd.Flags().StringArrayVarP(&o.userMetadata, "user-metadata", "m", nil, "user metadata k=v the signature must carry (repeatable)")
	_ = cmd.MarkFlagRequired("signature")
	return cmd
}

func runBlobVerify(cmd *cobra.Command, env *Env, o *blobVerifyOpts, path string) error {
	if err := o.output.validate(); err != nil {
		return err
	}
	if cmd.Flags().Changed("policy-name") && strings.TrimSpace(o.policyName) == "" {
		return usageErr(errors.New("--policy-name cannot be empty"))
	}
	md, err := parseMetadata(o.userMetadata)
	if err != nil {
		return err
	}
	f, err := envelope.ForSignatureFile(o.signature)
	if err != nil {
		return usageErr(err)
	}
	env0, err := readSignatureFile(o.signature)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(path); err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	} else if !fi.Mode().IsRegular() {
		return usageErr(fmt.Errorf("%s is not a regular file", path))
	}
	dir, err := env.configDir()
	if err != nil {
		return err
	}
	policy, _, err := trustpolicy.LoadBlob(dir.Path)
	if err != nil {
		return policyLoadError(err, "signet blob policy")
	}
	v, err := newVerifier(env, dir, &o.revocation)
	if err != nil {
		return err
	}
	out, err := signet.VerifyBlob(cmd.Context(), signet.FileOpener(path), f.MediaType(), env0, signet.VerifyBlobOptions{
		Policy: policy, Verifier: v, PolicyName: o.policyName, MediaType: o.mediaType, UserMetadata: md,
	})
	if err != nil && errors.Is(err, signet.ErrInvalidInput) {
		return usageErr(err)
	}
	if out != nil {
		out.Artifact = path
		for i := range out.Signatures {
			out.Signatures[i].Source = o.signature
		}
	}
	return printOutcome(env, &o.output, out, err, path)
}

// readSignatureFile reads a signature file, bounded by the envelope limit.
func readSignatureFile(path string) ([]byte, error) {
	data, err := fsutil.ReadRegularFile(path, envelope.MaxEnvelopeBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: signature file: %w", signet.ErrIO, err)
		}
		return nil, usageErr(fmt.Errorf("signature file: %w", err))
	}
	return data, nil
}

func newBlobInspectCmd(env *Env) *cobra.Command {
	var output outputFlag
	cmd := &cobra.Command{
		Use:   "inspect [flags] SIG",
		Short: "Show a detached signature: attributes, certificates, signed file",
		Args:  exactArgs(1, "one signature file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			f, err := envelope.ForSignatureFile(args[0])
			if err != nil {
				return usageErr(err)
			}
			data, err := readSignatureFile(args[0])
			if err != nil {
				return err
			}
			in := signet.Inspect(args[0], f.MediaType(), data)
			if output.json() {
				if err := writeJSON(env.Stdout, in); err != nil {
					return err
				}
			} else {
				printInspection(env.Stdout, in)
			}
			if in.Error != "" {
				return usageErr(fmt.Errorf("signature %s: %s", args[0], in.Error))
			}
			return nil
		},
	}
	output.AddFlags(cmd)
	return cmd
}

// withProgress reports hashing progress on stderr every 256 MiB when
// --verbose is set, or when stderr is a terminal and the file is large.
func withProgress(env *Env, f *os.File, name string) io.Reader {
	show := env.verbose
	if !show {
		if fi, err := f.Stat(); err == nil && fi.Size() >= progressMinBytes {
			show = isTerminal(env.Stderr)
		}
	}
	if !show {
		return f
	}
	return &progressReader{r: f, w: env.Stderr, name: name, step: 256 << 20}
}

// progressMinBytes is the file size from which progress is shown on a
// terminal without --verbose.
const progressMinBytes = 512 << 20

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type progressReader struct {
	r       io.Reader
	w       io.Writer
	name    string
	n, next int64
	step    int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n >= p.next+p.step {
		p.next = p.n - p.n%p.step
		fmt.Fprintf(p.w, "hashed %d MiB of %s\n", p.n>>20, p.name)
	}
	return n, err
}

// sigExtension is the envelope part of a signature file name (BLOB-2).
func sigExtension(mediaType string) string {
	if mediaType == signature.MediaTypeCOSE {
		return "cose"
	}
	return "jws"
}
