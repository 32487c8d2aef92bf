package plugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/signet-dev/signet/plugin/proto"
)

// DefaultTimeout is the per-call timeout when Manager.Timeout is zero.
// notation sets none, so a hung plugin hangs it; one minute is long enough
// for the slowest legitimate call seen in practice (a generate-envelope
// that signs in a cloud KMS and then waits up to 15 s for a timestamp
// authority, after a credential refresh) and short enough that a hung
// plugin fails a CI job quickly.
const DefaultTimeout = time.Minute

// DefaultMaxOutput is the per-stream output limit when Manager.MaxOutput
// is zero: one byte under 64 MiB, the limit the specification states
// (PROC-3).
const DefaultMaxOutput = proto.MaxMessageBytes

// Manager finds plugins in a plugin directory and runs them. The zero
// value has no directory and finds nothing; set Dir. A Manager is safe for
// concurrent use as long as its fields are not changed.
//
// Discovery follows the specification (PLG-2, PLG-3): a plugin named NAME
// is the executable Dir/NAME/notation-NAME (notation-NAME.exe on
// Windows). It must be a regular file, not a symbolic link, with an
// execute permission bit set (Unix), and get-plugin-metadata must succeed
// with the metadata name equal to NAME (PLG-4) and contract version "1.0"
// among its supportedContractVersions (PROC-5).
//
// Divergence from notation: notation follows a symbolic link to the
// executable (it calls stat, not lstat) and so accepts a symlinked
// plugin; the specification forbids symbolic links, and so does signet
// (digest §10 item 8). A symbolic link in place of the plugin directory is
// refused too, where notation's list skips it and its get follows it.
type Manager struct {
	// Dir is the plugin directory, usually config.Dir.Plugins()
	// ({CONFIG}/plugins). To use plugins that notation installed, point
	// it at notation's plugin directory (e.g. ~/.config/notation/plugins).
	Dir string
	// Exec runs plugin executables; nil means os/exec.
	Exec Executor
	// Timeout bounds each plugin call; 0 means DefaultTimeout and a
	// negative value means no per-call timeout (the caller's context
	// still applies). On timeout the plugin (on Unix, its process group)
	// is killed and the call fails with ErrTimeout.
	Timeout time.Duration
	// MaxOutput bounds what a call may write to stdout and to stderr, in
	// bytes, each; 0 (or anything above DefaultMaxOutput) means
	// DefaultMaxOutput. A plugin that writes more is killed and the call
	// fails with ErrOutputTooLarge.
	MaxOutput int64
}

// Entry is one candidate of List: a valid plugin, or the reason the
// candidate is not one.
type Entry struct {
	// Name is the directory name.
	Name string
	// Plugin is set when the candidate is a valid plugin.
	Plugin *Plugin
	// Err says why the candidate is not valid; nil when Plugin is set.
	Err error
}

// List examines every directory in Dir, in name order, as Get does, and
// returns one Entry per candidate. Files in Dir are ignored (PLG-3); a
// symbolic link to a directory is reported as invalid. A missing Dir
// gives an empty list. The error is non-nil only when Dir cannot be read
// or ctx ends.
func (m *Manager) List(ctx context.Context) ([]Entry, error) {
	if m.Dir == "" {
		return nil, errors.New("plugin: no plugin directory")
	}
	des, err := os.ReadDir(m.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read plugin directory: %w", err)
	}
	var out []Entry
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		switch {
		case de.IsDir():
		case de.Type()&fs.ModeSymlink != 0:
			fi, err := os.Stat(filepath.Join(m.Dir, de.Name()))
			if err != nil || !fi.IsDir() {
				continue
			}
		default:
			continue
		}
		p, err := m.Get(ctx, de.Name())
		out = append(out, Entry{Name: de.Name(), Plugin: p, Err: err})
	}
	return out, nil
}

// Get finds the plugin name, checks it as a candidate (PLG-3, PLG-4,
// PROC-5) and returns it with its metadata. It runs get-plugin-metadata
// once, without pluginConfig (plugins must return static metadata,
// PROC-6); call Plugin.GetMetadata to pass one. Errors are *Error values
// wrapping ErrNotFound, ErrInvalidPlugin or a call failure.
func (m *Manager) Get(ctx context.Context, name string) (*Plugin, error) {
	if m.Dir == "" {
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: no plugin directory is configured", ErrNotFound)}
	}
	if err := checkName(name); err != nil {
		return nil, &Error{Plugin: name, Err: err}
	}
	dir := filepath.Join(m.Dir, name)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: no directory %s", ErrNotFound, dir)}
	case err != nil:
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %w", ErrInvalidPlugin, err)}
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %s is a symbolic link; plugin directories must be real directories", ErrInvalidPlugin, dir)}
	case !fi.IsDir():
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %s is not a directory", ErrInvalidPlugin, dir)}
	}
	path := filepath.Join(dir, ExecutableName(name))
	fi, err = os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: no executable %s", ErrNotFound, path)}
	case err != nil:
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %w", ErrInvalidPlugin, err)}
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %s is a symbolic link; the plugin executable must be a regular file (PLG-3)", ErrInvalidPlugin, path)}
	case !fi.Mode().IsRegular():
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %s is not a regular file (PLG-3)", ErrInvalidPlugin, path)}
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0:
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w: %s is not executable (PLG-3; chmod +x it)", ErrInvalidPlugin, path)}
	}
	p := &Plugin{name: name, path: path, m: *m}
	md, err := p.GetMetadata(ctx, &proto.GetMetadataRequest{})
	if err != nil {
		return nil, err
	}
	p.metadata = *md
	return p, nil
}

// ExecutableName returns the file name of plugin name's executable:
// notation-NAME, plus .exe on Windows (PLG-1).
func ExecutableName(name string) string {
	n := proto.BinaryPrefix + name
	if runtime.GOOS == "windows" {
		n += ".exe"
	}
	return n
}

// checkName refuses names that are not a single path element.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\:`+"\x00") || !filepath.IsLocal(name) {
		return fmt.Errorf("%w: %q is not a valid plugin name", ErrInvalidPlugin, name)
	}
	return nil
}

func (m *Manager) executor() Executor {
	if m.Exec != nil {
		return m.Exec
	}
	return execExecutor{}
}

func (m *Manager) timeout() time.Duration {
	if m.Timeout == 0 {
		return DefaultTimeout
	}
	return m.Timeout
}

func (m *Manager) maxOutput() int64 {
	if m.MaxOutput <= 0 || m.MaxOutput > DefaultMaxOutput {
		return DefaultMaxOutput
	}
	return m.MaxOutput
}
