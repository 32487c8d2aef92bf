package plugin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/strictjson"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
)

// targetArtifactMembers are the descriptor members a payload's
// targetArtifact may carry ([REF], digest §7.4).
var targetArtifactMembers = map[string]bool{
	"mediaType": true, "digest": true, "size": true, "urls": true,
	"annotations": true, "data": true, "platform": true, "artifactType": true,
}

// GenerateEnvelope asks an envelope-generating plugin (capability
// SIGNATURE_GENERATOR.ENVELOPE, or ENVELOPE_FOR_BLOB for blobs) to sign payload, a Notary payload JSON
// object, with key keyID into an envelope of envelopeMediaType
// (application/jose+json or application/cose), and checks the result
// before returning it (§7.4, §7.7):
//
//   - the response's envelope type equals the one requested;
//   - the envelope opens with envelope.Open: it parses as that type, its
//     signature verifies with its own leaf certificate under an allowed
//     algorithm, its signed attributes and certificate chain are well
//     formed (§2.3, §3.2), and the chain is valid at the envelope's
//     signing time;
//   - the signed payload is payload with nothing changed or removed: the
//     top level holds only targetArtifact; targetArtifact holds only
//     descriptor members; every member of the requested targetArtifact is
//     present with an equal value, except that annotations may gain new
//     keys (every requested annotation keeps its value); no other member
//     is added;
//   - the returned annotations (for the signature manifest) do not use the
//     reserved prefix io.cncf.notary, which the host's own annotations
//     (such as the certificate thumbprint) use.
//
// expiry is the requested signature lifetime, in whole seconds; zero for
// none. The envelope's expiry, signing time and any timestamp token are
// not compared with the request: the timestamp is the plugin's (the host
// never adds or changes one), and a caller that requires one checks
// Content.Unsigned.TimestampSignature after envelope.Open. Failures of the
// checks wrap ErrInvalidResponse.
func GenerateEnvelope(ctx context.Context, p *Plugin, keyID string, pluginConfig map[string]string, payload []byte,
	envelopeMediaType string, expiry time.Duration) (env []byte, annotations map[string]string, err error) {
	const cmd = proto.CommandGenerateEnvelope
	if p == nil {
		return nil, nil, fmt.Errorf("%w: no plugin", ErrInvalidRequest)
	}
	if err := p.need(cmd, proto.CapabilityEnvelopeGenerator, proto.CapabilityEnvelopeGeneratorForBlob); err != nil {
		return nil, nil, err
	}
	format, err := envelope.ForMediaType(envelopeMediaType)
	if err != nil {
		return nil, nil, p.fail(cmd, fmt.Errorf("%w: %w", ErrInvalidRequest, err))
	}
	if expiry < 0 || expiry%time.Second != 0 {
		return nil, nil, p.fail(cmd, fmt.Errorf("%w: expiry %s is not a whole, non-negative number of seconds", ErrInvalidRequest, expiry))
	}
	want, err := decodeStrict(payload)
	if err != nil {
		return nil, nil, p.fail(cmd, fmt.Errorf("%w: payload: %w", ErrInvalidRequest, err))
	}
	if _, err := targetArtifact(want); err != nil {
		return nil, nil, p.fail(cmd, fmt.Errorf("%w: payload: %w", ErrInvalidRequest, err))
	}
	resp, err := p.GenerateEnvelope(ctx, &proto.GenerateEnvelopeRequest{
		KeyID:                   keyID,
		PayloadType:             proto.MediaTypePayloadV1,
		SignatureEnvelopeType:   envelopeMediaType,
		Payload:                 payload,
		ExpiryDurationInSeconds: uint64(expiry / time.Second),
		PluginConfig:            pluginConfig,
	})
	if err != nil {
		return nil, nil, err
	}
	reject := func(err error) error { return p.fail(cmd, fmt.Errorf("%w: %w", ErrInvalidResponse, err)) }
	content, err := envelope.Open(format, resp.SignatureEnvelope)
	if err != nil {
		return nil, nil, reject(err)
	}
	if err := signature.ValidateCodeSigningChain(content.CertificateChain, content.Signed.SigningTime); err != nil {
		return nil, nil, reject(fmt.Errorf("certificate chain at the signing time: %w", err))
	}
	if err := samePayload(want, content.Payload); err != nil {
		return nil, nil, reject(err)
	}
	for k := range resp.Annotations {
		if strings.HasPrefix(k, signature.ReservedAnnotationPrefix) {
			return nil, nil, reject(fmt.Errorf("annotation %s uses the reserved prefix %s", quote(k), signature.ReservedAnnotationPrefix))
		}
	}
	return resp.SignatureEnvelope, maps.Clone(resp.Annotations), nil
}

// samePayload checks that got, the payload the plugin signed, is the
// requested payload want with at most annotations added.
func samePayload(want any, got []byte) error {
	g, err := decodeStrict(got)
	if err != nil {
		return fmt.Errorf("signed payload: %w", err)
	}
	top := g.(map[string]any) // decodeStrict returns objects only
	for k := range top {
		if k != "targetArtifact" {
			return fmt.Errorf("signed payload has the member %s besides targetArtifact", quote(k))
		}
	}
	gt, err := targetArtifact(g)
	if err != nil {
		return fmt.Errorf("signed payload: %w", err)
	}
	wt, _ := targetArtifact(want)
	for k := range gt {
		if !targetArtifactMembers[k] {
			return fmt.Errorf("signed targetArtifact has the member %s, which is not a descriptor member", quote(k))
		}
		if _, ok := wt[k]; !ok && k != "annotations" {
			return fmt.Errorf("signed targetArtifact adds the member %s", quote(k))
		}
	}
	for k, wv := range wt {
		gv, ok := gt[k]
		if !ok {
			return fmt.Errorf("signed targetArtifact lacks the member %s of the payload", quote(k))
		}
		if k == "annotations" {
			continue
		}
		if !reflect.DeepEqual(wv, gv) {
			return fmt.Errorf("signed targetArtifact changes %s: the plugin signed a different artifact", quote(k))
		}
	}
	if err := annotationsKept(wt["annotations"], gt["annotations"]); err != nil {
		return err
	}
	return nil
}

// annotationsKept checks that every requested annotation is in got with
// the same value, and that got is a string map.
func annotationsKept(want, got any) error {
	if got == nil && want == nil {
		return nil
	}
	gm, ok := got.(map[string]any)
	if !ok {
		return errors.New("signed targetArtifact annotations are not a JSON object")
	}
	for k, v := range gm {
		if _, ok := v.(string); !ok {
			return fmt.Errorf("signed annotation %s is not a string", quote(k))
		}
	}
	wm, _ := want.(map[string]any)
	for k, wv := range wm {
		gv, ok := gm[k]
		if !ok {
			return fmt.Errorf("signed targetArtifact drops the annotation %s", quote(k))
		}
		if gv != wv {
			return fmt.Errorf("signed targetArtifact changes the annotation %s", quote(k))
		}
	}
	return nil
}

// targetArtifact returns the targetArtifact object of a decoded payload.
func targetArtifact(payload any) (map[string]any, error) {
	top, ok := payload.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	t, ok := top["targetArtifact"].(map[string]any)
	if !ok {
		return nil, errors.New("targetArtifact is missing or not a JSON object")
	}
	return t, nil
}

// decodeStrict decodes data, at most signature.MaxPayloadBytes, as exactly
// one JSON object. Numbers stay json.Number so that comparison is by
// their text. Duplicate member names are refused: two parsers could read
// such a payload differently, which is how a plugin would smuggle a
// different digest past the check.
func decodeStrict(data []byte) (any, error) {
	if len(data) > signature.MaxPayloadBytes {
		return nil, fmt.Errorf("%d bytes, over the limit of %d", len(data), signature.MaxPayloadBytes)
	}
	if !utf8.Valid(data) {
		// encoding/json would read invalid bytes as U+FFFD, so two
		// different byte strings would compare equal.
		return nil, errors.New("not valid UTF-8")
	}
	v, err := strictjson.DecodeObject(data)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return v, nil
}
