package truststore

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is; they arrive wrapped in
// a *StoreError that names the store and file.
var (
	// ErrInvalidStoreType: the type is not ca, signingAuthority, tsa or
	// publickey, or an operation does not apply to the type.
	ErrInvalidStoreType = errors.New("invalid trust store type")
	// ErrInvalidStoreName: the store name does not match ^[a-zA-Z0-9_.-]+$
	// or is "." or "..".
	ErrInvalidStoreName = errors.New("invalid trust store name")
	// ErrInvalidFileName: a certificate file name is empty, "." or "..", or
	// contains a path separator.
	ErrInvalidFileName = errors.New("invalid certificate file name")
	// ErrStoreNotFound: the named store does not exist (TS-6). Errors
	// wrapping it also wrap fs.ErrNotExist.
	ErrStoreNotFound = errors.New("trust store does not exist")
	// ErrEmptyStore: the named store holds no certificate files (TS-6).
	ErrEmptyStore = errors.New("no x509 certificates were found in the trust store")
	// ErrInvalidPublicKey: a publickey store file is not PEM public keys of
	// a supported type.
	ErrInvalidPublicKey = errors.New("invalid public key")
	// ErrEmptyKeyStore: the named publickey store holds no key files.
	ErrEmptyKeyStore = errors.New("no public keys were found in the trust store")
	// ErrNotRegular: the store directory or a certificate file is a
	// symbolic link or another non-regular file (TS-3).
	ErrNotRegular = errors.New("not a regular file or directory (symbolic links are not supported)")
	// ErrInvalidCertificate: a file is not certificates, or a certificate
	// breaks the store type's rule (§3.4).
	ErrInvalidCertificate = errors.New("invalid certificate")
	// ErrCertificateExists: Add would overwrite a file of the same name.
	ErrCertificateExists = errors.New("certificate file already exists in the trust store")
	// ErrCertificateNotFound: Show or Delete named a file the store lacks.
	// Errors wrapping it also wrap fs.ErrNotExist.
	ErrCertificateNotFound = errors.New("certificate file not found in the trust store")
)

// StoreError reports a failure concerning one named store and, when File
// is set, one file in it.
type StoreError struct {
	// Type and Name identify the store; either may be empty for errors
	// about the whole trust store.
	Type Type
	Name string
	// Path is the store's directory. FileStore.GetCertificates sets it on
	// every error about a store whose type and name are valid.
	Path string
	// File is the certificate file's name inside the store, if any.
	File string
	// Err is the cause; it wraps one of the sentinels above.
	Err error
}

var _ error = (*StoreError)(nil)

func (e *StoreError) Error() string {
	var b strings.Builder
	b.WriteString("trust store")
	if e.Type != "" || e.Name != "" {
		b.WriteString(" \"" + string(e.Type) + ":" + e.Name + "\"")
	}
	if e.File != "" {
		file := e.File
		if e.Path != "" {
			file = filepath.Join(e.Path, e.File)
		}
		b.WriteString(", file \"" + file + "\"")
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *StoreError) Unwrap() error { return e.Err }

// notExistError is a store directory that does not exist: it is both
// ErrStoreNotFound and fs.ErrNotExist, and names the directory once.
type notExistError struct{ dir string }

func (e *notExistError) Error() string   { return ErrStoreNotFound.Error() + ": " + e.dir }
func (e *notExistError) Unwrap() []error { return []error{ErrStoreNotFound, fs.ErrNotExist} }
