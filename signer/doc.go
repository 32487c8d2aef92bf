// Package signer provides signature.Signer implementations and the test-key
// generator of `notation cert generate-test`.
//
// Local signs with an in-memory key and its certificate chain; LoadLocal
// reads both from PEM files as signingkeys.json names them (CFG-2).
// GenerateTest creates a self-signed test key and certificate in a
// configuration directory, trusts it, and registers it (§8.2).
//
// Plugin-backed signers will live here too; none exists yet.
package signer
