package signer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/fsutil"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/truststore"
)

// DefaultTestValidity is how long a GenerateTest certificate is valid:
// one day, as notation's `cert generate-test` makes it.
const DefaultTestValidity = 24 * time.Hour

// File modes of the generated files (notation's).
const (
	testKeyMode  fs.FileMode = 0o600
	testCertMode fs.FileMode = 0o644
)

// GenerateOptions configure GenerateTest. The zero value generates an
// RSA-2048 key, not made the default, valid for one day from now.
type GenerateOptions struct {
	// KeySpec is the key to generate; the zero value means RSA-2048,
	// notation's default. Any of the six specs of §3.1 is accepted.
	KeySpec signature.KeySpec
	// Default makes the new key the default signing key.
	Default bool
	// Validity is the certificate's lifetime from Now; zero means
	// DefaultTestValidity. It must be at least one second.
	Validity time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Generated describes what GenerateTest created.
type Generated struct {
	// KeyPath and CertPath are the absolute paths of the new key
	// (PKCS#8 PEM, mode 0600) and certificate (PEM, mode 0644) files.
	KeyPath, CertPath string
	// Certificate is the self-signed certificate.
	Certificate *x509.Certificate
	// StoreName is the ca trust store the certificate was added to (its
	// name equals the key name): the policy reference is "ca:"+StoreName.
	StoreName string
}

// GenerateTest does what `notation cert generate-test NAME [--default]`
// does, in dir:
//
//   - generates a key of opts.KeySpec and a self-signed certificate with
//     subject C=US, ST=WA, L=Seattle, O=Notary, CN=<name>, keyUsage
//     digitalSignature (critical), extKeyUsage codeSigning, no
//     basicConstraints, valid from now for opts.Validity, with a random
//     128-bit serial number;
//   - writes them to {CONFIG}/localkeys/<name>.key and <name>.crt;
//   - adds the certificate to trust store ca:<name> as <name>.crt;
//   - registers the key in signingkeys.json with absolute paths, as the
//     default key when opts.Default is set.
//
// name must match ^[a-zA-Z0-9_.-]+$ (and not be "." or ".."). It refuses,
// before generating anything, a name that signingkeys.json already has and
// existing key, certificate or trust store files of that name. When a later
// step fails, the files written so far are removed.
//
// Not safe for concurrent use with other writers of signingkeys.json in
// the same directory (a concurrent update may be lost).
func GenerateTest(ctx context.Context, dir config.Dir, name string, opts GenerateOptions) (*Generated, error) {
	if err := truststore.ValidateName(name); err != nil {
		return nil, fmt.Errorf("test key name: %w", err)
	}
	spec := opts.KeySpec
	if spec == (signature.KeySpec{}) {
		spec = signature.KeySpecRSA2048
	}
	if spec.Algorithm() == 0 {
		return nil, fmt.Errorf("%w: %s (use RSA-2048, RSA-3072, RSA-4096, EC-256, EC-384 or EC-521)", signature.ErrUnsupportedKey, spec)
	}
	validity := opts.Validity
	if validity == 0 {
		validity = DefaultTestValidity
	}
	if validity < time.Second {
		return nil, fmt.Errorf("test certificate validity %s must be at least one second", validity)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}

	root, err := filepath.Abs(dir.Path)
	if err != nil {
		return nil, err
	}
	dir = config.Dir{Path: root}
	keys, err := dir.LoadSigningKeys()
	if err != nil {
		return nil, err
	}
	if _, err := keys.Get(name); err == nil {
		return nil, fmt.Errorf("%w: %q (delete it with \"signet key delete %s\" or choose another name)", config.ErrKeyExists, name, name)
	}
	keyPath, certPath := dir.LocalKeyPaths(name)
	storeFile := filepath.Join(dir.TrustStore(), "x509", string(truststore.TypeCA), name, filepath.Base(certPath))
	for _, p := range []string{keyPath, certPath, storeFile} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s already exists; remove it or choose another name", p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	key, err := generateKey(spec)
	if err != nil {
		return nil, err
	}
	cert, err := selfSignedCertificate(key, name, now(), validity)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})

	_, statErr := os.Lstat(filepath.Dir(storeFile))
	madeStore := errors.Is(statErr, fs.ErrNotExist)
	var written []string
	undo := func() {
		for i := len(written) - 1; i >= 0; i-- {
			os.Remove(written[i])
		}
		if madeStore {
			os.Remove(filepath.Dir(storeFile)) // removes it only if empty
		}
	}
	if err := fsutil.MkdirAll(dir.LocalKeys()); err != nil {
		return nil, err
	}
	if err := fsutil.WriteFileAtomic(keyPath, keyPEM, testKeyMode); err != nil {
		return nil, fmt.Errorf("write test key: %w", err)
	}
	written = append(written, keyPath)
	if err := fsutil.WriteFileAtomic(certPath, certPEM, testCertMode); err != nil {
		undo()
		return nil, fmt.Errorf("write test certificate: %w", err)
	}
	written = append(written, certPath)
	store := truststore.NewFileStore(dir.TrustStore(), nil)
	added, err := store.Add(ctx, truststore.TypeCA, name, certPath)
	if err != nil {
		undo()
		return nil, fmt.Errorf("add the test certificate to the trust store: %w", err)
	}
	written = append(written, added...)
	if err := keys.Add(config.KeySuite{Name: name, KeyPath: keyPath, CertificatePath: certPath}, opts.Default); err != nil {
		undo()
		return nil, err
	}
	if err := dir.SaveSigningKeys(keys); err != nil {
		undo()
		return nil, err
	}
	return &Generated{KeyPath: keyPath, CertPath: certPath, Certificate: cert, StoreName: name}, nil
}

// generateKey makes a key of one of the six specs.
func generateKey(spec signature.KeySpec) (crypto.Signer, error) {
	switch spec.Type {
	case signature.KeyTypeRSA:
		return rsa.GenerateKey(rand.Reader, spec.Size)
	case signature.KeyTypeEC:
		var curve elliptic.Curve
		switch spec.Size {
		case 256:
			curve = elliptic.P256()
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		}
		if curve != nil {
			return ecdsa.GenerateKey(curve, rand.Reader)
		}
	}
	return nil, fmt.Errorf("%w: %s", signature.ErrUnsupportedKey, spec)
}

// selfSignedCertificate issues the test certificate for key.
func selfSignedCertificate(key crypto.Signer, name string, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	serial.Add(serial, big.NewInt(1)) // positive and non-zero (RFC 5280 §4.1.2.2)
	notBefore := now.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country:      []string{"US"},
			Province:     []string{"WA"},
			Locality:     []string{"Seattle"},
			Organization: []string{"Notary"},
			CommonName:   name,
		},
		NotBefore:   notBefore,
		NotAfter:    notBefore.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature, // encoded critical by crypto/x509
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create test certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
