package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
)

func newLoginCmd(env *Env) *cobra.Command {
	var rf registryFlags
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login -u USER (-p PASSWORD | --password-stdin) REGISTRY",
		Short: "Log in to a registry; credentials go to the Docker credential store",
		Long: `Check the credentials against the registry and, when it accepts them, store
them where docker login does: the credential helper the Docker configuration
file names, else the file itself ($DOCKER_CONFIG/config.json, else
~/.docker/config.json).`,
		Example: `  echo "$TOKEN" | signet login -u ci --password-stdin registry.example.com`,
		Args:    exactArgs(1, "one registry host[:port]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if rf.username == "" {
				return usageErr(errors.New("login needs --username"))
			}
			if passwordStdin {
				if rf.password != "" {
					return usageErr(errors.New("--password and --password-stdin exclude each other"))
				}
				b, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<10))
				if err != nil {
					return fmt.Errorf("%w: read the password: %w", signet.ErrIO, err)
				}
				rf.password = strings.TrimRight(string(b), "\r\n")
			}
			if rf.password == "" {
				return usageErr(errors.New("login needs --password or --password-stdin"))
			}
			user, pass := rf.username, rf.password
			rf.username, rf.password = "", "" // store into the Docker credential store
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			opts, err := rf.remoteOptions(env, dir)
			if err != nil {
				return err
			}
			if err := registry.Login(cmd.Context(), args[0], user, pass, opts); err != nil {
				return fmt.Errorf("%w: login to %s: %w", signet.ErrIO, args[0], err)
			}
			fmt.Fprintf(env.Stdout, "Login Succeeded\n")
			return nil
		},
	}
	rf.AddFlags(cmd)
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return cmd
}

func newLogoutCmd(env *Env) *cobra.Command {
	var rf registryFlags
	cmd := &cobra.Command{
		Use:   "logout REGISTRY",
		Short: "Remove a registry's credentials from the Docker credential store",
		Args:  exactArgs(1, "one registry host[:port]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			opts, err := rf.remoteOptions(env, dir)
			if err != nil {
				return err
			}
			if err := registry.Logout(cmd.Context(), args[0], opts); err != nil {
				return fmt.Errorf("%w: logout from %s: %w", signet.ErrIO, args[0], err)
			}
			fmt.Fprintf(env.Stdout, "Removed the credentials of %s\n", args[0])
			return nil
		},
	}
	return cmd
}
