// Package cosign reads and verifies cosign key-based signatures of OCI
// artifacts, in both forms cosign writes:
//
//   - the sigstore bundle (application/vnd.dev.sigstore.bundle.v0.3+json),
//     cosign v3's default: a DSSE envelope over an in-toto statement of
//     predicate type https://sigstore.dev/cosign/sign/v1 whose subject is the
//     image digest, stored as an OCI referrer of the image;
//   - the legacy "simple signing" payload
//     (application/vnd.dev.cosign.simplesigning.v1+json) in the image
//     manifest tagged sha256-<digest>.sig, with its signature in the layer's
//     dev.cosignproject.cosign/signature annotation and an optional Rekor
//     signed entry timestamp in dev.sigstore.cosign/bundle.
//
// Parsing is protobuf-specs' generated types with protojson; signatures
// are checked with sigstore/sigstore's pkg/signature (DSSE's PAE is
// encoded here); Rekor v1 entries (signed entry timestamp, RFC 6962
// inclusion proof with transparency-dev/merkle, signed checkpoint, and that
// the entry records this signature and key) are checked in rekor.go, the
// checks sigstore-go v1.2.2 makes, which a test runs side by side with
// sigstore-go. sigstore-go itself is not linked: its verifier pulls Rekor's
// generated OpenAPI client, go-openapi, govalidator and OpenTelemetry,
// whose package initialisation cost every signet process about 9M
// instructions. This package bounds the bytes it parses, converts the
// legacy form into a sigstore bundle, and splits verification into the
// steps signet reports (signature under a trusted key, the digests it
// covers, the transparency log entry). Transparency log entries are
// checked offline, from the inclusion promise or inclusion proof in the
// bundle, against Rekor public keys the caller supplies; nothing here
// makes a network call.
//
// This is the only signet package that imports sigstore libraries; only
// the verifier imports it.
package cosign
