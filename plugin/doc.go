// Package plugin is the host side of the Notary Project plugin protocol,
// contract version 1.0 (digest §7): it finds plugins, runs their commands
// with a timeout and bounded output, validates every response, and
// refuses responses that do not answer the request.
//
//   - Manager finds plugins in a plugin directory (PLG-2, PLG-3, PLG-4)
//     and is where the executor seam, the per-call timeout and the output
//     limit are set.
//   - Plugin runs one command per method (get-plugin-metadata,
//     describe-key, generate-signature, generate-envelope,
//     verify-signature) and interprets failures by error code (PROC-2).
//   - Signer is a signature.Signer over a SIGNATURE_GENERATOR.RAW plugin:
//     envelope.Sign builds the envelope, the plugin signs it.
//   - GenerateEnvelope runs a SIGNATURE_GENERATOR.ENVELOPE plugin and
//     checks the envelope it returns.
//   - VerifySignature, Manager.VerificationPlugin, VerifierCapabilities and
//     CheckMinVersion cover verification plugins (VPLG-1..7).
//   - Manager.Install and Manager.Uninstall install a plugin package (a
//     single executable, a .zip or a .tar.gz, from a file or an https URL
//     with its SHA-256) and remove one (PLG-5).
//
// Wire types live in package plugin/proto, which has no dependencies.
//
// Errors: every failure is an *Error naming the plugin and the command,
// wrapping a sentinel (ErrNotFound, ErrTimeout, ErrInvalidResponse, …) or
// a *PluginError carrying the error code the plugin reported; Install
// returns an *InstallError naming the package, wrapping one of those or an
// installation sentinel (ErrInvalidPackage, ErrChecksum, ErrDownload, …).
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/plugin-extensibility.md
package plugin
