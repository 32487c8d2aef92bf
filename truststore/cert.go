package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/signet-dev/signet/signature"
)

// MaxCertificateFileBytes bounds one certificate file. A root certificate
// is 1-2 KiB; the largest public CA bundles are under 300 KiB of PEM. Four
// MiB leaves room for any real bundle and stops a hostile or mistaken file
// (an image, a log) from being slurped whole.
const MaxCertificateFileBytes = 4 << 20

// pemBegin starts every PEM block; base64 never contains '-', so it only
// occurs at block boundaries or in stray text.
var pemBegin = []byte("-----BEGIN")

// ParseCertificates parses a certificate file (TS-2): PEM when data holds a
// PEM header, in which case every block must be a well-formed CERTIFICATE
// block (text outside blocks is ignored); otherwise one or more
// concatenated DER certificates. At least one certificate is required, and
// data may be at most MaxCertificateFileBytes. Errors wrap
// ErrInvalidCertificate and say what is wrong (truncated block, wrong block
// type, garbage).
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(data) > MaxCertificateFileBytes {
		return nil, fmt.Errorf("%w: file is larger than %d bytes", ErrInvalidCertificate, MaxCertificateFileBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: file is empty", ErrInvalidCertificate)
	}
	if bytes.Contains(data, pemBegin) {
		return parsePEM(data)
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%w: neither PEM nor DER certificates: %v", ErrInvalidCertificate, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificates found", ErrInvalidCertificate)
	}
	return certs, nil
}

func parsePEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	headers := bytes.Count(data, pemBegin)
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %d is %q, want CERTIFICATE", ErrInvalidCertificate, n, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PEM block %d: %v", ErrInvalidCertificate, n, err)
		}
		certs = append(certs, cert)
	}
	// pem.Decode silently skips a malformed block and resumes at the next
	// header, and stops at a truncated one: count headers to notice both.
	if len(certs) != headers {
		return nil, fmt.Errorf("%w: %d of %d PEM blocks are truncated or malformed", ErrInvalidCertificate, headers-len(certs), headers)
	}
	return certs, nil
}

// checkCertificate applies the store type's rule to one certificate (§3.4).
func checkCertificate(t Type, c *x509.Certificate) error {
	switch t {
	case TypeTSA:
		// A root: its own issuer by name and by signature. CheckSignatureFrom
		// also requires it to be a CA allowed to sign certificates.
		if !bytes.Equal(c.RawSubject, c.RawIssuer) {
			return fmt.Errorf("%w: certificate %q is not a root certificate (issuer %q differs from the subject); tsa stores hold root certificates only", ErrInvalidCertificate, c.Subject, c.Issuer)
		}
		if err := c.CheckSignatureFrom(c); err != nil {
			return fmt.Errorf("%w: certificate %q is not a self-signed root CA certificate; tsa stores hold root certificates only: %v", ErrInvalidCertificate, c.Subject, err)
		}
	default:
		if c.IsCA {
			return nil
		}
		if err := signature.CheckCertificateSignature(c, c); err != nil {
			return fmt.Errorf("%w: certificate %q is neither a CA certificate (basicConstraints cA=true) nor self-signed", ErrInvalidCertificate, c.Subject)
		}
	}
	return nil
}
