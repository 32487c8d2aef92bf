// Package config locates signet's configuration directory and reads and
// writes the two configuration files it shares with notation: config.json
// and signingkeys.json (digest §8.1, §8.2).
//
// The directory layout and JSON shapes are notation's (notation v1.3.2,
// notation-go v1.3.2 dir and config packages), so a directory that notation
// created can be used unchanged: point $SIGNET_CONFIG at it.
//
//	{CONFIG}/config.json                          Config
//	{CONFIG}/signingkeys.json                     SigningKeys
//	{CONFIG}/trustpolicy.oci.json                 OCI trust policy (spec name)
//	{CONFIG}/trustpolicy.json                     OCI trust policy (notation v1.3 name)
//	{CONFIG}/trustpolicy.blob.json                blob trust policy
//	{CONFIG}/truststore/x509/<type>/<store>/...   trust store (package truststore)
//	{CONFIG}/localkeys/<name>.key, <name>.crt     test keys (signer.GenerateTest)
//	{CONFIG}/plugins/<name>/notation-<name>       plugins
//
// There is no package-level state: every path derives from a Dir value,
// which ResolveDir computes from an environment lookup function the caller
// passes in.
//
// Concurrency: Load* functions may run concurrently with anything; every
// Save* replaces its file atomically, so readers never see a partial file,
// but two concurrent load-modify-save sequences lose one update.
package config
