package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/fsutil"
	"github.com/signet-dev/signet/trustpolicy"
)

// policyKind abstracts the OCI and blob trust policy documents for the
// policy commands.
type policyKind struct {
	blob bool
}

func (k policyKind) noun() string {
	if k.blob {
		return "blob trust policy"
	}
	return "OCI trust policy"
}

// parse validates data as this kind of document.
func (k policyKind) parse(data []byte) error {
	var err error
	if k.blob {
		_, err = trustpolicy.ParseBlob(bytes.NewReader(data))
	} else {
		_, err = trustpolicy.ParseOCI(bytes.NewReader(data))
	}
	return err
}

// path returns the file to read and the file to write. For OCI policies
// signet reads trustpolicy.oci.json, else the legacy trustpolicy.json, and
// writes to whichever exists (trustpolicy.oci.json when neither does), so a
// configuration directory shared with notation v1.3.2 keeps working.
func (k policyKind) path(dir config.Dir) string {
	if k.blob {
		return dir.TrustPolicyBlob()
	}
	if _, err := os.Lstat(dir.TrustPolicyOCI()); err == nil {
		return dir.TrustPolicyOCI()
	}
	if _, err := os.Lstat(dir.TrustPolicyOCILegacy()); err == nil {
		return dir.TrustPolicyOCILegacy()
	}
	return dir.TrustPolicyOCI()
}

func newPolicyCmd(env *Env, blob bool) *cobra.Command {
	k := policyKind{blob: blob}
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Manage the " + k.noun(),
	}
	cmd.AddCommand(newPolicyImportCmd(env, k), newPolicyShowCmd(env, k), newPolicyInitCmd(env, k))
	return cmd
}

func newPolicyImportCmd(env *Env, k policyKind) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "import [flags] FILE",
		Short: "Validate a " + k.noun() + " file and install it",
		Args:  exactArgs(1, "one policy file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := fsutil.ReadRegularFile(args[0], trustpolicy.MaxPolicyBytes)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%w: %w", signet.ErrIO, err)
				}
				return usageErr(err)
			}
			if err := k.parse(data); err != nil {
				return usageErr(fmt.Errorf("%s is not a valid %s: %w", args[0], k.noun(), err))
			}
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			return installPolicy(env, k, dir, data, force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an existing policy")
	return cmd
}

func installPolicy(env *Env, k policyKind, dir config.Dir, data []byte, force bool) error {
	path := k.path(dir)
	if _, err := os.Lstat(path); err == nil && !force {
		return usageErr(fmt.Errorf("%s already exists: use --force to replace it", path))
	}
	if err := fsutil.MkdirAll(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	fmt.Fprintf(env.Stdout, "The %s was written to %s\n", k.noun(), path)
	return nil
}

func newPolicyShowCmd(env *Env, k policyKind) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Short: "Print the " + k.noun() + " (and say if it is invalid)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			path := k.path(dir)
			data, err := fsutil.ReadRegularFile(path, trustpolicy.MaxPolicyBytes)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return withHint(usageErr(fmt.Errorf("the %s is not present (%s)", k.noun(), path)), "create one with 'policy init' or 'policy import FILE'")
				}
				return usageErr(err)
			}
			env.Stdout.Write(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				fmt.Fprintln(env.Stdout)
			}
			if err := k.parse(data); err != nil {
				return usageErr(fmt.Errorf("%s is not a valid %s: %w", path, k.noun(), err))
			}
			if !k.blob {
				markExtensions(env, data)
			}
			return nil
		},
	}
}

// markExtensions lists on stderr the signet/v1 extension members of a
// valid OCI document (docs/policy-extensions.md), so that stdout stays the
// document as it is.
func markExtensions(env *Env, data []byte) {
	doc, err := trustpolicy.ParseOCI(bytes.NewReader(data))
	if err != nil || !doc.Extended() {
		return
	}
	fmt.Fprintf(env.Stderr, "Note: this is a %s trust policy with signet extensions; notation refuses it (unsupported version). Extension members:\n", trustpolicy.ExtensionVersion)
	for _, m := range doc.ExtensionMembers() {
		where := m.Member
		if m.Statement != "" {
			where = fmt.Sprintf("statement %q: %s", m.Statement, m.Member)
		}
		fmt.Fprintf(env.Stderr, "  [%s] %s = %s: %s\n", trustpolicy.ExtensionVersion, where, m.Value, m.Meaning)
	}
}

type policyInitOpts struct {
	name       string
	scopes     []string
	stores     []string
	identities []string
	level      string
	global     bool
	force      bool
	// signet/v1 extension members (OCI only).
	minSignatures int
	tagMaxAge     string
}

func newPolicyInitCmd(env *Env, k policyKind) *cobra.Command {
	o := &policyInitOpts{}
	example := `  signet policy init --name prod --scope registry.example.com/app --trust-store ca:acme --trusted-identity "x509.subject: C=US, ST=WA, O=acme"`
	if k.blob {
		example = `  signet blob policy init --name releases --global --trust-store ca:acme --trusted-identity "*"`
	}
	cmd := &cobra.Command{
		Use:     "init [flags]",
		Short:   "Write a " + k.noun() + " with one statement",
		Example: example,
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := o.build(k)
			if err != nil {
				return usageErr(err)
			}
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			return installPolicy(env, k, dir, doc, o.force)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.name, "name", "n", "", "statement name (required)")
	if k.blob {
		fl.BoolVar(&o.global, "global", false, "make it the global policy, used when verify has no --policy-name")
	} else {
		fl.StringArrayVar(&o.scopes, "scope", nil, "registry scope REGISTRY/REPO, prefix scope REGISTRY/PATH/* or REGISTRY/* (signet/v1), or * (repeatable, required)")
		_ = cmd.MarkFlagRequired("scope")
		fl.IntVar(&o.minSignatures, "min-signatures", 0, "require K signatures by distinct trusted keys (signet/v1 extension)")
		fl.StringVar(&o.tagMaxAge, "tag-max-age", "", "require verified tags to be bound by a signature younger than this, e.g. 168h or 7d (signet/v1 extension)")
	}
	fl.StringArrayVar(&o.stores, "trust-store", nil, "trust store TYPE:NAME, e.g. ca:acme (repeatable)")
	fl.StringArrayVar(&o.identities, "trusted-identity", nil, `trusted identity "x509.subject: C=..., ST=..., O=..." or "*" (repeatable)`)
	fl.StringVar(&o.level, "level", "strict", "verification level: strict, permissive, audit or skip")
	fl.BoolVar(&o.force, "force", false, "replace an existing policy")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("level", cobra.FixedCompletions([]string{"strict", "permissive", "audit", "skip"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *policyInitOpts) build(k policyKind) ([]byte, error) {
	st := trustpolicy.Statement{
		Name:                  o.name,
		SignatureVerification: trustpolicy.SignatureVerification{Level: o.level},
		TrustStores:           o.stores,
		TrustedIdentities:     o.identities,
	}
	if k.blob {
		st.GlobalPolicy = o.global
		doc := &trustpolicy.BlobDocument{Version: trustpolicy.SupportedVersion, TrustPolicies: []trustpolicy.Statement{st}}
		if err := doc.Validate(); err != nil {
			return nil, err
		}
		return doc.Marshal()
	}
	st.RegistryScopes = o.scopes
	st.MinSignatures = o.minSignatures
	if o.tagMaxAge != "" {
		st.TagBinding = &trustpolicy.TagBinding{MaxAge: o.tagMaxAge}
	}
	version := trustpolicy.SupportedVersion
	// A document that uses an extension is a signet/v1 document, so that
	// notation refuses it rather than reading it as weaker.
	if st.MinSignatures != 0 || st.TagBinding != nil || slices.ContainsFunc(st.RegistryScopes, trustpolicy.IsPrefixScope) {
		version = trustpolicy.ExtensionVersion
	}
	doc := &trustpolicy.Document{Version: version, TrustPolicies: []trustpolicy.Statement{st}}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	return doc.Marshal()
}
