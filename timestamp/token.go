package timestamp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/smallstep/pkcs7"
)

// MaxTokenBytes bounds a DER TimeStampToken. A token arrives inside a TSA
// response, itself bounded to 1 MiB (digest §0.5); real tokens are 2 to 8
// KiB with their certificates.
const MaxTokenBytes = 1 << 20

// MaxTokenCertificates bounds the certificates embedded in a token. A TSA
// sends its chain, two to four certificates, sometimes with the TSA
// certificate twice (openssl ts when -chain holds it too); more only makes
// chain building slower.
const MaxTokenCertificates = 32

// maxAccuracySeconds bounds TSTInfo.accuracy.seconds so that the accuracy
// fits a time.Duration with room to spare (about 68 years). No TSA claims
// anything near it; a larger value is treated as malformed.
const maxAccuracySeconds = 1<<31 - 1

// Token is a parsed RFC 3161 TimeStampToken: a CMS SignedData whose
// encapsulated content is a TSTInfo. Parsing checks structure only; nothing
// in Info is authenticated until Verify succeeds.
type Token struct {
	// Raw is the DER token, exactly as parsed.
	Raw []byte
	// Info is the decoded TSTInfo (unauthenticated until Verify).
	Info TSTInfo
	// Certificates are the certificates embedded in the token, in order
	// (they may repeat).
	Certificates []*x509.Certificate

	p7 *pkcs7.PKCS7
}

// TSTInfo is the decoded content of a token (RFC 3161 §2.4.2).
type TSTInfo struct {
	// Version is always 1 in a parsed token.
	Version int
	// Policy is the TSA policy under which the token was issued.
	Policy asn1.ObjectIdentifier
	// Hash is the message imprint's hash: SHA-256, SHA-384 or SHA-512, or 0
	// when the TSA used another (Verify then refuses the token).
	Hash crypto.Hash
	// HashOID is the message imprint's hash algorithm OID as sent.
	HashOID asn1.ObjectIdentifier
	// HashedMessage is the message imprint's digest.
	HashedMessage []byte
	// SerialNumber is the token's serial number.
	SerialNumber *big.Int
	// GenTime is the time the TSA says it made the token, in UTC.
	GenTime time.Time
	// Accuracy is the accuracy field as sent (seconds + millis + micros),
	// 0 when absent. Range applies the defaults of TSA-9.
	Accuracy time.Duration
	// Ordering is the ordering flag.
	Ordering bool
	// Nonce is the nonce, nil when absent.
	Nonce *big.Int
}

// Range returns the time interval in which the token was made (TSA-9):
// GenTime ± Accuracy when accuracy is non-zero; ± 1 s when it is zero (or
// absent) and Policy is BaselinePolicy (RFC 3628); else GenTime exactly.
// As in the reference implementation, an accuracy field that is present but
// zero counts as absent.
func (i *TSTInfo) Range() Range {
	acc := i.Accuracy
	if acc == 0 && i.Policy.Equal(BaselinePolicy()) {
		acc = time.Second
	}
	return Range{GenTime: i.GenTime, Accuracy: acc}
}

// Range is the interval [GenTime − Accuracy, GenTime + Accuracy] in which a
// verified token says it was made.
type Range struct {
	GenTime  time.Time
	Accuracy time.Duration
}

// Earliest returns GenTime − Accuracy.
func (r Range) Earliest() time.Time { return r.GenTime.Add(-r.Accuracy) }

// Latest returns GenTime + Accuracy.
func (r Range) Latest() time.Time { return r.GenTime.Add(r.Accuracy) }

// Within reports whether the whole range lies inside cert's validity,
// bounds included: NotBefore ≤ Earliest and Latest ≤ NotAfter (TSA-10).
// A nil cert is never within.
func (r Range) Within(cert *x509.Certificate) bool {
	if cert == nil {
		return false
	}
	return !r.Earliest().Before(cert.NotBefore) && !r.Latest().After(cert.NotAfter)
}

// String formats the range for messages, e.g.
// "2026-11-24T10:00:00Z ± 1s".
func (r Range) String() string {
	s := r.GenTime.UTC().Format(time.RFC3339Nano)
	if r.Accuracy != 0 {
		s += " ± " + r.Accuracy.String()
	}
	return s
}

// ParseToken parses a DER TimeStampToken (RFC 3161 §2.4.2): a ContentInfo
// holding a CMS SignedData with exactly one signer, whose encapsulated
// content type is id-ct-TSTInfo and whose TSTInfo has version 1 and a UTC
// GeneralizedTime genTime. It checks structure only; call Verify before
// trusting anything in it. BER (indefinite lengths, constructed strings) is
// refused: tokens are DER. Errors wrap ErrMalformedToken.
func ParseToken(der []byte) (*Token, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("%w: token is empty", ErrMalformedToken)
	}
	if len(der) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: token is %d bytes, over the limit of %d", ErrMalformedToken, len(der), MaxTokenBytes)
	}
	var ci contentInfo
	if err := unmarshalDER(der, &ci); err != nil {
		return nil, fmt.Errorf("%w: not a DER ContentInfo: %v", ErrMalformedToken, err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: content type is %s, not signedData", ErrMalformedToken, ci.ContentType)
	}
	var sd signedDataOutline
	if err := unmarshalDER(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("%w: not a DER SignedData: %v", ErrMalformedToken, err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("%w: encapsulated content type is %s, not id-ct-TSTInfo", ErrMalformedToken, sd.EncapContentInfo.EContentType)
	}
	var content []byte
	if err := unmarshalDER(sd.EncapContentInfo.EContent.Bytes, &content); err != nil || len(content) == 0 {
		return nil, fmt.Errorf("%w: encapsulated TSTInfo is missing or not a DER OCTET STRING", ErrMalformedToken)
	}
	if n, err := countSetElements(sd.SignerInfos); err != nil {
		return nil, fmt.Errorf("%w: signerInfos: %v", ErrMalformedToken, err)
	} else if n != 1 {
		return nil, fmt.Errorf("%w: token has %d signers; RFC 3161 allows only the TSA's", ErrMalformedToken, n)
	}
	info, err := parseTSTInfo(content)
	if err != nil {
		return nil, err
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedToken, err)
	}
	// pkcs7 ignores some decoding errors inside SignedData; make sure it
	// read the same content and signer we did.
	if !bytes.Equal(p7.Content, content) {
		return nil, fmt.Errorf("%w: encapsulated content could not be decoded consistently", ErrMalformedToken)
	}
	if len(p7.Signers) != 1 {
		return nil, fmt.Errorf("%w: signer information could not be decoded (only issuerAndSerialNumber signer identifiers are supported)", ErrMalformedToken)
	}
	if len(p7.Certificates) > MaxTokenCertificates {
		return nil, fmt.Errorf("%w: token embeds %d certificates, over the limit of %d", ErrMalformedToken, len(p7.Certificates), MaxTokenCertificates)
	}
	return &Token{
		Raw:          bytes.Clone(der),
		Info:         *info,
		Certificates: p7.Certificates,
		p7:           p7,
	}, nil
}

// parseTSTInfo decodes a DER TSTInfo; errors wrap ErrMalformedToken.
func parseTSTInfo(der []byte) (*TSTInfo, error) {
	var raw tstInfo
	if err := unmarshalDER(der, &raw); err != nil {
		return nil, fmt.Errorf("%w: not a DER TSTInfo: %v", ErrMalformedToken, err)
	}
	if raw.Version != 1 {
		return nil, fmt.Errorf("%w: TSTInfo version is %d, not 1", ErrMalformedToken, raw.Version)
	}
	if raw.SerialNumber == nil {
		return nil, fmt.Errorf("%w: TSTInfo has no serial number", ErrMalformedToken)
	}
	gen, err := parseGeneralizedTime(raw.GenTime)
	if err != nil {
		return nil, fmt.Errorf("%w: genTime: %v", ErrMalformedToken, err)
	}
	a := raw.Accuracy
	switch {
	case a.Seconds < 0 || a.Seconds > maxAccuracySeconds:
		return nil, fmt.Errorf("%w: accuracy of %d seconds is out of range", ErrMalformedToken, a.Seconds)
	case a.Millis < 0 || a.Millis > 999:
		return nil, fmt.Errorf("%w: accuracy millis %d is not in 1..999", ErrMalformedToken, a.Millis)
	case a.Micros < 0 || a.Micros > 999:
		return nil, fmt.Errorf("%w: accuracy micros %d is not in 1..999", ErrMalformedToken, a.Micros)
	}
	return &TSTInfo{
		Version:       raw.Version,
		Policy:        raw.Policy,
		Hash:          hashFromOID(raw.MessageImprint.HashAlgorithm.Algorithm),
		HashOID:       raw.MessageImprint.HashAlgorithm.Algorithm,
		HashedMessage: raw.MessageImprint.HashedMessage,
		SerialNumber:  raw.SerialNumber,
		GenTime:       gen,
		Accuracy: time.Duration(a.Seconds)*time.Second + time.Duration(a.Millis)*time.Millisecond +
			time.Duration(a.Micros)*time.Microsecond,
		Ordering: raw.Ordering,
		Nonce:    raw.Nonce,
	}, nil
}

// parseGeneralizedTime decodes a DER GeneralizedTime, which RFC 3161 §2.4.2
// requires to be in UTC ("Z"), with optional fractional seconds.
func parseGeneralizedTime(rv asn1.RawValue) (time.Time, error) {
	if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagGeneralizedTime || rv.IsCompound {
		return time.Time{}, fmt.Errorf("not a GeneralizedTime (tag %d)", rv.Tag)
	}
	if len(rv.Bytes) == 0 || rv.Bytes[len(rv.Bytes)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("%q is not in UTC (it must end in Z)", rv.Bytes)
	}
	var t time.Time
	if _, err := asn1.UnmarshalWithParams(rv.FullBytes, &t, "generalized"); err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// unmarshalDER decodes exactly one DER element into out; trailing bytes
// are an error.
func unmarshalDER(der []byte, out any) error {
	rest, err := asn1.Unmarshal(der, out)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes", len(rest))
	}
	return nil
}

// countSetElements counts the elements of a universal SET.
func countSetElements(rv asn1.RawValue) (int, error) {
	if rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagSet || !rv.IsCompound {
		return 0, fmt.Errorf("not a SET")
	}
	n := 0
	for b := rv.Bytes; len(b) > 0; n++ {
		var e asn1.RawValue
		rest, err := asn1.Unmarshal(b, &e)
		if err != nil {
			return 0, err
		}
		b = rest
	}
	return n, nil
}
