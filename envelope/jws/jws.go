// Package jws encodes and decodes Notary Project signature envelopes in the
// JWS JSON flattened serialization (media type application/jose+json).
//
// The package does encoding only; envelope.Sign and envelope.Open add the
// rules every format shares.
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/signature-envelope-jws.md
package jws

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet-dev/signet/signature"
)

// maxEnvelopeBytes bounds an envelope Decode accepts: 32 MiB, the same as
// envelope.MaxEnvelopeBytes (the reference's limit on a signature blob).
const maxEnvelopeBytes = 32 << 20

// Names of the JWS members and registered headers.
const (
	memberPayload    = "payload"
	memberProtected  = "protected"
	memberHeader     = "header"
	memberSignature  = "signature"
	memberSignatures = "signatures"
	headerAlg        = "alg"
	headerCty        = "cty"
	headerCrit       = "crit"
	headerX5c        = "x5c"
)

// registeredHeaders are header names registered by RFC 7515, 7516 and 7797.
// None may be listed in crit (JWS-4) or used as an extended attribute.
var registeredHeaders = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true,
	"x5t": true, "x5t#S256": true, "typ": true, "cty": true, "crit": true,
	"enc": true, "zip": true, "b64": true,
}

// Format is the JWS envelope format. The zero value is ready to use and
// safe for concurrent use.
type Format struct{}

// MediaType returns application/jose+json.
func (Format) MediaType() string { return signature.MediaTypeJWS }

// envelopeJSON is the flattened serialization as emitted (JWS-1). Member
// order is fixed by the struct.
type envelopeJSON struct {
	Payload   string     `json:"payload"`
	Protected string     `json:"protected"`
	Header    headerJSON `json:"header"`
	Signature string     `json:"signature"`
}

// headerJSON is the unprotected header as emitted (JWS-6). []byte encodes
// as standard padded base64, as x5c and the timestamp token require.
type headerJSON struct {
	TimestampSignature []byte   `json:"io.cncf.notary.timestampSignature,omitempty"`
	X5c                [][]byte `json:"x5c"`
	SigningAgent       string   `json:"io.cncf.notary.signingAgent,omitempty"`
}

// Encode produces a JWS envelope for req, calling req.Signer.Sign once over
// ASCII(protected "." payload) (JWS-3). The protected header and a JSON
// object payload are written with members sorted by name (JWS-8), times as
// RFC 3339 in the location of the given time, whole seconds (JWS-9).
func (Format) Encode(ctx context.Context, req *signature.SignRequest) ([]byte, error) {
	if req == nil {
		return nil, errors.New("jws: no sign request")
	}
	alg, err := signature.SignerAlgorithm(ctx, req.Signer)
	if err != nil {
		return nil, fmt.Errorf("jws: %w", err)
	}
	protected, err := protectedHeader(req, alg)
	if err != nil {
		return nil, err
	}
	payload, err := canonicalPayload(req.Payload)
	if err != nil {
		return nil, err
	}
	env := envelopeJSON{
		Payload:   base64.RawURLEncoding.EncodeToString(payload),
		Protected: base64.RawURLEncoding.EncodeToString(protected),
		Header:    headerJSON{SigningAgent: req.SigningAgent},
	}
	sig, err := req.Signer.Sign(ctx, []byte(env.Protected+"."+env.Payload))
	if err != nil {
		return nil, fmt.Errorf("jws: sign: %w", err)
	}
	chain, err := signature.SignerChain(ctx, req.Signer) // x5c is unsigned: after signing
	if err != nil {
		return nil, fmt.Errorf("jws: %w", err)
	}
	for _, c := range chain {
		env.Header.X5c = append(env.Header.X5c, c.Raw)
	}
	env.Signature = base64.RawURLEncoding.EncodeToString(sig)
	return marshalJSON(env)
}

// protectedHeader builds the protected header of JWS-4.
func protectedHeader(req *signature.SignRequest, alg signature.Algorithm) ([]byte, error) {
	_, headers, err := req.SignedHeaders(func(k string) bool { return registeredHeaders[k] })
	if err != nil {
		return nil, fmt.Errorf("jws: %w", err)
	}
	cty := req.PayloadContentType
	if cty == "" {
		cty = signature.MediaTypePayloadV1
	}
	h := map[string]any{headerAlg: alg.JWSName(), headerCty: cty}
	var crit []string
	for _, sh := range headers {
		h[sh.Key] = sh.Value
		if sh.IsTime {
			h[sh.Key] = formatTime(sh.Time)
		}
		if sh.Critical {
			crit = append(crit, sh.Key)
		}
	}
	h[headerCrit] = crit
	b, err := marshalJSON(h)
	if err != nil {
		return nil, fmt.Errorf("jws: protected header: %w", err)
	}
	return b, nil
}

func formatTime(t time.Time) string { return t.Format(time.RFC3339) }

// canonicalPayload re-encodes a JSON object payload with members sorted by
// name, as the reference does (JWS-8); numbers keep their exact text.
func canonicalPayload(p []byte) ([]byte, error) {
	if len(p) == 0 {
		return nil, errors.New("jws: payload is empty")
	}
	obj, err := decodeObject(p)
	if err != nil {
		return nil, fmt.Errorf("jws: payload must be a JSON object (JWS-8): %w", err)
	}
	return marshalJSON(obj)
}

// Decode parses a JWS envelope, checks the rules of JWS-1..8 and ATTR-1/5
// that are visible in this format, and verifies the signature with the leaf
// certificate's key under the envelope's alg. Errors are
// *signature.EnvelopeError values.
func (Format) Decode(raw []byte) (*signature.Content, error) {
	if len(raw) == 0 {
		return nil, envErr("JWS-1", "envelope is empty", nil)
	}
	if len(raw) > maxEnvelopeBytes {
		return nil, envErr("JWS-1", fmt.Sprintf("envelope is %d bytes, over the limit of %d", len(raw), maxEnvelopeBytes), nil)
	}
	if !utf8.Valid(raw) {
		return nil, envErr("JWS-1", "envelope is not valid UTF-8 JSON", nil)
	}
	top, err := decodeObject(raw)
	if err != nil {
		return nil, envErr("JWS-1", "envelope is not a JWS JSON object", err)
	}
	if _, ok := top[memberSignatures]; ok {
		return nil, envErr("JWS-1", "general JWS JSON serialization (signatures array) is not supported; use the flattened form", nil)
	}
	// Unknown top-level members are ignored, as the reference does (JWS-1).
	protectedB64, err := b64URLMember(top, memberProtected)
	if err != nil {
		return nil, err
	}
	payloadB64, err := b64URLMember(top, memberPayload)
	if err != nil {
		return nil, err
	}
	sigB64, err := b64URLMember(top, memberSignature)
	if err != nil {
		return nil, err
	}
	protectedRaw, err := decodeB64URL(protectedB64)
	if err != nil {
		return nil, envErr("JWS-2", `"protected" is not unpadded base64url`, err)
	}
	payload, err := decodeB64URL(payloadB64)
	if err != nil {
		return nil, envErr("JWS-2", `"payload" is not unpadded base64url`, err)
	}
	sig, err := decodeB64URL(sigB64)
	if err != nil {
		return nil, envErr("JWS-2", `"signature" is not unpadded base64url`, err)
	}
	if len(payload) == 0 {
		return nil, envErr("JWS-2", "payload is empty", nil)
	}
	if len(sig) == 0 {
		return nil, envErr("JWS-2", "signature is empty", nil)
	}

	c := &signature.Content{Payload: payload, Signature: sig}
	if err := decodeUnprotected(top, c); err != nil {
		return nil, err
	}

	if !utf8.Valid(protectedRaw) {
		return nil, envErr("JWS-4", "protected header is not valid UTF-8", nil)
	}
	hdr, err := decodeObject(protectedRaw)
	if err != nil {
		return nil, envErr("JWS-4", "protected header is not a JSON object", err)
	}
	algName, ok := hdr[headerAlg].(string)
	if !ok {
		return nil, envErr("JWS-4", `protected header "alg" is missing or not a string`, nil)
	}
	c.Algorithm = algorithmFromName(algName)
	if c.Algorithm == 0 {
		return nil, envErr("JWS-4", fmt.Sprintf("unsupported alg %q (want PS256, PS384, PS512, ES256, ES384 or ES512)", algName), signature.ErrUnsupportedAlgorithm)
	}
	// JWS-3/JWS-7: verify over the envelope strings exactly as they appear,
	// accepting any RSASSA-PSS salt length as the reference does.
	if err := signature.VerifyMessage(c.Algorithm, c.CertificateChain[0].PublicKey, []byte(protectedB64+"."+payloadB64), sig, true); err != nil {
		return nil, envErr("JWS-7", "signature does not verify with the leaf certificate key", err)
	}
	if err := decodeProtected(hdr, c); err != nil {
		return nil, err
	}
	if payload[0] != '{' || !utf8.Valid(payload) {
		return nil, envErr("JWS-8", "payload is not a JSON object", nil)
	}
	if _, err := decodeObject(payload); err != nil {
		return nil, envErr("JWS-8", "payload is not a JSON object", err)
	}
	return c, nil
}

// decodeUnprotected reads the "header" member (JWS-6).
func decodeUnprotected(top map[string]any, c *signature.Content) error {
	hv, ok := top[memberHeader]
	if !ok {
		return envErr("JWS-1", `envelope has no "header" member`, nil)
	}
	h, ok := hv.(map[string]any)
	if !ok {
		return envErr("JWS-6", `"header" is not a JSON object`, nil)
	}
	x5c, ok := h[headerX5c].([]any)
	if !ok || len(x5c) == 0 {
		return envErr("JWS-6", `unprotected header "x5c" is missing or not a non-empty array`, nil)
	}
	if len(x5c) > signature.MaxChainLength {
		return envErr("JWS-6", fmt.Sprintf(`"x5c" holds %d certificates, over the limit of %d`, len(x5c), signature.MaxChainLength), nil)
	}
	for i, v := range x5c {
		s, ok := v.(string)
		if !ok {
			return envErr("JWS-6", fmt.Sprintf(`"x5c"[%d] is not a string`, i), nil)
		}
		der, err := decodeStdB64(s)
		if err != nil {
			return envErr("JWS-6", fmt.Sprintf(`"x5c"[%d] is not standard padded base64`, i), err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return envErr("JWS-6", fmt.Sprintf(`"x5c"[%d] is not an X.509 certificate`, i), err)
		}
		c.CertificateChain = append(c.CertificateChain, cert)
	}
	if v, ok := h[signature.HeaderTimestampSignature]; ok {
		s, ok := v.(string)
		if !ok {
			return envErr("JWS-6", fmt.Sprintf("unprotected header %q is not a string", signature.HeaderTimestampSignature), nil)
		}
		tok, err := decodeStdB64(s)
		if err != nil {
			return envErr("JWS-6", fmt.Sprintf("unprotected header %q is not standard padded base64", signature.HeaderTimestampSignature), err)
		}
		c.Unsigned.TimestampSignature = tok
	}
	if v, ok := h[signature.HeaderSigningAgent]; ok {
		s, ok := v.(string)
		if !ok {
			return envErr("JWS-6", fmt.Sprintf("unprotected header %q is not a string", signature.HeaderSigningAgent), nil)
		}
		c.Unsigned.SigningAgent = s
	}
	// Other unprotected members are ignored, as the reference does.
	return nil
}

// decodeProtected reads the protected header after the signature verified
// (JWS-4, JWS-5, ATTR-1, ATTR-5).
func decodeProtected(hdr map[string]any, c *signature.Content) error {
	cty, ok := hdr[headerCty].(string)
	if !ok {
		return envErr("JWS-4", `protected header "cty" is missing or not a string`, nil)
	}
	c.PayloadContentType = cty

	scheme, ok := hdr[signature.HeaderSigningScheme].(string)
	if !ok {
		return envErr("ATTR-1", fmt.Sprintf("protected header %q is missing or not a string", signature.HeaderSigningScheme), nil)
	}
	c.Signed.SigningScheme = signature.SigningScheme(scheme)

	times := map[string]time.Time{}
	for _, name := range []string{signature.HeaderSigningTime, signature.HeaderAuthenticSigningTime, signature.HeaderExpiry} {
		v, ok := hdr[name]
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return envErr("JWS-4", fmt.Sprintf("protected header %q is not a string", name), nil)
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return envErr("JWS-4", fmt.Sprintf("protected header %q is not an RFC 3339 time", name), err)
		}
		times[name] = t
	}
	if err := c.Signed.ApplyTimes(times, "jws: "); err != nil {
		return err
	}

	critical, err := checkCrit(hdr, c.Signed.SigningScheme)
	if err != nil {
		return err
	}
	var keys []string
	for k := range hdr {
		if k == headerAlg || k == headerCty || k == headerCrit || signature.IsNotaryHeader(k) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.Signed.ExtendedAttributes = append(c.Signed.ExtendedAttributes, signature.Attribute{
			Key: k, Critical: critical[k], Value: hdr[k],
		})
	}
	return nil
}

// checkCrit enforces JWS-4/JWS-5 and returns the set of names in crit.
func checkCrit(hdr map[string]any, scheme signature.SigningScheme) (map[string]bool, error) {
	v, ok := hdr[headerCrit]
	if !ok {
		return nil, envErr("JWS-4", `protected header "crit" is missing`, nil)
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, envErr("JWS-4", `protected header "crit" must be a non-empty array`, nil)
	}
	crit := make(map[string]bool, len(list))
	for _, e := range list {
		name, ok := e.(string)
		if !ok {
			return nil, envErr("JWS-4", `protected header "crit" holds a non-string entry`, nil)
		}
		if registeredHeaders[name] {
			return nil, envErr("JWS-5", fmt.Sprintf("registered header %q must not be listed in crit", name), nil)
		}
		if name == signature.HeaderSigningTime {
			return nil, envErr("JWS-5", fmt.Sprintf("%q header must not be marked critical", name), nil)
		}
		if _, present := hdr[name]; !present {
			return nil, envErr("JWS-5", fmt.Sprintf("%q header is marked critical but not present", name), nil)
		}
		crit[name] = true
	}
	_, hasExpiry := hdr[signature.HeaderExpiry]
	missing := signature.MissingCritical(scheme, hasExpiry, crit)
	if len(missing) > 0 {
		return nil, envErr("JWS-5", "these required headers are not marked as critical: "+strings.Join(missing, ", "), nil)
	}
	return crit, nil
}

func algorithmFromName(name string) signature.Algorithm {
	for _, a := range signature.Algorithms {
		if a.JWSName() == name {
			return a
		}
	}
	return 0
}

// b64URLMember returns the string member name of the envelope.
func b64URLMember(top map[string]any, name string) (string, error) {
	v, ok := top[name]
	if !ok {
		return "", envErr("JWS-1", fmt.Sprintf("envelope has no %q member", name), nil)
	}
	s, ok := v.(string)
	if !ok {
		return "", envErr("JWS-1", fmt.Sprintf("envelope member %q is not a string", name), nil)
	}
	return s, nil
}

// decodeB64URL decodes RFC 4648 §5 base64url without padding. Padding,
// whitespace and any other character are rejected (JWS-2); encoding/base64
// alone would skip CR and LF.
func decodeB64URL(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch >= 'A' && ch <= 'Z', ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-', ch == '_':
		default:
			return nil, fmt.Errorf("character %q at offset %d is not in the unpadded base64url alphabet", ch, i)
		}
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// decodeStdB64 decodes RFC 4648 §4 standard base64 with padding (JWS-6).
func decodeStdB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line breaks are not allowed")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

func envErr(rule, msg string, err error) *signature.EnvelopeError {
	return &signature.EnvelopeError{Rule: rule, Msg: "jws: " + msg, Err: err}
}

// AddTimestamp returns raw with token set as the unprotected header
// io.cncf.notary.timestampSignature (standard base64, JWS-6). The signed
// members are copied verbatim. raw must be a JWS envelope; use
// envelope.AddTimestamp, which also verifies it.
func (Format) AddTimestamp(raw, token []byte) ([]byte, error) {
	if len(raw) > maxEnvelopeBytes {
		return nil, envErr("JWS-1", "envelope is over the size limit", nil)
	}
	top, err := decodeObject(raw)
	if err != nil {
		return nil, envErr("JWS-1", "envelope is not a JWS JSON object", err)
	}
	h, ok := top[memberHeader].(map[string]any)
	if !ok {
		return nil, envErr("JWS-6", `"header" is missing or not a JSON object`, nil)
	}
	h[signature.HeaderTimestampSignature] = base64.StdEncoding.EncodeToString(token)
	return marshalJSON(top)
}
