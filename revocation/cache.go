package revocation

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/signet-dev/signet/internal/fsutil"
)

// Bundle is a base CRL and, when one is named, the delta CRL that goes
// with it.
type Bundle struct {
	// BaseCRL is the CRL downloaded from a distribution point; required.
	BaseCRL *x509.RevocationList
	// DeltaCRL is the delta CRL applied to BaseCRL, or nil.
	DeltaCRL *x509.RevocationList
}

// CRLCache keeps CRL bundles by distribution point URL (REV-8). The
// Validator checks every bundle it gets as if freshly downloaded (issuer,
// signature, nextUpdate), so a cache need not: it only stores bytes.
type CRLCache interface {
	// Get returns the bundle stored for url, or an error wrapping
	// ErrCacheMiss when there is none.
	Get(ctx context.Context, url string) (*Bundle, error)
	// Set stores b for url, replacing any previous bundle.
	Set(ctx context.Context, url string, b *Bundle) error
}

// maxCacheFileBytes bounds a FileCache entry: two CRLs of the largest
// accepted size in base64, plus the JSON around them.
const maxCacheFileBytes = 2*(MaxCRLBytes+2)/3*4 + 1024

// readAttempts bounds how often Get reads an entry that other writers
// keep replacing.
const readAttempts = 5

// FileCache is a CRLCache in a directory, in the reference tool's format
// (REV-8): one file per URL, named by the lowercase hex SHA-256 of the URL,
// holding JSON {"baseCRL":"<base64 DER>","deltaCRL":"<base64 DER>"}
// (deltaCRL omitted when there is none).
//
// Dir is created (mode 0700) on the first Set; files are written with mode
// 0600 to a temporary file and renamed into place, so readers, in this or
// any other process, see a whole entry or none, and concurrent writers
// never corrupt an entry (the last rename wins). On Windows a rename over
// a file another process is reading may fail; Set then returns the error,
// which the Validator logs and ignores.
//
// A FileCache holds no state but Dir and is safe for concurrent use.
type FileCache struct {
	// Dir is the cache directory, e.g.
	// filepath.Join(config.ResolveCacheDir(...), "crl").
	Dir string
}

var _ CRLCache = (*FileCache)(nil)

// fileCacheContent is the JSON of one FileCache entry.
type fileCacheContent struct {
	BaseCRL  []byte `json:"baseCRL"`
	DeltaCRL []byte `json:"deltaCRL,omitempty"`
}

// Path returns the file that holds url's entry.
func (c *FileCache) Path(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(c.Dir, hex.EncodeToString(sum[:]))
}

// Get reads url's entry. A missing file gives an error wrapping
// ErrCacheMiss; an unreadable or malformed one another error. It does not
// look at nextUpdate.
func (c *FileCache) Get(ctx context.Context, url string) (*Bundle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.Dir == "" {
		return nil, errors.New("CRL file cache: no directory set")
	}
	path := c.Path(url)
	// fsutil refuses a file that is swapped between its lstat and its
	// open, which is what another process's Set does: try again.
	var data []byte
	var err error
	for range readAttempts {
		if data, err = fsutil.ReadRegularFile(path, maxCacheFileBytes); !errors.Is(err, fsutil.ErrNotRegular) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrCacheMiss, url)
		}
		return nil, fmt.Errorf("CRL file cache: %w", err)
	}
	b, err := decodeCacheEntry(data)
	if err != nil {
		return nil, fmt.Errorf("CRL file cache: %s: %w", path, err)
	}
	return b, nil
}

// decodeCacheEntry parses the JSON of one FileCache entry (at most
// maxCacheFileBytes, which Get's read enforces).
func decodeCacheEntry(data []byte) (*Bundle, error) {
	var content fileCacheContent
	if err := json.Unmarshal(data, &content); err != nil {
		return nil, err
	}
	if len(content.BaseCRL) == 0 {
		return nil, errors.New("no baseCRL")
	}
	b := &Bundle{}
	var err error
	if b.BaseCRL, err = parseCRL(content.BaseCRL); err != nil {
		return nil, fmt.Errorf("base CRL: %w", err)
	}
	if len(content.DeltaCRL) > 0 {
		if b.DeltaCRL, err = parseCRL(content.DeltaCRL); err != nil {
			return nil, fmt.Errorf("delta CRL: %w", err)
		}
	}
	return b, nil
}

// Set writes url's entry atomically, creating Dir if needed.
func (c *FileCache) Set(ctx context.Context, url string, b *Bundle) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Dir == "" {
		return errors.New("CRL file cache: no directory set")
	}
	if b == nil || b.BaseCRL == nil {
		return errors.New("CRL file cache: the bundle has no base CRL")
	}
	content := fileCacheContent{BaseCRL: b.BaseCRL.Raw}
	if b.DeltaCRL != nil {
		content.DeltaCRL = b.DeltaCRL.Raw
	}
	data, err := json.Marshal(content)
	if err != nil {
		return fmt.Errorf("CRL file cache: %w", err)
	}
	if err := fsutil.MkdirAll(c.Dir); err != nil {
		return fmt.Errorf("CRL file cache: %w", err)
	}
	if err := fsutil.WriteFileAtomic(c.Path(url), data, 0o600); err != nil {
		return fmt.Errorf("CRL file cache: %w", err)
	}
	return nil
}
