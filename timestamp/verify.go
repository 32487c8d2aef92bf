package timestamp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/signet-dev/signet/signature"
)

// VerifyOptions tunes Token.Verify. The zero value is the verification
// side's rule.
type VerifyOptions struct {
	// Hash, when non-zero, is the only message-imprint hash accepted; the
	// signing side sets it to the signing key's hash (ALG-4). Zero accepts
	// SHA-256, SHA-384 and SHA-512 whatever the signing key (ALG-4 [REF]).
	Hash crypto.Hash
}

// Verify checks the token against signatureBytes, the envelope's primitive
// signature (JWS: the decoded signature; COSE: the signature bstr), and
// roots, the TSA root certificates the caller trusts (a tsa trust store, or
// the --timestamp-root-cert at signing). In order:
//
//   - the signer's ESS signing-certificate-v2 attribute is present (TSA-6)
//     and names, by a SHA-256, SHA-384 or SHA-512 hash, a certificate
//     embedded in the token that is also the signer's (TSACERT-4); the
//     signing-certificate (v1) attribute is not accepted in its place, as in
//     the reference implementation;
//   - the CMS signature verifies: content-type attribute id-ct-TSTInfo,
//     message digest, and the signature with a SHA-256/384/512 digest (no
//     SHA-1) and an RSA PKCS #1 v1.5 or ECDSA signature;
//   - the message imprint is H(signatureBytes) with the token's hash, one of
//     SHA-256, SHA-384 and SHA-512, or opts.Hash when set (TSA-5, ALG-4);
//   - a chain leads from the signer through the token's certificates to one
//     of roots, valid at genTime with extended key usage timeStamping
//     (TSA-7), and passes signature.ValidateTimestampingChain at genTime
//     (TSACERT-1..3, the ALG-3 key rules for the TSA certificate).
//
// It returns the interval the token vouches for (TSA-9) and the TSA chain,
// leaf first and ending with the root from roots, for the caller's
// revocation check (TSA-8). It does not compare the range with any
// certificate: use Range.Within (TSA-10).
//
// Errors wrap ErrMissingSigningCertificateV2, ErrSignerCertificate,
// ErrInvalidSignature, ErrUnsupportedHash, ErrImprintMismatch,
// ErrUntrustedTSA or signature.ErrInvalidChain.
func (t *Token) Verify(signatureBytes []byte, roots []*x509.Certificate, opts VerifyOptions) (Range, []*x509.Certificate, error) {
	signer, err := t.verifySigner()
	if err != nil {
		return Range{}, nil, err
	}
	if err := t.checkImprint(signatureBytes, opts.Hash); err != nil {
		return Range{}, nil, err
	}
	chain, err := t.verifyChain(signer, roots)
	if err != nil {
		return Range{}, nil, err
	}
	return t.Info.Range(), chain, nil
}

// checkImprint checks TSA-5 and ALG-4.
func (t *Token) checkImprint(signatureBytes []byte, want crypto.Hash) error {
	h := t.Info.Hash
	if h == 0 {
		return fmt.Errorf("%w: message imprint uses %s; use SHA-256, SHA-384 or SHA-512", ErrUnsupportedHash, t.Info.HashOID)
	}
	if want != 0 && h != want {
		return fmt.Errorf("%w: message imprint uses %s, but %s was requested", ErrUnsupportedHash, hashName(h), hashName(want))
	}
	d := h.New()
	d.Write(signatureBytes)
	if !bytes.Equal(d.Sum(nil), t.Info.HashedMessage) {
		return fmt.Errorf("%w: the token's %s imprint is not the hash of the signature bytes", ErrImprintMismatch, hashName(h))
	}
	return nil
}

// verifySigner locates the TSA certificate through signing-certificate-v2
// and verifies the CMS signature with it. It needs no roots, so the client
// runs it on every response too.
func (t *Token) verifySigner() (*x509.Certificate, error) {
	if t == nil || t.p7 == nil || len(t.p7.Signers) != 1 {
		return nil, fmt.Errorf("%w: token was not made by ParseToken", ErrMalformedToken)
	}
	si := t.p7.Signers[0]
	digest := hashFromOID(si.DigestAlgorithm.Algorithm)
	if digest == 0 {
		return nil, fmt.Errorf("%w: the token is signed with digest %s; use SHA-256, SHA-384 or SHA-512", ErrUnsupportedHash, si.DigestAlgorithm.Algorithm)
	}
	if err := checkSignatureAlgorithm(si.DigestEncryptionAlgorithm.Algorithm, digest); err != nil {
		return nil, err
	}
	if len(si.AuthenticatedAttributes) == 0 {
		return nil, fmt.Errorf("%w (TSA-6): the signer has no signed attributes", ErrMissingSigningCertificateV2)
	}
	var ct, v2, v1 []asn1.RawValue
	for _, a := range si.AuthenticatedAttributes {
		switch {
		case a.Type.Equal(oidContentType):
			ct = append(ct, a.Value)
		case a.Type.Equal(oidSigningCertificateV2):
			v2 = append(v2, a.Value)
		case a.Type.Equal(oidSigningCertificate):
			v1 = append(v1, a.Value)
		}
	}
	if err := checkContentTypeAttr(ct); err != nil {
		return nil, err
	}
	switch {
	case len(v2) == 0 && len(v1) > 0:
		return nil, fmt.Errorf("%w (TSA-6): it carries only the SHA-1 based signing-certificate (v1) attribute", ErrMissingSigningCertificateV2)
	case len(v2) == 0:
		return nil, fmt.Errorf("%w (TSA-6)", ErrMissingSigningCertificateV2)
	case len(v2) > 1:
		return nil, fmt.Errorf("%w: signing-certificate-v2 appears %d times", ErrMalformedToken, len(v2))
	}
	var sc signingCertificateV2
	if err := unmarshalSingleValue(v2[0], &sc); err != nil {
		return nil, fmt.Errorf("%w: signing-certificate-v2: %v", ErrMalformedToken, err)
	}
	if len(sc.Certs) == 0 {
		return nil, fmt.Errorf("%w: signing-certificate-v2 names no certificate", ErrMalformedToken)
	}
	// RFC 5035 §5.4: the first ESSCertIDv2 identifies the signing
	// certificate.
	id := sc.Certs[0]
	h := crypto.SHA256
	if len(id.HashAlgorithm.Algorithm) > 0 {
		if h = hashFromOID(id.HashAlgorithm.Algorithm); h == 0 {
			return nil, fmt.Errorf("%w: signing-certificate-v2 hashes the certificate with %s; use SHA-256, SHA-384 or SHA-512", ErrUnsupportedHash, id.HashAlgorithm.Algorithm)
		}
	}
	var cert *x509.Certificate
	for _, c := range t.p7.Certificates {
		d := h.New()
		d.Write(c.Raw)
		if bytes.Equal(d.Sum(nil), id.CertHash) {
			cert = c
			break
		}
	}
	if cert == nil {
		return nil, fmt.Errorf("%w: no certificate in the token has the %s hash that signing-certificate-v2 names", ErrSignerCertificate, hashName(h))
	}
	if id.IssuerSerial.SerialNumber != nil {
		if err := matchIssuerSerial(id.IssuerSerial, cert); err != nil {
			return nil, err
		}
	}
	if sid := t.p7.GetOnlySigner(); sid == nil || !bytes.Equal(sid.Raw, cert.Raw) {
		return nil, fmt.Errorf("%w: the signer identifier names another certificate than signing-certificate-v2 (%q)", ErrSignerCertificate, cert.Subject)
	}
	// pkcs7 checks the message-digest attribute against the TSTInfo and
	// the signature over the signed attributes with the signer's key.
	if err := t.p7.Verify(); err != nil {
		// pkcs7 also holds a signing-time attribute, when there is one,
		// against the signer's validity, before checking the signature.
		var st *pkcs7.SigningTimeNotValidError
		if errors.As(err, &st) {
			return nil, fmt.Errorf("%w: TSA certificate %q was not valid at the token's signing-time attribute %s (valid from %s to %s)",
				ErrUntrustedTSA, cert.Subject, st.SigningTime.UTC().Format(time.RFC3339), cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		}
		var md *pkcs7.MessageDigestMismatchError
		if errors.As(err, &md) {
			return nil, fmt.Errorf("%w: the TSTInfo does not match the signed message-digest attribute", ErrInvalidSignature)
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	return cert, nil
}

// checkSignatureAlgorithm admits the signer's signature algorithms: RSA
// PKCS #1 v1.5 (rsaEncryption, or shaNNNWithRSAEncryption) and ECDSA
// (ecdsa-with-SHANNN), where an algorithm that names a hash must name the
// signer's digest. pkcs7 would otherwise verify ecdsa-with-SHA1 or
// sha1WithRSAEncryption signatures whatever the digest algorithm says.
func checkSignatureAlgorithm(alg asn1.ObjectIdentifier, digest crypto.Hash) error {
	var named crypto.Hash
	switch {
	case alg.Equal(oidRSAEncryption):
		return nil
	case alg.Equal(oidSHA256WithRSA), alg.Equal(oidECDSAWithSHA256):
		named = crypto.SHA256
	case alg.Equal(oidSHA384WithRSA), alg.Equal(oidECDSAWithSHA384):
		named = crypto.SHA384
	case alg.Equal(oidSHA512WithRSA), alg.Equal(oidECDSAWithSHA512):
		named = crypto.SHA512
	case alg.Equal(oidRSASSAPSS):
		return fmt.Errorf("%w: the token is signed with RSASSA-PSS, which signet does not accept in timestamp tokens (RSA PKCS #1 v1.5 and ECDSA are)", ErrInvalidSignature)
	default:
		return fmt.Errorf("%w: the token's signature algorithm %s is not RSA PKCS #1 v1.5 or ECDSA with SHA-256, SHA-384 or SHA-512", ErrInvalidSignature, alg)
	}
	if named != digest {
		return fmt.Errorf("%w: the token's signature algorithm names %s but its digest algorithm is %s", ErrInvalidSignature, hashName(named), hashName(digest))
	}
	return nil
}

// checkContentTypeAttr enforces RFC 5652 §11.1: with signed attributes the
// content-type attribute is present once and equals the encapsulated
// content type (id-ct-TSTInfo, checked by ParseToken).
func checkContentTypeAttr(vals []asn1.RawValue) error {
	if len(vals) != 1 {
		return fmt.Errorf("%w: the signer has %d content-type attributes, not 1", ErrMalformedToken, len(vals))
	}
	var oid asn1.ObjectIdentifier
	if err := unmarshalSingleValue(vals[0], &oid); err != nil {
		return fmt.Errorf("%w: content-type attribute: %v", ErrMalformedToken, err)
	}
	if !oid.Equal(oidTSTInfo) {
		return fmt.Errorf("%w: the signed content-type attribute is %s, not id-ct-TSTInfo", ErrMalformedToken, oid)
	}
	return nil
}

// unmarshalSingleValue decodes an attribute's SET OF AttributeValue that
// must hold exactly one value.
func unmarshalSingleValue(set asn1.RawValue, out any) error {
	rest, err := asn1.Unmarshal(set.Bytes, out)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("attribute has more than one value")
	}
	return nil
}

// matchIssuerSerial checks the optional IssuerSerial of an ESSCertIDv2
// against the certificate its hash found.
func matchIssuerSerial(is issuerSerial, cert *x509.Certificate) error {
	if is.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return fmt.Errorf("%w: signing-certificate-v2 names serial number %s, the certificate has %s", ErrSignerCertificate, is.SerialNumber, cert.SerialNumber)
	}
	// GeneralNames ::= SEQUENCE OF GeneralName; directoryName is [4] Name.
	if is.Issuer.Class != asn1.ClassUniversal || is.Issuer.Tag != asn1.TagSequence {
		return fmt.Errorf("%w: signing-certificate-v2 issuer is not GeneralNames", ErrMalformedToken)
	}
	for b := is.Issuer.Bytes; len(b) > 0; {
		var gn asn1.RawValue
		rest, err := asn1.Unmarshal(b, &gn)
		if err != nil {
			return fmt.Errorf("%w: signing-certificate-v2 issuer: %v", ErrMalformedToken, err)
		}
		b = rest
		if gn.Class == asn1.ClassContextSpecific && gn.Tag == 4 && bytes.Equal(gn.Bytes, cert.RawIssuer) {
			return nil
		}
	}
	return fmt.Errorf("%w: signing-certificate-v2 names another issuer than the certificate's (%q)", ErrSignerCertificate, cert.Issuer)
}

// verifyChain builds the TSA chain to one of roots at genTime (TSA-7) and
// applies the §3.3 rules to it.
func (t *Token) verifyChain(leaf *x509.Certificate, roots []*x509.Certificate) ([]*x509.Certificate, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no trusted TSA root certificate was given", ErrUntrustedTSA)
	}
	rootPool := x509.NewCertPool()
	for _, r := range roots {
		if r != nil {
			rootPool.AddCert(r)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range t.p7.Certificates {
		if !bytes.Equal(c.Raw, leaf.Raw) {
			inter.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         rootPool,
		Intermediates: inter,
		CurrentTime:   t.Info.GenTime,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: TSA certificate %q does not chain to a trusted root at genTime %s: %v", ErrUntrustedTSA, leaf.Subject, t.Info.GenTime.Format(time.RFC3339Nano), err)
	}
	var first error
	for _, c := range chains {
		err := signature.ValidateTimestampingChain(c, t.Info.GenTime)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, fmt.Errorf("TSA certificate chain: %w", first)
}
