package signature

import (
	"encoding/json"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types and names fixed by the specification (digest §0.3).
const (
	// MediaTypePayloadV1 is the content type of every Notary Project payload.
	MediaTypePayloadV1 = "application/vnd.cncf.notary.payload.v1+json"
	// MediaTypeJWS is the media type of a JWS envelope.
	MediaTypeJWS = "application/jose+json"
	// MediaTypeCOSE is the media type of a COSE_Sign1 envelope.
	MediaTypeCOSE = "application/cose"
	// ArtifactType is the artifact type (and legacy config media type) of a
	// signature manifest.
	ArtifactType = "application/vnd.cncf.notary.signature"
	// ReservedAnnotationPrefix may not be used by user metadata (PAY-5).
	ReservedAnnotationPrefix = "io.cncf.notary"
)

// MaxPayloadBytes bounds a payload we are willing to decode. A payload is a
// single descriptor; 1 MiB leaves ample room for annotations.
const MaxPayloadBytes = 1 << 20

// Payload is the signed content (PAY-1): a descriptor of the target artifact.
type Payload struct {
	TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
}

// NewPayload builds the payload for desc, keeping only the members the
// specification signs (PAY-7) and adding user metadata as annotations
// (PAY-5, PAY-8). A metadata key with the reserved prefix, or one already
// present in desc's annotations, is an error.
func NewPayload(desc ocispec.Descriptor, metadata map[string]string) (Payload, error) {
	target := ocispec.Descriptor{
		MediaType: desc.MediaType,
		Digest:    desc.Digest,
		Size:      desc.Size,
	}
	if len(desc.Annotations) > 0 || len(metadata) > 0 {
		target.Annotations = make(map[string]string, len(desc.Annotations)+len(metadata))
		for k, v := range desc.Annotations {
			target.Annotations[k] = v
		}
	}
	for k, v := range metadata {
		if strings.HasPrefix(k, ReservedAnnotationPrefix) {
			return Payload{}, fmt.Errorf("user metadata key %q has the reserved prefix %s", k, ReservedAnnotationPrefix)
		}
		if _, ok := target.Annotations[k]; ok {
			return Payload{}, fmt.Errorf("user metadata key %q is already an annotation of the artifact", k)
		}
		target.Annotations[k] = v
	}
	return Payload{TargetArtifact: target}, nil
}

// ParsePayload decodes a payload of content type MediaTypePayloadV1. It
// requires a JSON object with a targetArtifact carrying mediaType, digest
// and size (PAY-1, PAY-2).
func ParsePayload(raw []byte) (Payload, error) {
	if len(raw) > MaxPayloadBytes {
		return Payload{}, fmt.Errorf("payload is %d bytes, over the limit of %d", len(raw), MaxPayloadBytes)
	}
	var p Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return Payload{}, fmt.Errorf("payload is not valid JSON: %w", err)
	}
	t := p.TargetArtifact
	if t.MediaType == "" || t.Digest == "" {
		return Payload{}, fmt.Errorf("payload targetArtifact lacks mediaType or digest")
	}
	if err := t.Digest.Validate(); err != nil {
		return Payload{}, fmt.Errorf("payload targetArtifact digest: %w", err)
	}
	if t.Size < 0 {
		return Payload{}, fmt.Errorf("payload targetArtifact size %d is negative", t.Size)
	}
	return p, nil
}
