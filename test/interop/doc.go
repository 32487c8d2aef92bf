// Package interop holds the end-to-end tests that run the signet command
// against the reference tool: notation v1.3.2 for OCI image layouts and
// notation v2.0.0-alpha.1 for blobs, sharing one notation configuration
// directory. scripts/install-peers.sh builds the peers.
package interop
