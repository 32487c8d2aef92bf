package timestamp

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/signature"
)

// TestVerifyFaults: each fault of a token or its TSA chain is an
// authentic-timestamp failure with its own error (TSA-5..7, TSACERT-1..4,
// TC-18). Tokens come from openssl ts -reply, or from openssl cms -sign
// over a real openssl TSTInfo where openssl ts refuses the fault.
func TestVerifyFaults(t *testing.T) {
	opensslBin(t)
	good := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	other := newTSAPKI(t, pkiOptions{LeafKey: "ec-256", Name: "other tsa"})
	sig := randomSig(t, 128)
	realTok := opensslToken(t, good, tsaConfig{}, sig, crypto.SHA256)
	tstInfoDER := realTok.p7.Content

	// fromCMS re-signs the real TSTInfo with pki's leaf.
	fromCMS := func(pki *tsaPKI, o cmsOptions) []byte { return cmsSign(t, pki, tstInfoDER, o) }
	ekuLeaf := func(critical bool, oids ...asn1.ObjectIdentifier) *tsaPKI {
		return newTSAPKI(t, pkiOptions{LeafKey: "ec-256", Name: "bad eku", Modify: func(c *x509.Certificate) {
			c.ExtraExtensions = []pkix.Extension{ekuExt(t, critical, oids...)}
		}})
	}
	// fromCMSAt signs a copy of the real TSTInfo with genTime moved to at,
	// so that genTime and the signing-time attribute (now) differ.
	fromCMSAt := func(pki *tsaPKI, at time.Time) []byte {
		var v tstInfo
		if err := unmarshalDER(tstInfoDER, &v); err != nil {
			t.Fatal(err)
		}
		v.GenTime = genTimeRaw(at.UTC().Format("20060102150405Z"))
		return cmsSign(t, pki, marshalTSTInfo(t, v), cmsOptions{CAdES: true})
	}
	// swapSigAlg rewrites the signer's ecdsa-with-SHA256 into
	// ecdsa-with-SHA384 (same length, still DER), leaving the SHA-256 digest
	// algorithm: the signature algorithm no longer matches the digest.
	swapSigAlg := func(tok []byte) []byte {
		from := mustMarshal(t, oidECDSAWithSHA256)
		to := mustMarshal(t, oidECDSAWithSHA384)
		if bytes.Count(tok, from) == 0 {
			t.Fatal("ecdsa-with-SHA256 not found in the token")
		}
		// The signer's algorithm comes after the certificates: replace the
		// last occurrence.
		i := bytes.LastIndex(tok, from)
		d := bytes.Clone(tok)
		copy(d[i:], to)
		return d
	}
	tamper := func(tok []byte) []byte {
		// Flip the last byte of the message imprint inside the signed
		// TSTInfo: still DER, no longer what the TSA signed.
		d := bytes.Clone(tok)
		i := bytes.Index(d, realTok.Info.HashedMessage)
		if i < 0 {
			t.Fatal("imprint not found in the token")
		}
		d[i+len(realTok.Info.HashedMessage)-1] ^= 1
		return d
	}
	notYetValid := newTSAPKI(t, pkiOptions{LeafKey: "ec-256", Name: "future tsa", Modify: func(c *x509.Certificate) {
		c.NotBefore = time.Now().Add(time.Hour)
	}})
	expired := newTSAPKI(t, pkiOptions{LeafKey: "ec-256", Name: "expired tsa", Modify: func(c *x509.Certificate) {
		c.NotBefore = time.Now().Add(-3 * time.Hour)
		c.NotAfter = time.Now().Add(-2 * time.Hour)
	}})
	rsaTSA := newTSAPKI(t, pkiOptions{LeafKey: "rsa-2048", Name: "rsa tsa"})
	rsa1024 := newTSAPKI(t, pkiOptions{LeafKey: "rsa-1024", Name: "weak tsa"})

	rootOf := func(p *tsaPKI) []*x509.Certificate { return []*x509.Certificate{p.Root.Cert} }
	badEKU1, badEKU2, badEKU3 := ekuLeaf(false, oidKPTimeStamping), ekuLeaf(true, oidKPTimeStamping, oidKPCodeSigning), ekuLeaf(true, oidKPCodeSigning)
	tests := []struct {
		name  string
		token []byte
		sig   []byte
		roots []*x509.Certificate
		want  error
		rule  string // ChainError rule when want is signature.ErrInvalidChain
	}{
		{name: "valid openssl ts token", token: realTok.Raw},
		{name: "valid openssl cms token with signing-certificate-v2", token: fromCMS(good, cmsOptions{CAdES: true})},
		{name: "valid token, TSA leaf issued by the root directly", token: opensslReplyToken(t, newTSAPKI(t, pkiOptions{NoIntermediate: true, Name: "flat"}), tsaConfig{}, sig, crypto.SHA256),
			roots: nil /* set below */},
		{name: "imprint over the payload instead of the signature (TC-18)", token: realTok.Raw, sig: []byte("payload bytes"), want: ErrImprintMismatch},
		{name: "chains to a root not given (TC-18)", token: realTok.Raw, roots: []*x509.Certificate{other.Root.Cert}, want: ErrUntrustedTSA},
		{name: "no roots (empty tsa store)", token: realTok.Raw, roots: []*x509.Certificate{}, want: ErrUntrustedTSA},
		{name: "a trusted intermediate is not a root (TSACERT-1)", token: realTok.Raw, roots: []*x509.Certificate{good.Intermediate.Cert}, want: signature.ErrInvalidChain, rule: "TSACERT-1"},
		{name: "TSA leaf EKU not critical (TC-18)", token: fromCMS(badEKU1, cmsOptions{CAdES: true}), roots: rootOf(badEKU1), want: signature.ErrInvalidChain, rule: "TSACERT-3"},
		{name: "TSA leaf EKU timeStamping and codeSigning", token: fromCMS(badEKU2, cmsOptions{CAdES: true}), roots: rootOf(badEKU2), want: signature.ErrInvalidChain, rule: "TSACERT-3"},
		{name: "TSA leaf without timeStamping", token: fromCMS(badEKU3, cmsOptions{CAdES: true}), roots: rootOf(badEKU3), want: ErrUntrustedTSA},
		{name: "TSA leaf RSA-1024 (ALG-3)", token: fromCMS(rsa1024, cmsOptions{CAdES: true}), roots: rootOf(rsa1024), want: signature.ErrInvalidChain, rule: "TSACERT-3"},
		{name: "TSA leaf not yet valid when it signed", token: fromCMS(notYetValid, cmsOptions{CAdES: true}), roots: rootOf(notYetValid), want: ErrUntrustedTSA},
		{name: "TSA leaf expired when it signed", token: fromCMS(expired, cmsOptions{CAdES: true}), roots: rootOf(expired), want: ErrUntrustedTSA},
		{name: "genTime before the TSA leaf's validity (TSA-7: chain validated at genTime)", token: fromCMSAt(good, time.Now().Add(-2*time.Hour)), want: ErrUntrustedTSA},
		{name: "genTime inside the TSA leaf's validity, signed now", token: fromCMSAt(good, time.Now().Add(-30*time.Minute))},
		{name: "signing-certificate (v1) only", token: opensslReplyToken(t, good, tsaConfig{ESSCertIDAlg: "sha1"}, sig, crypto.SHA256), want: ErrMissingSigningCertificateV2},
		{name: "signing-certificate-v2 with a SHA-224 certificate hash", token: opensslReplyToken(t, good, tsaConfig{ESSCertIDAlg: "sha224"}, sig, crypto.SHA256), want: ErrUnsupportedHash},
		{name: "no signing-certificate attribute (TC-18)", token: fromCMS(good, cmsOptions{}), want: ErrMissingSigningCertificateV2},
		{name: "no certificates in the token", token: fromCMS(good, cmsOptions{CAdES: true, NoCerts: true}), want: ErrSignerCertificate},
		{name: "TSTInfo altered after signing", token: tamper(realTok.Raw), want: ErrInvalidSignature},
		{name: "RSA PKCS #1 v1.5 signer", token: fromCMS(rsaTSA, cmsOptions{CAdES: true}), roots: rootOf(rsaTSA)},
		{name: "RSASSA-PSS signer (not supported, unlike the reference)", token: fromCMS(rsaTSA, cmsOptions{CAdES: true, KeyOpts: []string{"rsa_padding_mode:pss"}}), roots: rootOf(rsaTSA), want: ErrInvalidSignature},
		{name: "signature algorithm names another hash than the digest", token: swapSigAlg(realTok.Raw), want: ErrInvalidSignature},
		{name: "CMS digest SHA-1", token: fromCMS(good, cmsOptions{CAdES: true, Digest: "sha1"}), want: ErrUnsupportedHash},
	}
	for i := range tests {
		if strings.HasPrefix(tests[i].name, "valid token, TSA leaf issued by the root directly") {
			tok, err := ParseToken(tests[i].token)
			if err != nil {
				t.Fatal(err)
			}
			tests[i].roots = []*x509.Certificate{tok.Certificates[len(tok.Certificates)-1]}
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseToken(tc.token)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			s, roots := tc.sig, tc.roots
			if s == nil {
				s = sig
			}
			if roots == nil {
				roots = []*x509.Certificate{good.Root.Cert}
			}
			rng, chain, err := tok.Verify(s, roots, VerifyOptions{})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if rng.GenTime.IsZero() || len(chain) < 2 {
					t.Errorf("range %v, chain of %d", rng, len(chain))
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
			if chain != nil || !rng.GenTime.IsZero() {
				t.Error("a failed verification returned a range or a chain")
			}
			if tc.rule != "" {
				var ce *signature.ChainError
				if !errors.As(err, &ce) || ce.Rule != tc.rule {
					t.Errorf("err = %v, want a ChainError for %s", err, tc.rule)
				}
			}
		})
	}
}

// TestParseTokenMalformed: ParseToken refuses what is not a DER
// TimeStampToken with one signer and a version 1 TSTInfo in UTC, each as
// ErrMalformedToken.
func TestParseTokenMalformed(t *testing.T) {
	opensslBin(t)
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	sig := randomSig(t, 32)
	realTok := opensslToken(t, pki, tsaConfig{}, sig, crypto.SHA256)
	base := tstInfo{
		Version:        1,
		Policy:         asn1.ObjectIdentifier{1, 2, 3, 4, 1},
		MessageImprint: imprintOf(sig, crypto.SHA256),
		SerialNumber:   big.NewInt(7),
		GenTime:        genTimeRaw(time.Now().UTC().Format("20060102150405Z")),
		Nonce:          big.NewInt(42),
	}
	with := func(f func(*tstInfo)) []byte {
		v := base
		f(&v)
		return cmsSign(t, pki, marshalTSTInfo(t, v), cmsOptions{CAdES: true})
	}
	// Indefinite-length (BER) outer SEQUENCE around the real token's
	// ContentInfo body.
	ber := func() []byte {
		var ci asn1.RawValue
		if _, err := asn1.Unmarshal(realTok.Raw, &ci); err != nil {
			t.Fatal(err)
		}
		out := append([]byte{0x30, 0x80}, ci.Bytes...)
		return append(out, 0, 0)
	}
	tests := []struct {
		name  string
		token []byte
		msg   string
	}{
		{name: "empty", token: nil, msg: "empty"},
		{name: "over MaxTokenBytes", token: append(bytes.Clone(realTok.Raw), make([]byte, MaxTokenBytes)...), msg: "over the limit"},
		{name: "trailing bytes", token: append(bytes.Clone(realTok.Raw), 0), msg: "trailing"},
		{name: "truncated", token: realTok.Raw[:len(realTok.Raw)-1], msg: "ContentInfo"},
		{name: "BER indefinite length", token: ber(), msg: "ContentInfo"},
		{name: "not signedData", token: mustMarshal(t, contentInfo{ContentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{0x04, 0x00}}}), msg: "not signedData"},
		{name: "encapsulated content id-data", token: cmsSign(t, pki, realTok.p7.Content, cmsOptions{CAdES: true, Data: true}), msg: "not id-ct-TSTInfo"},
		{name: "two signers", token: cmsSign(t, pki, realTok.p7.Content, cmsOptions{CAdES: true, CoSigner: newTSAPKI(t, pkiOptions{LeafKey: "ec-256", Name: "co-signer"})}), msg: "2 signers"},
		{name: "TSTInfo version 2", token: with(func(v *tstInfo) { v.Version = 2 }), msg: "version is 2"},
		{name: "genTime with a UTC offset", token: with(func(v *tstInfo) { v.GenTime = genTimeRaw("20261124100000+0100") }), msg: "UTC"},
		{name: "genTime as UTCTime", token: with(func(v *tstInfo) {
			v.GenTime = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagUTCTime, Bytes: []byte("261124100000Z")}
		}), msg: "GeneralizedTime"},
		{name: "accuracy millis 1000", token: with(func(v *tstInfo) { v.Accuracy = accuracy{Millis: 1000} }), msg: "millis"},
		{name: "accuracy seconds negative", token: with(func(v *tstInfo) { v.Accuracy = accuracy{Seconds: -1} }), msg: "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseToken(tc.token)
			if !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("err = %v, want ErrMalformedToken", err)
			}
			if tok != nil {
				t.Error("a token came back with the error")
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not mention %q", err, tc.msg)
			}
		})
	}
	// The crafting itself is sound: the unmodified TSTInfo, signed the same
	// way, parses and verifies.
	tok, err := ParseToken(with(func(*tstInfo) {}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{}); err != nil {
		t.Fatalf("crafted baseline token: %v", err)
	}
	// A SHA-1 imprint parses but does not verify (ALG-4).
	tok, err = ParseToken(with(func(v *tstInfo) {
		v.MessageImprint = messageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}}, HashedMessage: make([]byte, 20)}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{}); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("SHA-1 imprint: %v, want ErrUnsupportedHash", err)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestVerifyConcurrent: one parsed token verified from several goroutines
// (run with -race), and a Token not made by ParseToken is refused.
func TestVerifyConcurrent(t *testing.T) {
	opensslBin(t)
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	sig := randomSig(t, 64)
	tok := opensslToken(t, pki, tsaConfig{Accuracy: "secs:2"}, sig, crypto.SHA256)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			rng, _, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{})
			if err == nil && rng.Accuracy != 2*time.Second {
				err = fmt.Errorf("accuracy %v", rng.Accuracy)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, _, err := (&Token{Raw: tok.Raw, Info: tok.Info}).Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{}); !errors.Is(err, ErrMalformedToken) {
		t.Errorf("hand-made Token: %v, want ErrMalformedToken", err)
	}
}
