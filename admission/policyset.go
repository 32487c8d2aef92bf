package admission

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// Bounds on what a policy set's directory may hold. A set is a trust
// policy, a trust store of a few certificates and config.json; anything
// near these limits is a mistake (a wrong mount), refused with a reason.
const (
	// MaxSetFiles bounds the files read from one set's directory.
	MaxSetFiles = 1000
	// MaxSetBytes bounds their total size.
	MaxSetBytes = 16 << 20
	// maxSetDepth bounds directory nesting (truststore/x509/TYPE/NAME is 4).
	maxSetDepth = 8
)

// DefaultReloadInterval is how often a policy set's directory is checked
// for changes when VerifierOptions.ReloadInterval is zero. The kubelet
// itself updates mounted ConfigMaps and Secrets with a delay of up to a
// minute.
const DefaultReloadInterval = 5 * time.Second

// DefaultSetName names the default policy set (--config) in results,
// metrics and logs.
const DefaultSetName = "default"

// policySet is one named policy set: its directory, checked for changes
// at most every interval, and what was loaded from it last.
type policySet struct {
	name     string
	dir      string
	interval time.Duration
	load     func(name, dir string, files map[string][]byte) (*loadedSet, error)
	now      func() time.Time
	log      *slog.Logger
	metrics  *Metrics

	mu      sync.Mutex
	checked time.Time
	sum     [sha256.Size]byte
	gen     uint64
	cur     *loadedSet
	err     error
	old     []*loadedSet // replaced sets whose snapshots are removed later
}

// loadedSet is a policy set as loaded: a trust policy and a verifier over
// a private snapshot of the set's files.
type loadedSet struct {
	gen      uint64
	policy   *trustpolicy.Document
	verifier *verifier.Verifier
	snapshot string // directory removed when the set is dropped
}

// current returns the loaded set, re-reading the directory when the
// interval has passed and loading it again when its files changed. A set
// whose files cannot be read or loaded returns the error (wrapping
// ErrPolicySet): verification under it fails closed.
func (p *policySet) current() (*loadedSet, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if !p.checked.IsZero() && now.Sub(p.checked) < p.interval {
		return p.cur, p.err
	}
	p.checked = now
	files, err := readTree(p.dir)
	if err != nil {
		if p.err == nil || p.err.Error() != err.Error() {
			p.log.Error("policy set cannot be read", "policy_set", p.name, "dir", p.dir, "error", err)
			p.metrics.load(p.name, err)
		}
		p.drop()
		p.cur, p.err, p.sum = nil, fmt.Errorf("%w: policy set %q: %w", ErrPolicySet, p.name, err), [sha256.Size]byte{}
		return p.cur, p.err
	}
	sum := treeSum(files)
	if sum == p.sum && (p.cur != nil || p.err != nil) {
		return p.cur, p.err
	}
	p.sum = sum
	p.gen++
	ls, err := p.load(p.name, p.dir, files)
	p.metrics.load(p.name, err)
	p.drop()
	if err != nil {
		p.log.Error("policy set cannot be loaded; images verified under it are refused", "policy_set", p.name, "dir", p.dir, "error", err)
		p.cur, p.err = nil, fmt.Errorf("%w: policy set %q: %w", ErrPolicySet, p.name, err)
		return nil, p.err
	}
	ls.gen = p.gen
	p.log.Info("policy set loaded", "policy_set", p.name, "dir", p.dir, "generation", p.gen, "statements", len(ls.policy.TrustPolicies))
	p.cur, p.err = ls, nil
	return ls, nil
}

// drop retires the current set. Its snapshot outlives it by one more
// reload, so that verifications still running on it can finish.
func (p *policySet) drop() {
	for len(p.old) > 1 {
		os.RemoveAll(p.old[0].snapshot)
		p.old = p.old[1:]
	}
	if p.cur != nil {
		p.old = append(p.old, p.cur)
	}
}

// close removes every snapshot.
func (p *policySet) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range append(p.old, p.cur) {
		if s != nil {
			os.RemoveAll(s.snapshot)
		}
	}
	p.old, p.cur = nil, nil
}

// readTree reads every regular file below dir (at most MaxSetFiles files
// and MaxSetBytes in all) into memory, keyed by slash-separated relative
// path. It follows symbolic links that stay inside dir, which is how the
// kubelet projects a ConfigMap or Secret (NAME -> ..data/NAME ->
// ..TIMESTAMP/NAME), and skips the kubelet's own "..*" entries and the
// plugins directory (executables are used in place, not copied).
func readTree(dir string) (map[string][]byte, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	files := map[string][]byte{}
	var total int64
	var walk func(real, rel string, depth int) error
	walk = func(real, rel string, depth int) error {
		if depth > maxSetDepth {
			return fmt.Errorf("%s: directories nested deeper than %d", filepath.Join(dir, rel), maxSetDepth)
		}
		entries, err := os.ReadDir(real)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, "..") || (depth == 0 && name == config.PluginsDirName) {
				continue
			}
			relName := name
			if rel != "" {
				relName = rel + "/" + name
			}
			target, err := filepath.EvalSymlinks(filepath.Join(real, name))
			if err != nil {
				return err
			}
			if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
				return fmt.Errorf("%s links outside the policy set's directory (to %s)", filepath.Join(dir, relName), target)
			}
			fi, err := os.Stat(target)
			if err != nil {
				return err
			}
			switch {
			case fi.IsDir():
				if err := walk(target, relName, depth+1); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				if len(files) >= MaxSetFiles {
					return fmt.Errorf("%s holds more than %d files", dir, MaxSetFiles)
				}
				total += fi.Size()
				if total > MaxSetBytes {
					return fmt.Errorf("%s holds more than %d bytes", dir, MaxSetBytes)
				}
				data, err := readFileLimited(target, MaxSetBytes)
				if err != nil {
					return err
				}
				files[relName] = data
			}
		}
		return nil
	}
	if err := walk(root, "", 0); err != nil {
		return nil, err
	}
	return files, nil
}

func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return data, nil
}

// treeSum hashes the files' names and contents in name order.
func treeSum(files map[string][]byte) [sha256.Size]byte {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s:%d:", len(n), n, len(files[n]))
		h.Write(files[n])
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// writeSnapshot writes files into a new private directory under parent
// (directories 0700, files 0600): the trust policy and trust store are then
// read from regular files that nobody else changes.
func writeSnapshot(parent, name string, files map[string][]byte) (string, error) {
	if parent != "" {
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp(parent, "signet-webhook-"+sanitize(name)+"-")
	if err != nil {
		return "", err
	}
	for rel, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// loadSet loads a set from its snapshot: the OCI trust policy, and a
// verifier over the set's trust store, its plugins directory and the
// shared revocation checker. Every trust store the policy names is read
// now, so that a missing or malformed store fails the load (and is
// reported once) rather than each verification.
func (v *Verifier) loadSet(name, dir string, files map[string][]byte) (*loadedSet, error) {
	snap, err := writeSnapshot(v.opts.SnapshotDir, name, files)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", dir, err)
	}
	fail := func(err error) (*loadedSet, error) {
		os.RemoveAll(snap)
		return nil, err
	}
	doc, _, err := trustpolicy.LoadOCI(snap)
	if err != nil {
		// Name the mounted file, not the snapshot.
		return fail(errors.New(strings.ReplaceAll(err.Error(), snap, dir)))
	}
	store := truststore.NewCache(truststore.NewFileStore(config.Dir{Path: snap}.TrustStore(), v.log))
	for _, stmt := range doc.TrustPolicies {
		for _, t := range []truststore.Type{truststore.TypeCA, truststore.TypeSigningAuthority, truststore.TypeTSA} {
			for _, n := range stmt.StoresOfType(string(t)) {
				if _, err := store.GetCertificates(context.Background(), t, n); err != nil {
					return fail(fmt.Errorf("trust store %s:%s of statement %q: %s", t, n, stmt.Name, strings.ReplaceAll(err.Error(), snap, dir)))
				}
			}
		}
	}
	return &loadedSet{
		policy: doc,
		verifier: &verifier.Verifier{
			Store:      store,
			Now:        v.opts.Now,
			Logger:     v.log,
			Revocation: v.revocation,
			Plugins:    &plugin.Manager{Dir: filepath.Join(dir, config.PluginsDirName)},
		},
		snapshot: snap,
	}, nil
}
