package timestamp

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
)

// Object identifiers (digest §0.4).
var (
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidSigningCertificate   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidRSAEncryption        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSASSAPSS            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// BaselinePolicy is the ETSI baseline time-stamp policy of RFC 3628
// (0.4.0.2023.1.1). A token under it without an accuracy field has an
// accuracy of one second (TSA-9).
func BaselinePolicy() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{0, 4, 0, 2023, 1, 1} }

// hashOID returns the OID of the three hashes the specification allows
// (ALG-4), or nil.
func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA256:
		return oidSHA256
	case crypto.SHA384:
		return oidSHA384
	case crypto.SHA512:
		return oidSHA512
	}
	return nil
}

// hashFromOID is the inverse of hashOID; it returns 0 for any other OID.
func hashFromOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// hashName names h for messages, "SHA-256" or the OID when unknown.
func hashName(h crypto.Hash) string {
	if h == 0 {
		return "none"
	}
	return h.String()
}

// messageImprint is RFC 3161 §2.4.1 MessageImprint.
type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// timeStampReq is RFC 3161 §2.4.1 TimeStampReq. reqPolicy and extensions
// are never sent (TSA-1).
type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	ReqPolicy      asn1.ObjectIdentifier `asn1:"optional"`
	Nonce          *big.Int              `asn1:"optional"`
	CertReq        bool                  `asn1:"optional,default:false"`
	Extensions     []pkix.Extension      `asn1:"optional,tag:0"`
}

// pkiStatusInfo is RFC 3161 §2.4.2 PKIStatusInfo.
type pkiStatusInfo struct {
	Status       int
	StatusString []string       `asn1:"optional,utf8"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

// timeStampResp is RFC 3161 §2.4.2 TimeStampResp; the token is kept as
// its exact bytes, which is what gets embedded in the envelope.
type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

// accuracy is RFC 3161 §2.4.2 Accuracy.
type accuracy struct {
	Seconds int64 `asn1:"optional"`
	Millis  int64 `asn1:"optional,tag:0"`
	Micros  int64 `asn1:"optional,tag:1"`
}

// tstInfo is RFC 3161 §2.4.2 TSTInfo. genTime stays raw so that its form
// (GeneralizedTime, UTC "Z") can be checked.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        asn1.RawValue
	Accuracy       accuracy         `asn1:"optional"`
	Ordering       bool             `asn1:"optional,default:false"`
	Nonce          *big.Int         `asn1:"optional"`
	TSA            asn1.RawValue    `asn1:"optional,explicit,tag:0"`
	Extensions     []pkix.Extension `asn1:"optional,tag:1"`
}

// rawContent captures one element whole; as a struct (not asn1.RawValue)
// it lets encoding/asn1 match an implicit context tag.
type rawContent struct {
	Raw asn1.RawContent
}

// contentInfo is RFC 5652 §3 ContentInfo.
type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

// signedDataOutline is RFC 5652 §5.1 SignedData, decoded only as far as
// pkcs7 does not expose it: the encapsulated content type, the DER form of
// the encapsulated content and the number of signers.
type signedDataOutline struct {
	Version          int
	DigestAlgorithms asn1.RawValue `asn1:"set"`
	EncapContentInfo struct {
		EContentType asn1.ObjectIdentifier
		EContent     asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	Certificates rawContent    `asn1:"optional,tag:0"`
	CRLs         rawContent    `asn1:"optional,tag:1"`
	SignerInfos  asn1.RawValue `asn1:"set"`
}

// essCertIDv2 is RFC 5035 §4 ESSCertIDv2; a missing hashAlgorithm means
// SHA-256.
type essCertIDv2 struct {
	HashAlgorithm pkix.AlgorithmIdentifier `asn1:"optional"`
	CertHash      []byte
	IssuerSerial  issuerSerial `asn1:"optional"`
}

// issuerSerial is RFC 5035 IssuerSerial; Issuer is GeneralNames.
type issuerSerial struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

// signingCertificateV2 is RFC 5035 SigningCertificateV2.
type signingCertificateV2 struct {
	Certs    []essCertIDv2
	Policies asn1.RawValue `asn1:"optional"`
}
