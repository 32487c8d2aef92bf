package plugin

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
)

// Signer is a signature.Signer over a plugin with the
// SIGNATURE_GENERATOR.RAW capability (digest §7.7): the host builds the
// envelope and the plugin signs the envelope's signing input.
//
// Every signature is checked before Sign returns it: the response echoes
// the key ID and names the algorithm the key spec implies, the
// certificate chain parses and is well formed (§3.2 without time checks;
// envelope.Sign adds them), the leaf key is of the key spec describe-key
// reported, and the signature verifies over the message with the leaf key
// (RSASSA-PSS with salt length equal to the hash length, as
// signature.Signer requires). Any failure wraps ErrInvalidResponse.
//
// Certificate chain before signature: signature.Signer, and so
// envelope.Sign, asks for the chain before the signature, but a plugin
// returns its chain only with a signature. When CertificateChain is called
// before any Sign, the Signer therefore asks the plugin to sign a fixed
// probe message (ProbeMessage) once and keeps the chain of that response.
// Every later response must carry the same chain. The probe is neither a
// JWS signing input nor a COSE Sig_structure, so its signature cannot be
// used as a Notary signature. Signing one envelope with envelope.Sign thus
// costs two generate-signature calls.
//
// A Signer is safe for concurrent use.
type Signer struct {
	plugin *Plugin
	keyID  string
	config map[string]string
	spec   signature.KeySpec
	pspec  proto.KeySpec

	mu    sync.Mutex
	chain []*x509.Certificate // from the first checked response
}

var _ signature.Signer = (*Signer)(nil)

// ProbeMessage is what Signer.CertificateChain asks the plugin to sign
// when it needs the chain before any signature.
const ProbeMessage = "signet plugin certificate chain probe: not a signature envelope"

// NewSigner returns a Signer for key keyID of plugin p, which must declare
// SIGNATURE_GENERATOR.RAW. It runs describe-key (with pluginConfig) to
// learn the key spec (PCFG-1: pluginConfig is passed in every request).
func NewSigner(ctx context.Context, p *Plugin, keyID string, pluginConfig map[string]string) (*Signer, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: no plugin", ErrInvalidRequest)
	}
	if err := p.need(proto.CommandGenerateSignature, proto.CapabilitySignatureGenerator); err != nil {
		return nil, err
	}
	cfg := maps.Clone(pluginConfig)
	resp, err := p.DescribeKey(ctx, &proto.DescribeKeyRequest{KeyID: keyID, PluginConfig: cfg})
	if err != nil {
		return nil, err
	}
	spec, err := signature.ParseKeySpec(string(resp.KeySpec))
	if err != nil { // Validate already refused unknown specs
		return nil, p.fail(proto.CommandDescribeKey, fmt.Errorf("%w: %w", ErrInvalidResponse, err))
	}
	return &Signer{plugin: p, keyID: keyID, config: cfg, spec: spec, pspec: resp.KeySpec}, nil
}

// Plugin returns the plugin.
func (s *Signer) Plugin() *Plugin { return s.plugin }

// KeyID returns the key ID.
func (s *Signer) KeyID() string { return s.keyID }

// KeySpec returns the key spec describe-key reported.
func (s *Signer) KeySpec(context.Context) (signature.KeySpec, error) { return s.spec, nil }

// CertificateChain returns the chain of the first signature, leaf first,
// signing ProbeMessage first if nothing was signed yet.
func (s *Signer) CertificateChain(ctx context.Context) ([]*x509.Certificate, error) {
	s.mu.Lock()
	chain := s.chain
	s.mu.Unlock()
	if chain == nil {
		if _, err := s.Sign(ctx, []byte(ProbeMessage)); err != nil {
			return nil, err
		}
		s.mu.Lock()
		chain = s.chain
		s.mu.Unlock()
	}
	return slices.Clone(chain), nil
}

// Sign runs generate-signature over message (the payload member is its
// base64 encoding) with the hash the key spec implies, checks the
// response as described on Signer and returns the signature.
func (s *Signer) Sign(ctx context.Context, message []byte) ([]byte, error) {
	const cmd = proto.CommandGenerateSignature
	if len(message) == 0 {
		return nil, s.plugin.fail(cmd, fmt.Errorf("%w: empty message", ErrInvalidRequest))
	}
	resp, err := s.plugin.GenerateSignature(ctx, &proto.GenerateSignatureRequest{
		KeyID:         s.keyID,
		KeySpec:       s.pspec,
		HashAlgorithm: s.pspec.HashAlgorithm(),
		Payload:       message,
		PluginConfig:  s.config,
	})
	if err != nil {
		return nil, err
	}
	reject := func(format string, args ...any) error {
		return s.plugin.fail(cmd, fmt.Errorf("%w: "+format, append([]any{ErrInvalidResponse}, args...)...))
	}
	chain := make([]*x509.Certificate, len(resp.CertificateChain))
	for i, der := range resp.CertificateChain {
		if chain[i], err = x509.ParseCertificate(der); err != nil {
			return nil, reject("certificateChain[%d] is not an X.509 certificate: %v", i, err)
		}
	}
	if err := signature.ValidateCodeSigningChain(chain, time.Time{}); err != nil {
		return nil, reject("certificate chain: %w", err)
	}
	leaf, err := signature.KeySpecFromCertificate(chain[0])
	if err != nil {
		return nil, reject("signing certificate: %w", err)
	}
	if leaf != s.spec {
		return nil, reject("the signing certificate holds a %s key but describe-key reported %s", leaf, s.spec)
	}
	alg := s.spec.Algorithm()
	if err := signature.VerifyMessage(alg, chain[0].PublicKey, message, resp.Signature, false); err != nil {
		return nil, reject("the %s signature does not verify over the message with the signing certificate's key: %w", alg, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.chain == nil {
		s.chain = chain
	} else if !sameChain(s.chain, chain) {
		return nil, reject("the certificate chain differs from the one the plugin returned earlier for key %s", quote(s.keyID))
	}
	return resp.Signature, nil
}

func sameChain(a, b []*x509.Certificate) bool {
	return slices.EqualFunc(a, b, func(x, y *x509.Certificate) bool { return x.Equal(y) })
}
