// Package signet signs and verifies OCI artifacts and plain files (blobs)
// with Notary Project signatures.
//
// The functions here orchestrate the packages below them: signature (the
// model), envelope (JWS and COSE), trustpolicy and truststore (what to
// trust), verifier (the per-signature pipeline) and registry (signatures as
// OCI referrers). The signet command is a thin shell over them.
package signet
