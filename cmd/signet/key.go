package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signer"
)

func newKeyCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage signing keys (signingkeys.json)",
	}
	cmd.AddCommand(newKeyAddCmd(env), newKeyListCmd(env), newKeyDeleteCmd(env), newKeyUpdateCmd(env))
	return cmd
}

func loadKeys(env *Env) (config.Dir, *config.SigningKeys, error) {
	dir, err := env.configDir()
	if err != nil {
		return dir, nil, err
	}
	keys, err := dir.LoadSigningKeys()
	if err != nil {
		return dir, nil, usageErr(err)
	}
	return dir, keys, nil
}

func saveKeys(dir config.Dir, keys *config.SigningKeys) error {
	if err := dir.SaveSigningKeys(keys); err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return nil
}

func newKeyAddCmd(env *Env) *cobra.Command {
	var keyFile, certFile, pluginName, keyID string
	var pluginConfig []string
	var makeDefault bool
	cmd := &cobra.Command{
		Use:   "add (--key-file KEY --cert-file CERT | --plugin NAME --id KEY_ID) [--default] NAME",
		Short: "Add a local signing key with its certificate chain",
		Example: `  signet key add release --key-file ./release.key --cert-file ./release-chain.pem --default
  signet key add kms --plugin com.example.kms --id arn:aws:kms:... --plugin-config region=eu-west-1`,
		Args: exactArgs(1, "one key name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pluginName != "" || keyID != "" {
				return addPluginKey(cmd, env, args[0], pluginName, keyID, pluginConfig, keyFile != "" || certFile != "", makeDefault)
			}
			if keyFile == "" || certFile == "" {
				return usageErr(errors.New("key add needs --key-file and --cert-file"))
			}
			kp, err := filepath.Abs(keyFile)
			if err != nil {
				return usageErr(err)
			}
			cp, err := filepath.Abs(certFile)
			if err != nil {
				return usageErr(err)
			}
			// Load once now so a broken key never reaches signingkeys.json.
			if _, err := signer.LoadLocal(kp, cp); err != nil {
				return inputFileErr(fmt.Errorf("key %q: %w", args[0], err))
			}
			dir, keys, err := loadKeys(env)
			if err != nil {
				return err
			}
			if err := keys.Add(config.KeySuite{Name: args[0], KeyPath: kp, CertificatePath: cp}, makeDefault); err != nil {
				return usageErr(err)
			}
			if err := saveKeys(dir, keys); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Added key %q\n", args[0])
			if makeDefault {
				fmt.Fprintf(env.Stdout, "Key %q is now the default signing key\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyFile, "key-file", "", "private key file (PEM: PKCS#8, EC or RSA)")
	cmd.Flags().StringVar(&certFile, "cert-file", "", "certificate chain file (PEM, leaf first, ending with the root)")
	cmd.Flags().StringVar(&pluginName, "plugin", "", "plugin holding the key (with --id), e.g. a KMS or HSM plugin")
	cmd.Flags().StringVar(&keyID, "id", "", "the key's ID in the plugin")
	cmd.Flags().StringArrayVar(&pluginConfig, "plugin-config", nil, "plugin configuration k=v stored with the key (repeatable)")
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make it the default signing key")
	return cmd
}

func newKeyListCmd(env *Env) *cobra.Command {
	var output outputFlag
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List signing keys; * marks the default",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			_, keys, err := loadKeys(env)
			if err != nil {
				return err
			}
			if output.json() {
				return writeJSON(env.Stdout, keys)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKEY PATH\tCERTIFICATE PATH\tID\tPLUGIN NAME")
			for _, k := range keys.Keys {
				name := k.Name
				if name == keys.Default {
					name = "* " + name
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", name, k.KeyPath, k.CertificatePath, redact(k.ID), k.PluginName)
			}
			return tw.Flush()
		},
	}
	output.AddFlags(cmd)
	return cmd
}

func newKeyDeleteCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Remove signing keys from signingkeys.json (the key files stay)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr(errors.New("key delete requires at least one key name"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, keys, err := loadKeys(env)
			if err != nil {
				return err
			}
			removed, err := keys.Remove(args...)
			if err != nil {
				return usageErr(err)
			}
			if err := saveKeys(dir, keys); err != nil {
				return err
			}
			for _, n := range removed {
				fmt.Fprintf(env.Stdout, "Removed key %q (its files were left in place)\n", n)
			}
			return nil
		},
	}
}

func newKeyUpdateCmd(env *Env) *cobra.Command {
	var makeDefault bool
	cmd := &cobra.Command{
		Use:     "update --default NAME",
		Aliases: []string{"set", "set-default"},
		Short:   "Make a key the default signing key",
		Args:    exactArgs(1, "one key name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !makeDefault && cmd.CalledAs() != "set-default" {
				return usageErr(errors.New("nothing to update: pass --default"))
			}
			dir, keys, err := loadKeys(env)
			if err != nil {
				return err
			}
			if err := keys.SetDefault(args[0]); err != nil {
				return usageErr(err)
			}
			if err := saveKeys(dir, keys); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "Key %q is now the default signing key\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&makeDefault, "default", false, "make it the default signing key")
	return cmd
}

// addPluginKey registers a key held by a plugin, once the plugin is found
// valid and can sign (notation key add --plugin).
func addPluginKey(cmd *cobra.Command, env *Env, name, pluginName, keyID string, pairs []string, hasFiles, makeDefault bool) error {
	if pluginName == "" || keyID == "" {
		return usageErr(errors.New("--plugin and --id go together"))
	}
	if hasFiles {
		return usageErr(errors.New("a plugin key has no --key-file or --cert-file"))
	}
	cfg, err := parsePluginConfig(pairs)
	if err != nil {
		return err
	}
	dir, keys, err := loadKeys(env)
	if err != nil {
		return err
	}
	m := &plugin.Manager{Dir: env.pluginDir(dir)}
	p, err := m.Get(cmd.Context(), pluginName)
	if err != nil {
		return withHint(usageErr(err), "'signet plugin list' shows the installed plugins")
	}
	if !p.HasCapability(proto.CapabilitySignatureGenerator) && !p.HasCapability(proto.CapabilityEnvelopeGenerator) {
		return usageErr(fmt.Errorf("plugin %q has no signing capability", pluginName))
	}
	if len(cfg) == 0 {
		cfg = nil
	}
	if err := keys.Add(config.KeySuite{Name: name, ID: keyID, PluginName: pluginName, PluginConfig: cfg}, makeDefault); err != nil {
		return usageErr(err)
	}
	if err := saveKeys(dir, keys); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Added key %q (plugin %s, key ID %s)\n", name, pluginName, keyID)
	return nil
}
