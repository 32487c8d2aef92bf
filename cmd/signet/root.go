package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet/config"
)

// Env is everything a command may touch of the process: the streams and
// the environment. Tests supply their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable (see docs/configuration.md for
	// the table of variables signet reads).
	Getenv func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Parallel, when set, is called by a command before work that runs on
	// several processors: the signet process starts on one (main.go,
	// internal/oneproc). Tests leave it nil.
	Parallel func()

	debug   bool
	verbose bool
}

// parallel readies the process for work on several processors.
func (e *Env) parallel() {
	if e.Parallel != nil {
		e.Parallel()
	}
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// configDir resolves the configuration directory once per command.
func (e *Env) configDir() (config.Dir, error) {
	d, err := config.ResolveDir(e.Getenv)
	if err != nil {
		return config.Dir{}, withHint(usageErr(fmt.Errorf("find the configuration directory: %w", err)),
			"set SIGNET_CONFIG to the configuration directory (docs/configuration.md)")
	}
	return d, nil
}

// pluginDir is where plugins live: $SIGNET_LIBEXEC/plugins when set (as
// notation's NOTATION_LIBEXEC: point it at a notation configuration
// directory to share its plugins), else {CONFIG}/plugins.
func (e *Env) pluginDir(dir config.Dir) string {
	if l := e.Getenv("SIGNET_LIBEXEC"); l != "" {
		return filepath.Join(l, "plugins")
	}
	return dir.Plugins()
}

// logger writes warnings (and debug records with --debug) to stderr.
func (e *Env) logger() *slog.Logger {
	level := slog.LevelWarn
	if e.verbose {
		level = slog.LevelInfo
	}
	if e.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
}

// Main runs signet with args and returns the exit code (docs/exit-codes.md).
func Main(ctx context.Context, args []string, env *Env) int {
	root := newRootCmdFor(env, args)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	reportError(env.Stderr, err)
	return exitCode(err)
}

// command is one subcommand of the root: its name and aliases (as its Use
// and Aliases say; a test checks) and its constructor.
type command struct {
	names string
	new   func(*Env) *cobra.Command
}

// commands are signet's subcommands in help order, one line each. (A
// function, not a variable: quickstart runs Main, which reads the table.)
func commands() []command {
	return []command{
		{"sign", newSignCmd},
		{"verify", newVerifyCmd},
		{"list ls", newListCmd},
		{"inspect", newInspectCmd},
		{"blob", newBlobCmd},
		{"policy", func(env *Env) *cobra.Command { return newPolicyCmd(env, false) }},
		{"certificate cert", newCertCmd},
		{"key", newKeyCmd},
		{"version", newVersionCmd},
		{"login", newLoginCmd},
		{"logout", newLogoutCmd},
		{"quickstart", newQuickstartCmd},
		{"plugin", newPluginCmd},
		{"copy cp", newCopyCmd},
		{"attach", newAttachCmd},
		{"discover", newDiscoverCmd},
		{"delete", newDeleteCmd},
		{"export", newExportCmd},
		{"import", newImportCmd},
	}
}

// newRootCmd builds the whole command tree.
func newRootCmd(env *Env) *cobra.Command { return newRootCmdFor(env, nil) }

// newRootCmdFor builds the command tree for one command line: when args
// name a subcommand (their first argument that is not a flag; the root's
// flags take no values), only that subcommand, which is all cobra needs to
// run it or print its help; otherwise (no command, help, completion, an
// unknown command, whose error suggests the known ones) the whole tree.
// Building every command's flags and help costs a process that runs one
// of them about 0.4 million CPU instructions (docs/benchmarks.md).
func newRootCmdFor(env *Env, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "signet",
		Short: "Sign and verify OCI artifacts and blobs with Notary Project signatures",
		Long: `signet signs and verifies OCI artifacts (in OCI image layouts) and plain files
(blobs) with Notary Project signatures, and decides trust with the Notary
Project trust store and trust policy. It reads notation's configuration files.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Streams first: the completion command binds its writer when added.
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.PersistentFlags().BoolVarP(&env.debug, "debug", "d", false, "print debug records of each step")
	root.PersistentFlags().BoolVarP(&env.verbose, "verbose", "v", false, "print informational records")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return withHint(usageErr(err), fmt.Sprintf("run '%s --help' for usage", c.CommandPath()))
	})
	cmds := commands()
	if i := commandIndex(cmds, args); i >= 0 {
		root.AddCommand(cmds[i].new(env))
	} else {
		for _, c := range cmds {
			root.AddCommand(c.new(env))
		}
		// Add cobra's completion command now rather than at Execute, so
		// that it gets the same treatment as the other command groups.
		root.InitDefaultCompletionCmd()
	}
	rejectUnknownSubcommands(root)
	return root
}

// commandIndex is the index in cmds of the subcommand args name, or -1
// when they name none (or when which one is unclear: after "--").
func commandIndex(cmds []command, args []string) int {
	for _, a := range args {
		if a == "--" {
			return -1
		}
		if strings.HasPrefix(a, "-") {
			continue // a root flag: --debug, -v, -dv, --debug=false
		}
		for i, c := range cmds {
			if slices.Contains(strings.Fields(c.names), a) {
				return i
			}
		}
		return -1
	}
	return -1
}

// rejectUnknownSubcommands makes every command group below the root fail
// with a usage error when its first argument names no subcommand. cobra
// checks this only at the root; below it a group prints its help and exits
// 0, so a mistyped `signet blob verfy ...` would succeed. A group called
// with no argument still prints its help.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !cmd.HasParent() || !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return withHint(usageErr(fmt.Errorf("unknown command %q for %q", args[0], c.CommandPath())),
			fmt.Sprintf("run '%s --help' for its commands", c.CommandPath()))
	}
}

// exactArgs is cobra.ExactArgs returning a usage error.
// minArgs is cobra.MinimumNArgs returning a usage error.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return withHint(usageErr(fmt.Errorf("%s requires %s (got %d arguments)", cmd.CommandPath(), what, len(args))),
				fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath()))
		}
		return nil
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return withHint(usageErr(fmt.Errorf("%s requires %s (got %d arguments)", cmd.CommandPath(), what, len(args))),
				fmt.Sprintf("run '%s --help' for usage", cmd.CommandPath()))
		}
		return nil
	}
}
