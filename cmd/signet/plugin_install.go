package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/plugin"
)

// pluginInstallOpts are the flags of `signet plugin install`.
type pluginInstallOpts struct {
	file, url, sha256 string
	force             bool
	output            outputFlag
}

// pluginInstalled is the JSON form of an installed plugin.
type pluginInstalled struct {
	pluginEntry
	Path string `json:"path"`
}

func newPluginInstallCmd(env *Env) *cobra.Command {
	var opts pluginInstallOpts
	cmd := &cobra.Command{
		Use:     "install (--file PATH | --url URL --sha256sum SHA256) [--force]",
		Aliases: []string{"add"},
		Short:   "Install a plugin from a single executable, a .zip or a .tar.gz (a file, or an https URL with its SHA-256)",
		Long: fmt.Sprintf(`Install a plugin into {CONFIG}/plugins/NAME/notation-NAME.

The package is the plugin executable itself, named notation-NAME, or a .zip
or .tar.gz holding exactly one such file at its top level (a license and
other top-level files are installed with it). NAME is the plugin name, and
the executable's get-plugin-metadata must report it.

A URL must be https and needs --sha256sum, the package's SHA-256 as its
publisher gives it; the download is refused before anything is written when
it differs. With --file, --sha256sum is optional and checked when given.
Packages must be under %d MiB; archives may hold at most %d entries and
expand to under %d MiB, and may not hold links, devices, absolute paths or
.. elements. A download may take at most %s.

An installed plugin of the same name is replaced by a higher version
(SemVer); the same or a lower version, or an installed plugin that is not
valid, needs --force.`, plugin.MaxPackageBytes>>20, plugin.MaxArchiveEntries, plugin.MaxExpandedBytes>>20, plugin.DefaultDownloadTimeout),
		Example: `  signet plugin install --file ./notation-com.example.kms_1.0.0_linux_amd64.tar.gz
  signet plugin install --file ./notation-com.example.kms --sha256sum 5f3c...e1
  signet plugin install --url https://example.com/releases/kms_1.0.0_linux_amd64.zip --sha256sum 5f3c...e1`,
		Args: exactArgs(0, "no arguments (give the package with --file PATH or --url URL)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPluginInstall(cmd.Context(), env, &opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.file, "file", "", "install from this file: a plugin executable, a .zip or a .tar.gz")
	f.StringVar(&opts.url, "url", "", "install from this https URL (needs --sha256sum)")
	f.StringVar(&opts.sha256, "sha256sum", "", "the package's SHA-256 in hex; required with --url")
	f.BoolVar(&opts.force, "force", false, "replace an installed plugin of the same name whatever its version or state")
	opts.output.AddFlags(cmd)
	return cmd
}

func runPluginInstall(ctx context.Context, env *Env, opts *pluginInstallOpts) error {
	if err := opts.output.validate(); err != nil {
		return err
	}
	switch {
	case opts.file != "" && opts.url != "":
		return withHint(usageErr(errors.New("--file and --url cannot be used together")), "install one package at a time")
	case opts.file == "" && opts.url == "":
		return withHint(usageErr(errors.New("plugin install needs --file PATH or --url URL")), "run 'signet plugin install --help' for usage")
	case opts.url != "" && opts.sha256 == "":
		return withHint(usageErr(errors.New("--url needs --sha256sum, the package's SHA-256 checksum")),
			"take the checksum from the plugin's publisher, not from the server the package comes from")
	}
	dir, err := env.configDir()
	if err != nil {
		return err
	}
	m := &plugin.Manager{Dir: env.pluginDir(dir)}
	p, err := m.Install(ctx, plugin.InstallSource{File: opts.file, URL: opts.url, SHA256: opts.sha256}, plugin.InstallOptions{Force: opts.force})
	if err != nil {
		return pluginInstallErr(err)
	}
	md := p.Metadata()
	out := pluginInstalled{pluginEntry: pluginEntry{Name: p.Name(), Version: md.Version, Description: md.Description}, Path: p.Path()}
	for _, c := range md.Capabilities {
		out.Capabilities = append(out.Capabilities, string(c))
	}
	if opts.output.json() {
		return writeJSON(env.Stdout, out)
	}
	_, err = fmt.Fprintf(env.Stdout, "Installed plugin %s, version %s, in %s\n", out.Name, out.Version, out.Path)
	return err
}

// pluginInstallErr classifies an installation failure (docs/exit-codes.md):
// a package or plugin that is not acceptable is invalid input (2); a file
// that cannot be read, a download that fails and a plugin directory that
// cannot be written are I/O failures (3).
func pluginInstallErr(err error) error {
	switch {
	case errors.Is(err, plugin.ErrDownload):
		return withHint(fmt.Errorf("%w: %w", signet.ErrIO, err), "check the URL, the network and the server's certificate, then retry")
	case errors.Is(err, plugin.ErrChecksum):
		return withHint(usageErr(err), "the package is not the one the checksum describes: check the checksum with the plugin's publisher, and do not install the package otherwise")
	case errors.Is(err, plugin.ErrAlreadyInstalled), errors.Is(err, plugin.ErrDowngrade), errors.Is(err, plugin.ErrVersion):
		return withHint(usageErr(err), "add --force to replace the installed plugin")
	case errors.Is(err, plugin.ErrInvalidPackage):
		return withHint(usageErr(err), "a plugin package is the executable notation-NAME, or a .zip or .tar.gz holding it at its top level")
	case errors.Is(err, plugin.ErrInvalidPlugin), errors.Is(err, plugin.ErrExecutable), errors.Is(err, plugin.ErrTimeout),
		errors.Is(err, plugin.ErrMalformedResponse), errors.Is(err, plugin.ErrOutputTooLarge):
		return withHint(usageErr(err), fmt.Sprintf("the plugin's get-plugin-metadata failed: the executable must run on %s/%s and report its own name; ask its publisher", runtime.GOOS, runtime.GOARCH))
	case isIOError(err):
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return usageErr(err)
}

// isIOError reports a failure of the file system rather than of the input.
func isIOError(err error) bool {
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se)
}

func newPluginUninstallCmd(env *Env) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "uninstall NAME -y",
		Aliases: []string{"remove", "rm"},
		Short:   "Remove an installed plugin (its directory {CONFIG}/plugins/NAME); needs -y",
		Example: `  signet plugin uninstall com.example.kms -y`,
		Args:    exactArgs(1, "one plugin name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !yes {
				return withHint(usageErr(fmt.Errorf("uninstalling plugin %q needs confirmation", name)),
					fmt.Sprintf("signet does not prompt; run 'signet plugin uninstall %s -y' to remove it", name))
			}
			dir, err := env.configDir()
			if err != nil {
				return err
			}
			if err := (&plugin.Manager{Dir: env.pluginDir(dir)}).Uninstall(cmd.Context(), name); err != nil {
				switch {
				case errors.Is(err, plugin.ErrNotFound):
					return withHint(usageErr(err), "'signet plugin list' shows the installed plugins")
				case errors.Is(err, plugin.ErrInvalidPlugin):
					return usageErr(err)
				case isIOError(err):
					return fmt.Errorf("%w: %w", signet.ErrIO, err)
				}
				return usageErr(err)
			}
			_, err = fmt.Fprintf(env.Stdout, "Uninstalled plugin %s\n", name)
			return err
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "confirm the removal (signet does not prompt)")
	return cmd
}
