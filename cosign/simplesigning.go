package cosign

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
)

// simpleSigningType is the critical.type of a cosign simple-signing
// payload.
const simpleSigningType = "cosign container image signature"

// simpleSigning is what a simple-signing payload says: the digest it
// signs and the reference the signer claims.
type simpleSigning struct {
	digest, dockerReference string
}

// parseSimpleSigningPayload reads a simple-signing payload as
// sigstore/sigstore's payload.Cosign does (encoding/json, critical.type
// must be cosign's, and docker-reference@docker-manifest-digest must parse
// as go-containerregistry's name.NewDigest parses it), without linking
// either. JSON null is an empty payload, as there.
func parseSimpleSigningPayload(data []byte) (*simpleSigning, error) {
	if string(data) == "null" {
		return &simpleSigning{}, nil
	}
	var p struct {
		Critical struct {
			Identity struct {
				DockerReference string `json:"docker-reference"`
			} `json:"identity"`
			Image struct {
				DockerManifestDigest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
		Optional map[string]any `json:"optional"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, err
	}
	if p.Critical.Type != simpleSigningType {
		return nil, fmt.Errorf("cosign signature payload was of an unknown type: %q", p.Critical.Type)
	}
	ref, d := p.Critical.Identity.DockerReference, p.Critical.Image.DockerManifestDigest
	if err := checkDigestReference(ref, d); err != nil {
		return nil, fmt.Errorf("could not parse image digest string %q: %w", ref+"@"+d, err)
	}
	return &simpleSigning{digest: d, dockerReference: ref}, nil
}

// Character sets and lengths of go-containerregistry's pkg/name.
const (
	repositoryChars = "abcdefghijklmnopqrstuvwxyz0123456789_-./"
	tagChars        = "abcdefghijklmnopqrstuvwxyz0123456789_-.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// checkDigestReference accepts what name.NewDigest(ref + "@" + d) accepts
// (go-containerregistry v0.22, weak validation): one "@", a valid digest,
// and ref a repository, with or without a tag.
func checkDigestReference(ref, d string) error {
	if strings.Contains(ref, "@") || strings.Contains(d, "@") {
		return errors.New("a digest must contain exactly one '@' separator")
	}
	if err := digest.Digest(d).Validate(); err != nil {
		return err
	}
	if checkTagged(ref) == nil {
		return nil
	}
	return checkRepository(ref)
}

// checkTagged is name.NewTag's validation.
func checkTagged(name string) error {
	base := name
	parts := strings.Split(name, ":")
	if len(parts) > 1 && !strings.Contains(parts[len(parts)-1], "/") {
		base = strings.Join(parts[:len(parts)-1], ":")
		tag := parts[len(parts)-1]
		if tag == "" {
			return errors.New("a tag name must follow the colon")
		}
		if err := checkElement("tag", tag, tagChars, 1, 128); err != nil {
			return err
		}
	}
	return checkRepository(base)
}

// checkRepository is name.NewRepository's validation: a registry (the
// first path component when it is localhost or holds '.' or ':') that is
// an RFC 3986 authority, and a repository path of 1 to 255 allowed
// characters.
func checkRepository(name string) error {
	if name == "" {
		return errors.New("a repository name must be specified")
	}
	registry, repo := "", name
	if first, rest, ok := strings.Cut(name, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		registry, repo = first, rest
	}
	if err := checkElement("repository", repo, repositoryChars, 1, 255); err != nil {
		return err
	}
	if u, err := url.Parse("//" + registry); err != nil || u.Host != registry {
		return fmt.Errorf("registries must be valid RFC 3986 URI authorities: %s", registry)
	}
	return nil
}

func checkElement(what, s, allowed string, minRunes, maxRunes int) error {
	if n := utf8.RuneCountInString(s); n < minRunes || n > maxRunes {
		return fmt.Errorf("%s must be between %d and %d characters in length: %s", what, minRunes, maxRunes, s)
	}
	for _, r := range s {
		if !strings.ContainsRune(allowed, r) {
			return fmt.Errorf("%s can only contain the characters `%s`: %s", what, allowed, s)
		}
	}
	return nil
}
