// Command sdkplugin is a Notary Project plugin built on the public plugin
// author SDK, github.com/notaryproject/notation-plugin-framework-go, as a
// peer for the tests of package plugin. It lives in its own module so that
// signet never depends on the SDK.
//
// It declares SIGNATURE_GENERATOR.RAW and
// SIGNATURE_VERIFIER.TRUSTED_IDENTITY. Keys: pluginConfig["keydir"] holds
// KEYID.key (PKCS#8 PEM) and KEYID.crt (PEM chain, leaf first).
// verify-signature trusts the leaf when trustedIdentities holds "*" or
// "x509.subject: " followed by the leaf subject as Go prints it.
package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/notaryproject/notation-plugin-framework-go/cli"
	"github.com/notaryproject/notation-plugin-framework-go/plugin"
)

const name = "io.signet.sdktest"

type sdkPlugin struct{}

func (sdkPlugin) GetMetadata(context.Context, *plugin.GetMetadataRequest) (*plugin.GetMetadataResponse, error) {
	return &plugin.GetMetadataResponse{
		Name:                      name,
		Description:               "signet test plugin built with notation-plugin-framework-go",
		Version:                   "1.0.0",
		URL:                       "https://github.com/notaryproject/notation-plugin-framework-go",
		SupportedContractVersions: []string{plugin.ContractVersion},
		Capabilities:              []plugin.Capability{plugin.CapabilitySignatureGenerator, plugin.CapabilityTrustedIdentityVerifier},
	}, nil
}

type key struct {
	signer crypto.Signer
	chain  [][]byte
	spec   plugin.KeySpec
}

func loadKey(config map[string]string, id string) (*key, error) {
	dir := config["keydir"]
	if dir == "" || strings.ContainsAny(id, `/\`) {
		return nil, plugin.NewValidationErrorf("unknown keyId %q", id)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, id+".key"))
	if err != nil {
		return nil, plugin.NewValidationErrorf("unknown keyId %q", id)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, plugin.NewGenericError("key file is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, plugin.NewGenericError(err.Error())
	}
	chainPEM, err := os.ReadFile(filepath.Join(dir, id+".crt"))
	if err != nil {
		return nil, plugin.NewGenericError(err.Error())
	}
	out := &key{signer: k.(crypto.Signer)}
	for {
		var b *pem.Block
		if b, chainPEM = pem.Decode(chainPEM); b == nil {
			break
		}
		out.chain = append(out.chain, b.Bytes)
	}
	switch pub := out.signer.Public().(type) {
	case *rsa.PublicKey:
		out.spec = plugin.KeySpec(fmt.Sprintf("RSA-%d", pub.N.BitLen()))
	case *ecdsa.PublicKey:
		out.spec = plugin.KeySpec(fmt.Sprintf("EC-%d", pub.Curve.Params().BitSize))
	}
	return out, nil
}

func (sdkPlugin) DescribeKey(_ context.Context, req *plugin.DescribeKeyRequest) (*plugin.DescribeKeyResponse, error) {
	k, err := loadKey(req.PluginConfig, req.KeyID)
	if err != nil {
		return nil, err
	}
	return &plugin.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: k.spec}, nil
}

func (sdkPlugin) GenerateSignature(_ context.Context, req *plugin.GenerateSignatureRequest) (*plugin.GenerateSignatureResponse, error) {
	k, err := loadKey(req.PluginConfig, req.KeyID)
	if err != nil {
		return nil, err
	}
	if req.KeySpec != k.spec {
		return nil, plugin.NewValidationErrorf("keySpec %s does not match key %s", req.KeySpec, k.spec)
	}
	var h crypto.Hash
	switch req.Hash {
	case plugin.HashAlgorithmSHA256:
		h = crypto.SHA256
	case plugin.HashAlgorithmSHA384:
		h = crypto.SHA384
	case plugin.HashAlgorithmSHA512:
		h = crypto.SHA512
	default:
		return nil, plugin.NewValidationErrorf("hashAlgorithm %q is not supported", req.Hash)
	}
	hasher := h.New()
	hasher.Write(req.Payload)
	sum := hasher.Sum(nil)
	var sig []byte
	var alg plugin.SignatureAlgorithm
	switch s := k.signer.(type) {
	case *rsa.PrivateKey:
		alg = plugin.SignatureAlgorithm("RSASSA-PSS-" + string(req.Hash))
		sig, err = rsa.SignPSS(rand.Reader, s, h, sum, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case *ecdsa.PrivateKey:
		alg = plugin.SignatureAlgorithm("ECDSA-" + string(req.Hash))
		r, ss, serr := ecdsa.Sign(rand.Reader, s, sum)
		err = serr
		size := (s.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*size)
		if err == nil {
			r.FillBytes(sig[:size])
			ss.FillBytes(sig[size:])
		}
	}
	if err != nil {
		return nil, plugin.NewGenericError(err.Error())
	}
	return &plugin.GenerateSignatureResponse{KeyID: req.KeyID, Signature: sig, SigningAlgorithm: alg, CertificateChain: k.chain}, nil
}

func (sdkPlugin) GenerateEnvelope(context.Context, *plugin.GenerateEnvelopeRequest) (*plugin.GenerateEnvelopeResponse, error) {
	return nil, plugin.NewUnsupportedError("generate-envelope")
}

func (sdkPlugin) VerifySignature(_ context.Context, req *plugin.VerifySignatureRequest) (*plugin.VerifySignatureResponse, error) {
	leaf, err := x509.ParseCertificate(req.Signature.CertificateChain[0])
	if err != nil {
		return nil, plugin.NewValidationErrorf("leaf certificate: %v", err)
	}
	result := &plugin.VerificationResult{Success: false, Reason: "signing identity " + leaf.Subject.String() + " is not trusted"}
	for _, id := range req.TrustPolicy.TrustedIdentities {
		if id == "*" || id == "x509.subject: "+leaf.Subject.String() {
			result = &plugin.VerificationResult{Success: true}
		}
	}
	processed := make([]interface{}, len(req.Signature.UnprocessedAttributes))
	for i, a := range req.Signature.UnprocessedAttributes {
		processed[i] = a
	}
	return &plugin.VerifySignatureResponse{
		VerificationResults: map[plugin.Capability]*plugin.VerificationResult{plugin.CapabilityTrustedIdentityVerifier: result},
		ProcessedAttributes: processed,
	}, nil
}

func main() {
	c, err := cli.New(sdkPlugin{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c.Execute(context.Background(), os.Args)
}
