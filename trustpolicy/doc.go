// Package trustpolicy reads, validates and applies Notary Project trust
// policies: the OCI document (trustpolicy.oci.json, legacy trustpolicy.json)
// and the blob document (trustpolicy.blob.json).
//
// A Document or BlobDocument is plain data. Parse functions bound their
// input, decode it leniently the way encoding/json does (unknown members are
// ignored and member names match case-insensitively, TP-13) and validate it;
// Validate reports every violation at once as an errors.Join of
// *PolicyError values, each of which wraps ErrInvalidPolicy.
//
// Selection is Document.Match for OCI artifacts (SEL-1..SEL-3) and
// BlobDocument.Select for blobs (BTP-4). A selected Statement answers what
// the verifier needs: the action per validation (Actions), whether the level
// is skip, whether timestamps are always verified, and the trust stores of a
// type. MatchIdentities checks a signing certificate against a statement's
// trusted identities (ID-1..ID-8).
//
// Where the reference implementation (notation-go) is more lenient than the
// specification, this package follows the specification and says so in a
// comment: a global-scope OCI statement and a global blob statement may not
// use level skip (TP-12, BTP-3), and two trusted identities overlap whenever
// one certificate could match both (ID-6).
//
// Nothing in this package holds mutable package-level state; values are safe
// for concurrent reads once built.
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/trust-store-trust-policy.md
package trustpolicy
