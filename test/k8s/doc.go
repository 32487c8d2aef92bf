// Package k8s is the end-to-end test of cmd/signet-webhook against a real
// Kubernetes control plane: etcd and kube-apiserver (built from the Go
// module proxy by scripts/install-k8s.sh, found through $SIGNET_K8S_BIN)
// run on loopback with a PKI made at test time; the real signet-webhook
// binary, built from this checkout, serves TLS on 127.0.0.1 and is
// registered by a ValidatingWebhookConfiguration and a
// MutatingWebhookConfiguration (clientConfig.url, caBundle, failurePolicy
// Fail); images signed by signet's signer sit in a CNCF distribution
// registry on loopback. Every decision is asserted through the API server,
// as a user of kubectl or client-go meets it.
//
// The same control plane validates the shipped manifests
// (deploy/kubernetes) and the Helm chart rendered by helm (deploy/helm)
// with server-side dry runs.
//
// Without the binaries the tests skip, or fail when SIGNET_REQUIRE_PEERS=1
// (as in CI). Nothing here is a library: the package holds only tests.
package k8s
