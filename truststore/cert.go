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
	err := eachPEMBlock(data, "CERTIFICATE", ErrInvalidCertificate, func(der []byte) error {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		certs = append(certs, cert)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return certs, nil
}

// eachPEMBlock calls parse with the content of each PEM block in data, in
// order. A block of another type than typ, an error from parse, or a
// malformed or truncated block is an error wrapping kind.
func eachPEMBlock(data []byte, typ string, kind error, parse func(der []byte) error) error {
	headers := bytes.Count(data, pemBegin)
	parsed := 0
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != typ {
			return fmt.Errorf("%w: PEM block %d is %q, want %s", kind, n, block.Type, typ)
		}
		if err := parse(block.Bytes); err != nil {
			return fmt.Errorf("%w: PEM block %d: %v", kind, n, err)
		}
		parsed++
	}
	// pem.Decode silently skips a malformed block and resumes at the next
	// header, and stops at a truncated one: count headers to notice both.
	if parsed != headers {
		return fmt.Errorf("%w: %d of %d PEM blocks are truncated or malformed", kind, headers-parsed, headers)
	}
	return nil
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
