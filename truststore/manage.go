package truststore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/signet-dev/signet/internal/fsutil"
)

// certFileMode is the mode of certificate files Add writes (notation's
// `cert add` also writes 0600).
const certFileMode fs.FileMode = 0o600

// Add copies certificate files into the named store, like `notation cert
// add`: each file must hold at least one certificate and every certificate
// must pass the store type's rule (§3.4; notation only checks that the file
// parses, so a file it would add but then fail to load is refused here).
// The copy keeps the file's base name and bytes; an existing file of that
// name is never overwritten (ErrCertificateExists). Source files may be
// symbolic links; the copies are regular files of mode 0600, and missing
// directories are created with mode 0700.
//
// All files are checked before any is written, and if a write fails the
// files this call already wrote are removed. It returns the paths written.
func (s *FileStore) Add(ctx context.Context, t Type, name string, certFiles ...string) ([]string, error) {
	dir, err := s.storeDir(t, name)
	if err != nil {
		return nil, err
	}
	if len(certFiles) == 0 {
		return nil, &StoreError{Type: t, Name: name, Err: errors.New("no certificate files to add")}
	}
	type pending struct {
		file string
		data []byte
	}
	var todo []pending
	seen := map[string]bool{}
	for _, src := range certFiles {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		base := filepath.Base(src)
		if err := validateFileName(base); err != nil {
			return nil, &StoreError{Type: t, Name: name, File: src, Err: err}
		}
		if seen[base] {
			return nil, &StoreError{Type: t, Name: name, File: base, Err: fmt.Errorf("%w: two of the files to add are named %q", ErrCertificateExists, base)}
		}
		seen[base] = true
		data, err := fsutil.ReadFile(src, MaxCertificateFileBytes)
		if err != nil {
			if errors.Is(err, fsutil.ErrTooLarge) {
				err = fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
			}
			return nil, &StoreError{Type: t, Name: name, File: src, Err: err}
		}
		if t == TypePublicKey {
			if err := checkAddedKeyFile(src, data); err != nil {
				return nil, &StoreError{Type: t, Name: name, File: src, Err: err}
			}
			todo = append(todo, pending{file: base, data: data})
			continue
		}
		certs, err := ParseCertificates(data)
		if err != nil {
			return nil, &StoreError{Type: t, Name: name, File: src, Err: err}
		}
		for _, c := range certs {
			if err := checkCertificate(t, c); err != nil {
				return nil, &StoreError{Type: t, Name: name, File: src, Err: err}
			}
		}
		todo = append(todo, pending{file: base, data: data})
	}

	info, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := fsutil.MkdirAll(dir); err != nil {
			return nil, &StoreError{Type: t, Name: name, Err: err}
		}
	case err != nil:
		return nil, &StoreError{Type: t, Name: name, Err: err}
	case info.Mode()&fs.ModeSymlink != 0 || !info.IsDir():
		return nil, &StoreError{Type: t, Name: name, Err: fmt.Errorf("%w: %s %s", ErrNotRegular, dir, describe(info.Mode()))}
	}
	for _, p := range todo {
		if _, err := os.Lstat(filepath.Join(dir, p.file)); err == nil {
			return nil, &StoreError{Type: t, Name: name, File: p.file, Err: fmt.Errorf("%w (delete it first, or rename the file to add)", ErrCertificateExists)}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, &StoreError{Type: t, Name: name, File: p.file, Err: err}
		}
	}

	var written []string
	for _, p := range todo {
		dst := filepath.Join(dir, p.file)
		if err := fsutil.WriteFileAtomic(dst, p.data, certFileMode); err != nil {
			for _, w := range written {
				os.Remove(w)
			}
			return nil, &StoreError{Type: t, Name: name, File: p.file, Err: err}
		}
		written = append(written, dst)
	}
	return written, nil
}

// Entry is one certificate file of a trust store.
type Entry struct {
	Type  Type   `json:"type"`
	Store string `json:"store"`
	// File is the file's name inside the store; Path its full path.
	File string `json:"file"`
	Path string `json:"path"`
}

// List returns the certificate files of the trust store, ordered by type
// (ca, signingAuthority, tsa), store name and file name. An empty t means
// every type; an empty name every store. Only regular files are listed and
// their content is not parsed (use Show or GetCertificates for that), so a
// broken file can still be found and deleted; symbolic links, sub-directories
// and badly named store directories are skipped with a warning.
//
// A missing trust store lists nothing. When both t and name are given and
// that store does not exist, the error wraps ErrStoreNotFound.
func (s *FileStore) List(ctx context.Context, t Type, name string) ([]Entry, error) {
	types := AllTypes()
	if t != "" {
		if err := t.Validate(); err != nil {
			return nil, &StoreError{Type: t, Name: name, Err: err}
		}
		types = []Type{t}
	}
	if name != "" {
		if err := ValidateName(name); err != nil {
			return nil, &StoreError{Type: t, Name: name, Err: err}
		}
	}
	if t != "" && name != "" {
		if _, err := s.openStore(t, name); err != nil {
			return nil, err
		}
	}
	var out []Entry
	for _, typ := range types {
		stores, err := readDir(s.typeDir(typ))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, &StoreError{Type: typ, Err: err}
		}
		for _, st := range stores {
			if name != "" && st.Name() != name {
				continue
			}
			storePath := filepath.Join(s.typeDir(typ), st.Name())
			if !st.IsDir() || st.Type()&fs.ModeSymlink != 0 {
				s.logger().WarnContext(ctx, "skipping a trust store entry that is not a directory (symbolic links are not supported)", "path", storePath)
				continue
			}
			if ValidateName(st.Name()) != nil {
				s.logger().WarnContext(ctx, "skipping a trust store directory with an invalid name", "path", storePath)
				continue
			}
			files, err := readDir(storePath)
			if err != nil {
				return nil, &StoreError{Type: typ, Name: st.Name(), Err: err}
			}
			for _, f := range files {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				p := filepath.Join(storePath, f.Name())
				if !f.Type().IsRegular() {
					s.logger().WarnContext(ctx, "skipping a trust store entry that is not a regular file", "path", p, "store", string(typ)+":"+st.Name())
					continue
				}
				out = append(out, Entry{Type: typ, Store: st.Name(), File: f.Name(), Path: p})
			}
		}
	}
	return out, nil
}

// Show parses one certificate file of a store and returns its
// certificates. It does not apply the store type's rule, so it can display
// the certificate that makes a store fail to load. A missing file wraps
// ErrCertificateNotFound and fs.ErrNotExist; a symbolic link wraps
// ErrNotRegular.
func (s *FileStore) Show(ctx context.Context, t Type, name, file string) ([]*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if t == TypePublicKey {
		return nil, &StoreError{Type: t, Name: name, File: file, Err: fmt.Errorf("%w: a publickey store holds keys (use ShowPublicKeys)", ErrInvalidStoreType)}
	}
	dir, err := s.openStore(t, name)
	if err != nil {
		return nil, err
	}
	if err := validateFileName(file); err != nil {
		return nil, &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	data, err := fsutil.ReadRegularFile(filepath.Join(dir, file), MaxCertificateFileBytes)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			err = fmt.Errorf("%w: %w", ErrCertificateNotFound, err)
		case errors.Is(err, fsutil.ErrNotRegular):
			err = fmt.Errorf("%w: %w", ErrNotRegular, err)
		case errors.Is(err, fsutil.ErrTooLarge):
			err = fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
		}
		return nil, &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	return certs, nil
}

// Delete removes one file from a store, or, when file is "", the whole
// store directory with everything in it (as `notation cert delete --all`
// does). A symbolic link inside the store is removed itself, never its
// target; a sub-directory is refused. A missing store wraps
// ErrStoreNotFound, a missing file ErrCertificateNotFound (both also wrap
// fs.ErrNotExist).
func (s *FileStore) Delete(ctx context.Context, t Type, name, file string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, err := s.openStore(t, name)
	if err != nil {
		return err
	}
	if file == "" {
		if err := os.RemoveAll(dir); err != nil {
			return &StoreError{Type: t, Name: name, Err: err}
		}
		return nil
	}
	if err := validateFileName(file); err != nil {
		return &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	path := filepath.Join(dir, file)
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &StoreError{Type: t, Name: name, File: file, Err: fmt.Errorf("%w: %w", ErrCertificateNotFound, err)}
	}
	if err != nil {
		return &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	if info.IsDir() {
		return &StoreError{Type: t, Name: name, File: file, Err: fmt.Errorf("%w: %s %s; remove it by hand", ErrNotRegular, path, describe(info.Mode()))}
	}
	if err := os.Remove(path); err != nil {
		return &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	return nil
}
