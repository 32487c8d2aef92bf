package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
)

// TestKeyVerifierMatchesSigstore: the verifiers that replace
// sigstore/sigstore's pkg/signature give its verdict on signatures by each
// key type it loads by default, good, over another message, re-encoded
// (ECDSA as IEEE P1363 r||s) and over a digest; keys it does not load by
// default (RSA-1024, P-224) get no verifier.
func TestKeyVerifierMatchesSigstore(t *testing.T) {
	gen := func(f func() (crypto.PrivateKey, error)) crypto.PrivateKey {
		k, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keys := []struct {
		name string
		priv crypto.PrivateKey
	}{
		{"ecdsa-p256", gen(func() (crypto.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })},
		{"ecdsa-p384", gen(func() (crypto.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) })},
		{"ecdsa-p521", gen(func() (crypto.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P521(), rand.Reader) })},
		{"rsa-2048", gen(func() (crypto.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })},
		{"ed25519", gen(func() (crypto.PrivateKey, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err })},
	}
	msg := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
	for _, k := range keys {
		t.Run(k.name, func(t *testing.T) {
			sv, err := signature.LoadDefaultSignerVerifier(k.priv)
			if err != nil {
				t.Fatal(err)
			}
			pub, _ := sv.PublicKey()
			sig, err := sv.SignMessage(bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			ref, err := signature.LoadDefaultVerifier(pub)
			if err != nil {
				t.Fatal(err)
			}
			mine := signatureVerifiers(pub)
			if len(mine) == 0 {
				t.Fatal("no verifier")
			}
			cases := []struct {
				name     string
				sig, msg []byte
			}{
				{"good", sig, msg},
				{"other message", sig, append(bytes.Clone(msg), '!')},
				{"truncated signature", sig[:len(sig)-1], msg},
			}
			if ek, ok := k.priv.(*ecdsa.PrivateKey); ok {
				var rs struct{ R, S *big.Int }
				if _, err := asn1.Unmarshal(sig, &rs); err != nil {
					t.Fatal(err)
				}
				n := (ek.Curve.Params().BitSize + 7) / 8
				p1363 := append(rs.R.FillBytes(make([]byte, n)), rs.S.FillBytes(make([]byte, n))...)
				cases = append(cases, struct {
					name     string
					sig, msg []byte
				}{"IEEE P1363", p1363, msg})
			}
			for _, c := range cases {
				want := ref.VerifySignature(bytes.NewReader(c.sig), bytes.NewReader(c.msg)) == nil
				if want != (c.name == "good" || c.name == "IEEE P1363") {
					t.Fatalf("%s: sigstore verified %v", c.name, want)
				}
				if got := mine[0].verify(c.sig, c.msg) == nil; got != want {
					t.Errorf("%s: verified %v, sigstore %v", c.name, got, want)
				}
			}
			// Over a SHA-256 digest (a bundle's message signature).
			d := sha256.Sum256(msg)
			sv256, err := signature.LoadVerifier(pub, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			sig256, err := signature.LoadSignerVerifier(k.priv, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			dsig, err := sig256.SignMessage(bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			want := sv256.VerifySignature(bytes.NewReader(dsig), nil, options.WithDigest(d[:])) == nil
			if _, ed := pub.(ed25519.PublicKey); want == ed {
				t.Fatalf("digest: sigstore verified %v", want)
			}
			if got := (keyVerifier{key: pub, hash: crypto.SHA256}).verifyDigest(dsig, d[:]) == nil; got != want {
				t.Errorf("digest: verified %v, sigstore %v", got, want)
			}
		})
	}
	for _, k := range []struct {
		name string
		pub  crypto.PublicKey
	}{
		{"rsa-1024", &gen(func() (crypto.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 1024) }).(*rsa.PrivateKey).PublicKey},
		{"ecdsa-p224", &gen(func() (crypto.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P224(), rand.Reader) }).(*ecdsa.PrivateKey).PublicKey},
	} {
		if _, err := signature.LoadDefaultVerifier(k.pub); err == nil {
			t.Errorf("%s: sigstore loads a default verifier", k.name)
		}
		if v := signatureVerifiers(k.pub); len(v) != 0 {
			t.Errorf("%s: %d verifiers, want none", k.name, len(v))
		}
	}
}
