// Package cose encodes and decodes Notary Project signature envelopes as
// COSE_Sign1_Tagged messages (media type application/cose), using
// github.com/veraison/go-cose for the message structure and signing input.
//
// The package does encoding only; envelope.Sign and envelope.Open add the
// rules every format shares.
//
// Specification: https://github.com/notaryproject/specifications/blob/v1.1.0/specs/signature-envelope-cose.md
package cose

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	gocose "github.com/veraison/go-cose"

	"github.com/signet-dev/signet/signature"
)

// maxEnvelopeBytes bounds an envelope Decode accepts: 32 MiB, the same as
// envelope.MaxEnvelopeBytes (the reference's limit on a signature blob).
const maxEnvelopeBytes = 32 << 20

// tagEpochTime is CBOR tag 1, epoch-based date/time (COSE-2).
const tagEpochTime = 1

// Format is the COSE envelope format. The zero value is ready to use and
// safe for concurrent use.
type Format struct{}

// MediaType returns application/cose.
func (Format) MediaType() string { return signature.MediaTypeCOSE }

// strictDecMode decodes our own reads of header maps: duplicate keys and
// indefinite lengths rejected (COSE-6), integers as int64.
var strictDecMode = sync.OnceValue(func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:   cbor.DupMapKeyEnforcedAPF,
		IndefLength: cbor.IndefLengthForbidden,
		IntDec:      cbor.IntDecConvertSignedOrFail,
	}.DecMode()
	if err != nil {
		panic(err) // constant options; cannot fail
	}
	return dm
})

// attrDecMode decodes extended attribute values, giving string-keyed maps
// so that they marshal to JSON (the plugin protocol passes them on).
var attrDecMode = sync.OnceValue(func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:      cbor.DupMapKeyEnforcedAPF,
		IndefLength:    cbor.IndefLengthForbidden,
		IntDec:         cbor.IntDecConvertSignedOrFail,
		DefaultMapType: reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(err) // constant options; cannot fail
	}
	return dm
})

// coseAlgorithm maps the six algorithms to their COSE identifiers (COSE-2).
func coseAlgorithm(a signature.Algorithm) gocose.Algorithm {
	switch a {
	case signature.AlgorithmPS256:
		return gocose.AlgorithmPS256
	case signature.AlgorithmPS384:
		return gocose.AlgorithmPS384
	case signature.AlgorithmPS512:
		return gocose.AlgorithmPS512
	case signature.AlgorithmES256:
		return gocose.AlgorithmES256
	case signature.AlgorithmES384:
		return gocose.AlgorithmES384
	case signature.AlgorithmES512:
		return gocose.AlgorithmES512
	}
	return gocose.AlgorithmReserved
}

func algorithmFromCOSE(id int64) signature.Algorithm {
	for _, a := range signature.Algorithms {
		if int64(coseAlgorithm(a)) == id {
			return a
		}
	}
	return 0
}

// signerAdapter lets go-cose call a signature.Signer: go-cose hands over
// the unhashed ToBeSigned bytes, which is what Signer.Sign expects.
type signerAdapter struct {
	ctx    context.Context
	signer signature.Signer
	alg    gocose.Algorithm
}

func (s *signerAdapter) Algorithm() gocose.Algorithm { return s.alg }

func (s *signerAdapter) Sign(_ io.Reader, toBeSigned []byte) ([]byte, error) {
	return s.signer.Sign(s.ctx, toBeSigned)
}

// verifierAdapter verifies with signature.VerifyMessage: fixed-width r||s
// for ECDSA and RSASSA-PSS salt length = hash length (COSE-5).
type verifierAdapter struct {
	alg signature.Algorithm
	pub crypto.PublicKey
}

func (v *verifierAdapter) Algorithm() gocose.Algorithm { return coseAlgorithm(v.alg) }

func (v *verifierAdapter) Verify(toBeSigned, sig []byte) error {
	return signature.VerifyMessage(v.alg, v.pub, toBeSigned, sig, false)
}

// Encode produces a COSE_Sign1_Tagged envelope for req, calling
// req.Signer.Sign once over the Sig_structure. Times are CBOR tag 1 with
// integer seconds; x5chain is an array of bstr in the unprotected bucket,
// as the reference reads it (COSE-4).
func (Format) Encode(ctx context.Context, req *signature.SignRequest) ([]byte, error) {
	if req == nil {
		return nil, errors.New("cose: no sign request")
	}
	alg, err := signature.SignerAlgorithm(ctx, req.Signer)
	if err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	if len(req.Payload) == 0 {
		return nil, errors.New("cose: payload is empty")
	}
	_, headers, err := req.SignedHeaders(nil)
	if err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	cty := req.PayloadContentType
	if cty == "" {
		cty = signature.MediaTypePayloadV1
	}

	msg := gocose.NewSign1Message()
	p := msg.Headers.Protected
	p.SetAlgorithm(coseAlgorithm(alg))
	p[gocose.HeaderLabelContentType] = cty
	var crit []any
	for _, h := range headers {
		p[h.Key] = h.Value
		if h.IsTime {
			p[h.Key] = epochTime(h.Time)
		}
		if h.Critical {
			crit = append(crit, h.Key)
		}
	}
	p[gocose.HeaderLabelCritical] = crit

	if req.SigningAgent != "" {
		msg.Headers.Unprotected[signature.HeaderSigningAgent] = req.SigningAgent
	}
	msg.Payload = req.Payload
	if err := msg.Sign(rand.Reader, nil, &signerAdapter{ctx: ctx, signer: req.Signer, alg: coseAlgorithm(alg)}); err != nil {
		return nil, fmt.Errorf("cose: sign: %w", err)
	}
	// x5chain is in the unprotected bucket, outside the signature: the
	// chain is asked for after signing.
	chain, err := signature.SignerChain(ctx, req.Signer)
	if err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	certs := make([]any, len(chain))
	for i, c := range chain {
		certs[i] = c.Raw
	}
	msg.Headers.Unprotected[gocose.HeaderLabelX5Chain] = certs
	raw, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("cose: encode: %w", err)
	}
	return raw, nil
}

// epochTime encodes t as CBOR tag 1 around integer seconds (COSE-2).
func epochTime(t time.Time) cbor.Tag {
	return cbor.Tag{Number: tagEpochTime, Content: t.Unix()}
}

// Decode parses a COSE_Sign1_Tagged envelope, checks COSE-1..6 and the
// ATTR-1/5 rules visible in this format, and verifies the signature with
// the leaf certificate's key under the envelope's alg. Errors are
// *signature.EnvelopeError values.
func (Format) Decode(raw []byte) (c *signature.Content, err error) {
	// The CBOR library guards itself, but a panic must never reach a caller
	// on hostile input.
	defer func() {
		if r := recover(); r != nil {
			c, err = nil, envErr("COSE-6", "malformed envelope", fmt.Errorf("decoder panic: %v", r))
		}
	}()
	if len(raw) == 0 {
		return nil, envErr("COSE-1", "envelope is empty", nil)
	}
	if len(raw) > maxEnvelopeBytes {
		return nil, envErr("COSE-1", fmt.Sprintf("envelope is %d bytes, over the limit of %d", len(raw), maxEnvelopeBytes), nil)
	}
	if len(raw) < 2 || raw[0] != 0xd2 || raw[1] != 0x84 {
		return nil, envErr("COSE-1", "envelope is not a COSE_Sign1_Tagged object (CBOR tag 18 around a 4-element array)", nil)
	}
	var msg gocose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return nil, envErr("COSE-6", "malformed COSE_Sign1_Tagged object", err)
	}
	if len(msg.Payload) == 0 {
		return nil, envErr("COSE-1", "payload is detached or empty", nil)
	}
	if len(msg.Signature) == 0 {
		return nil, envErr("COSE-1", "signature is empty", nil)
	}

	hdr, err := protectedMap(msg.Headers.RawProtected)
	if err != nil {
		return nil, err
	}
	unprotected := map[any]any(msg.Headers.Unprotected)
	for k := range unprotected {
		if _, both := hdr[normalizeLabel(k)]; both {
			return nil, envErr("COSE-6", fmt.Sprintf("header label %v appears in both the protected and the unprotected bucket", k), nil)
		}
	}

	c = &signature.Content{Payload: msg.Payload, Signature: msg.Signature}
	algRaw, ok := hdr[int64(gocose.HeaderLabelAlgorithm)]
	if !ok {
		return nil, envErr("COSE-2", "protected header has no alg (label 1)", nil)
	}
	var algID int64
	if err := strictDecMode().Unmarshal(algRaw, &algID); err != nil || !isCBORInt(algRaw) {
		return nil, envErr("COSE-2", "protected header alg (label 1) is not an integer", signature.ErrUnsupportedAlgorithm)
	}
	if c.Algorithm = algorithmFromCOSE(algID); c.Algorithm == 0 {
		return nil, envErr("COSE-2", fmt.Sprintf("unsupported alg %d (want -37, -38, -39, -7, -35 or -36)", algID), signature.ErrUnsupportedAlgorithm)
	}

	// COSE-4: x5chain in the unprotected bucket, as an array of bstr. The
	// protected bucket and a single bstr are legal (RFC 9360) and accepted
	// too, though the reference rejects them (digest §10 item 16).
	var x5chain any
	if v, ok := unprotected[int64(gocose.HeaderLabelX5Chain)]; ok {
		x5chain = v
	} else if rawChain, ok := hdr[int64(gocose.HeaderLabelX5Chain)]; ok {
		if err := strictDecMode().Unmarshal(rawChain, &x5chain); err != nil {
			return nil, envErr("COSE-4", "protected x5chain (label 33) is malformed", err)
		}
	}
	if c.CertificateChain, err = parseX5Chain(x5chain); err != nil {
		return nil, err
	}

	if err := msg.Verify(nil, &verifierAdapter{alg: c.Algorithm, pub: c.CertificateChain[0].PublicKey}); err != nil {
		return nil, envErr("COSE-5", "signature does not verify with the leaf certificate key", err)
	}

	if err := decodeProtected(hdr, c); err != nil {
		return nil, err
	}
	if err := decodeUnsigned(unprotected, c); err != nil {
		return nil, err
	}
	return c, nil
}

// protectedMap decodes the protected bucket (a bstr wrapping a map) into
// raw values keyed by int64 or string labels.
func protectedMap(rawProtected []byte) (map[any]cbor.RawMessage, error) {
	var inner []byte
	if err := strictDecMode().Unmarshal(rawProtected, &inner); err != nil {
		return nil, envErr("COSE-2", "protected header is not a byte string", err)
	}
	if len(inner) == 0 {
		return nil, envErr("COSE-2", "protected header is empty", nil)
	}
	var m map[any]cbor.RawMessage
	if err := strictDecMode().Unmarshal(inner, &m); err != nil {
		return nil, envErr("COSE-6", "protected header is not a well-formed map", err)
	}
	out := make(map[any]cbor.RawMessage, len(m))
	for k, v := range m {
		switch k.(type) {
		case int64, string:
			out[k] = v
		default:
			return nil, envErr("COSE-6", fmt.Sprintf("protected header label of type %T (want int or tstr)", k), nil)
		}
	}
	return out, nil
}

// decodeProtected reads the protected header after the signature verified.
func decodeProtected(hdr map[any]cbor.RawMessage, c *signature.Content) error {
	ctyRaw, ok := hdr[int64(gocose.HeaderLabelContentType)]
	if !ok {
		return envErr("COSE-2", "protected header has no content type (label 3)", nil)
	}
	cty, err := textValue(ctyRaw)
	if err != nil {
		return envErr("COSE-2", "content type (label 3) must be a text string", err)
	}
	c.PayloadContentType = cty

	schemeRaw, ok := hdr[signature.HeaderSigningScheme]
	if !ok {
		return envErr("ATTR-1", fmt.Sprintf("protected header %q is missing", signature.HeaderSigningScheme), nil)
	}
	scheme, err := textValue(schemeRaw)
	if err != nil {
		return envErr("ATTR-1", fmt.Sprintf("protected header %q must be a text string", signature.HeaderSigningScheme), err)
	}
	c.Signed.SigningScheme = signature.SigningScheme(scheme)

	times := map[string]time.Time{}
	for _, name := range []string{signature.HeaderSigningTime, signature.HeaderAuthenticSigningTime, signature.HeaderExpiry} {
		v, ok := hdr[name]
		if !ok {
			continue
		}
		t, err := decodeTime(v)
		if err != nil {
			return envErr("COSE-3", fmt.Sprintf("protected header %q", name), err)
		}
		times[name] = t
	}
	if err := c.Signed.ApplyTimes(times, "cose: "); err != nil {
		return err
	}

	critical, err := checkCrit(hdr, c.Signed.SigningScheme)
	if err != nil {
		return err
	}
	var keys []string
	for k := range hdr {
		if s, ok := k.(string); ok && !signature.IsNotaryHeader(s) {
			keys = append(keys, s)
		}
		// Integer labels other than alg, crit, content type and x5chain are
		// registered COSE parameters we do not use; checkCrit refused the
		// envelope if one of them is critical.
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v any
		if err := attrDecMode().Unmarshal(hdr[k], &v); err != nil {
			// Not expressible with string-keyed maps: keep the generic form.
			if err := strictDecMode().Unmarshal(hdr[k], &v); err != nil {
				return envErr("COSE-2", fmt.Sprintf("extended attribute %q is malformed", k), err)
			}
		}
		c.Signed.ExtendedAttributes = append(c.Signed.ExtendedAttributes, signature.Attribute{Key: k, Critical: critical[k], Value: v})
	}
	return nil
}

// checkCrit enforces the crit rules of COSE-2 and returns the text labels
// it lists.
func checkCrit(hdr map[any]cbor.RawMessage, scheme signature.SigningScheme) (map[string]bool, error) {
	raw, ok := hdr[int64(gocose.HeaderLabelCritical)]
	if !ok {
		return nil, envErr("COSE-2", "protected header has no crit (label 2)", nil)
	}
	var list []any
	if err := strictDecMode().Unmarshal(raw, &list); err != nil || len(raw) == 0 || raw[0]>>5 != 4 {
		return nil, envErr("COSE-2", "crit (label 2) must be an array", err)
	}
	if len(list) == 0 {
		return nil, envErr("COSE-2", "crit (label 2) is empty", nil)
	}
	crit := make(map[string]bool, len(list))
	for _, e := range list {
		switch l := e.(type) {
		case int64:
			if l >= 0 && l <= 8 {
				return nil, envErr("COSE-2", fmt.Sprintf("crit lists label %d, which must not be marked critical", l), nil)
			}
			if _, ok := hdr[l]; !ok {
				return nil, envErr("COSE-2", fmt.Sprintf("crit lists label %d, which is not in the protected header", l), nil)
			}
			return nil, envErr("COSE-2", fmt.Sprintf("critical header label %d is not understood", l), nil)
		case string:
			if _, ok := hdr[l]; !ok {
				return nil, envErr("COSE-2", fmt.Sprintf("%q header is marked critical but not present", l), nil)
			}
			crit[l] = true
		default:
			return nil, envErr("COSE-2", fmt.Sprintf("crit entry of type %T (want int or tstr)", e), nil)
		}
	}
	_, hasExpiry := hdr[signature.HeaderExpiry]
	missing := signature.MissingCritical(scheme, hasExpiry, crit)
	if len(missing) > 0 {
		return nil, envErr("COSE-2", "these required headers are not marked as critical: "+strings.Join(missing, ", "), nil)
	}
	return crit, nil
}

// decodeTime accepts only CBOR tag 1 around an integer or a finite float
// (COSE-3); fractions are tolerated on read.
func decodeTime(raw cbor.RawMessage) (time.Time, error) {
	var tag cbor.RawTag
	if len(raw) == 0 || raw[0] != 0xc1 {
		return time.Time{}, errors.New("only a CBOR tag 1 (epoch) date/time is supported")
	}
	if err := strictDecMode().Unmarshal(raw, &tag); err != nil {
		return time.Time{}, err
	}
	var v any
	if err := strictDecMode().Unmarshal(tag.Content, &v); err != nil {
		return time.Time{}, err
	}
	switch n := v.(type) {
	case int64:
		return time.Unix(n, 0), nil
	case float64:
		// Keep well inside int64 seconds so conversion cannot overflow.
		if math.IsNaN(n) || math.IsInf(n, 0) || math.Abs(n) > 1<<62 {
			return time.Time{}, fmt.Errorf("epoch time %v is out of range", n)
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("tag 1 holds %T, want an integer", v)
}

// decodeUnsigned reads the unprotected attributes (COSE-4).
func decodeUnsigned(u map[any]any, c *signature.Content) error {
	if v, ok := u[signature.HeaderTimestampSignature]; ok {
		b, ok := v.([]byte)
		if !ok {
			return envErr("COSE-4", fmt.Sprintf("unprotected header %q must be a byte string", signature.HeaderTimestampSignature), nil)
		}
		c.Unsigned.TimestampSignature = b
	}
	if v, ok := u[signature.HeaderSigningAgent]; ok {
		s, ok := v.(string)
		if !ok {
			return envErr("COSE-4", fmt.Sprintf("unprotected header %q must be a text string", signature.HeaderSigningAgent), nil)
		}
		c.Unsigned.SigningAgent = s
	}
	return nil
}

// parseX5Chain parses an x5chain value: an array of bstr, or one bstr.
func parseX5Chain(v any) ([]*x509.Certificate, error) {
	var ders [][]byte
	switch x := v.(type) {
	case nil:
		return nil, envErr("COSE-4", "certificate chain (x5chain, label 33) is not present", nil)
	case []byte:
		ders = [][]byte{x}
	case []any:
		if len(x) > signature.MaxChainLength {
			return nil, envErr("COSE-4", fmt.Sprintf("x5chain holds %d certificates, over the limit of %d", len(x), signature.MaxChainLength), nil)
		}
		for i, e := range x {
			b, ok := e.([]byte)
			if !ok {
				return nil, envErr("COSE-4", fmt.Sprintf("x5chain[%d] is not a byte string", i), nil)
			}
			ders = append(ders, b)
		}
	default:
		return nil, envErr("COSE-4", fmt.Sprintf("x5chain is a %T, want an array of byte strings", v), nil)
	}
	if len(ders) == 0 {
		return nil, envErr("COSE-4", "x5chain is empty", nil)
	}
	certs := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, envErr("COSE-4", fmt.Sprintf("x5chain[%d] is not an X.509 certificate", i), err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

// textValue decodes raw as a CBOR text string (major type 3).
func textValue(raw cbor.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0]>>5 != 3 {
		return "", errors.New("not a text string")
	}
	var s string
	if err := strictDecMode().Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// isCBORInt reports whether raw is a CBOR integer (major type 0 or 1).
func isCBORInt(raw cbor.RawMessage) bool {
	return len(raw) > 0 && raw[0]>>5 <= 1
}

// normalizeLabel maps go-cose's decoded labels onto int64 or string.
func normalizeLabel(k any) any {
	switch v := k.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
	}
	return k
}

func envErr(rule, msg string, err error) *signature.EnvelopeError {
	return &signature.EnvelopeError{Rule: rule, Msg: "cose: " + msg, Err: err}
}

// AddTimestamp returns raw with token set as the unprotected header
// io.cncf.notary.timestampSignature (bstr, COSE-4). The protected header,
// payload and signature are kept byte for byte. raw must be a COSE
// envelope; use envelope.AddTimestamp, which also verifies it.
func (Format) AddTimestamp(raw, token []byte) ([]byte, error) {
	if len(raw) > maxEnvelopeBytes {
		return nil, envErr("COSE-1", "envelope is over the size limit", nil)
	}
	var msg gocose.Sign1Message
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return nil, envErr("COSE-6", "malformed COSE_Sign1_Tagged object", err)
	}
	msg.Headers.Unprotected[signature.HeaderTimestampSignature] = token
	msg.Headers.RawUnprotected = nil // re-encode the unprotected bucket
	out, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("cose: encode: %w", err)
	}
	return out, nil
}
