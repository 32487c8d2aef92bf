// Command notation-signet-pkcs11 is a Notary Project signing plugin
// (contract version 1.0, SIGNATURE_GENERATOR.RAW) that signs with a
// private key held in a PKCS #11 token: an HSM, a smart card, or SoftHSM2.
// Both signet and notation can use it. It is named io.signet.pkcs11, so it
// is installed as
//
//	{CONFIG}/plugins/io.signet.pkcs11/notation-io.signet.pkcs11
//
// for example with
//
//	go build -o ~/.config/notation/plugins/io.signet.pkcs11/notation-io.signet.pkcs11 ./cmd/notation-signet-pkcs11
//
// It is a separate program because loading a PKCS #11 module needs cgo,
// and signet itself is built without it. Built with CGO_ENABLED=0 it still
// answers get-plugin-metadata but refuses to sign.
//
// # Key IDs
//
// The key ID is a PKCS #11 URI (RFC 7512) naming one private key:
//
//	pkcs11:token=signet;object=release-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/pin
//
// Path attributes select the token (token, manufacturer, serial, model,
// slot-id, slot-description, slot-manufacturer, library-manufacturer,
// library-description, library-version) and the key (object = CKA_LABEL,
// id = CKA_ID, percent-encoded bytes; type, when given, must be private).
// Exactly one token must match (the PIN is never tried on a second token)
// and exactly one private key in it; the URI must name the key by object
// or id. Query attributes: module-path (the PKCS #11 library, an absolute
// path), pin-value or pin-source (a file holding the PIN; "file:" URIs are
// accepted). module-name is not supported.
//
// # Plugin configuration
//
//   - module: the PKCS #11 library when the URI has no module-path.
//   - pin-source: a file holding the user PIN, when the URI has neither
//     pin-value nor pin-source. Else the environment variable
//     SIGNET_PKCS11_PIN is used, else no PIN (tokens that need no login, or
//     have a protected authentication path).
//   - chain: a PEM file of certificates. When the token holds an X.509
//     certificate object for the key (same CKA_ID as the key, or same
//     CKA_LABEL when the key has no CKA_ID), the file holds the rest of the
//     chain (intermediates, root), starting with the leaf's issuer; a file
//     starting with that same leaf is accepted too, and without the file
//     the chain is the token's certificate alone. When the token holds none, the file holds the whole
//     chain, leaf first.
//
// # Signatures
//
// The plugin hashes the payload with the request's hashAlgorithm and signs
// the digest in the token: RSA keys with CKM_RSA_PKCS_PSS (MGF1 with the
// same hash, salt length = hash length), EC keys with CKM_ECDSA, the
// signature returned as r||s of the curve's size. Before answering, it
// verifies the signature with the leaf certificate's public key, so a chain
// that does not belong to the key is refused here rather than by the host.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"

	"github.com/signet-dev/signet/internal/pkcs11uri"
	"github.com/signet-dev/signet/plugin/proto"
)

// Name is the plugin's name; its executable is notation-io.signet.pkcs11.
const Name = "io.signet.pkcs11"

// Version is the plugin version get-plugin-metadata reports (SemVer).
const Version = "1.0.0"

// Plugin configuration keys.
const (
	ConfigModule    = "module"
	ConfigPinSource = "pin-source"
	ConfigChain     = "chain"
)

// EnvPIN is the environment variable read for the user PIN when neither
// the URI nor the plugin configuration gives one.
const EnvPIN = "SIGNET_PKCS11_PIN"

// Limits.
const (
	// maxRequestBytes bounds the request read from stdin: the protocol's
	// own message limit (PROC-3).
	maxRequestBytes = proto.MaxMessageBytes
	// maxChainFileBytes bounds the chain file: a few certificates are a
	// few kilobytes.
	maxChainFileBytes = 1 << 20
	// maxChainCerts bounds the certificates in the chain file.
	maxChainCerts = 16
	// maxPinFileBytes bounds a pin-source file.
	maxPinFileBytes = 1024
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv, openToken))
}

// opener opens the private key a keyRef names. It is openToken (cgo) in
// the program and a fake in tests of the protocol layer.
type opener func(ctx context.Context, ref *keyRef) (tokenKey, error)

// tokenKey is an open private key in a token.
type tokenKey interface {
	// Spec is the key's key spec.
	Spec() proto.KeySpec
	// SignDigest signs digest, the hash of the payload with h: RSASSA-PSS
	// bytes, or an ECDSA signature as r||s, each of the curve's size.
	SignDigest(digest []byte, h crypto.Hash) ([]byte, error)
	// Certificate returns the DER X.509 certificate the token holds for
	// the key, or nil.
	Certificate() []byte
	Close() error
}

// keyRef is a parsed key ID with the configuration resolved.
type keyRef struct {
	uri    *pkcs11uri.URI
	module string
	pin    string
	hasPIN bool
}

// run executes one plugin command and returns the exit status: 0 with the
// response on stdout, or 1 with a proto.Error on stderr (PROC-1).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, open opener) int {
	resp, err := handle(ctx, args, stdin, getenv, open)
	if err == nil {
		var out []byte
		if out, err = json.Marshal(resp); err == nil {
			if _, err = stdout.Write(out); err == nil {
				return 0
			}
		}
	}
	var perr *proto.Error
	if !errors.As(err, &perr) {
		perr = &proto.Error{Code: proto.ErrorCodeGeneric, Message: err.Error()}
	}
	out, _ := json.Marshal(perr)
	stderr.Write(out)
	return 1
}

func handle(ctx context.Context, args []string, stdin io.Reader, getenv func(string) string, open opener) (any, error) {
	if len(args) != 1 {
		return nil, validation("usage: %s COMMAND", proto.BinaryPrefix+Name)
	}
	cmd := proto.Command(args[0])
	switch cmd {
	case proto.CommandGetMetadata, proto.CommandDescribeKey, proto.CommandGenerateSignature:
	default:
		return nil, &proto.Error{Code: proto.ErrorCodeGeneric, Message: fmt.Sprintf("unsupported command %q", args[0])}
	}
	in, err := io.ReadAll(io.LimitReader(stdin, maxRequestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the request: %w", err)
	}
	switch cmd {
	case proto.CommandGetMetadata:
		var req proto.GetMetadataRequest
		if err := proto.Decode(in, &req); err != nil {
			return nil, err
		}
		return metadata(), nil
	case proto.CommandDescribeKey:
		var req proto.DescribeKeyRequest
		if err := proto.Decode(in, &req); err != nil {
			return nil, err
		}
		return describeKey(ctx, &req, getenv, open)
	default:
		var req proto.GenerateSignatureRequest
		if err := proto.Decode(in, &req); err != nil {
			return nil, err
		}
		return generateSignature(ctx, &req, getenv, open)
	}
}

func metadata() *proto.GetMetadataResponse {
	return &proto.GetMetadataResponse{
		Name:                      Name,
		Description:               "Signs with keys in PKCS #11 tokens (HSMs, smart cards, SoftHSM2); key IDs are PKCS #11 URIs",
		Version:                   Version,
		URL:                       "https://github.com/signet-dev/signet",
		SupportedContractVersions: []string{proto.ContractVersion},
		Capabilities:              []proto.Capability{proto.CapabilitySignatureGenerator},
	}
}

func describeKey(ctx context.Context, req *proto.DescribeKeyRequest, getenv func(string) string, open opener) (*proto.DescribeKeyResponse, error) {
	ref, err := resolve(req.KeyID, req.PluginConfig, getenv)
	if err != nil {
		return nil, err
	}
	k, err := open(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	return &proto.DescribeKeyResponse{KeyID: req.KeyID, KeySpec: k.Spec()}, nil
}

func generateSignature(ctx context.Context, req *proto.GenerateSignatureRequest, getenv func(string) string, open opener) (*proto.GenerateSignatureResponse, error) {
	ref, err := resolve(req.KeyID, req.PluginConfig, getenv)
	if err != nil {
		return nil, err
	}
	// The chain file is read first: a bad path fails before the token is
	// touched.
	var fileChain [][]byte
	if p := req.PluginConfig[ConfigChain]; p != "" {
		if fileChain, err = readChain(p); err != nil {
			return nil, err
		}
	}
	k, err := open(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	if k.Spec() != req.KeySpec {
		return nil, validation("keySpec %s does not match the key, which is %s", req.KeySpec, k.Spec())
	}
	chain, err := assembleChain(k.Certificate(), fileChain)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, validation("the leaf certificate does not parse: %v", err)
	}
	h := hashOf(req.HashAlgorithm)
	digest := hashBytes(h, req.Payload)
	sig, err := k.SignDigest(digest, h)
	if err != nil {
		return nil, err
	}
	if err := verifyDigest(leaf.PublicKey, h, digest, sig); err != nil {
		return nil, &proto.Error{Code: proto.ErrorCodeGeneric, Message: "the leaf certificate does not belong to the key: " + err.Error()}
	}
	return &proto.GenerateSignatureResponse{
		KeyID:            req.KeyID,
		Signature:        sig,
		SigningAlgorithm: req.KeySpec.SignatureAlgorithm(),
		CertificateChain: chain,
	}, nil
}

// resolve parses the key ID and finds the module and the PIN.
func resolve(keyID string, config map[string]string, getenv func(string) string) (*keyRef, error) {
	u, err := pkcs11uri.Parse(keyID)
	if err != nil {
		return nil, validation("keyId: %v", err)
	}
	_, hasObject := u.Path(pkcs11uri.Object)
	_, hasID := u.Path(pkcs11uri.ID)
	if !hasObject && !hasID {
		return nil, validation("keyId: the PKCS #11 URI must name the key with object= or id=")
	}
	if t, ok := u.Path(pkcs11uri.Type); ok && t != pkcs11uri.TypePrivate {
		return nil, validation("keyId: type=%s: the key must be a private key (type=private)", t)
	}
	ref := &keyRef{uri: u}
	ref.module, _ = u.Query(pkcs11uri.ModulePath)
	if ref.module == "" {
		if _, ok := u.Query(pkcs11uri.ModuleName); ok {
			return nil, validation("keyId: module-name is not supported; give module-path or pluginConfig %q", ConfigModule)
		}
		ref.module = config[ConfigModule]
	}
	switch {
	case ref.module == "":
		return nil, validation("no PKCS #11 module: give module-path in the URI or pluginConfig %q", ConfigModule)
	case !filepath.IsAbs(ref.module):
		return nil, validation("the PKCS #11 module path %q is not absolute", ref.module)
	}
	if v, ok := u.Query(pkcs11uri.PinValue); ok {
		ref.pin, ref.hasPIN = v, true
	} else if src, ok := u.Query(pkcs11uri.PinSource); ok {
		if ref.pin, err = readPIN(src); err != nil {
			return nil, err
		}
		ref.hasPIN = true
	} else if src := config[ConfigPinSource]; src != "" {
		if ref.pin, err = readPIN(src); err != nil {
			return nil, err
		}
		ref.hasPIN = true
	} else if v := getenv(EnvPIN); v != "" {
		ref.pin, ref.hasPIN = v, true
	}
	return ref, nil
}

// readPIN reads a pin-source: a file path or a file: URI. The PIN is the
// first line.
func readPIN(src string) (string, error) {
	p := src
	if rest, ok := strings.CutPrefix(src, "file:"); ok {
		p = strings.TrimPrefix(rest, "//")
	}
	if p == "" || !filepath.IsAbs(p) {
		return "", validation("pin-source %q is not an absolute file path (commands are not supported)", src)
	}
	data, err := readBounded(p, maxPinFileBytes)
	if err != nil {
		return "", validation("pin-source: %v", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// readBounded reads the regular file at p, failing if it is larger than
// limit bytes.
func readBounded(p string, limit int64) ([]byte, error) {
	// Only regular files: opening a FIFO or reading a terminal would
	// block.
	if fi, err := os.Stat(p); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over the limit of %d bytes", p, limit)
	}
	return data, nil
}

// readChain reads the PEM chain file.
func readChain(p string) ([][]byte, error) {
	data, err := readBounded(p, maxChainFileBytes)
	if err != nil {
		return nil, validation("pluginConfig %s: %v", ConfigChain, err)
	}
	chain, err := parseChainPEM(data)
	if err != nil {
		return nil, validation("pluginConfig %s: %s: %v", ConfigChain, p, err)
	}
	return chain, nil
}

// parseChainPEM returns the DER of each CERTIFICATE block in data. Other
// block types are an error (a private key in a chain file is a mistake
// worth reporting); so are no certificates and more than maxChainCerts.
func parseChainPEM(data []byte) ([][]byte, error) {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %q PEM block; only CERTIFICATE blocks are allowed", b.Type)
		}
		if len(out) == maxChainCerts {
			return nil, fmt.Errorf("more than %d certificates", maxChainCerts)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("certificate %d: %v", len(out)+1, err)
		}
		out = append(out, b.Bytes)
	}
	if len(bytes.TrimSpace(data)) != 0 {
		return nil, errors.New("has data that is not PEM after the last certificate")
	}
	if len(out) == 0 {
		return nil, errors.New("holds no certificate")
	}
	return out, nil
}

// assembleChain builds the chain, leaf first, from the token's certificate
// (nil if none) and the chain file's certificates (nil if none).
func assembleChain(tokenCert []byte, file [][]byte) ([][]byte, error) {
	switch {
	case tokenCert == nil && len(file) == 0:
		return nil, validation("no certificate chain: the token holds no certificate for the key (same CKA_ID, or same CKA_LABEL) and pluginConfig %q is not set", ConfigChain)
	case tokenCert == nil:
		return file, nil
	case len(file) == 0:
		return [][]byte{tokenCert}, nil
	case bytes.Equal(file[0], tokenCert):
		return file, nil
	}
	// The file continues the token's certificate: its first certificate
	// must have issued it.
	leaf, err := x509.ParseCertificate(tokenCert)
	if err != nil {
		return nil, validation("the token's certificate for the key does not parse: %v", err)
	}
	issuer, _ := x509.ParseCertificate(file[0]) // parsed by parseChainPEM
	if issuer == nil || leaf.CheckSignatureFrom(issuer) != nil {
		return nil, validation("pluginConfig %q does not continue the token's certificate: its first certificate (%s) did not issue %s",
			ConfigChain, subjectOf(issuer), leaf.Subject)
	}
	return append([][]byte{tokenCert}, file...), nil
}

func subjectOf(c *x509.Certificate) string {
	if c == nil {
		return "unparsable"
	}
	return c.Subject.String()
}

func hashOf(a proto.HashAlgorithm) crypto.Hash {
	switch a {
	case proto.HashAlgorithmSHA384:
		return crypto.SHA384
	case proto.HashAlgorithmSHA512:
		return crypto.SHA512
	}
	return crypto.SHA256
}

func hashBytes(h crypto.Hash, data []byte) []byte {
	switch h {
	case crypto.SHA384:
		d := sha512.Sum384(data)
		return d[:]
	case crypto.SHA512:
		d := sha512.Sum512(data)
		return d[:]
	}
	d := sha256.Sum256(data)
	return d[:]
}

// verifyDigest checks sig (PSS, or ECDSA r||s) over digest with pub.
func verifyDigest(pub any, h crypto.Hash, digest, sig []byte) error {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case *ecdsa.PublicKey:
		size := (pub.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			return fmt.Errorf("ECDSA signature is %d bytes, want %d", len(sig), 2*size)
		}
		r := new(big.Int).SetBytes(sig[:size])
		s := new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest, r, s) {
			return errors.New("ECDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("unsupported public key type %T", pub)
}

// fixedRS returns an ECDSA signature from a token as r||s, each size
// bytes. PKCS #11 specifies r||s of equal halves; some modules drop
// leading zero bytes of the halves or return DER, which are converted.
func fixedRS(sig []byte, size int) ([]byte, error) {
	if len(sig) > 0 && sig[0] == 0x30 && len(sig) != 2*size {
		if r, s, ok := parseDERSig(sig); ok {
			return joinRS(r, s, size)
		}
	}
	if len(sig) == 0 || len(sig)%2 != 0 || len(sig) > 2*size {
		return nil, fmt.Errorf("ECDSA signature from the token is %d bytes, want %d", len(sig), 2*size)
	}
	half := len(sig) / 2
	return joinRS(new(big.Int).SetBytes(sig[:half]), new(big.Int).SetBytes(sig[half:]), size)
}

func joinRS(r, s *big.Int, size int) ([]byte, error) {
	if r.Sign() <= 0 || s.Sign() <= 0 || len(r.Bytes()) > size || len(s.Bytes()) > size {
		return nil, errors.New("ECDSA signature from the token has out-of-range values")
	}
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}

// parseDERSig parses an ASN.1 ECDSA-Sig-Value.
func parseDERSig(der []byte) (r, s *big.Int, ok bool) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil {
		return nil, nil, false
	}
	return v.R, v.S, true
}

// validation builds a VALIDATION_ERROR.
func validation(format string, args ...any) *proto.Error {
	return &proto.Error{Code: proto.ErrorCodeValidation, Message: fmt.Sprintf(format, args...)}
}
