package truststore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/signet-dev/signet/internal/fsutil"
)

// Type is a trust store type (TS-1, TS-7).
type Type string

// The three trust store types.
const (
	// TypeCA holds roots that authenticate notary.x509 signatures.
	TypeCA Type = "ca"
	// TypeSigningAuthority holds roots that authenticate
	// notary.x509.signingAuthority signatures.
	TypeSigningAuthority Type = "signingAuthority"
	// TypeTSA holds roots that authenticate RFC 3161 timestamps.
	TypeTSA Type = "tsa"
)

// Types returns the three store types in their canonical order.
func Types() []Type { return []Type{TypeCA, TypeSigningAuthority, TypeTSA} }

// AllTypes returns the three certificate store types and TypePublicKey.
func AllTypes() []Type { return append(Types(), TypePublicKey) }

// Validate reports whether t is one of the three certificate types or
// TypePublicKey.
func (t Type) Validate() error {
	switch t {
	case TypeCA, TypeSigningAuthority, TypeTSA, TypePublicKey:
		return nil
	}
	return fmt.Errorf("%w: %q (use %q, %q, %q or %q)", ErrInvalidStoreType, string(t), TypeCA, TypeSigningAuthority, TypeTSA, TypePublicKey)
}

// validName reports whether name matches the store name syntax (TS-6),
// ^[a-zA-Z0-9_.-]+$, also used for test key names. It is spelled out
// rather than compiled as a regular expression at every start-up.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateName checks a store name: ^[a-zA-Z0-9_.-]+$, and not "." or ".."
// (which the pattern admits but which would leave the type directory).
func ValidateName(name string) error {
	if !validName(name) || name == "." || name == ".." {
		return fmt.Errorf("%w: %q (use letters, digits, '_', '.' and '-', and not \".\" or \"..\")", ErrInvalidStoreName, name)
	}
	return nil
}

// validateFileName checks a certificate file name given to Show, Delete or
// derived by Add: one path element, no separators.
func validateFileName(file string) error {
	if file == "" || file == "." || file == ".." || strings.ContainsAny(file, `/\`+"\x00") || filepath.Base(file) != file {
		return fmt.Errorf("%w: %q", ErrInvalidFileName, file)
	}
	return nil
}

// Store is the read side of a trust store: what a verifier needs.
type Store interface {
	// GetCertificates returns the certificates of the named store of type
	// t. It fails when the store is missing, empty or invalid.
	GetCertificates(ctx context.Context, t Type, name string) ([]*x509.Certificate, error)
}

// MaxStoreEntries bounds the directory entries read from one named store.
// Real stores hold a handful of roots; the limit keeps a store directory
// that was pointed at the wrong place (a home directory, /usr/share) from
// being read file by file.
const MaxStoreEntries = 4096

// FileStore is the trust store on disk under Root, in notation's layout
// (see the package comment). Its zero value is not usable: Root is
// required.
//
// Concurrency: reads may run concurrently with each other and with writes
// (every file is written atomically, so a reader sees the old or the new
// file). Concurrent Adds of the same file name race: both may pass the
// existence check and the last write wins.
type FileStore struct {
	// Root is the trust store directory, {CONFIG}/truststore.
	Root string
	// Logger receives warnings (ignored sub-directories, skipped entries).
	// nil discards them.
	Logger *slog.Logger
}

var _ Store = (*FileStore)(nil)

// NewFileStore returns a FileStore rooted at root, logging warnings to
// logger (nil discards them).
func NewFileStore(root string, logger *slog.Logger) *FileStore {
	return &FileStore{Root: root, Logger: logger}
}

func (s *FileStore) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// typeDir is <root>/x509/<type>, or <root>/publickey.
func (s *FileStore) typeDir(t Type) string {
	if t == TypePublicKey {
		return filepath.Join(s.Root, string(TypePublicKey))
	}
	return filepath.Join(s.Root, "x509", string(t))
}

// storeDir validates t and name and returns <root>/x509/<type>/<name>.
func (s *FileStore) storeDir(t Type, name string) (string, error) {
	if err := t.Validate(); err != nil {
		return "", &StoreError{Type: t, Name: name, Err: err}
	}
	if err := ValidateName(name); err != nil {
		return "", &StoreError{Type: t, Name: name, Err: err}
	}
	return filepath.Join(s.typeDir(t), name), nil
}

// openStore is storeDir plus the check that the directory exists and is a
// real directory, not a symbolic link (TS-3, TS-6).
func (s *FileStore) openStore(t Type, name string) (string, error) {
	dir, err := s.storeDir(t, name)
	if err != nil {
		return "", err
	}
	info, err := os.Lstat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &StoreError{Type: t, Name: name, Path: dir, Err: &notExistError{dir: dir}}
		}
		return "", &StoreError{Type: t, Name: name, Path: dir, Err: err}
	}
	if info.Mode()&fs.ModeSymlink != 0 || !info.IsDir() {
		return "", &StoreError{Type: t, Name: name, Path: dir, Err: fmt.Errorf("%w: %s %s", ErrNotRegular, dir, describe(info.Mode()))}
	}
	return dir, nil
}

// describe names a file mode for error messages.
func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "is a symbolic link"
	case m.IsDir():
		return "is a directory"
	case m.IsRegular():
		return "is a regular file"
	}
	return "is a special file (" + m.String() + ")"
}

// GetCertificates loads the named store (TS-1..TS-6, §3.4): every regular
// file in <root>/x509/<t>/<name>, in name order, each holding at least one
// certificate that passes the store type's rule. Sub-directories are
// skipped with a warning; a symbolic link (the store or a file), a file
// that is not certificates, a certificate breaking the rule, or a store
// without files is an error naming the store and file.
func (s *FileStore) GetCertificates(ctx context.Context, t Type, name string) ([]*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t == TypePublicKey {
		return nil, &StoreError{Type: t, Name: name, Err: fmt.Errorf("%w: a publickey store holds keys, not certificates", ErrInvalidStoreType)}
	}
	dir, err := s.openStore(t, name)
	if err != nil {
		return nil, err
	}
	entries, err := readDir(dir)
	if err != nil {
		return nil, &StoreError{Type: t, Name: name, Path: dir, Err: err}
	}
	var certs []*x509.Certificate
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mode := e.Type()
		if mode.IsDir() {
			s.logger().WarnContext(ctx, "ignoring a sub-directory of a trust store: sub-directories and the certificates in them are not used (TS-4)",
				"store", string(t)+":"+name, "path", filepath.Join(dir, e.Name()))
			continue
		}
		if !mode.IsRegular() {
			return nil, &StoreError{Type: t, Name: name, Path: dir, File: e.Name(), Err: fmt.Errorf("%w: %s", ErrNotRegular, describe(mode))}
		}
		got, err := s.readFile(t, filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, &StoreError{Type: t, Name: name, Path: dir, File: e.Name(), Err: err}
		}
		certs = append(certs, got...)
	}
	if len(certs) == 0 {
		return nil, &StoreError{Type: t, Name: name, Path: dir, Err: fmt.Errorf("%w: %s", ErrEmptyStore, dir)}
	}
	return certs, nil
}

// readFile reads and checks one certificate file of a store of type t.
func (s *FileStore) readFile(t Type, path string) ([]*x509.Certificate, error) {
	data, err := fsutil.ReadRegularFile(path, MaxCertificateFileBytes)
	if err != nil {
		if errors.Is(err, fsutil.ErrNotRegular) {
			return nil, fmt.Errorf("%w: %w", ErrNotRegular, err)
		}
		if errors.Is(err, fsutil.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
		}
		return nil, err
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if err := checkCertificate(t, c); err != nil {
			return nil, err
		}
	}
	return certs, nil
}

// readDir lists dir sorted by name, at most MaxStoreEntries entries.
func readDir(dir string) ([]fs.DirEntry, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(MaxStoreEntries + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(entries) > MaxStoreEntries {
		return nil, fmt.Errorf("%s holds more than %d entries", dir, MaxStoreEntries)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Cache is a Store that reads each named store from its underlying Store
// once and then answers from memory: for a process that verifies many
// signatures against an unchanging trust store. Errors are not cached. It
// is safe for concurrent use when the underlying Store is.
type Cache struct {
	store Store
	mu    sync.Mutex
	certs map[string][]*x509.Certificate
	keys  map[string][]PublicKey
}

// NewCache wraps s.
func NewCache(s Store) *Cache {
	return &Cache{store: s, certs: map[string][]*x509.Certificate{}, keys: map[string][]PublicKey{}}
}

// GetCertificates returns the certificates of store t:name.
func (c *Cache) GetCertificates(ctx context.Context, t Type, name string) ([]*x509.Certificate, error) {
	key := string(t) + ":" + name
	c.mu.Lock()
	certs, ok := c.certs[key]
	c.mu.Unlock()
	if ok {
		return certs, nil
	}
	certs, err := c.store.GetCertificates(ctx, t, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.certs[key] = certs
	c.mu.Unlock()
	return certs, nil
}
