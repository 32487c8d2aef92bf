package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/internal/strictjson"
)

// maxDescriptorBytes bounds the descriptor read from stdin. containerd
// writes the image's manifest or index descriptor, well under 1 KiB unless
// it carries annotations; 64 KiB leaves room for those, and is what one
// Linux pipe buffer holds.
const maxDescriptorBytes = 64 << 10

// maxNameBytes bounds -name. Distribution limits a repository name to 255
// characters; a tag is at most 128 and a digest about 135 more.
const maxNameBytes = 1024

// errBadInput is wrapped by every error about what containerd passed:
// arguments and stdin.
var errBadInput = errors.New("invalid verifier input")

// parseDescriptor reads the OCI descriptor containerd writes to stdin: one
// JSON object (containerd ends it with a newline), no duplicate member
// names, at most maxDescriptorBytes, with a media type, a valid digest and a
// non-negative size.
func parseDescriptor(r io.Reader) (ocispec.Descriptor, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDescriptorBytes+1))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: read the descriptor from stdin: %v", errBadInput, err)
	}
	if len(data) > maxDescriptorBytes {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the descriptor on stdin is larger than %d bytes", errBadInput, maxDescriptorBytes)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%w: no descriptor on stdin", errBadInput)
	}
	// Duplicate names and trailing data first: two readers must not see
	// two different descriptors.
	if _, err := strictjson.DecodeObject(data); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the descriptor on stdin is not one JSON object: %v", errBadInput, err)
	}
	var d ocispec.Descriptor
	if err := json.Unmarshal(data, &d); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the descriptor on stdin: %v", errBadInput, err)
	}
	if d.MediaType == "" {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the descriptor on stdin has no mediaType", errBadInput)
	}
	if err := d.Digest.Validate(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the descriptor on stdin has digest %q: %v", errBadInput, d.Digest, err)
	}
	if d.Size < 0 {
		return ocispec.Descriptor{}, fmt.Errorf("%w: the descriptor on stdin has size %d", errBadInput, d.Size)
	}
	return d, nil
}

// imageTag returns the tag of an image name that names no digest: the
// pull is by tag. "" when the name pins a digest or has no tag.
func imageTag(name string) string {
	if strings.ContainsRune(name, '@') {
		return ""
	}
	slash := strings.LastIndexByte(name, '/')
	if slash < 0 {
		return ""
	}
	if c := strings.LastIndexByte(name[slash:], ':'); c >= 0 {
		return name[slash+c+1:]
	}
	return ""
}

// imageRepository returns the repository (REGISTRY/REPOSITORY) of the image
// name containerd passes as -name: REGISTRY/REPOSITORY[:TAG][@DIGEST]. A
// digest in the name must be dgst. The registry part is required: containerd
// passes normalised names (docker.io/library/busybox:latest).
func imageRepository(name string, dgst digest.Digest) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: -name is empty", errBadInput)
	}
	if len(name) > maxNameBytes {
		return "", fmt.Errorf("%w: -name is longer than %d bytes", errBadInput, maxNameBytes)
	}
	repo := name
	if i := strings.LastIndexByte(repo, '@'); i >= 0 {
		if d := digest.Digest(repo[i+1:]); d != dgst {
			return "", fmt.Errorf("%w: the name %q pins digest %s but -digest is %s", errBadInput, name, d, dgst)
		}
		repo = repo[:i]
	}
	slash := strings.LastIndexByte(repo, '/')
	if slash <= 0 {
		return "", fmt.Errorf("%w: the name %q has no registry (want REGISTRY/REPOSITORY[:TAG])", errBadInput, name)
	}
	if c := strings.LastIndexByte(repo[slash:], ':'); c >= 0 {
		repo = repo[:slash+c]
	}
	return repo, nil
}
