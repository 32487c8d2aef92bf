// Package registry stores and finds Notary Project signatures as OCI
// referrers: signature manifests whose subject is the signed manifest
// (§4.1-§4.3 of the requirements digest). It works over any oras-go target:
// an OCI image layout directory (content/oci) or a remote repository.
package registry
