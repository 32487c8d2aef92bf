// Package timestamp is signet's RFC 3161 timestamping: a client that asks a
// Time Stamping Authority (TSA) for a token over a signature's primitive
// signature bytes, and the parsing and verification of such tokens.
//
// The signing side calls a [Timestamper] (usually an [HTTPTimestamper]) and
// then [Token.Verify] against the caller's TSA root before embedding
// [Token.Raw] as the io.cncf.notary.timestampSignature unsigned attribute
// (digest SIGN-5, TSA-1..3). The verifying side parses the embedded token
// with [ParseToken], verifies it with [Token.Verify] against the
// certificates of the trust policy's tsa stores, and checks that the
// returned [Range] lies inside every signing certificate's validity with
// [Range.Within] (TSA-4..10).
//
// CMS (RFC 5652) structure, signed attributes and signature checks go
// through github.com/smallstep/pkcs7; the RFC 3161 structures (TimeStampReq,
// TimeStampResp, TSTInfo) and the ESS signing-certificate-v2 attribute
// (RFC 5035) are decoded here with encoding/asn1, DER only.
//
// The package holds no mutable state; every function and method is safe for
// concurrent use, and a *Token may be verified from several goroutines.
//
// Specifications:
//   - RFC 3161 https://www.rfc-editor.org/rfc/rfc3161 (as updated by RFC 5816)
//   - Notary Project trust policy, timestamp steps:
//     https://github.com/notaryproject/specifications/blob/v1.1.0/specs/trust-store-trust-policy.md
package timestamp
