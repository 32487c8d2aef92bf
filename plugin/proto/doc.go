// Package proto holds the wire types of the Notary Project plugin protocol,
// contract version 1.0: one request and one response type per command, the
// error a plugin writes to stderr, and the names (capabilities, key specs,
// hash and signing algorithms, error codes) the protocol fixes (digest §7).
//
// It depends on the standard library only, so plugin authors can import it
// without inheriting signet. Every request and response has Validate, which
// checks what the message alone can show: required members present and
// non-empty, names known. Checks that need the other half of an exchange
// (the response keyId echoes the request, the envelope type matches, the
// verification results answer the capabilities asked for) are the host's
// job, in package plugin.
//
// Binary members (payload, signature, certificateChain entries,
// signatureEnvelope) are []byte, which encoding/json writes and reads as
// standard padded base64 (PROC-7).
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/plugin-extensibility.md
package proto
