package signet

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"os"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// DefaultBlobMediaType is the media type of a blob unless the user says
// otherwise (BSIGN-1).
const DefaultBlobMediaType = "application/octet-stream"

// hashBufferBytes is the read size when hashing blobs: large enough that
// syscalls cost nothing next to SHA-256, small enough to keep RSS flat.
const hashBufferBytes = 1 << 20

// DescribeBlob hashes r with alg, streaming, and returns its descriptor.
func DescribeBlob(r io.Reader, mediaType string, alg digest.Algorithm) (ocispec.Descriptor, error) {
	if mediaType == "" {
		mediaType = DefaultBlobMediaType
	}
	if _, _, err := mime.ParseMediaType(mediaType); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("%w: media type %q: %v", ErrInvalidInput, mediaType, err)
	}
	if !alg.Available() {
		return ocispec.Descriptor{}, fmt.Errorf("digest algorithm %q is not available", alg)
	}
	h := alg.Hash()
	n, err := copyHash(h, r)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read blob: %w", err)
	}
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.NewDigest(alg, h), Size: n}, nil
}

func copyHash(h hash.Hash, r io.Reader) (int64, error) {
	buf := make([]byte, hashBufferBytes)
	return io.CopyBuffer(h, struct{ io.Reader }{r}, buf)
}

// SignBlob signs the content of r (PAY-4, BSIGN-1..2): the digest algorithm
// follows the signing key. mediaType "" means DefaultBlobMediaType.
func SignBlob(ctx context.Context, r io.Reader, mediaType string, opts SignOptions) (*Signed, error) {
	var keyspec interface {
		KeySpec(context.Context) (signature.KeySpec, error)
	}
	switch {
	case opts.Generator != nil:
		keyspec = opts.Generator
	case opts.Signer != nil:
		keyspec = opts.Signer
	default:
		return nil, fmt.Errorf("%w: no signing key", ErrInvalidInput)
	}
	spec, err := keyspec.KeySpec(ctx)
	if err != nil {
		return nil, err
	}
	alg := spec.Algorithm()
	if alg == 0 {
		return nil, fmt.Errorf("%w: key spec %s", signature.ErrUnsupportedKey, spec)
	}
	desc, err := DescribeBlob(r, mediaType, alg.DigestAlgorithm())
	if err != nil {
		return nil, err
	}
	return signDescriptor(ctx, desc, opts)
}

// VerifyBlobOptions configure VerifyBlob. Policy and Verifier are required.
type VerifyBlobOptions struct {
	Policy   *trustpolicy.BlobDocument
	Verifier *verifier.Verifier
	// PolicyName selects a statement by name; "" selects the global one
	// (BTP-4).
	PolicyName string
	// MediaType, when set, must equal the signed media type (BVER-3).
	MediaType string
	// UserMetadata must be present in the signature (PAY-8).
	UserMetadata map[string]string
}

// BlobOpener opens the blob for hashing; it may be called more than once.
type BlobOpener func() (io.ReadCloser, error)

// FileOpener opens the file at path.
func FileOpener(path string) BlobOpener {
	return func() (io.ReadCloser, error) { return os.Open(path) }
}

// VerifyBlob verifies the detached signature env (of envelope media type
// envMediaType) over the blob that open returns (§6.6). A trust store the
// selected statement names that is missing, empty or invalid fails with a
// *verifier.TrustStoreError before the signature is looked at (TS-6). The
// Outcome is always returned when err is nil or wraps ErrNotTrusted.
func VerifyBlob(ctx context.Context, open BlobOpener, envMediaType string, env []byte, opts VerifyBlobOptions) (*Outcome, error) {
	if opts.Policy == nil || opts.Verifier == nil {
		return nil, fmt.Errorf("verify blob: policy and verifier are required")
	}
	if opts.MediaType != "" {
		if _, _, err := mime.ParseMediaType(opts.MediaType); err != nil {
			return nil, fmt.Errorf("%w: media type %q: %v", ErrInvalidInput, opts.MediaType, err)
		}
	}
	stmt, err := opts.Policy.Select(opts.PolicyName)
	if err != nil {
		return nil, err
	}
	// TS-6: every store the statement names must be usable before the
	// signature is looked at.
	if err := opts.Verifier.CheckTrustStores(ctx, stmt); err != nil {
		return nil, err
	}
	out := newOutcome(stmt)
	if stmt.IsSkip() {
		out.Verdict = VerdictSkipped
		return out, nil
	}
	var ioErr error
	check := func(ctx context.Context, target ocispec.Descriptor, c *signature.Content) error {
		alg := c.Algorithm.DigestAlgorithm()
		if target.Digest.Algorithm() != alg {
			return fmt.Errorf("the signed digest %s does not use %s, the digest algorithm of the signing key (PAY-4)", target.Digest, alg)
		}
		if opts.MediaType != "" && opts.MediaType != target.MediaType {
			return fmt.Errorf("the signature is for media type %q, not %q", target.MediaType, opts.MediaType)
		}
		rc, err := open()
		if err != nil {
			ioErr = err
			return fmt.Errorf("open blob: %w", err)
		}
		defer rc.Close()
		got, err := DescribeBlob(rc, target.MediaType, alg)
		if err != nil {
			ioErr = err
			return err
		}
		if got.Digest != target.Digest || got.Size != target.Size {
			return fmt.Errorf("the blob (%s, %d bytes) is not the one signed (%s, %d bytes)", got.Digest, got.Size, target.Digest, target.Size)
		}
		return nil
	}
	res, err := opts.Verifier.Verify(ctx, verifier.Input{
		Statement:    stmt,
		MediaType:    envMediaType,
		Envelope:     env,
		CheckTarget:  check,
		UserMetadata: opts.UserMetadata,
	})
	if err != nil {
		return nil, err
	}
	out.add("", envMediaType, res)
	if ioErr != nil {
		return out, errors.Join(ErrIO, ioErr)
	}
	return out, out.err()
}
