package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/truststore"
)

func newCertCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "certificate",
		Aliases: []string{"cert"},
		Short:   "Manage the trust store: certificates under truststore/x509/TYPE/STORE, public keys under truststore/publickey/STORE",
	}
	cmd.AddCommand(newCertAddCmd(env), newCertListCmd(env), newCertShowCmd(env), newCertDeleteCmd(env), newCertGenerateTestCmd(env))
	return cmd
}

// storeFlags are --type and --store.
type storeFlags struct {
	typ, store string
}

func (f *storeFlags) AddFlags(cmd *cobra.Command, required bool) {
	cmd.Flags().StringVarP(&f.typ, "type", "t", "", "trust store type: ca, signingAuthority, tsa or publickey")
	cmd.Flags().StringVarP(&f.store, "store", "s", "", "named trust store")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"ca", "signingAuthority", "tsa", "publickey"}, cobra.ShellCompDirectiveNoFileComp))
	if required {
		_ = cmd.MarkFlagRequired("type")
		_ = cmd.MarkFlagRequired("store")
	}
}

func (f *storeFlags) storeType() (truststore.Type, error) {
	switch t := truststore.Type(f.typ); t {
	case "", truststore.TypeCA, truststore.TypeSigningAuthority, truststore.TypeTSA, truststore.TypePublicKey:
		return t, nil
	}
	return "", usageErr(fmt.Errorf("unsupported trust store type %q: use ca, signingAuthority, tsa or publickey", f.typ))
}

func fileStore(env *Env) (*truststore.FileStore, config.Dir, error) {
	dir, err := env.configDir()
	if err != nil {
		return nil, dir, err
	}
	return truststore.NewFileStore(dir.TrustStore(), env.logger()), dir, nil
}

func newCertAddCmd(env *Env) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "add --type TYPE --store STORE FILE...",
		Short: "Add certificates (or, with --type publickey, PEM public keys) to a named trust store",
		Example: `  signet cert add --type ca --store acme ./acme-root.pem
  signet cert add --type publickey --store vendor ./cosign.pub`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("cert add requires at least one certificate file"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := sf.storeType()
			if err != nil {
				return err
			}
			s, _, err := fileStore(env)
			if err != nil {
				return err
			}
			added, err := s.Add(cmd.Context(), t, sf.store, args...)
			if err != nil {
				return inputFileErr(err)
			}
			for _, a := range added {
				fmt.Fprintf(env.Stdout, "Added %s to trust store %s:%s\n", a, t, sf.store)
			}
			return nil
		},
	}
	sf.AddFlags(cmd, true)
	return cmd
}

func newCertListCmd(env *Env) *cobra.Command {
	var sf storeFlags
	var output outputFlag
	cmd := &cobra.Command{
		Use:     "list [--type TYPE] [--store STORE]",
		Aliases: []string{"ls"},
		Short:   "List the certificates in the trust store",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			t, err := sf.storeType()
			if err != nil {
				return err
			}
			s, _, err := fileStore(env)
			if err != nil {
				return err
			}
			entries, err := s.List(cmd.Context(), t, sf.store)
			if err != nil {
				return usageErr(err)
			}
			if output.json() {
				if entries == nil {
					entries = []truststore.Entry{}
				}
				return writeJSON(env.Stdout, entries)
			}
			if len(entries) == 0 {
				fmt.Fprintln(env.Stdout, "No certificates in the trust store")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TYPE\tSTORE\tFILE")
			for _, e := range entries {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Type, e.Store, e.File)
			}
			return tw.Flush()
		},
	}
	sf.AddFlags(cmd, false)
	output.AddFlags(cmd)
	return cmd
}

func newCertShowCmd(env *Env) *cobra.Command {
	var sf storeFlags
	var output outputFlag
	cmd := &cobra.Command{
		Use:   "show --type TYPE --store STORE FILE",
		Short: "Show the certificates of one trust store file",
		Args:  exactArgs(1, "one certificate file name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			t, err := sf.storeType()
			if err != nil {
				return err
			}
			s, _, err := fileStore(env)
			if err != nil {
				return err
			}
			if t == truststore.TypePublicKey {
				return showPublicKeys(cmd, env, s, sf.store, args[0], output.json())
			}
			certs, err := s.Show(cmd.Context(), t, sf.store, args[0])
			if err != nil {
				return usageErr(err)
			}
			// The member names follow the camelCase of every other -o json
			// document (docs/json.md).
			type info struct {
				Subject           string `json:"subject"`
				Issuer            string `json:"issuer"`
				SHA256Fingerprint string `json:"sha256Fingerprint"`
				NotBefore         string `json:"notBefore"`
				NotAfter          string `json:"notAfter"`
				KeySpec           string `json:"keySpec"`
				IsCA              bool   `json:"isCA"`
			}
			out := []info{}
			for _, c := range certs {
				sum := sha256.Sum256(c.Raw)
				ks := "unsupported"
				if k, err := signature.KeySpecFromCertificate(c); err == nil {
					ks = k.String()
				}
				out = append(out, info{c.Subject.String(), c.Issuer.String(), hex.EncodeToString(sum[:]),
					c.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), c.NotAfter.UTC().Format("2006-01-02T15:04:05Z"), ks, c.IsCA})
			}
			if output.json() {
				return writeJSON(env.Stdout, out)
			}
			for i, c := range out {
				if i > 0 {
					fmt.Fprintln(env.Stdout)
				}
				fmt.Fprintf(env.Stdout, "Subject:     %s\nIssuer:      %s\nSHA-256:     %s\nValid from:  %s\nValid until: %s\nKey:         %s\nCA:          %v\n",
					c.Subject, c.Issuer, c.SHA256Fingerprint, c.NotBefore, c.NotAfter, c.KeySpec, c.IsCA)
			}
			return nil
		},
	}
	sf.AddFlags(cmd, true)
	output.AddFlags(cmd)
	return cmd
}

// showPublicKeys is `cert show --type publickey`: each key's algorithm and
// SHA-256 fingerprint of its SubjectPublicKeyInfo.
func showPublicKeys(cmd *cobra.Command, env *Env, s *truststore.FileStore, store, file string, asJSON bool) error {
	keys, err := s.ShowPublicKeys(cmd.Context(), store, file)
	if err != nil {
		return usageErr(err)
	}
	type info struct {
		Algorithm         string `json:"algorithm"`
		SHA256Fingerprint string `json:"sha256Fingerprint"`
	}
	out := []info{}
	for _, k := range keys {
		out = append(out, info{k.Algorithm(), k.Fingerprint()})
	}
	if asJSON {
		return writeJSON(env.Stdout, out)
	}
	for i, k := range out {
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		fmt.Fprintf(env.Stdout, "Key:         %s\nSHA-256:     %s\n", k.Algorithm, k.SHA256Fingerprint)
	}
	return nil
}

func newCertDeleteCmd(env *Env) *cobra.Command {
	var sf storeFlags
	var all, yes bool
	cmd := &cobra.Command{
		Use:   "delete --type TYPE --store STORE (FILE | --all)",
		Short: "Delete a certificate file, or all files of a store",
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := sf.storeType()
			if err != nil {
				return err
			}
			file := ""
			switch {
			case all && len(args) == 0:
				if !yes {
					return usageErr(fmt.Errorf("deleting every certificate of trust store %s:%s needs --yes", t, sf.store))
				}
			case !all && len(args) == 1:
				file = args[0]
			default:
				return usageErr(errors.New("cert delete takes one certificate file name, or --all"))
			}
			s, _, err := fileStore(env)
			if err != nil {
				return err
			}
			if err := s.Delete(cmd.Context(), t, sf.store, file); err != nil {
				return usageErr(err)
			}
			what := file
			if all {
				what = "all certificates"
			}
			fmt.Fprintf(env.Stdout, "Deleted %s from trust store %s:%s\n", what, t, sf.store)
			return nil
		},
	}
	sf.AddFlags(cmd, true)
	cmd.Flags().BoolVarP(&all, "all", "a", false, "delete every certificate of the store")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func newCertGenerateTestCmd(env *Env) *cobra.Command {
	var makeDefault bool
	var keyType string
	var bits int
	cmd := &cobra.Command{
		Use:   "generate-test [flags] NAME",
		Short: "Make a test key and self-signed certificate, trusted in store ca/NAME",
		Long: `Make a key and a self-signed code-signing certificate for testing, as
'notation cert generate-test' does: the key goes to localkeys/NAME.key and is
registered in signingkeys.json, the certificate to localkeys/NAME.crt and to
the trust store ca/NAME. Not for production use.`,
		Example: `  signet cert generate-test --default demo
  signet cert generate-test --key-type ec-384 release`,
		Args: exactArgs(1, "one name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := keySpecFlag(keyType, bits, cmd.Flags().Changed("bits"))
			if err != nil {
				return err
			}
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			g, err := signer.GenerateTest(cmd.Context(), dir, args[0], signer.GenerateOptions{KeySpec: spec, Default: makeDefault, Now: env.Now})
			if err != nil {
				return usageErr(err)
			}
			fmt.Fprintf(env.Stdout, "Generated %s key %q and a self-signed certificate valid until %s\n", spec, args[0], g.Certificate.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
			fmt.Fprintf(env.Stdout, "Key: %s\nCertificate: %s (added to trust store ca:%s)\n", g.KeyPath, g.CertPath, g.StoreName)
			if makeDefault {
				fmt.Fprintf(env.Stdout, "Key %q is now the default signing key\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make the key the default signing key")
	cmd.Flags().StringVar(&keyType, "key-type", "rsa-2048", "key type: rsa-2048, rsa-3072, rsa-4096, ec-256, ec-384 or ec-521")
	cmd.Flags().IntVarP(&bits, "bits", "b", 2048, "RSA key size (notation's flag; same as --key-type rsa-BITS)")
	_ = cmd.RegisterFlagCompletionFunc("key-type", cobra.FixedCompletions([]string{"rsa-2048", "rsa-3072", "rsa-4096", "ec-256", "ec-384", "ec-521"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func keySpecFlag(keyType string, bits int, bitsSet bool) (signature.KeySpec, error) {
	if bitsSet {
		keyType = fmt.Sprintf("rsa-%d", bits)
	}
	spec, err := signature.ParseKeySpec(strings.ToUpper(keyType))
	if err != nil {
		return spec, usageErr(fmt.Errorf("unsupported key type %q: use rsa-2048, rsa-3072, rsa-4096, ec-256, ec-384 or ec-521", keyType))
	}
	return spec, nil
}
