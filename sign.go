package signet

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
	"github.com/signet-dev/signet/verifier"
)

// Version is signet's version, written into the signing agent.
const Version = "0.1.0"

// SignOptions configure one signature. The zero value is not usable: Signer
// is required.
type SignOptions struct {
	// Signer produces the primitive signature and supplies the chain.
	Signer signature.Signer
	// Format is the envelope format; nil means JWS.
	Format envelope.Format
	// Expiry is the signature's validity from the signing time; zero means
	// it does not expire. Must be a whole number of seconds (ATTR-6).
	Expiry time.Duration
	// UserMetadata is signed into the payload's annotations (PAY-5, PAY-8).
	UserMetadata map[string]string
	// SigningAgent defaults to "signet/<Version>".
	SigningAgent string
	// Now returns the signing time; nil means time.Now.
	Now func() time.Time
	// Timestamper, when set, countersigns the signature with an RFC 3161
	// timestamp (SIGN-5). Any timestamping failure fails signing.
	Timestamper timestamp.Timestamper
	// TSARoots are the roots the timestamp token must chain to; required
	// with Timestamper.
	TSARoots []*x509.Certificate
	// Generator, instead of Signer, makes the whole envelope: a plugin with
	// SIGNATURE_GENERATOR.ENVELOPE (§7.7). signet then neither timestamps
	// the envelope nor changes it.
	Generator EnvelopeGenerator
	// Revocation, when set, refuses a signing chain with a revoked
	// certificate, and a timestamp whose TSA chain is revoked or of unknown
	// status (TSA-3).
	Revocation verifier.RevocationChecker
}

func (o *SignOptions) format() envelope.Format {
	if o.Format != nil {
		return o.Format
	}
	f, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	return f
}

// Signed is a produced signature.
type Signed struct {
	// Envelope is the signature envelope bytes.
	Envelope []byte
	// MediaType is the envelope media type.
	MediaType string
	// Target is the descriptor that was signed.
	Target ocispec.Descriptor
	// SigningTime is the signing time written into the envelope.
	SigningTime time.Time
	// Chain is the signer's certificate chain, leaf first.
	Chain []*x509.Certificate
	// Manifest is the signature manifest's descriptor (OCI signatures only).
	Manifest ocispec.Descriptor
	// Children are the signatures of the manifests an index lists, when it
	// was signed recursively.
	Children []*Signed
	// Annotations are extra signature manifest annotations (an envelope
	// plugin's).
	Annotations map[string]string
}

// EnvelopeGenerator makes a whole signature envelope over a payload (an
// envelope-generating plugin, plugin.GenerateEnvelope).
type EnvelopeGenerator interface {
	// GenerateEnvelope signs payload (a Notary payload JSON object) into an
	// envelope of envelopeMediaType, checked against the payload; it also
	// returns annotations for the signature manifest.
	GenerateEnvelope(ctx context.Context, payload []byte, envelopeMediaType string, expiry time.Duration) ([]byte, map[string]string, error)
	// KeySpec is the key's spec, which fixes a blob's digest algorithm.
	KeySpec(ctx context.Context) (signature.KeySpec, error)
}

// signDescriptor produces an envelope over desc.
func signDescriptor(ctx context.Context, desc ocispec.Descriptor, opts SignOptions) (*Signed, error) {
	if opts.Generator != nil {
		return generateEnvelope(ctx, desc, opts)
	}
	if opts.Signer == nil {
		return nil, fmt.Errorf("%w: no signing key", ErrInvalidInput)
	}
	raw, err := signingPayload(desc, opts)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	signingTime := now().Truncate(time.Second)
	req := &signature.SignRequest{
		Payload:            raw,
		PayloadContentType: signature.MediaTypePayloadV1,
		Signer:             opts.Signer,
		SigningTime:        signingTime,
		SigningScheme:      signature.SchemeX509,
		SigningAgent:       opts.SigningAgent,
	}
	if req.SigningAgent == "" {
		req.SigningAgent = "signet/" + Version
	}
	if opts.Expiry > 0 {
		req.Expiry = signingTime.Add(opts.Expiry)
	}
	f := opts.format()
	env, err := envelope.Sign(ctx, f, req)
	if err != nil {
		return nil, err
	}
	if opts.Revocation != nil { // after signing: a plugin's chain is known then
		if err := checkSigningChain(ctx, opts); err != nil {
			return nil, err
		}
	}
	if opts.Timestamper != nil {
		if env, err = addTimestamp(ctx, f, env, opts); err != nil {
			return nil, err
		}
	}
	chain, err := opts.Signer.CertificateChain(ctx)
	if err != nil {
		return nil, err
	}
	return &Signed{Envelope: env, MediaType: f.MediaType(), Target: desc, SigningTime: signingTime, Chain: chain}, nil
}

// addTimestamp asks the TSA for a token over the envelope's primitive
// signature, verifies it against opts.TSARoots and the signing chain's
// validity, and embeds it (SIGN-5, TSA-1..3).
func addTimestamp(ctx context.Context, f envelope.Format, env []byte, opts SignOptions) ([]byte, error) {
	if len(opts.TSARoots) == 0 {
		return nil, fmt.Errorf("%w: a timestamp needs the TSA root certificate", ErrInvalidInput)
	}
	c, err := envelope.Open(f, env)
	if err != nil {
		return nil, err
	}
	h := c.Algorithm.Hash()
	tok, err := opts.Timestamper.Timestamp(ctx, &timestamp.Request{Signature: c.Signature, Hash: h})
	if err != nil {
		if errors.Is(err, timestamp.ErrUnreachable) || errors.Is(err, timestamp.ErrTimeout) {
			err = errors.Join(ErrIO, err)
		}
		return nil, fmt.Errorf("timestamp the signature: %w", err)
	}
	rng, tsaChain, err := tok.Verify(c.Signature, opts.TSARoots, timestamp.VerifyOptions{Hash: h})
	if err != nil {
		return nil, fmt.Errorf("timestamp the signature: the TSA's token: %w", err)
	}
	if opts.Revocation != nil {
		results, err := opts.Revocation.ValidateChain(ctx, tsaChain, revocation.Timestamping, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("timestamp the signature: %w", err)
		}
		if res := revocation.Summarize(results); res == revocation.Revoked || res == revocation.Unknown {
			p, _ := revocation.FirstProblem(results)
			return nil, fmt.Errorf("timestamp the signature: the TSA certificate %q is %s: %s", p.Subject, p.Result, p.Reason)
		}
	}
	for _, cert := range c.CertificateChain {
		if !rng.Within(cert) {
			return nil, fmt.Errorf("timestamp the signature: the timestamp %s is outside the validity of certificate %q", rng, cert.Subject)
		}
	}
	return envelope.AddTimestamp(f, env, tok.Raw)
}

// checkSigningChain refuses to sign with a revoked certificate (issue 5).
// An unknown status does not stop signing: the verifier decides by its
// policy.
func checkSigningChain(ctx context.Context, opts SignOptions) error {
	chain, err := opts.Signer.CertificateChain(ctx)
	if err != nil {
		return err
	}
	results, err := opts.Revocation.ValidateChain(ctx, chain, revocation.CodeSigning, time.Time{})
	if err != nil {
		return err
	}
	if revocation.Summarize(results) == revocation.Revoked {
		p, _ := revocation.FirstProblem(results)
		return fmt.Errorf("%w: the signing certificate chain is revoked: %q: %s", ErrInvalidInput, p.Subject, p.Reason)
	}
	return nil
}

// signingPayload checks opts.Expiry and returns the JSON payload the
// envelope over desc signs (PAY-1, PAY-5: the descriptor and opts.UserMetadata).
func signingPayload(desc ocispec.Descriptor, opts SignOptions) ([]byte, error) {
	if opts.Expiry < 0 || opts.Expiry%time.Second != 0 {
		return nil, fmt.Errorf("%w: expiry %s must be a positive whole number of seconds", ErrInvalidInput, opts.Expiry)
	}
	payload, err := signature.NewPayload(desc, opts.UserMetadata)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidInput, err)
	}
	return json.Marshal(payload)
}

// generateEnvelope has opts.Generator make the envelope over desc (§7.7
// ENVELOPE), then checks it as any envelope and its chain's revocation.
func generateEnvelope(ctx context.Context, desc ocispec.Descriptor, opts SignOptions) (*Signed, error) {
	if opts.Timestamper != nil {
		return nil, fmt.Errorf("%w: an envelope-generating plugin timestamps its envelopes itself: drop --timestamp-url", ErrInvalidInput)
	}
	raw, err := signingPayload(desc, opts)
	if err != nil {
		return nil, err
	}
	f := opts.format()
	env, annotations, err := opts.Generator.GenerateEnvelope(ctx, raw, f.MediaType(), opts.Expiry)
	if err != nil {
		return nil, err
	}
	c, err := envelope.Open(f, env)
	if err != nil {
		return nil, fmt.Errorf("the plugin's envelope: %w", err)
	}
	if opts.Revocation != nil {
		results, err := opts.Revocation.ValidateChain(ctx, c.CertificateChain, revocation.CodeSigning, time.Time{})
		if err != nil {
			return nil, err
		}
		if revocation.Summarize(results) == revocation.Revoked {
			p, _ := revocation.FirstProblem(results)
			return nil, fmt.Errorf("%w: the signing certificate chain is revoked: %q: %s", ErrInvalidInput, p.Subject, p.Reason)
		}
	}
	return &Signed{Envelope: env, MediaType: f.MediaType(), Target: desc, SigningTime: c.Signed.SigningTime, Chain: c.CertificateChain, Annotations: annotations}, nil
}
