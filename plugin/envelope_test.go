package plugin_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/signer"
)

// testPayload is the payload JSON for a manifest with one annotation.
func testPayload(t *testing.T) ([]byte, signature.Payload) {
	t.Helper()
	p, err := signature.NewPayload(ocispec.Descriptor{
		MediaType: ocispec.MediaTypeImageManifest,
		Digest:    digest.FromString("the artifact"),
		Size:      528,
	}, map[string]string{"team": "a"})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return raw, p
}

// §7.4 generate-envelope, §7.7 ENVELOPE: a good envelope plugin's JWS is
// returned with its annotations; the expiry asked for reaches the plugin.
// A plugin that only adds an annotation to targetArtifact is accepted.
func TestGenerateEnvelope(t *testing.T) {
	keys, chains := keyDir(t, map[string]testpki.KeyType{"k1": "rsa-2048"})
	m := newManager(t, "com.example.envelope")
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.envelope")
	if err != nil {
		t.Fatal(err)
	}
	payload, want := testPayload(t)
	for _, mode := range []string{"", "addannotation"} {
		t.Run("mode="+mode, func(t *testing.T) {
			cfg := map[string]string{"keydir": keys, "mode": mode}
			env, ann, err := plugin.GenerateEnvelope(ctx, p, "k1", cfg, payload, signature.MediaTypeJWS, 90*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(ann, map[string]string{"com.example.signed-by": "test-plugin"}) {
				t.Errorf("annotations = %v", ann)
			}
			f, _ := envelope.ForMediaType(signature.MediaTypeJWS)
			c, err := envelope.Open(f, env)
			if err != nil {
				t.Fatal(err)
			}
			if !c.CertificateChain[0].Equal(chains["k1"].Leaf.Cert) {
				t.Error("envelope is not signed by the plugin's key")
			}
			if got := c.Signed.Expiry.Sub(c.Signed.SigningTime); got != 90*time.Minute {
				t.Errorf("expiry - signing time = %s, want 1h30m", got)
			}
			got, err := signature.ParsePayload(c.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if got.TargetArtifact.Digest != want.TargetArtifact.Digest || got.TargetArtifact.Annotations["team"] != "a" {
				t.Errorf("signed payload = %+v", got)
			}
			if added := got.TargetArtifact.Annotations["com.example.added-by-plugin"]; (added == "yes") != (mode == "addannotation") {
				t.Errorf("added annotation = %q in mode %q", added, mode)
			}
		})
	}
}

// §7.4 generate-envelope caller checks: an envelope for a different
// payload, of another type, that does not verify, or with annotations in
// the reserved namespace is refused.
func TestGenerateEnvelopeRefusesBadEnvelopes(t *testing.T) {
	keys, _ := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256"})
	m := newManager(t, "com.example.envelope", "com.example.raw")
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.envelope")
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := testPayload(t)
	tests := []struct {
		mode    string
		wantErr error
		wantMsg string
	}{
		{mode: "digest", wantErr: plugin.ErrInvalidResponse, wantMsg: `changes "digest": the plugin signed a different artifact`},
		{mode: "size", wantErr: plugin.ErrInvalidResponse, wantMsg: `changes "size"`},
		{mode: "dropannotation", wantErr: plugin.ErrInvalidResponse, wantMsg: `drops the annotation "team"`},
		{mode: "changeannotation", wantErr: plugin.ErrInvalidResponse, wantMsg: `changes the annotation "team"`},
		{mode: "extramember", wantErr: plugin.ErrInvalidResponse, wantMsg: `"com.example.extra", which is not a descriptor member`},
		{mode: "adddescriptormember", wantErr: plugin.ErrInvalidResponse, wantMsg: `adds the member "urls"`},
		{mode: "extratop", wantErr: plugin.ErrInvalidResponse, wantMsg: `member "extra" besides targetArtifact`},
		{mode: "duplicate", wantErr: plugin.ErrInvalidResponse, wantMsg: "duplicate"},
		{mode: "wrongtype", wantErr: plugin.ErrInvalidResponse, wantMsg: `type "application/cose", not the requested application/jose+json`},
		{mode: "badsig", wantErr: plugin.ErrInvalidResponse, wantMsg: "does not verify"},
		{mode: "notenvelope", wantErr: plugin.ErrInvalidResponse, wantMsg: "invalid signature envelope"},
		{mode: "reservedannotation", wantErr: plugin.ErrInvalidResponse, wantMsg: "reserved prefix io.cncf.notary"},
		{mode: "garbage", wantErr: plugin.ErrMalformedResponse},
		{mode: "crash", wantErr: plugin.ErrExecutable},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := map[string]string{"keydir": keys, "mode": tc.mode}
			env, _, err := plugin.GenerateEnvelope(ctx, p, "k1", cfg, payload, signature.MediaTypeJWS, 0)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("GenerateEnvelope = %d bytes, %v; want %v", len(env), err, tc.wantErr)
			}
			if env != nil {
				t.Error("an envelope was returned with the error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", err, tc.wantMsg)
			}
		})
	}

	t.Run("envelope type the plugin does not support", func(t *testing.T) {
		_, _, err := plugin.GenerateEnvelope(ctx, p, "k1", map[string]string{"keydir": keys}, payload, signature.MediaTypeCOSE, 0)
		var pe *plugin.PluginError
		if !errors.As(err, &pe) || pe.Code != "VALIDATION_ERROR" {
			t.Fatalf("err = %v, want the plugin's VALIDATION_ERROR", err)
		}
	})
	t.Run("plugin without SIGNATURE_GENERATOR.ENVELOPE", func(t *testing.T) {
		raw, err := m.Get(ctx, "com.example.raw")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := plugin.GenerateEnvelope(ctx, raw, "k1", nil, payload, signature.MediaTypeJWS, 0); !errors.Is(err, plugin.ErrUnsupportedCapability) {
			t.Fatalf("err = %v, want ErrUnsupportedCapability", err)
		}
	})
	for _, bad := range []struct {
		name      string
		payload   []byte
		mediaType string
		expiry    time.Duration
	}{
		{name: "unknown envelope type", payload: payload, mediaType: "application/pgp-signature"},
		{name: "fractional expiry", payload: payload, mediaType: signature.MediaTypeJWS, expiry: 1500 * time.Millisecond},
		{name: "negative expiry", payload: payload, mediaType: signature.MediaTypeJWS, expiry: -time.Second},
		{name: "payload without targetArtifact", payload: []byte(`{"subject":{}}`), mediaType: signature.MediaTypeJWS},
		{name: "payload not JSON", payload: []byte(`{"targetArtifact":`), mediaType: signature.MediaTypeJWS},
	} {
		t.Run(bad.name, func(t *testing.T) {
			_, _, err := plugin.GenerateEnvelope(ctx, p, "k1", map[string]string{"keydir": keys}, bad.payload, bad.mediaType, bad.expiry)
			if !errors.Is(err, plugin.ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

// §7.4 with COSE: the envelope a plugin returns is opened as COSE, whose
// payload is opaque bytes to the format, so the host's own payload
// comparison is what refuses a changed or ambiguous (duplicate member)
// payload. The envelopes are made with signet's COSE encoder and served by
// a recording executor.
func TestGenerateEnvelopeCOSE(t *testing.T) {
	chain := testpki.NewChain(t, "ec-384")
	local, err := signer.NewLocal(chain.Leaf.Key, chain.Certs())
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := testPayload(t)
	ctx := context.Background()
	cose, _ := envelope.ForMediaType(signature.MediaTypeCOSE)
	sign := func(p []byte) []byte {
		now := time.Now().Truncate(time.Second)
		raw, err := envelope.Sign(ctx, cose, &signature.SignRequest{Payload: p, Signer: local, SigningTime: now})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	changed := strings.Replace(string(payload), `"size":528`, `"size":529`, 1)
	duplicate := strings.Replace(string(payload), `"size":528`, `"size":529,"size":528`, 1)
	if changed == string(payload) || duplicate == string(payload) {
		t.Fatalf("payload %s has no size 528", payload)
	}
	tests := []struct {
		name    string
		signed  []byte
		wantErr string // "" when accepted
	}{
		{name: "payload as requested", signed: payload},
		{name: "size changed", signed: []byte(changed), wantErr: `changes "size"`},
		{name: "size given twice, the last one as requested", signed: []byte(duplicate), wantErr: `duplicate member "size"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := json.Marshal(map[string]any{"signatureEnvelope": sign(tc.signed), "signatureEnvelopeType": signature.MediaTypeCOSE})
			rec := &recorder{responses: map[proto.Command]string{
				proto.CommandGetMetadata:      `{"name":"com.example.cose","description":"d","version":"1.0.0","url":"u","supportedContractVersions":["1.0"],"capabilities":["SIGNATURE_GENERATOR.ENVELOPE"]}`,
				proto.CommandGenerateEnvelope: string(resp),
			}}
			p, err := fakeManager(t, "com.example.cose", rec).Get(ctx, "com.example.cose")
			if err != nil {
				t.Fatal(err)
			}
			env, ann, err := plugin.GenerateEnvelope(ctx, p, "k", nil, payload, signature.MediaTypeCOSE, time.Hour)
			if tc.wantErr != "" {
				if !errors.Is(err, plugin.ErrInvalidResponse) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidResponse containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(env) == 0 || ann != nil {
				t.Fatalf("GenerateEnvelope = %d bytes, %v, %v", len(env), ann, err)
			}
			var req proto.GenerateEnvelopeRequest
			if err := proto.Decode([]byte(rec.requests[1]), &req); err != nil {
				t.Fatal(err)
			}
			if req.ExpiryDurationInSeconds != 3600 || req.SignatureEnvelopeType != signature.MediaTypeCOSE || string(req.Payload) != string(payload) || req.KeyID != "k" {
				t.Errorf("request = %+v", req)
			}
		})
	}
}
