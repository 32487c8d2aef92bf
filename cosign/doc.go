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
// The bundle and the in-toto statement are decoded here
// (bundlejson.go) with protobuf's JSON mapping rules, as protojson decodes
// them for sigstore-go (a test and a fuzz target compare the two);
// signatures are checked with the standard library as sigstore/sigstore's
// pkg/signature checks them (RSA PKCS #1 v1.5, ECDSA, Ed25519; DSSE's PAE
// is encoded here); Rekor v1 entries (signed entry timestamp, RFC 6962
// inclusion proof with transparency-dev/merkle, signed checkpoint, and that
// the entry records this signature and key) are checked in rekor.go, the
// checks sigstore-go v1.2.2 makes, which a test runs side by side with
// sigstore-go. sigstore-go itself is not linked: its verifier pulls Rekor's
// generated OpenAPI client, go-openapi, govalidator and OpenTelemetry,
// whose package initialisation cost every signet process about 9M
// instructions; nor are protobuf's runtime, protobuf-specs, in-toto's
// types or sigstore/sigstore, whose descriptors and tables cost about 1.6M
// more (docs/benchmarks.md). This package bounds the bytes it parses, converts the
// legacy form into a sigstore bundle, and splits verification into the
// steps signet reports (signature under a trusted key, the digests it
// covers, the transparency log entry). Transparency log entries are
// checked offline, from the inclusion promise or inclusion proof in the
// bundle, against Rekor public keys the caller supplies; nothing here
// makes a network call.
//
// It imports no sigstore library (its tests do, to compare); only the
// verifier imports it.
package cosign
