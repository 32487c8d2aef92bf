// Package truststore reads and manages the X.509 trust store: named sets of
// trusted certificates that trust policies reference as "<type>:<name>"
// (digest §3.4 and §5.1).
//
// On disk (notation's layout, so a notation trust store works unchanged):
//
//	<root>/x509/ca/<name>/<files>                 notary.x509 signing roots
//	<root>/x509/signingAuthority/<name>/<files>   notary.x509.signingAuthority roots
//	<root>/x509/tsa/<name>/<files>                RFC 3161 timestamping roots
//
// where <root> is {CONFIG}/truststore. Store is the one read method the
// verifier needs; FileStore implements it over that layout and adds the
// management operations of `notation cert add|list|show|delete`.
//
// Rules (TS-1..TS-6, §3.4), and where signet departs from the reference:
//
//   - Store names match ^[a-zA-Z0-9_.-]+$ and are not "." or ".." (the
//     reference's pattern admits both, which would escape the type
//     directory).
//   - The named-store directory and every certificate file must not be
//     symbolic links (TS-3): each is checked with lstat.
//   - Sub-directories inside a named store are ignored with a warning on the
//     FileStore's logger (TS-4, the spec). The reference fails the whole
//     load instead; this is a known, tested divergence (digest §10 item 7).
//   - Every regular file is read, whatever its extension, as the reference
//     does (the spec lists .pem, .crt and .cer): PEM when the file holds a
//     PEM header, otherwise concatenated DER. A file that is not
//     certificates fails the load and the error names it (TS-2).
//   - Certificates in ca and signingAuthority stores must be CA certificates
//     (basicConstraints cA=true) or self-signed; certificates in tsa stores
//     must be self-signed root CAs (§3.4).
//   - A missing store and a store without certificates are errors (TS-6).
package truststore
