package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/plugin"
)

func newPluginCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Manage Notary Project plugins (plugins/NAME/notation-NAME in the configuration directory)",
	}
	cmd.AddCommand(newPluginListCmd(env), newPluginInstallCmd(env), newPluginUninstallCmd(env))
	return cmd
}

// pluginEntry is the JSON form of one installed plugin.
type pluginEntry struct {
	Name         string   `json:"name"`
	Version      string   `json:"version,omitempty"`
	Description  string   `json:"description,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
	Error        string   `json:"error,omitempty"`
}

func newPluginListCmd(env *Env) *cobra.Command {
	var output outputFlag
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the installed plugins; an invalid one is shown with why",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			entries, err := (&plugin.Manager{Dir: env.pluginDir(dir)}).List(cmd.Context())
			if err != nil {
				return err
			}
			out := []pluginEntry{}
			for _, e := range entries {
				pe := pluginEntry{Name: e.Name}
				if e.Err != nil {
					pe.Error = e.Err.Error()
				} else {
					md := e.Plugin.Metadata()
					pe.Version, pe.Description = md.Version, md.Description
					for _, c := range md.Capabilities {
						pe.Capabilities = append(pe.Capabilities, string(c))
					}
				}
				out = append(out, pe)
			}
			if output.json() {
				return writeJSON(env.Stdout, out)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tCAPABILITIES\tERROR")
			for _, e := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.Version, strings.Join(e.Capabilities, ","), e.Error)
			}
			return tw.Flush()
		},
	}
	output.AddFlags(cmd)
	return cmd
}
