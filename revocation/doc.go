// Package revocation decides whether the certificates of a signing or
// timestamping chain are revoked, by OCSP (RFC 6960) and CRL (RFC 5280),
// per digest §6.8 (REV-1..REV-9).
//
// A Validator checks every certificate of a chain but the root against the
// certificate that issued it, concurrently. For each certificate it asks
// the OCSP responders the certificate names first, and falls back to the
// CRL distribution points when OCSP cannot decide (REV-2). A certificate
// that names neither is non-revokable. Summarize folds the per-certificate
// results into one (REV-3): any revoked wins, then any unknown, else ok.
//
// Only http:// URLs are used, as in the reference implementation: OCSP
// responses and CRLs are signed, so TLS adds nothing but failure modes.
// Every response is bounded (MaxOCSPResponseBytes, MaxCRLBytes) and every
// URL has its own timeout (Validator.OCSPTimeout, Validator.CRLTimeout).
//
// CRLs can be cached on disk (FileCache, REV-8, in the reference tool's
// file format) and OCSP answers in memory (OCSPCache); both honour the
// answer's nextUpdate and nothing cached is trusted without checking its
// signature again.
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/trust-store-trust-policy.md#certificate-revocation-evaluation
package revocation
