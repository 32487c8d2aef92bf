package timestamp

import (
	"crypto"
	"crypto/x509"
	"errors"
	"testing"
)

// fuzzSeeds makes real tokens and replies with openssl for the fuzz
// targets' seed corpora: two EC TSAs (with and without an intermediate), a
// reply with the v1 signing-certificate attribute, a rejection, and a
// cms-signed token without any signing-certificate attribute. EC keys only:
// every fuzz worker runs this setup in a coverage-instrumented binary, where
// RSA key generation takes tens of seconds.
type fuzzSeeds struct {
	sig     []byte
	roots   []*x509.Certificate
	tokens  [][]byte
	replies [][]byte
}

func newFuzzSeeds(f *testing.F) *fuzzSeeds {
	f.Helper()
	opensslBin(f)
	s := &fuzzSeeds{sig: randomSig(f, 64)}
	p1 := newTSAPKI(f, pkiOptions{LeafKey: "ec-384"})
	ec := newTSAPKI(f, pkiOptions{LeafKey: "ec-256", NoIntermediate: true, Name: "ec tsa"})
	s.roots = []*x509.Certificate{p1.Root.Cert, ec.Root.Cert}
	for _, c := range []struct {
		pki  *tsaPKI
		cfg  tsaConfig
		hash crypto.Hash
	}{
		{p1, tsaConfig{Accuracy: "secs:1, millisecs:5", Policy: "0.4.0.2023.1.1"}, crypto.SHA256},
		{ec, tsaConfig{ESSCertIDAlg: "sha384", ChainWithLeaf: true}, crypto.SHA384},
		{ec, tsaConfig{ESSCertIDAlg: "sha1"}, crypto.SHA512},
		{ec, tsaConfig{Digests: "sha256"}, crypto.SHA512}, // rejected: badAlg
	} {
		q, err := newQuery(&Request{Signature: s.sig, Hash: c.hash})
		if err != nil {
			f.Fatal(err)
		}
		reply := newOpenSSLTSA(f, c.pki, c.cfg).Reply(q.der)
		s.replies = append(s.replies, reply)
		var resp timeStampResp
		if err := unmarshalDER(reply, &resp); err != nil {
			f.Fatal(err)
		}
		if len(resp.TimeStampToken.FullBytes) > 0 {
			s.tokens = append(s.tokens, resp.TimeStampToken.FullBytes)
		}
	}
	tok, err := ParseToken(s.tokens[0])
	if err != nil {
		f.Fatal(err)
	}
	s.tokens = append(s.tokens, cmsSign(f, p1, tok.p7.Content, cmsOptions{}))
	return s
}

// FuzzParseToken: no input makes ParseToken or Verify panic; ParseToken
// either returns a token or an ErrMalformedToken, never both.
//
// Run it with a bounded minimization, e.g.
//
//	go test -run '^$' -fuzz FuzzParseToken -fuzztime 30s -fuzzminimizetime 500x ./timestamp
//
// The default minimizes each new near-valid token (a Verify, with its
// chain building, per try) for up to a minute, and the fuzzer then reports
// no progress at all while it does.
func FuzzParseToken(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, tok := range s.tokens {
		f.Add(tok)
	}
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := ParseToken(der)
		if err != nil {
			if tok != nil || !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("token %v, err %v", tok != nil, err)
			}
			return
		}
		rng, chain, err := tok.Verify(s.sig, s.roots, VerifyOptions{})
		if err == nil && (len(chain) == 0 || rng.GenTime.IsZero()) {
			t.Fatalf("verified with range %v and %d certificates", rng, len(chain))
		}
		for _, c := range tok.Certificates {
			_ = tok.Info.Range().Within(c)
		}
	})
}

// FuzzParseResponse: no TSA answer makes the client's response parsing
// panic; every failure is one of the documented errors.
func FuzzParseResponse(f *testing.F) {
	s := newFuzzSeeds(f)
	for _, r := range s.replies {
		f.Add(r)
	}
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x02})
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := parseResponse(der)
		if err != nil {
			if tok != nil {
				t.Fatal("token and error")
			}
			if !errors.Is(err, ErrMalformedResponse) && !errors.Is(err, ErrRejected) && !errors.Is(err, ErrMalformedToken) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		_, _ = tok.verifySigner()
	})
}
