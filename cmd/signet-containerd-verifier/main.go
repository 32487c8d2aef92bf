// Command signet-containerd-verifier is an image verifier for containerd
// 2.x's "bindir" image-verifier plugin
// (io.containerd.image-verifier.v1.bindir). containerd runs every executable
// in the plugin's bin_dir before it pulls an image, as
//
//	VERIFIER -name REF -digest DIGEST -stdin-media-type application/vnd.oci.descriptor.v1+json
//
// with the image's OCI descriptor as JSON on stdin. Exit status 0 allows the
// pull, any other status blocks it, and the first line of stdout is the
// reason containerd reports (containerd v2.4.2 docs/image-verification.md).
//
// It verifies REF's repository at DIGEST with signet's verifier, against the
// trust policy (trustpolicy.oci.json, else trustpolicy.json) and trust store
// of a signet/notation configuration directory: the same verdicts as
// `signet verify REPOSITORY@DIGEST`. Anything that keeps it from reaching a
// verdict (bad arguments or stdin, missing or invalid configuration, an
// unreachable registry, the timeout) blocks the pull: it fails closed.
//
// Flags (containerd passes only the first three; a wrapper script in
// bin_dir can pass the others, see docs/containerd.md):
//
//	-name REF                    the image reference being pulled (required)
//	-digest DIGEST               the resolved manifest digest (required)
//	-stdin-media-type MT         must be application/vnd.oci.descriptor.v1+json
//	-config DIR                  configuration directory (default $SIGNET_CONFIG, else /etc/signet)
//	-insecure-registry HOST      plain HTTP for HOST[:PORT] (repeatable; also $SIGNET_INSECURE_REGISTRIES)
//	-timeout DURATION            whole verification (default $SIGNET_VERIFIER_TIMEOUT, else 8s)
//	-ca-file FILE                extra PEM roots for registry TLS (default $SIGNET_REGISTRY_CA_FILE)
//
// Exit codes are signet's: 0 trusted (or the policy skips verification),
// 1 not trusted, 2 bad arguments, stdin or configuration, 3 registry or file
// I/O failure (including the timeout).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	// One processor and huge pages for the heap: containerd starts one
	// short process per pull, whose time is mostly start-up.
	_ "github.com/signet-dev/signet/internal/oneproc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
