package timestamp

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// randomSig stands in for an envelope's primitive signature bytes.
func randomSig(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTimestampOpenSSL: the client gets a token from a real TSA (openssl ts
// -reply) for each imprint hash and TSA key, and the token verifies against
// the TSA root (TSA-1..3, TSA-5..7, TSACERT-1..4, ALG-4); openssl ts
// -verify agrees the token covers the signature bytes.
func TestTimestampOpenSSL(t *testing.T) {
	opensslBin(t)
	tests := []struct {
		name    string
		hash    crypto.Hash
		leafKey testpki.KeyType
		cfg     tsaConfig
		essHash crypto.Hash // signing-certificate-v2 hash; 0 means SHA-256
	}{
		{name: "SHA-256 imprint, RSA-2048 TSA", hash: crypto.SHA256, leafKey: "rsa-2048"},
		{name: "SHA-384 imprint, RSA-3072 TSA, SHA-384 signer digest", hash: crypto.SHA384, leafKey: "rsa-3072", cfg: tsaConfig{SignerDigest: "sha384"}},
		{name: "SHA-512 imprint, RSA-4096 TSA, SHA-512 signer digest", hash: crypto.SHA512, leafKey: "rsa-4096", cfg: tsaConfig{SignerDigest: "sha512"}},
		{name: "SHA-256 imprint, EC P-256 TSA", hash: crypto.SHA256, leafKey: "ec-256"},
		{name: "SHA-384 imprint, EC P-384 TSA", hash: crypto.SHA384, leafKey: "ec-384", cfg: tsaConfig{SignerDigest: "sha384"}},
		{name: "SHA-512 imprint, EC P-521 TSA", hash: crypto.SHA512, leafKey: "ec-521", cfg: tsaConfig{SignerDigest: "sha512"}},
		{name: "signing-certificate-v2 with a SHA-384 certificate hash", hash: crypto.SHA256, leafKey: "ec-256", cfg: tsaConfig{ESSCertIDAlg: "sha384"}, essHash: crypto.SHA384},
		{name: "signing-certificate-v2 with a SHA-512 certificate hash", hash: crypto.SHA256, leafKey: "ec-256", cfg: tsaConfig{ESSCertIDAlg: "sha512"}, essHash: crypto.SHA512},
		{name: "TSA certificate embedded twice", hash: crypto.SHA256, leafKey: "rsa-2048", cfg: tsaConfig{ChainWithLeaf: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pki := newTSAPKI(t, pkiOptions{LeafKey: tc.leafKey})
			sig := randomSig(t, 256)
			before := time.Now().Truncate(time.Second)
			tok := opensslToken(t, pki, tc.cfg, sig, tc.hash)
			after := time.Now()

			if tok.Info.Hash != tc.hash {
				t.Errorf("imprint hash %v, want %v", tok.Info.Hash, tc.hash)
			}
			wantEss := tc.essHash
			if wantEss == 0 {
				wantEss = crypto.SHA256
			}
			if got := essCertHash(t, tok); got != wantEss {
				t.Errorf("signing-certificate-v2 hash %v, want %v", got, wantEss)
			}
			wantCerts := 3
			if tc.cfg.ChainWithLeaf {
				wantCerts = 4
			}
			if len(tok.Certificates) != wantCerts {
				t.Errorf("token embeds %d certificates, want %d", len(tok.Certificates), wantCerts)
			}
			rng, chain, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{Hash: tc.hash})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rng.GenTime.Before(before) || rng.GenTime.After(after) {
				t.Errorf("genTime %v outside [%v, %v]", rng.GenTime, before, after)
			}
			if rng.Accuracy != 0 {
				t.Errorf("accuracy %v, want 0 (no accuracy field, non-baseline policy)", rng.Accuracy)
			}
			want := pki.Chain()
			if len(chain) != len(want) {
				t.Fatalf("chain of %d certificates, want %d", len(chain), len(want))
			}
			for i := range want {
				if !chain[i].Equal(want[i]) {
					t.Errorf("chain[%d] = %q, want %q", i, chain[i].Subject, want[i].Subject)
				}
			}
			// The raw token re-parses to the same thing.
			again, err := ParseToken(tok.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := again.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{}); err != nil {
				t.Errorf("re-parsed token: %v", err)
			}
			// The peer agrees: openssl ts -verify over the same bytes.
			dir := t.TempDir()
			for name, data := range map[string][]byte{"sig.bin": sig, "tok.der": tok.Raw, "root.pem": testpki.CertsPEM(pki.Root.Cert)} {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			runOpenSSL(t, dir, "ts", "-verify", "-data", "sig.bin", "-in", "tok.der", "-token_in", "-CAfile", "root.pem")
		})
	}
}

// TestVerifyWrongHashOption: VerifyOptions.Hash pins the imprint hash
// (signing side, ALG-4); the zero value accepts any of the three.
func TestVerifyWrongHashOption(t *testing.T) {
	opensslBin(t)
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	sig := randomSig(t, 64)
	tok := opensslToken(t, pki, tsaConfig{}, sig, crypto.SHA384)
	if _, _, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{Hash: crypto.SHA256}); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("Hash SHA-256 for a SHA-384 token: %v, want ErrUnsupportedHash", err)
	}
	if _, _, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{}); err != nil {
		t.Errorf("zero options: %v", err)
	}
}
