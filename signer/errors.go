package signer

import "errors"

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrInvalidKey: the private key file or value is unusable (not PEM,
	// encrypted, of an unsupported type, or more than one key).
	ErrInvalidKey = errors.New("invalid private key")
	// ErrInvalidCertificate: the certificate chain file or value is
	// unusable (no certificate, malformed PEM).
	ErrInvalidCertificate = errors.New("invalid signing certificate chain")
	// ErrKeyMismatch: the private key does not belong to the leaf
	// certificate (CFG-2).
	ErrKeyMismatch = errors.New("private key does not match the signing certificate")
)
