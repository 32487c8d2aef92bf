package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
)

// Plugin is a plugin that passed discovery; obtain one from Manager.Get or
// Manager.List (the zero value is not usable). Its methods run
// one command each: they validate the request, run the executable with the
// Manager's executor, timeout and output limit, decode and validate the
// response, and check that it answers the request. A Plugin is safe for
// concurrent use; each call is a separate process.
type Plugin struct {
	name     string
	path     string
	metadata proto.GetMetadataResponse
	m        Manager // a copy: later changes to the Manager do not apply
}

// Name returns the plugin name (its directory name).
func (p *Plugin) Name() string { return p.name }

// Path returns the absolute or Dir-relative path of the executable.
func (p *Plugin) Path() string { return p.path }

// Metadata returns the metadata get-plugin-metadata returned when the
// plugin was found.
func (p *Plugin) Metadata() proto.GetMetadataResponse {
	md := p.metadata
	md.SupportedContractVersions = slices.Clone(md.SupportedContractVersions)
	md.Capabilities = slices.Clone(md.Capabilities)
	return md
}

// HasCapability reports whether the plugin's metadata declares c.
func (p *Plugin) HasCapability(c proto.Capability) bool { return p.metadata.HasCapability(c) }

// GetMetadata runs get-plugin-metadata. Beyond validating the response it
// checks that its name is the plugin's name (PLG-4) and that it supports
// contract version 1.0 (PROC-5); either failure wraps ErrInvalidPlugin.
func (p *Plugin) GetMetadata(ctx context.Context, req *proto.GetMetadataRequest) (*proto.GetMetadataResponse, error) {
	if req == nil {
		req = &proto.GetMetadataRequest{}
	}
	var resp proto.GetMetadataResponse
	if err := p.call(ctx, req, &resp); err != nil {
		return nil, err
	}
	if resp.Name != p.name {
		return nil, p.fail(proto.CommandGetMetadata, fmt.Errorf("%w: the metadata names the plugin %s, so its executable must be %s in a directory %s, not %s (PLG-4)",
			ErrInvalidPlugin, quote(resp.Name), quote(ExecutableName(resp.Name)), quote(resp.Name), quote(ExecutableName(p.name))))
	}
	if !resp.SupportsContractVersion(proto.ContractVersion) {
		return nil, p.fail(proto.CommandGetMetadata, fmt.Errorf("%w: the plugin supports contract versions %s, not %s (PROC-5)",
			ErrInvalidPlugin, displayText(fmt.Sprint(resp.SupportedContractVersions)), proto.ContractVersion))
	}
	return &resp, nil
}

// DescribeKey runs describe-key. The plugin must declare
// SIGNATURE_GENERATOR.RAW or SIGNATURE_GENERATOR.ENVELOPE_FOR_BLOB, and
// the response must echo the request's keyId. An empty ContractVersion is
// filled in.
func (p *Plugin) DescribeKey(ctx context.Context, req *proto.DescribeKeyRequest) (*proto.DescribeKeyResponse, error) {
	const cmd = proto.CommandDescribeKey
	if req == nil {
		return nil, p.fail(cmd, fmt.Errorf("%w: no request", ErrInvalidRequest))
	}
	if err := p.need(cmd, proto.CapabilitySignatureGenerator, proto.CapabilityEnvelopeGeneratorForBlob); err != nil {
		return nil, err
	}
	r := *req
	r.ContractVersion = orDefault(r.ContractVersion)
	var resp proto.DescribeKeyResponse
	if err := p.call(ctx, &r, &resp); err != nil {
		return nil, err
	}
	if resp.KeyID != r.KeyID {
		return nil, p.fail(cmd, fmt.Errorf("%w: the response describes key %s, not the requested %s", ErrInvalidResponse, quote(resp.KeyID), quote(r.KeyID)))
	}
	return &resp, nil
}

// GenerateSignature runs generate-signature. The plugin must declare
// SIGNATURE_GENERATOR.RAW; the response must echo keyId, name the signing
// algorithm bound to the request's keySpec (ALG-2) and carry at most
// signature.MaxChainLength certificates. An empty ContractVersion is filled
// in. Verifying the signature is the caller's job (Signer does it).
func (p *Plugin) GenerateSignature(ctx context.Context, req *proto.GenerateSignatureRequest) (*proto.GenerateSignatureResponse, error) {
	const cmd = proto.CommandGenerateSignature
	if req == nil {
		return nil, p.fail(cmd, fmt.Errorf("%w: no request", ErrInvalidRequest))
	}
	if err := p.need(cmd, proto.CapabilitySignatureGenerator); err != nil {
		return nil, err
	}
	r := *req
	r.ContractVersion = orDefault(r.ContractVersion)
	var resp proto.GenerateSignatureResponse
	if err := p.call(ctx, &r, &resp); err != nil {
		return nil, err
	}
	switch want := r.KeySpec.SignatureAlgorithm(); {
	case resp.KeyID != r.KeyID:
		return nil, p.fail(cmd, fmt.Errorf("%w: the response is for key %s, not the requested %s", ErrInvalidResponse, quote(resp.KeyID), quote(r.KeyID)))
	case resp.SigningAlgorithm != want:
		return nil, p.fail(cmd, fmt.Errorf("%w: signing algorithm %s does not match key spec %s, which requires %s (ALG-2)",
			ErrInvalidResponse, quote(string(resp.SigningAlgorithm)), r.KeySpec, want))
	case len(resp.CertificateChain) > signature.MaxChainLength:
		return nil, p.fail(cmd, fmt.Errorf("%w: %d certificates, over the limit of %d", ErrInvalidResponse, len(resp.CertificateChain), signature.MaxChainLength))
	}
	return &resp, nil
}

// GenerateEnvelope runs generate-envelope. The plugin must declare
// SIGNATURE_GENERATOR.ENVELOPE or SIGNATURE_GENERATOR.ENVELOPE_FOR_BLOB,
// and the response's signatureEnvelopeType must equal the request's. An
// empty ContractVersion is filled in. Checking the envelope is the
// caller's job (the package function GenerateEnvelope does it).
func (p *Plugin) GenerateEnvelope(ctx context.Context, req *proto.GenerateEnvelopeRequest) (*proto.GenerateEnvelopeResponse, error) {
	const cmd = proto.CommandGenerateEnvelope
	if req == nil {
		return nil, p.fail(cmd, fmt.Errorf("%w: no request", ErrInvalidRequest))
	}
	if err := p.need(cmd, proto.CapabilityEnvelopeGenerator, proto.CapabilityEnvelopeGeneratorForBlob); err != nil {
		return nil, err
	}
	r := *req
	r.ContractVersion = orDefault(r.ContractVersion)
	var resp proto.GenerateEnvelopeResponse
	if err := p.call(ctx, &r, &resp); err != nil {
		return nil, err
	}
	if resp.SignatureEnvelopeType != r.SignatureEnvelopeType {
		return nil, p.fail(cmd, fmt.Errorf("%w: the envelope is of type %s, not the requested %s", ErrInvalidResponse,
			quote(resp.SignatureEnvelopeType), r.SignatureEnvelopeType))
	}
	return &resp, nil
}

// VerifySignature runs verify-signature. Every capability in
// req.TrustPolicy.SignatureVerification must be declared by the plugin
// (VPLG-3, VPLG-5); the response's verificationResults must hold exactly
// those capabilities (VPLG-6) and its processedAttributes must name every
// attribute of req.Signature.UnprocessedAttributes (VPLG-7). A result with
// success false is returned, not turned into an error: whether it fails
// verification depends on the policy (VPLG-6). An empty ContractVersion is
// filled in.
func (p *Plugin) VerifySignature(ctx context.Context, req *proto.VerifySignatureRequest) (*proto.VerifySignatureResponse, error) {
	const cmd = proto.CommandVerifySignature
	if req == nil {
		return nil, p.fail(cmd, fmt.Errorf("%w: no request", ErrInvalidRequest))
	}
	if !HasVerifier(p) {
		return nil, p.fail(cmd, fmt.Errorf("%w: it declares neither %s nor %s (VPLG-3)", ErrUnsupportedCapability,
			proto.CapabilityTrustedIdentityVerifier, proto.CapabilityRevocationCheckVerifier))
	}
	for _, c := range req.TrustPolicy.SignatureVerification {
		if c.IsVerifier() && !p.HasCapability(c) {
			return nil, p.fail(cmd, fmt.Errorf("%w: %s was requested but the plugin does not declare it (VPLG-5)", ErrUnsupportedCapability, c))
		}
	}
	r := *req
	r.ContractVersion = orDefault(r.ContractVersion)
	var resp proto.VerifySignatureResponse
	if err := p.call(ctx, &r, &resp); err != nil {
		return nil, err
	}
	for _, c := range r.TrustPolicy.SignatureVerification {
		if _, ok := resp.VerificationResults[c]; !ok {
			return nil, p.fail(cmd, fmt.Errorf("%w: verificationResults has no result for the requested %s (VPLG-6)", ErrInvalidResponse, c))
		}
	}
	for c := range resp.VerificationResults {
		if !slices.Contains(r.TrustPolicy.SignatureVerification, c) {
			return nil, p.fail(cmd, fmt.Errorf("%w: verificationResults has a result for %s, which was not requested (VPLG-6)", ErrInvalidResponse, c))
		}
	}
	for _, a := range r.Signature.UnprocessedAttributes {
		if !slices.Contains(resp.ProcessedAttributes, a) {
			return nil, p.fail(cmd, fmt.Errorf("%w: the plugin did not process the critical attribute %s (VPLG-7)", ErrInvalidResponse, quote(a)))
		}
	}
	return &resp, nil
}

// need fails unless the plugin declares one of caps.
func (p *Plugin) need(cmd proto.Command, caps ...proto.Capability) error {
	for _, c := range caps {
		if p.HasCapability(c) {
			return nil
		}
	}
	names := make([]string, len(caps))
	for i, c := range caps {
		names[i] = string(c)
	}
	return p.fail(cmd, fmt.Errorf("%w: %s needs one of %v, and the plugin declares %s", ErrUnsupportedCapability, cmd, names,
		displayText(fmt.Sprint(p.metadata.Capabilities))))
}

func orDefault(v string) string {
	if v == "" {
		return proto.ContractVersion
	}
	return v
}

func (p *Plugin) fail(cmd proto.Command, err error) error {
	return &Error{Plugin: p.name, Command: cmd, Err: err}
}

// maxStderrSnippet bounds how much of a non-JSON stderr an error repeats.
const maxStderrSnippet = 512

// call runs one command: validate req, run the executable, classify a
// failure (PROC-2), decode and validate the response.
func (p *Plugin) call(ctx context.Context, req proto.Request, resp proto.Response) error {
	cmd := req.Command()
	if err := req.Validate(); err != nil {
		return p.fail(cmd, fmt.Errorf("%w: %s", ErrInvalidRequest, protoMessage(err)))
	}
	data, err := json.Marshal(req)
	if err != nil {
		return p.fail(cmd, fmt.Errorf("%w: %w", ErrInvalidRequest, err))
	}
	callCtx, timeout := ctx, p.m.timeout()
	if timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	stdout, stderr, err := p.m.executor().Run(callCtx, p.path, cmd, data, p.m.maxOutput())
	if err != nil {
		return p.fail(cmd, classify(ctx, callCtx, timeout, err, stderr))
	}
	if err := proto.Decode(stdout, resp); err != nil {
		return p.fail(cmd, fmt.Errorf("%w: %s", ErrMalformedResponse, displayText(protoMessage(err))))
	}
	return nil
}

// protoMessage returns the message of a proto validation error without
// its code: the code is the plugin protocol's, and printing it here would
// read as if the plugin had reported it.
func protoMessage(err error) string {
	var pe *proto.Error
	if errors.As(err, &pe) && pe.Message != "" {
		return pe.Message
	}
	return err.Error()
}

// classify turns a failed run into the error PROC-2 calls for. The order
// matters: an output overflow or a timeout kills the plugin, whose exit
// status and stderr then say nothing.
func classify(ctx, callCtx context.Context, timeout time.Duration, err error, stderr []byte) error {
	switch {
	case errors.Is(err, ErrOutputTooLarge):
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("%w; the plugin was stopped", context.Cause(ctx))
	case callCtx.Err() != nil:
		return fmt.Errorf("%w: no answer within %s; the plugin was stopped", ErrTimeout, timeout)
	}
	if len(bytes.TrimSpace(stderr)) == 0 {
		return fmt.Errorf("%w: %w, and nothing on stderr", ErrExecutable, err)
	}
	var pe proto.Error
	if derr := proto.Decode(stderr, &pe); derr != nil {
		snippet := stderr
		if len(snippet) > maxStderrSnippet {
			snippet = snippet[:maxStderrSnippet]
		}
		return fmt.Errorf("%w: the plugin failed (%v) and its stderr is not a JSON error response: %s",
			ErrMalformedResponse, err, displayText(string(snippet)))
	}
	return &PluginError{Code: pe.Code, Message: pe.Message, Metadata: pe.Metadata}
}
