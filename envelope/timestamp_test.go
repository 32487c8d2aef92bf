package envelope_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/envelope/internal/envtest"
	"github.com/signet-dev/signet/signature"
)

// TestAddTimestamp: a token is embedded in the unprotected header (JWS:
// standard base64 under io.cncf.notary.timestampSignature; COSE: bstr) and
// nothing signed changes (SIGN-5, UATTR-2, JWS-6, COSE-4).
func TestAddTimestamp(t *testing.T) {
	s, _ := envtest.NewSigner(t, signature.KeySpecEC384)
	token := []byte("\x30\x82\x01\x00 not a real token, but bytes with + and / in base64 \xfb\xff")
	for _, f := range formats {
		t.Run(f.MediaType(), func(t *testing.T) {
			raw, err := envelope.Sign(context.Background(), f, envtest.Request(s))
			if err != nil {
				t.Fatal(err)
			}
			before, err := envelope.Open(f, raw)
			if err != nil {
				t.Fatal(err)
			}
			stamped, err := envelope.AddTimestamp(f, raw, token)
			if err != nil {
				t.Fatal(err)
			}
			after, err := envelope.Open(f, stamped)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(after.Unsigned.TimestampSignature, token) {
				t.Fatalf("token %q", after.Unsigned.TimestampSignature)
			}
			if !signedEqual(before, after) || after.Unsigned.SigningAgent != before.Unsigned.SigningAgent {
				t.Fatal("signed content changed")
			}
			if f.MediaType() == signature.MediaTypeJWS {
				var m struct {
					Header map[string]any `json:"header"`
				}
				if err := json.Unmarshal(stamped, &m); err != nil {
					t.Fatal(err)
				}
				if m.Header[signature.HeaderTimestampSignature] != base64.StdEncoding.EncodeToString(token) {
					t.Fatalf("header value %v", m.Header[signature.HeaderTimestampSignature])
				}
			}
			again, err := envelope.AddTimestamp(f, stamped, []byte("second"))
			if err != nil {
				t.Fatal(err)
			}
			if c, err := envelope.Open(f, again); err != nil || string(c.Unsigned.TimestampSignature) != "second" {
				t.Fatalf("replacing the token: %v", err)
			}
			if _, err := envelope.AddTimestamp(f, raw, nil); err == nil {
				t.Error("empty token accepted")
			}
			bad := append([]byte{}, raw...)
			bad[len(bad)-3] ^= 0x01
			if _, err := envelope.AddTimestamp(f, bad, token); err == nil {
				t.Error("invalid envelope timestamped")
			}
		})
	}
}
