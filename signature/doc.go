// Package signature is the pure model of a Notary Project signature: the
// payload, signed and unsigned attributes, key specs and algorithms, and the
// certificate-chain rules every envelope format shares.
//
// It performs no I/O. Envelope codecs (package envelope and its children)
// encode and decode this model; the signer and verifier build on it.
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/signature-specification.md
package signature
