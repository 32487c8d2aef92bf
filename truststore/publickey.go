package truststore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/signet-dev/signet/internal/fsutil"
)

// TypePublicKey is the store type of bare public keys, signet's extension
// for cosign signatures and Rekor log keys. Its stores live beside the
// x509 types, under <root>/publickey/<name>, and hold *.pub files of PEM
// "PUBLIC KEY" blocks. Trust policies name them as "publickey:<name>" in
// signet/v1 documents only.
const TypePublicKey Type = "publickey"

// PublicKeyFileExt is the extension of the key files of a publickey store
// (what `cosign generate-key-pair` writes): other files are skipped with a
// warning, and Add refuses them.
const PublicKeyFileExt = ".pub"

// minRSABits is the smallest RSA modulus accepted in a publickey store,
// the Notary Project's floor for signing keys.
const minRSABits = 2048

// PublicKey is one trusted public key of a publickey store.
type PublicKey struct {
	// Key is an *ecdsa.PublicKey (P-256, P-384 or P-521), an
	// *rsa.PublicKey (at least 2048 bits) or an ed25519.PublicKey.
	Key crypto.PublicKey
	// DER is the key's SubjectPublicKeyInfo.
	DER []byte
	// Store is the store's name and File the key file's name in it.
	Store string
	File  string
}

// Fingerprint is the lowercase hex SHA-256 of the key's
// SubjectPublicKeyInfo (what `openssl pkey -pubin -outform DER | sha256sum`
// prints).
func (k PublicKey) Fingerprint() string {
	sum := sha256.Sum256(k.DER)
	return hex.EncodeToString(sum[:])
}

// Algorithm names the key type: ecdsa-p256, ecdsa-p384, ecdsa-p521,
// rsa-<bits> or ed25519.
func (k PublicKey) Algorithm() string { return keyAlgorithm(k.Key) }

func keyAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ecdsa-" + strings.ToLower(strings.ReplaceAll(k.Curve.Params().Name, "-", ""))
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen())
	case ed25519.PublicKey:
		return "ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// KeyStore is the read side of the publickey stores.
type KeyStore interface {
	// GetPublicKeys returns the keys of the named publickey store. It fails
	// when the store is missing, empty or invalid.
	GetPublicKeys(ctx context.Context, name string) ([]PublicKey, error)
}

var _ KeyStore = (*FileStore)(nil)

// ParsePublicKeys parses a public key file: one or more PEM "PUBLIC KEY"
// blocks (PKIX SubjectPublicKeyInfo), each an ECDSA P-256/P-384/P-521, RSA
// (at least 2048 bits) or Ed25519 key. Text outside blocks is ignored;
// another block type, a malformed or truncated block, or an unsupported key
// is an error wrapping ErrInvalidPublicKey. data may be at most
// MaxCertificateFileBytes.
func ParsePublicKeys(data []byte) ([]PublicKey, error) {
	if len(data) > MaxCertificateFileBytes {
		return nil, fmt.Errorf("%w: file is larger than %d bytes", ErrInvalidPublicKey, MaxCertificateFileBytes)
	}
	if !bytes.Contains(data, pemBegin) {
		return nil, fmt.Errorf("%w: no PEM \"PUBLIC KEY\" block", ErrInvalidPublicKey)
	}
	var keys []PublicKey
	err := eachPEMBlock(data, "PUBLIC KEY", ErrInvalidPublicKey, func(der []byte) error {
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return err
		}
		if err := checkPublicKey(pub); err != nil {
			return err
		}
		keys = append(keys, PublicKey{Key: pub, DER: der})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// checkPublicKey accepts the key types cosign signs with.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		return fmt.Errorf("ECDSA curve %s is not supported (use P-256, P-384 or P-521)", k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too short (at least %d)", k.N.BitLen(), minRSABits)
		}
		return nil
	case ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("key type %T is not supported (use ECDSA, RSA or Ed25519)", pub)
}

// GetPublicKeys loads the named publickey store: every *.pub regular file
// in <root>/publickey/<name>, in name order, each holding at least one
// valid key. As for certificate stores, a symbolic link (the store or a
// file) is an error, sub-directories are skipped with a warning, and a
// store without keys is an error; files without the .pub extension are
// skipped with a warning.
func (s *FileStore) GetPublicKeys(ctx context.Context, name string) ([]PublicKey, error) {
	const t = TypePublicKey
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := s.openStore(t, name)
	if err != nil {
		return nil, err
	}
	entries, err := readDir(dir)
	if err != nil {
		return nil, &StoreError{Type: t, Name: name, Err: err}
	}
	var keys []PublicKey
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		mode := e.Type()
		path := filepath.Join(dir, e.Name())
		if mode.IsDir() {
			s.logger().WarnContext(ctx, "ignoring a sub-directory of a publickey trust store", "store", string(t)+":"+name, "path", path)
			continue
		}
		if !mode.IsRegular() {
			return nil, &StoreError{Type: t, Name: name, File: e.Name(), Err: fmt.Errorf("%w: %s", ErrNotRegular, describe(mode))}
		}
		if !strings.HasSuffix(e.Name(), PublicKeyFileExt) {
			s.logger().WarnContext(ctx, "ignoring a file without the .pub extension in a publickey trust store", "store", string(t)+":"+name, "path", path)
			continue
		}
		got, err := readKeyFile(path)
		if err != nil {
			return nil, &StoreError{Type: t, Name: name, File: e.Name(), Err: err}
		}
		for i := range got {
			got[i].Store, got[i].File = name, e.Name()
		}
		keys = append(keys, got...)
	}
	if len(keys) == 0 {
		return nil, &StoreError{Type: t, Name: name, Err: fmt.Errorf("%w (%s)", ErrEmptyKeyStore, dir)}
	}
	return keys, nil
}

// readKeyFile reads one key file of a store (no symbolic link).
func readKeyFile(path string) ([]PublicKey, error) {
	data, err := fsutil.ReadRegularFile(path, MaxCertificateFileBytes)
	if err != nil {
		switch {
		case errors.Is(err, fsutil.ErrNotRegular):
			return nil, fmt.Errorf("%w: %w", ErrNotRegular, err)
		case errors.Is(err, fsutil.ErrTooLarge):
			return nil, fmt.Errorf("%w: %w", ErrInvalidPublicKey, err)
		}
		return nil, err
	}
	return ParsePublicKeys(data)
}

// ShowPublicKeys parses one key file of a publickey store, with the
// errors of Show.
func (s *FileStore) ShowPublicKeys(ctx context.Context, name, file string) ([]PublicKey, error) {
	const t = TypePublicKey
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := s.openStore(t, name)
	if err != nil {
		return nil, err
	}
	if err := validateFileName(file); err != nil {
		return nil, &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	keys, err := readKeyFile(filepath.Join(dir, file))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %w", ErrCertificateNotFound, err)
		}
		return nil, &StoreError{Type: t, Name: name, File: file, Err: err}
	}
	for i := range keys {
		keys[i].Store, keys[i].File = name, file
	}
	return keys, nil
}

// checkAddedKeyFile is Add's check of one file for a publickey store.
func checkAddedKeyFile(src string, data []byte) error {
	if !strings.HasSuffix(filepath.Base(src), PublicKeyFileExt) {
		return fmt.Errorf("%w: %s: a publickey store holds *%s files (rename the file)", ErrInvalidFileName, filepath.Base(src), PublicKeyFileExt)
	}
	_, err := ParsePublicKeys(data)
	return err
}

// GetPublicKeys returns the keys of publickey store name, from memory after
// the first successful read. The underlying Store must be a KeyStore.
func (c *Cache) GetPublicKeys(ctx context.Context, name string) ([]PublicKey, error) {
	key := string(TypePublicKey) + ":" + name
	c.mu.Lock()
	keys, ok := c.keys[key]
	c.mu.Unlock()
	if ok {
		return keys, nil
	}
	ks, ok := c.store.(KeyStore)
	if !ok {
		return nil, &StoreError{Type: TypePublicKey, Name: name, Err: errors.New("this trust store has no publickey stores")}
	}
	keys, err := ks.GetPublicKeys(ctx, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.keys[key] = keys
	c.mu.Unlock()
	return keys, nil
}
