// Package verifier decides whether one signature envelope is trusted under
// one trust policy statement, running the specification's validations in
// order (PIPE-1..PIPE-10): integrity, authenticity (trust store and trusted
// identity), expiry, authentic timestamp, revocation, then the payload
// checks that hold at every level.
//
// Each step is one file. A Result records every check with its action,
// outcome and reason, so callers can explain a decision in text or JSON.
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/trust-store-trust-policy.md#signature-verification
package verifier
