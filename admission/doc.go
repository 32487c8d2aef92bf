// Package admission is signet's Kubernetes admission webhook: an
// http.Handler that answers AdmissionReview v1 requests for Pods and the pod
// templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs and
// CronJobs, verifying every container, init container and ephemeral
// container image with signet's verifier (OCI trust policy, trust store,
// revocation, plugins), the same path `signet verify` takes.
//
// New builds the handler over an ImageVerifier; Verifier is the one signet
// ships: named policy sets (signet/notation configuration directories,
// re-read when their files change), tag resolution, and a verdict cache
// keyed by (policy set, repository, digest) whose entries never outlive the
// revocation evidence or certificate validity they relied on, with one
// verification shared by concurrent requests for a digest.
//
// Every failure (registry down, timeout, plugin failure, unreadable policy)
// is a refusal naming the image, the policy set and the failing check,
// except in namespaces labelled signet.dev/mode=audit, where the request is
// admitted with an AdmissionReview warning instead.
//
// Kubernetes imports stay in this package and cmd/signet-webhook; no other
// signet package imports admission.
package admission
