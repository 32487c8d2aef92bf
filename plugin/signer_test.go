package plugin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
)

// signRequest is a sign request over a fixed payload for signer s.
func signRequest(t *testing.T, s signature.Signer) *signature.SignRequest {
	t.Helper()
	payload := []byte(`{"targetArtifact":{"digest":"sha256:0b4a8de2c5bd1e06d2e1d9f1c1a46e2f3a1f8e2a5f5f0c3d93a0e8c8d1e7a6b3","mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234}}`)
	now := time.Now().Truncate(time.Second)
	return &signature.SignRequest{Payload: payload, Signer: s, SigningTime: now, Expiry: now.Add(time.Hour)}
}

// §7.7 RAW: a signer over a RAW plugin signs JWS and COSE envelopes that
// open and carry the plugin's chain, for RSA and EC keys of every hash
// size (the plugin is told the hash the key spec implies, ALG-2); the
// same with the plugin built on the public SDK.
func TestSignerSignsEnvelopes(t *testing.T) {
	ids := map[string]testpki.KeyType{"rsa2048": "rsa-2048", "rsa3072": "rsa-3072", "ec256": "ec-256", "ec384": "ec-384", "ec521": "ec-521"}
	keys, chains := keyDir(t, ids)
	m := newManager(t, "com.example.raw")
	if bins.sdkErr == nil {
		install(t, m.Dir, "io.signet.sdktest", bins.sdk)
	}
	ctx := context.Background()
	for _, pluginName := range []string{"com.example.raw", "io.signet.sdktest"} {
		t.Run(pluginName, func(t *testing.T) {
			if pluginName == "io.signet.sdktest" {
				needSDK(t)
			}
			p, err := m.Get(ctx, pluginName)
			if err != nil {
				t.Fatal(err)
			}
			for id, kt := range ids {
				for _, mediaType := range []string{signature.MediaTypeJWS, signature.MediaTypeCOSE} {
					t.Run(id+"/"+mediaType, func(t *testing.T) {
						s, err := plugin.NewSigner(ctx, p, id, map[string]string{"keydir": keys})
						if err != nil {
							t.Fatal(err)
						}
						spec, _ := s.KeySpec(ctx)
						if want, _ := signature.KeySpecFromCertificate(chains[id].Leaf.Cert); spec != want {
							t.Errorf("KeySpec = %v, want %v (%s)", spec, want, kt)
						}
						f, err := envelope.ForMediaType(mediaType)
						if err != nil {
							t.Fatal(err)
						}
						raw, err := envelope.Sign(ctx, f, signRequest(t, s))
						if err != nil {
							t.Fatal(err)
						}
						c, err := envelope.Open(f, raw)
						if err != nil {
							t.Fatal(err)
						}
						if len(c.CertificateChain) != 3 || !c.CertificateChain[0].Equal(chains[id].Leaf.Cert) {
							t.Error("envelope does not carry the plugin's chain")
						}
						if c.Algorithm != spec.Algorithm() {
							t.Errorf("algorithm = %v, want %v", c.Algorithm, spec.Algorithm())
						}
					})
				}
			}
		})
	}
}

// §7.4 generate-signature caller checks: every response that does not
// answer the request, or whose signature or chain is wrong, is refused.
func TestSignerRefusesBadSignatures(t *testing.T) {
	keys, _ := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256", "r1": "rsa-2048", "other": "ec-384"})
	m := newManager(t, "com.example.raw", "com.example.envelope")
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	message := []byte("eyJhbGciOiJFUzI1NiJ9.eyJ0YXJnZXRBcnRpZmFjdCI6e319")
	tests := []struct {
		name    string
		key     string
		mode    string
		wantErr error
		wantMsg string
	}{
		{name: "keyId not echoed", key: "k1", mode: "wrongkeyid", wantErr: plugin.ErrInvalidResponse, wantMsg: `the response is for key "someone-else", not the requested "k1"`},
		{name: "signature over another payload", key: "k1", mode: "otherpayload", wantErr: plugin.ErrInvalidResponse, wantMsg: "does not verify over the message"},
		{name: "RSA signature over another payload", key: "r1", mode: "otherpayload", wantErr: plugin.ErrInvalidResponse, wantMsg: "does not verify over the message"},
		{name: "signing algorithm disagrees with the key spec", key: "k1", mode: "wrongalg", wantErr: plugin.ErrInvalidResponse, wantMsg: "does not match key spec EC-256"},
		{name: "chain of another key", key: "k1", mode: "otherkey", wantErr: plugin.ErrInvalidResponse, wantMsg: "holds a EC-384 key but describe-key reported EC-256"},
		{name: "certificate is not DER", key: "k1", mode: "badcert", wantErr: plugin.ErrInvalidResponse, wantMsg: "certificateChain[0] is not an X.509 certificate"},
		{name: "chain without its CAs", key: "k1", mode: "leafonly", wantErr: plugin.ErrInvalidResponse, wantMsg: "CERT-"},
		{name: "ECDSA signature in DER, not r||s", key: "k1", mode: "dersig", wantErr: plugin.ErrInvalidResponse, wantMsg: "r||s"},
		{name: "RSASSA-PSS with maximum salt length", key: "r1", mode: "maxsalt", wantErr: plugin.ErrInvalidResponse, wantMsg: "does not verify"},
		{name: "no certificate chain", key: "k1", mode: "nochain", wantErr: plugin.ErrMalformedResponse, wantMsg: "certificateChain cannot be empty"},
		{name: "unknown key (the plugin refuses)", key: "absent", wantMsg: "(VALIDATION_ERROR)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{"keydir": keys, "mode": tc.mode, "otherkey": "other"}
			s, err := plugin.NewSigner(ctx, p, tc.key, cfg)
			if err == nil {
				var sig []byte
				sig, err = s.Sign(ctx, message)
				if err == nil {
					t.Fatalf("Sign accepted %x", sig)
				}
			}
			var pe *plugin.PluginError
			if tc.wantErr == nil {
				if !errors.As(err, &pe) {
					t.Fatalf("err = %v, want a *PluginError", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", err, tc.wantMsg)
			}
		})
	}

	// Control: the same key and message without a fault signs.
	s, err := plugin.NewSigner(ctx, p, "k1", map[string]string{"keydir": keys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign(ctx, message); err != nil {
		t.Fatalf("good plugin: %v", err)
	}
}

// describe-key checks (§7.4): the response echoes the keyId and names a
// known key spec; a key spec the certificate contradicts is caught at the
// first signature.
func TestSignerDescribeKeyChecks(t *testing.T) {
	keys, _ := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256"})
	m := newManager(t, "com.example.raw", "com.example.envelope")
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		mode    string
		wantErr error
		wantMsg string
	}{
		{mode: "describe-wrongkeyid", wantErr: plugin.ErrInvalidResponse, wantMsg: `describes key "k1-other", not the requested "k1"`},
		{mode: "describe-unknownspec", wantErr: plugin.ErrMalformedResponse, wantMsg: `keySpec "RSA-1024"`},
		// The plugin then refuses its own wrong key spec in
		// generate-signature (wantErr nil: a *PluginError).
		{mode: "describe-otherspec", wantMsg: "generate-signature: the plugin rejected the request as invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := map[string]string{"keydir": keys, "mode": tc.mode}
			s, err := plugin.NewSigner(ctx, p, "k1", cfg)
			if err == nil {
				// The key spec the plugin claimed is used in the request;
				// the plugin refuses it or the certificate contradicts it.
				_, err = s.CertificateChain(ctx)
			}
			var pe *plugin.PluginError
			switch {
			case tc.wantErr == nil && !errors.As(err, &pe):
				t.Fatalf("err = %v, want a *PluginError", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", err, tc.wantMsg)
			}
		})
	}

	env, err := m.Get(ctx, "com.example.envelope")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plugin.NewSigner(ctx, env, "k1", map[string]string{"keydir": keys}); !errors.Is(err, plugin.ErrUnsupportedCapability) {
		t.Errorf("NewSigner on an ENVELOPE-only plugin = %v, want ErrUnsupportedCapability", err)
	}
}

// The certificate chain is needed before the signature (envelope.Sign asks
// for it first): the signer probes once, and every later response must
// carry the same chain.
func TestSignerChainIsStable(t *testing.T) {
	// "other" is of the same key spec with its own chain, so only the
	// chain comparison can tell the responses apart.
	keys, chains := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256", "other": "ec-256"})
	m := newManager(t, "com.example.raw")
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	s, err := plugin.NewSigner(ctx, p, "k1", map[string]string{"keydir": keys})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := s.CertificateChain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 3 || !chain[0].Equal(chains["k1"].Leaf.Cert) || !chain[2].Equal(chains["k1"].Root.Cert) {
		t.Fatalf("chain = %v", chain)
	}
	chain[0] = nil // the caller's copy
	if again, _ := s.CertificateChain(ctx); again[0] == nil {
		t.Error("CertificateChain returned the signer's own slice")
	}

	// A plugin whose key changes between calls: the first signature comes
	// from k1, the second from the other key with its own valid chain.
	rot, err := plugin.NewSigner(ctx, p, "k1", map[string]string{"keydir": keys, "mode": "rotate", "otherkey": "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rot.Sign(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	_, err = rot.Sign(ctx, []byte("second"))
	if !errors.Is(err, plugin.ErrInvalidResponse) || !strings.Contains(err.Error(), "differs from the one the plugin returned earlier") {
		t.Fatalf("rotating key: err = %v", err)
	}

	// An envelope costs the plugin exactly one signature (no probe): with a
	// fresh rotating signer, signing an envelope never reaches the second
	// key.
	once, err := plugin.NewSigner(ctx, p, "k1", map[string]string{"keydir": keys, "mode": "rotate", "otherkey": "other"})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	env, err := envelope.Sign(ctx, f, signRequest(t, once))
	if err != nil {
		t.Fatalf("envelope through a plugin signed more than once: %v", err)
	}
	if c, err := envelope.Open(f, env); err != nil || !c.CertificateChain[0].Equal(chains["k1"].Leaf.Cert) {
		t.Fatalf("envelope chain: %v", err)
	}
}

// PCFG-1: pluginConfig reaches every request verbatim (the test plugin
// finds its keys through it); the host asks for the hash the key implies
// and the base64 of the message (PROC-7), as the recording executor shows.
func TestSignerRequestOnTheWire(t *testing.T) {
	rec := &recorder{responses: map[proto.Command]string{
		proto.CommandGetMetadata: `{"name":"com.example.rec","description":"d","version":"1.0.0","url":"u","supportedContractVersions":["1.0"],"capabilities":["SIGNATURE_GENERATOR.RAW"]}`,
		proto.CommandDescribeKey: `{"keyId":"k","keySpec":"RSA-3072"}`,
	}}
	m := fakeManager(t, "com.example.rec", rec)
	ctx := context.Background()
	p, err := m.Get(ctx, "com.example.rec")
	if err != nil {
		t.Fatal(err)
	}
	s, err := plugin.NewSigner(ctx, p, "k", map[string]string{"region": "eu", "vault": "v1"})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Sign(ctx, []byte("hdr.payload")) // the recorder answers with an error
	want := []string{
		`{}`,
		`{"contractVersion":"1.0","keyId":"k","pluginConfig":{"region":"eu","vault":"v1"}}`,
		`{"contractVersion":"1.0","keyId":"k","keySpec":"RSA-3072","hashAlgorithm":"SHA-384","payload":"aGRyLnBheWxvYWQ=","pluginConfig":{"region":"eu","vault":"v1"}}`,
	}
	if len(rec.requests) != len(want) {
		t.Fatalf("requests = %q", rec.requests)
	}
	for i, w := range want {
		if rec.requests[i] != w {
			t.Errorf("request %d (%s) = %s, want %s", i, rec.commands[i], rec.requests[i], w)
		}
	}
}

// BenchmarkPluginSign measures signing one JWS envelope through the RAW
// test plugin: get-plugin-metadata, describe-key and two generate-signature
// processes (the chain probe and the signature).
func BenchmarkPluginSign(b *testing.B) {
	keys, _ := keyDir(b, map[string]testpki.KeyType{"k1": "ec-256"})
	m := newManager(b, "com.example.raw")
	ctx := context.Background()
	f, _ := envelope.ForMediaType(signature.MediaTypeJWS)
	now := time.Now().Truncate(time.Second)
	payload := []byte(`{"targetArtifact":{"digest":"sha256:0b4a8de2c5bd1e06d2e1d9f1c1a46e2f3a1f8e2a5f5f0c3d93a0e8c8d1e7a6b3","mediaType":"application/vnd.oci.image.manifest.v1+json","size":1234}}`)
	for b.Loop() {
		p, err := m.Get(ctx, "com.example.raw")
		if err != nil {
			b.Fatal(err)
		}
		s, err := plugin.NewSigner(ctx, p, "k1", map[string]string{"keydir": keys})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := envelope.Sign(ctx, f, &signature.SignRequest{Payload: payload, Signer: s, SigningTime: now}); err != nil {
			b.Fatal(err)
		}
	}
}
