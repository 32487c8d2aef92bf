package cosign

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Media types, annotations and types cosign writes.
const (
	// MediaTypeBundle is the sigstore bundle v0.3: the referrer's
	// artifactType and its layer's media type.
	MediaTypeBundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
	// MediaTypeSimpleSigning is the layer media type of the legacy
	// signature manifest.
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	// AnnotationSignature holds a simple-signing layer's base64 signature.
	AnnotationSignature = "dev.cosignproject.cosign/signature"
	// AnnotationRekorBundle holds a simple-signing layer's Rekor signed
	// entry timestamp (cosign's "bundle" of the legacy form).
	AnnotationRekorBundle = "dev.sigstore.cosign/bundle"
	// AnnotationCertificate marks a keyless simple-signing layer.
	AnnotationCertificate = "dev.sigstore.cosign/certificate"
	// PredicateTypeSign is the in-toto predicate type of `cosign sign`: only
	// statements of this type are signatures (other predicates are
	// attestations, which say something else about the image).
	PredicateTypeSign = "https://sigstore.dev/cosign/sign/v1"
	// LegacyTagSuffix ends the tag of the legacy signature manifest:
	// sha256-<hex>.sig.
	LegacyTagSuffix = ".sig"
)

// Formats, as reported in verdicts.
const (
	// FormatBundle is a sigstore bundle stored as an OCI referrer.
	FormatBundle = "cosignBundle"
	// FormatSimpleSigning is a legacy simple-signing payload under the
	// sha256-<digest>.sig tag.
	FormatSimpleSigning = "cosignSimpleSigning"
)

// Input limits: the bytes this package parses are bounded
// here, whatever the registry serves.
const (
	// MaxBundleBytes bounds a sigstore bundle. A key-signed bundle with one
	// Rekor entry and its inclusion proof is 3-6 KiB; one with a
	// certificate chain and timestamps stays under 20 KiB.
	MaxBundleBytes = 1 << 20
	// MaxPayloadBytes bounds a simple-signing payload (a few hundred bytes,
	// plus whatever optional annotations the signer added).
	MaxPayloadBytes = 1 << 20
	// MaxAnnotationBytes bounds the signature and Rekor bundle annotations
	// of a simple-signing layer (a signature is under 1 KiB, a Rekor bundle
	// about 2 KiB).
	MaxAnnotationBytes = 64 << 10
)

// ErrInvalid is wrapped by every parse error: the bytes are not a cosign
// signature signet can read.
var ErrInvalid = errors.New("invalid cosign signature")

// Signature is one cosign signature, parsed but not verified. Its methods
// only read it and are safe for concurrent use.
type Signature struct {
	// Format is FormatBundle or FormatSimpleSigning.
	Format string
	// MediaType is the media type of the bytes parsed.
	MediaType string

	b *sigstoreBundle
	// entries are b's transparency log entries, their bodies parsed.
	entries []*tlogEntry
	// payload is the signed simple-signing payload (legacy form only).
	payload []byte
}

// HasTlogEntry reports whether the signature carries a transparency log
// entry (an inclusion promise or proof).
func (s *Signature) HasTlogEntry() bool {
	return s.b.VerificationMaterial != nil && len(s.b.VerificationMaterial.TlogEntries) > 0
}

// Keyless reports whether the signature is certificate-based (cosign's
// keyless signing): publickey stores cannot authenticate it.
func (s *Signature) Keyless() bool {
	vm := s.b.VerificationMaterial
	return vm != nil && (vm.Certificate != nil || vm.X509CertificateChain != nil)
}

// ParseBundle parses a sigstore bundle (versions v0.1 to v0.3, as sigstore-go) of at most MaxBundleBytes. Errors wrap ErrInvalid.
func ParseBundle(data []byte) (*Signature, error) {
	if len(data) > MaxBundleBytes {
		return nil, fmt.Errorf("%w: the bundle is %d bytes, over the limit of %d", ErrInvalid, len(data), MaxBundleBytes)
	}
	b, err := parseBundleJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: sigstore bundle: %w", ErrInvalid, err)
	}
	if b.DsseEnvelope == nil && b.MessageSignature == nil {
		return nil, fmt.Errorf("%w: sigstore bundle has neither a DSSE envelope nor a message signature", ErrInvalid)
	}
	entries, err := validateBundle(b)
	if err != nil {
		return nil, fmt.Errorf("%w: sigstore bundle: %w", ErrInvalid, err)
	}
	return &Signature{Format: FormatBundle, MediaType: MediaTypeBundle, b: b, entries: entries}, nil
}

// bundleVersion is the version ("v0.1" ...) a bundle's media type names.
func bundleVersion(mt string) (string, error) {
	const legacy, current = "application/vnd.dev.sigstore.bundle+json;version=", "application/vnd.dev.sigstore.bundle."
	switch {
	case strings.HasPrefix(mt, legacy):
		return "v" + strings.TrimPrefix(mt, legacy), nil
	case strings.HasPrefix(mt, current) && strings.HasSuffix(mt, "+json"):
		return strings.TrimSuffix(strings.TrimPrefix(mt, current), "+json"), nil
	}
	return "", fmt.Errorf("unsupported bundle media type %q", mt)
}

// validateBundle applies the rules sigstore-go's bundle parser applies
// (versions v0.1 to v0.3, the inclusion promise or proof each version
// requires, the content and verification material it may hold) and parses
// the transparency log entries.
func validateBundle(b *sigstoreBundle) ([]*tlogEntry, error) {
	v, err := bundleVersion(b.MediaType)
	if err != nil {
		return nil, err
	}
	if !semver.IsValid(v) || semver.Compare(v, "v0.1") < 0 || semver.Compare(v, "v0.4") >= 0 {
		return nil, fmt.Errorf("bundle version %s is not supported", v)
	}
	vm := b.VerificationMaterial
	if vm == nil {
		vm = &verificationMaterial{}
	}
	var entries []*tlogEntry
	var promise, proof bool
	for _, tle := range vm.TlogEntries {
		e, err := parseTlogEntry(tle)
		if err != nil {
			return nil, err
		}
		promise = promise || tle.InclusionPromise != nil
		proof = proof || tle.InclusionProof != nil
		entries = append(entries, e)
	}
	if semver.Compare(v, "v0.1") == 0 {
		if len(entries) > 0 && !promise {
			return nil, errors.New("inclusion promises missing in bundle (required for bundle v0.1)")
		}
	} else if len(entries) > 0 && !proof {
		return nil, errors.New("inclusion proof missing in bundle (required for bundle v0.2)")
	}
	if semver.Compare(v, "v0.3") >= 0 && vm.X509CertificateChain != nil {
		return nil, errors.New("verification material cannot be X.509 certificate chain (for bundle v0.3)")
	}
	if vm.PublicKey == nil && vm.Certificate == nil && vm.X509CertificateChain == nil {
		return nil, errors.New("invalid bundle: verification material must be one of public key, x509 certificate and x509 certificate chain")
	}
	return entries, nil
}

// rekorBundle is the Rekor "bundle" annotation of a legacy signature: the
// fields of a Rekor v1 log entry and its signed entry timestamp (the shape
// of cosign's pkg/cosign/bundle.RekorBundle). Decoding it is plain JSON; the
// entry itself is parsed and checked in rekor.go.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// ParseSimpleSigning reads a legacy signature: the simple-signing payload
// (the layer's bytes, at most MaxPayloadBytes), its base64 signature (the
// dev.cosignproject.cosign/signature annotation) and, when present, the
// Rekor bundle annotation. It converts them into a sigstore bundle v0.1 (a
// message signature over the payload's SHA-256, verified against a key the
// caller names, and the Rekor entry with its inclusion promise) that
// is checked like any other. Errors wrap ErrInvalid.
func ParseSimpleSigning(payload []byte, signatureB64, rekorBundleJSON string) (*Signature, error) {
	if len(payload) > MaxPayloadBytes {
		return nil, fmt.Errorf("%w: the simple-signing payload is %d bytes, over the limit of %d", ErrInvalid, len(payload), MaxPayloadBytes)
	}
	if len(signatureB64) > MaxAnnotationBytes || len(rekorBundleJSON) > MaxAnnotationBytes {
		return nil, fmt.Errorf("%w: a signature annotation is over the limit of %d bytes", ErrInvalid, MaxAnnotationBytes)
	}
	if signatureB64 == "" {
		return nil, fmt.Errorf("%w: the layer has no %s annotation", ErrInvalid, AnnotationSignature)
	}
	sig, err := base64.StdEncoding.DecodeString(signatureB64)
	if err != nil || len(sig) == 0 {
		return nil, fmt.Errorf("%w: the %s annotation is not base64", ErrInvalid, AnnotationSignature)
	}
	sum := sha256.Sum256(payload)
	pb := &sigstoreBundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &verificationMaterial{PublicKey: &publicKeyIdentifier{}},
		MessageSignature: &messageSignature{
			MessageDigest: &hashOutput{Algorithm: hashSHA256, Digest: sum[:]},
			Signature:     sig,
		},
	}
	if rekorBundleJSON != "" {
		tle, err := legacyTlogEntry(rekorBundleJSON)
		if err != nil {
			return nil, err
		}
		pb.VerificationMaterial.TlogEntries = []*tlogEntryProto{tle}
	}
	entries, err := validateBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return &Signature{Format: FormatSimpleSigning, MediaType: MediaTypeSimpleSigning, b: pb, entries: entries, payload: payload}, nil
}

// legacyTlogEntry turns a Rekor bundle annotation into a log entry with an
// inclusion promise.
func legacyTlogEntry(data string) (*tlogEntryProto, error) {
	var rb rekorBundle
	if err := json.Unmarshal([]byte(data), &rb); err != nil {
		return nil, fmt.Errorf("%w: the %s annotation: %v", ErrInvalid, AnnotationRekorBundle, err)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil || len(body) == 0 {
		return nil, fmt.Errorf("%w: the %s annotation's body is not base64", ErrInvalid, AnnotationRekorBundle)
	}
	keyID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil || len(keyID) == 0 {
		return nil, fmt.Errorf("%w: the %s annotation's logID is not hex", ErrInvalid, AnnotationRekorBundle)
	}
	// The entry's kind and version: parseTlogEntry parses the body again and
	// refuses an entry whose kind and version differ from these.
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kv); err != nil || kv.Kind == "" || kv.APIVersion == "" {
		return nil, fmt.Errorf("%w: the %s annotation's body is not a Rekor entry", ErrInvalid, AnnotationRekorBundle)
	}
	return &tlogEntryProto{
		LogIndex:          rb.Payload.LogIndex,
		LogID:             &logID{KeyID: keyID},
		KindVersion:       &kindVersion{Kind: kv.Kind, Version: kv.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &inclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
		CanonicalizedBody: body,
	}, nil
}

// LegacyTag is the tag of the legacy signature manifest of the artifact
// with digest d ("sha256:<hex>"): sha256-<hex>.sig.
func LegacyTag(d string) (string, error) {
	alg, hexPart, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hexPart == "" {
		return "", fmt.Errorf("invalid digest %q", d)
	}
	return alg + "-" + hexPart + LegacyTagSuffix, nil
}
