// Package graph works on referrer graphs: an artifact, the artifacts that
// refer to it through their subject (signatures, SBOMs, scan reports), the
// artifacts that refer to those (signatures on SBOMs), and so on (DISC-1).
//
// Walk and Discover read a graph from a remote repository (registry.Repository,
// through the referrers API or the referrers tag schema as its mode decides)
// or from an OCI image layout, within named limits on depth, referrers per
// node and nodes in all, and safe against listings that loop. Attach pushes
// a new referrer; Delete removes an artifact and, on request, its referrer
// subtree, children first, keeping a referrers tag index consistent.
//
// Copy promotes an artifact with what it is made of (an index's platform
// manifests, configs, layers) and its referrer graph from one target to
// another (signet copy), optionally verifying it under the trust policy at
// both ends; Export and Import carry it across an air gap as an OCI image
// layout tar archive (signet export, signet import), optionally with the
// revocation evidence that lets it be verified there without a network.
package graph
