package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/signet-dev/signet/internal/fsutil"
	"github.com/signet-dev/signet/signature"
)

// Limits on the files LoadLocal reads.
const (
	// MaxKeyFileBytes bounds a private key file. An RSA-4096 PKCS#8 PEM key
	// is about 3.3 KiB; 64 KiB leaves room for comments and parameters.
	MaxKeyFileBytes = 64 << 10
	// MaxChainFileBytes bounds a certificate chain file: at most
	// signature.MaxChainLength certificates of a few KiB each, with room to
	// spare.
	MaxChainFileBytes = 1 << 20
)

// Local is a signature.Signer over an in-memory key and certificate chain.
// It is immutable and safe for concurrent use.
type Local struct {
	key   crypto.Signer
	chain []*x509.Certificate
	spec  signature.KeySpec
}

var _ signature.Signer = (*Local)(nil)

// NewLocal returns a signer for key and chain (leaf first). The leaf's
// public key must be one of the six key specs of §3.1 and must equal key's
// public key. The chain's order and profile are not checked here: envelope
// signing checks them against §3.2 at the signing time.
func NewLocal(key crypto.Signer, chain []*x509.Certificate) (*Local, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: no key", ErrInvalidKey)
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, fmt.Errorf("%w: no certificates", ErrInvalidCertificate)
	}
	if slices.Contains(chain, nil) {
		return nil, fmt.Errorf("%w: nil certificate in the chain", ErrInvalidCertificate)
	}
	spec, err := signature.KeySpecFromCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %w", chain[0].Subject, err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(chain[0].PublicKey) {
		return nil, fmt.Errorf("%w %q", ErrKeyMismatch, chain[0].Subject)
	}
	return &Local{key: key, chain: slices.Clone(chain), spec: spec}, nil
}

// Sign signs message with the algorithm bound to the key spec (ALG-2):
// RSASSA-PSS with salt length = hash length, or ECDSA as r||s.
func (l *Local) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return signature.SignMessage(l.spec.Algorithm(), l.key, message)
}

// KeySpec returns the key spec of the leaf certificate's key.
func (l *Local) KeySpec(context.Context) (signature.KeySpec, error) { return l.spec, nil }

// CertificateChain returns a copy of the chain, leaf first.
func (l *Local) CertificateChain(context.Context) ([]*x509.Certificate, error) {
	return slices.Clone(l.chain), nil
}

// LoadLocal reads a signing key and its certificate chain from PEM files
// (CFG-2) and returns NewLocal of them. The key file holds a "PRIVATE KEY"
// (PKCS#8), "EC PRIVATE KEY" (SEC 1) or "RSA PRIVATE KEY" (PKCS#1) block;
// the certificate file holds the leaf first, then the rest of the chain.
// Both files are read through symbolic links, as notation does (these are
// files the user names, not the trust store), and bounded by
// MaxKeyFileBytes and MaxChainFileBytes.
func LoadLocal(keyPath, certPath string) (*Local, error) {
	if keyPath == "" {
		return nil, fmt.Errorf("%w: no key file given", ErrInvalidKey)
	}
	if certPath == "" {
		return nil, fmt.Errorf("%w: no certificate file given", ErrInvalidCertificate)
	}
	keyPEM, err := fsutil.ReadFile(keyPath, MaxKeyFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	key, err := ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", keyPath, err)
	}
	certPEM, err := fsutil.ReadFile(certPath, MaxChainFileBytes)
	if err != nil {
		return nil, fmt.Errorf("read certificate file: %w", err)
	}
	chain, err := ParseCertificateChainPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate file %s: %w", certPath, err)
	}
	l, err := NewLocal(key, chain)
	if err != nil {
		return nil, fmt.Errorf("key file %s with certificate file %s: %w", keyPath, certPath, err)
	}
	return l, nil
}

var pemBegin = []byte("-----BEGIN")

// pemBlocks decodes every PEM block of data and fails when a block is
// truncated or malformed (pem.Decode would silently skip it).
func pemBlocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks = append(blocks, b)
	}
	if n := bytes.Count(data, pemBegin); n != len(blocks) {
		return nil, fmt.Errorf("%d of %d PEM blocks are truncated or malformed", n-len(blocks), n)
	}
	if len(blocks) == 0 {
		return nil, errors.New("no PEM data found")
	}
	return blocks, nil
}

// ParsePrivateKeyPEM parses the one private key of a PEM file: a "PRIVATE
// KEY" (PKCS#8), "EC PRIVATE KEY" or "RSA PRIVATE KEY" block. Other blocks
// (an "EC PARAMETERS" block from `openssl ecparam`, certificates) are
// skipped, as crypto/tls does; encrypted keys and files with two keys are
// refused. data may be at most MaxKeyFileBytes. Errors wrap ErrInvalidKey.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	if len(data) > MaxKeyFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidKey, MaxKeyFileBytes)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidKey, err)
	}
	var found *pem.Block
	for _, b := range blocks {
		if b.Type != "PRIVATE KEY" && !strings.HasSuffix(b.Type, " PRIVATE KEY") {
			continue
		}
		if found != nil {
			return nil, fmt.Errorf("%w: the file holds more than one private key", ErrInvalidKey)
		}
		found = b
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY block found", ErrInvalidKey)
	}
	if found.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(found.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, fmt.Errorf("%w: encrypted private keys are not supported; decrypt it first (e.g. openssl pkcs8 -topk8 -nocrypt)", ErrInvalidKey)
	}
	var key any
	switch found.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(found.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(found.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(found.Bytes)
	default:
		return nil, fmt.Errorf("%w: unsupported PEM block type %q (use PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY)", ErrInvalidKey, found.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s block: %v", ErrInvalidKey, found.Type, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key of type %T cannot sign", ErrInvalidKey, key)
	}
	return s, nil
}

// ParseCertificateChainPEM parses the CERTIFICATE blocks of a PEM file in
// order (leaf first). Other blocks are skipped, as crypto/tls does, so a
// file holding a key and its chain works; malformed blocks and files
// without a certificate are refused. data may be at most
// MaxChainFileBytes. Errors wrap ErrInvalidCertificate.
func ParseCertificateChainPEM(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxChainFileBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidCertificate, MaxChainFileBytes)
	}
	blocks, err := pemBlocks(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v (the certificate file must be PEM)", ErrInvalidCertificate, err)
	}
	var chain []*x509.Certificate
	for i, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PEM block %d: %v", ErrInvalidCertificate, i+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE block found", ErrInvalidCertificate)
	}
	return chain, nil
}
