// Package containerd is the end-to-end test of cmd/signet-containerd-verifier
// in a real containerd 2.x: containerd v2.4.2 (built with the CRI plugin by
// scripts/install-containerd.sh) runs as root with a private root, state
// and socket under a temporary directory, the overlayfs snapshotter, and the
// verifier in its bindir image-verifier directory; a CNCF distribution
// registry on loopback holds a signed and an unsigned image. Pulls go
// through ctr (the transfer service) and through the CRI image service, the
// kubelet's path.
//
// It builds the signet CLI and the verifier from this checkout and signs
// with the CLI, as a user would. It is its own module, importing nothing
// from signet's, so that the CRI client (k8s.io/cri-api, gRPC) stays out of
// signet's module graph and signet's dependencies never need updating here.
package containerd
