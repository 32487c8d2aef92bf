package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
)

func newVersionCmd(env *Env) *cobra.Command {
	var output outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := output.validate(); err != nil {
				return err
			}
			if output.json() {
				return writeJSON(env.Stdout, map[string]string{"version": signet.Version, "go": runtime.Version()})
			}
			fmt.Fprintf(env.Stdout, "signet %s (%s, %s/%s)\n", signet.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
	output.AddFlags(cmd)
	return cmd
}
