package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// Limits on plugin packages (PLG-5). Each is a size a package must stay
// strictly below, or a count it may not exceed.
const (
	// MaxPackageBytes bounds the plugin file or download: a single
	// executable, a .zip or a .tar.gz must be smaller than 256 MiB, the
	// limit the specification sets for plugin executables and notation
	// sets for what it downloads.
	MaxPackageBytes = 256 << 20
	// MaxExpandedBytes bounds what an archive expands to: the bytes of all
	// its files and, for a .tar.gz, of the whole decompressed tar stream,
	// headers included, must stay below 256 MiB. The bytes are counted as
	// they are decompressed; the sizes archive headers state are used only
	// to refuse early, so a header that lies (a decompression bomb) gains
	// nothing.
	MaxExpandedBytes = 256 << 20
	// MaxArchiveEntries bounds the entries (files and directories) of an
	// archive. A plugin archive holds an executable and a few license or
	// readme files; 256 leaves room for a plugin shipping its libraries and
	// keeps an archive of countless empty entries from costing time and
	// memory.
	MaxArchiveEntries = 256
	// DefaultDownloadTimeout bounds a URL download, from the request to the
	// last byte, when InstallOptions.DownloadTimeout is zero: notation's
	// 10 minutes, enough for 256 MiB over a slow link.
	DefaultDownloadTimeout = 10 * time.Minute
)

// Installation errors. Install and Uninstall return an *InstallError, or
// for Uninstall an *Error, wrapping one of these, one of the discovery
// sentinels (ErrInvalidPlugin, ErrNotFound, ErrExecutable, …: the staged
// plugin failed the checks of Manager.Get), or an I/O error.
var (
	// ErrInvalidPackage: the file or download is not an acceptable plugin
	// package: too large, not named notation-NAME, or an archive that
	// breaks a rule (path traversal, absolute path, link or device entry,
	// too many entries, expands too much, not exactly one executable).
	ErrInvalidPackage = errors.New("invalid plugin package")
	// ErrChecksum: the package's SHA-256 digest is not the one given.
	ErrChecksum = errors.New("plugin package checksum mismatch")
	// ErrDownload: a URL could not be downloaded (network, TLS, HTTP
	// status, timeout).
	ErrDownload = errors.New("plugin download failed")
	// ErrAlreadyInstalled: a plugin of that name and the same version is
	// installed, or one that cannot be checked, and InstallOptions.Force
	// is not set.
	ErrAlreadyInstalled = errors.New("plugin already installed")
	// ErrDowngrade: the package's version is lower than the installed
	// plugin's (SemVer), and InstallOptions.Force is not set.
	ErrDowngrade = errors.New("plugin downgrade refused")
)

// InstallError reports a refused or failed installation.
type InstallError struct {
	// Source is the file path or the URL (with any password redacted).
	Source string
	// Plugin is the plugin name, once the package has given it.
	Plugin string
	// Err is the cause.
	Err error
}

var _ error = (*InstallError)(nil)

func (e *InstallError) Error() string {
	var b strings.Builder
	b.WriteString("install plugin ")
	if e.Plugin != "" {
		b.WriteString(quote(e.Plugin))
		b.WriteString(" ")
	}
	b.WriteString("from ")
	b.WriteString(displayText(e.Source))
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *InstallError) Unwrap() error { return e.Err }

// InstallSource is where a plugin package comes from: a local File or an
// https URL, exactly one of them.
type InstallSource struct {
	// File is the path of a plugin package on the local file system.
	File string
	// URL is an https URL of a plugin package. SHA256 is required with it.
	URL string
	// SHA256 is the expected SHA-256 digest of the package, in hex (64
	// characters, either case). Required with URL; with File it is
	// checked when set.
	SHA256 string
}

func (s InstallSource) String() string {
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err == nil {
			return u.Redacted()
		}
		return "an invalid URL"
	}
	return s.File
}

// InstallOptions are the options of Install. The zero value installs a
// new plugin or upgrades one, downloads with http.DefaultTransport and a
// 10-minute timeout.
type InstallOptions struct {
	// Force installs whatever is installed under the same name: a higher,
	// equal or lower version, or an invalid plugin. Without Force, only a
	// plugin that is not installed, or whose installed version is lower
	// (SemVer), is installed.
	Force bool
	// HTTPClient downloads URL sources; nil means a client with
	// http.DefaultTransport. Install does not change it; redirects to a
	// URL that is not https are refused whatever its CheckRedirect says.
	HTTPClient *http.Client
	// DownloadTimeout bounds a download from the request to the last
	// byte; 0 means DefaultDownloadTimeout, a negative value no timeout
	// (ctx still applies).
	DownloadTimeout time.Duration
}

// Install installs a plugin package (PLG-5) into Dir and returns the
// installed plugin. The package is a single executable named
// notation-NAME, or a .zip or .tar.gz archive holding exactly one such
// top-level file (license and other top-level files are installed with it;
// subdirectories are ignored); the kind is told by the content, not the
// file name. NAME is the plugin name.
//
// Steps: the package is copied (or downloaded) into a private temporary
// file, at most MaxPackageBytes, and its SHA-256 checked when given
// (always for a URL). Archives are then read through once without writing
// anything, and refused on path traversal, absolute paths, links, devices,
// more than MaxArchiveEntries entries or MaxExpandedBytes of content.
// The files are then written into a staging directory beside Dir (in Dir's
// parent), where the executable, given the user execute bit, must pass the
// checks of Get: get-plugin-metadata runs and must name the plugin NAME
// (PLG-4). Last, an installed plugin of that name is compared (see
// InstallOptions.Force) and the staged directory renamed to Dir/NAME.
//
// A refused or failed installation leaves Dir as it was. The rename is
// atomic when nothing was installed under NAME; when a plugin is replaced,
// it is moved aside first, so a concurrent Get may briefly find no plugin
// (never a partial one). Of two concurrent installations of a new plugin
// one fails. Dir's parent must be on the same file system as Dir.
func (m *Manager) Install(ctx context.Context, src InstallSource, opts InstallOptions) (*Plugin, error) {
	ie := &InstallError{Source: src.String()}
	fail := func(err error) (*Plugin, error) {
		ie.Err = err
		return nil, ie
	}
	if m.Dir == "" {
		return fail(errors.New("no plugin directory is configured"))
	}
	want, u, err := src.check()
	if err != nil {
		return fail(err)
	}
	var pkg *spooled
	if u != nil {
		pkg, err = download(ctx, u, opts)
	} else {
		pkg, err = spoolFile(src.File)
	}
	if err != nil {
		return fail(err)
	}
	defer pkg.remove()
	if want != nil && !bytes.Equal(pkg.sum, want) {
		return fail(fmt.Errorf("%w: the package's SHA-256 is %x, not the %x given", ErrChecksum, pkg.sum, want))
	}
	plan, err := planPackage(pkg.f, pkg.size, pkg.name)
	if err != nil {
		return fail(err)
	}
	ie.Plugin = plan.name
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	stage, err := m.tempBeside(".signet-plugin-install-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(stage)
	staged := filepath.Join(stage, plan.name)
	if err := os.Mkdir(staged, 0o700); err != nil {
		return fail(err)
	}
	if err := extractPackage(plan, pkg, staged); err != nil {
		return fail(err)
	}
	sm := Manager{Dir: stage, Exec: m.Exec, Timeout: m.Timeout, MaxOutput: m.MaxOutput}
	p, err := sm.Get(ctx, plan.name)
	if err != nil {
		return fail(err)
	}
	target := filepath.Join(m.Dir, plan.name)
	replace, err := m.checkReplace(ctx, plan.name, p.metadata.Version, opts.Force)
	if err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return fail(err)
	}
	if err := commit(staged, target, filepath.Join(stage, "previous"), replace); err != nil {
		return fail(err)
	}
	return &Plugin{name: plan.name, path: filepath.Join(target, ExecutableName(plan.name)), metadata: p.metadata, m: *m}, nil
}

// Uninstall removes the plugin directory Dir/name and everything in it,
// valid plugin or not. It refuses a name that is not a plain directory
// name, and a Dir/name that is a symbolic link or not a directory (signet
// removes only what it could have installed). The directory is first
// renamed out of Dir, so a concurrent Get finds the plugin whole or not at
// all. Errors are *Error values wrapping ErrNotFound, ErrInvalidPlugin or
// an I/O error.
func (m *Manager) Uninstall(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return &Error{Plugin: name, Err: err}
	}
	if m.Dir == "" {
		return &Error{Plugin: name, Err: fmt.Errorf("%w: no plugin directory is configured", ErrNotFound)}
	}
	if err := checkName(name); err != nil {
		return &Error{Plugin: name, Err: err}
	}
	dir := filepath.Join(m.Dir, name)
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{Plugin: name, Err: fmt.Errorf("%w: no directory %s", ErrNotFound, dir)}
	case err != nil:
		return &Error{Plugin: name, Err: err}
	case fi.Mode()&fs.ModeSymlink != 0:
		return &Error{Plugin: name, Err: fmt.Errorf("%w: %s is a symbolic link; signet does not remove it (remove the link yourself)", ErrInvalidPlugin, dir)}
	case !fi.IsDir():
		return &Error{Plugin: name, Err: fmt.Errorf("%w: %s is not a directory; signet does not remove it", ErrInvalidPlugin, dir)}
	}
	trash, err := m.tempBeside(".signet-plugin-uninstall-")
	if err != nil {
		return &Error{Plugin: name, Err: err}
	}
	if err := os.Rename(dir, filepath.Join(trash, name)); err != nil {
		os.Remove(trash)
		return &Error{Plugin: name, Err: err}
	}
	if err := os.RemoveAll(trash); err != nil {
		return &Error{Plugin: name, Err: fmt.Errorf("the plugin is uninstalled, but some of its files remain in %s: %w", trash, err)}
	}
	return nil
}

// check validates the source and returns the digest wanted (nil when none
// was given) and the parsed URL (nil for a file).
func (s InstallSource) check() ([]byte, *url.URL, error) {
	var want []byte
	if s.SHA256 != "" {
		b, err := hex.DecodeString(s.SHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, nil, fmt.Errorf("%w: the SHA-256 checksum must be 64 hexadecimal characters, not %s", ErrChecksum, quote(s.SHA256))
		}
		want = b
	}
	switch {
	case s.File != "" && s.URL != "":
		return nil, nil, errors.New("both a file and a URL were given; give one")
	case s.File == "" && s.URL == "":
		return nil, nil, errors.New("no file or URL was given")
	case s.File != "":
		return want, nil, nil
	}
	u, err := url.Parse(s.URL)
	switch {
	case err != nil:
		return nil, nil, fmt.Errorf("invalid URL: %w", err)
	case u.Scheme != "https":
		return nil, nil, fmt.Errorf("only https URLs are accepted, not %s", quote(u.Scheme+":"))
	case u.Host == "":
		return nil, nil, errors.New("the URL has no host")
	case want == nil:
		return nil, nil, fmt.Errorf("%w: a URL install requires the package's SHA-256 checksum (PLG-5)", ErrChecksum)
	}
	return want, u, nil
}

// spooled is a private copy of a package in a temporary file.
type spooled struct {
	f    *os.File
	size int64
	sum  []byte
	// name is the package's file name: the base name of the file, or the
	// last element of the URL path.
	name string
}

func (s *spooled) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}

// spoolFile copies the regular file at p into a private temporary file,
// so that what is checked is what is installed even if p changes.
func spoolFile(p string) (*spooled, error) {
	// Stat before opening: opening a named pipe would block.
	if fi, err := os.Stat(p); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidPackage, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalidPackage, p)
	case fi.Size() >= MaxPackageBytes:
		return nil, fmt.Errorf("%w: %s is %d bytes; plugin packages must be under %d MiB", ErrInvalidPackage, p, fi.Size(), MaxPackageBytes>>20)
	}
	return spool(f, filepath.Base(p))
}

// maxPackageBytes is the limit spool enforces on a download:
// MaxPackageBytes, which a test lowers (export_test.go) so that an endless
// body is refused without streaming 256 MiB under -race.
var maxPackageBytes int64 = MaxPackageBytes

// spool copies r, which must hold fewer than MaxPackageBytes, into a new
// temporary file (mode 0600) and hashes it.
func spool(r io.Reader, name string) (*spooled, error) {
	f, err := os.CreateTemp("", "signet-plugin-package-*")
	if err != nil {
		return nil, err
	}
	s := &spooled{f: f, name: name}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, maxPackageBytes))
	if err == nil && n >= maxPackageBytes {
		err = fmt.Errorf("%w: the package is %d MiB or more, the limit", ErrInvalidPackage, maxPackageBytes>>20)
	}
	if err != nil {
		s.remove()
		return nil, err
	}
	s.size, s.sum = n, h.Sum(nil)
	return s, nil
}

// download fetches u into a private temporary file.
func download(ctx context.Context, u *url.URL, opts InstallOptions) (*spooled, error) {
	timeout := opts.DownloadTimeout
	if timeout == 0 {
		timeout = DefaultDownloadTimeout
	}
	dctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	client := http.Client{}
	if opts.HTTPClient != nil {
		client = *opts.HTTPClient
	}
	next := client.CheckRedirect
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirect to %s refused: only https URLs are accepted", req.URL.Redacted())
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	failed := func(err error) error {
		if ctx.Err() == nil && errors.Is(dctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("%w: no complete answer within %s: %w", ErrDownload, timeout, context.DeadlineExceeded)
		}
		return fmt.Errorf("%w: %w", ErrDownload, err)
	}
	req, err := http.NewRequestWithContext(dctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDownload, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, failed(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: the server answered %s", ErrDownload, displayText(resp.Status))
	}
	if resp.ContentLength >= MaxPackageBytes {
		return nil, fmt.Errorf("%w: the server announces %d bytes; plugin packages must be under %d MiB", ErrInvalidPackage, resp.ContentLength, MaxPackageBytes>>20)
	}
	// The file name is the last element of the URL asked for, not of
	// where it redirected (release downloads redirect to storage URLs).
	s, err := spool(resp.Body, path.Base(u.Path))
	if err == nil && dctx.Err() != nil {
		// net/http may end a body cut short by the deadline with a clean
		// EOF (the server, seeing the connection close, ends its chunked
		// response); what was read is not the whole package.
		s.remove()
		err = dctx.Err()
	}
	if err != nil {
		if errors.Is(err, ErrInvalidPackage) {
			return nil, err
		}
		return nil, failed(err)
	}
	return s, nil
}

// tempBeside creates a temporary directory in Dir's parent, creating the
// parent if needed: renames between it and Dir stay on one file system,
// and Dir itself is untouched until the final rename.
func (m *Manager) tempBeside(prefix string) (string, error) {
	parent := filepath.Dir(filepath.Clean(m.Dir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(parent, prefix)
}

// extractPackage writes the files of plan into dir. The executable gets
// the user read, write and execute bits (PLG-5: a lone non-executable file
// is made executable); permissions beyond 0755 (0644 for other files) are
// dropped.
func extractPackage(plan *packagePlan, pkg *spooled, dir string) error {
	if plan.kind == kindExecutable {
		return writeFile(filepath.Join(dir, ExecutableName(plan.name)), io.NewSectionReader(pkg.f, 0, pkg.size), 0o700)
	}
	want := map[string]bool{}
	for _, e := range plan.files {
		want[e.name] = true
	}
	return walkArchive(plan.kind, pkg.f, pkg.size, func(e archiveEntry, contents io.Reader) error {
		if !e.topLevel() || !want[e.name] {
			return nil
		}
		delete(want, e.name) // a second entry of that name is refused by planPackage; never write one twice
		perm := e.mode.Perm()&0o644 | 0o600
		if e.name == plan.executable {
			perm = e.mode.Perm()&0o755 | 0o700
		}
		return writeFile(filepath.Join(dir, e.name), contents, perm)
	})
}

// writeFile creates a new file (never one that exists) with contents.
func writeFile(p string, contents io.Reader, perm fs.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, contents); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil { // the umask may have dropped the execute bit
		f.Close()
		return err
	}
	return f.Close()
}

// checkReplace decides whether the plugin name, version newVersion, may
// be installed over what Dir/name holds; replace reports whether there
// is something to move aside.
func (m *Manager) checkReplace(ctx context.Context, name, newVersion string, force bool) (replace bool, err error) {
	_, err = os.Lstat(filepath.Join(m.Dir, name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case force:
		return true, nil
	}
	old, err := m.Get(ctx, name)
	if err != nil {
		return false, fmt.Errorf("%w: an invalid plugin is installed under this name (%w); use Force to replace it", ErrAlreadyInstalled, err)
	}
	oldVersion := old.metadata.Version
	if !IsSemVer(newVersion) || !IsSemVer(oldVersion) {
		return false, fmt.Errorf("%w: cannot compare the installed version %s with %s, as both must be SemVer; use Force to replace it",
			ErrVersion, quote(oldVersion), quote(newVersion))
	}
	switch c := semver.Compare("v"+newVersion, "v"+oldVersion); {
	case c == 0:
		return false, fmt.Errorf("%w: version %s is already installed", ErrAlreadyInstalled, displayText(oldVersion))
	case c < 0:
		return false, fmt.Errorf("%w: version %s is lower than the installed %s; use Force to install it anyway", ErrDowngrade, displayText(newVersion), displayText(oldVersion))
	}
	return true, nil
}

// commit renames staged to target. With replace, what target holds is
// first moved to aside, and moved back if the second rename fails.
func commit(staged, target, aside string, replace bool) error {
	if replace {
		if err := os.Rename(target, aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(staged, target); err != nil {
		if replace {
			os.Rename(aside, target)
		}
		return err
	}
	return nil
}
