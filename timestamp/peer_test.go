package timestamp

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testpki"
)

// This file runs a real TSA: `openssl ts -reply` behind a loopback
// httptest handler, with a TSA PKI made at test time by internal/testpki.
// Tokens with faults openssl ts refuses to make (a TSA certificate whose
// extended key usage breaks RFC 3161 §2.3, no signing-certificate attribute
// at all, no certificates) are signed by `openssl cms -sign`.

var (
	oidExtKeyUsage    = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidKPCodeSigning  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3}
)

// tsaUse is what these tests run openssl as, for peer.OpenSSL's skip message.
const tsaUse = "`openssl ts -reply` as its TSA"

// opensslBin returns the openssl binary, or skips the test (fails it when
// SIGNET_REQUIRE_PEERS=1).
func opensslBin(t testing.TB) string {
	t.Helper()
	return peer.OpenSSL(t, tsaUse)
}

// runOpenSSL runs openssl with args in dir and returns its stdout.
func runOpenSSL(t testing.TB, dir string, args ...string) []byte {
	t.Helper()
	return peer.RunOpenSSL(t, tsaUse, dir, args...)
}

// tsaPKI is a TSA root, an optional intermediate and a TSA leaf.
type tsaPKI struct {
	Root, Intermediate, Leaf *testpki.Issued
}

// Chain returns leaf, intermediate (if any), root.
func (p *tsaPKI) Chain() []*x509.Certificate {
	c := []*x509.Certificate{p.Leaf.Cert}
	if p.Intermediate != nil {
		c = append(c, p.Intermediate.Cert)
	}
	return append(c, p.Root.Cert)
}

// ekuExt encodes an extendedKeyUsage extension; x509.CreateCertificate
// always marks the one it makes non-critical.
func ekuExt(t testing.TB, critical bool, oids ...asn1.ObjectIdentifier) pkix.Extension {
	t.Helper()
	v, err := asn1.Marshal(oids)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: critical, Value: v}
}

// tsaLeafProfile gives a leaf the TSA profile of TSACERT-3: keyUsage
// digitalSignature (critical, testpki's default) and a critical
// extendedKeyUsage holding only id-kp-timeStamping.
func tsaLeafProfile(t testing.TB) func(*x509.Certificate) {
	return func(c *x509.Certificate) {
		c.ExtKeyUsage = nil
		c.ExtraExtensions = []pkix.Extension{ekuExt(t, true, oidKPTimeStamping)}
	}
}

// pkiOptions shape newTSAPKI.
type pkiOptions struct {
	// LeafKey is the TSA leaf's key type; "" means rsa-2048.
	LeafKey testpki.KeyType
	// Modify edits the leaf template after the TSA profile is applied.
	Modify func(*x509.Certificate)
	// NoIntermediate issues the leaf from the root directly.
	NoIntermediate bool
	// Name distinguishes CAs of several PKIs in one test.
	Name string
}

// newTSAPKI issues a TSA root, intermediate and leaf.
func newTSAPKI(t testing.TB, o pkiOptions) *tsaPKI {
	t.Helper()
	name := o.Name
	if name == "" {
		name = "tsa"
	}
	p := &tsaPKI{Root: testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name + " root"), IsCA: true}, nil)}
	issuer := p.Root
	if !o.NoIntermediate {
		p.Intermediate = testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name + " intermediate"), IsCA: true, KeyType: "ec-384"}, p.Root)
		issuer = p.Intermediate
	}
	kt := o.LeafKey
	if kt == "" {
		kt = "rsa-2048"
	}
	profile := tsaLeafProfile(t)
	p.Leaf = testpki.Issue(t, testpki.Cert{Subject: testpki.Name(name + " leaf"), KeyType: kt, Modify: func(c *x509.Certificate) {
		profile(c)
		if o.Modify != nil {
			o.Modify(c)
		}
	}}, issuer)
	return p
}

// tsaConfig is the [tsa] section written for `openssl ts -reply`. Zero
// fields take the defaults noted.
type tsaConfig struct {
	Policy       string // default_policy; "" means 1.2.3.4.1
	Digests      string // accepted imprint digests; "" means sha256, sha384, sha512
	SignerDigest string // CMS digest; "" means sha256
	Accuracy     string // e.g. "secs:1, millisecs:500"; "" means no accuracy field
	ESSCertIDAlg string // ess_cert_id_alg; "" means sha256 (sha1 makes a v1 attribute)
	Precision    int    // clock_precision_digits
	// ChainWithLeaf puts the TSA certificate into -chain too, so that the
	// token embeds it twice, as notation's test TSA setup does
	// (../shared/notes/peers.md). Not part of the [tsa] section.
	ChainWithLeaf bool
}

func (c tsaConfig) render(dir string) string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[ tsa ]\ndefault_tsa = tsa_config\n\n[ tsa_config ]\n")
	fmt.Fprintf(&b, "serial = %s\n", filepath.Join(dir, "serial"))
	fmt.Fprintf(&b, "crypto_device = builtin\n")
	fmt.Fprintf(&b, "signer_digest = %s\n", or(c.SignerDigest, "sha256"))
	fmt.Fprintf(&b, "default_policy = %s\n", or(c.Policy, "1.2.3.4.1"))
	fmt.Fprintf(&b, "digests = %s\n", or(c.Digests, "sha256, sha384, sha512"))
	if c.Accuracy != "" {
		fmt.Fprintf(&b, "accuracy = %s\n", c.Accuracy)
	}
	fmt.Fprintf(&b, "clock_precision_digits = %d\n", c.Precision)
	fmt.Fprintf(&b, "ordering = no\ntsa_name = no\ness_cert_id_chain = no\n")
	fmt.Fprintf(&b, "ess_cert_id_alg = %s\n", or(c.ESSCertIDAlg, "sha256"))
	return b.String()
}

// opensslTSA answers TimeStampReqs with `openssl ts -reply`.
type opensslTSA struct {
	t   testing.TB
	dir string
	mu  sync.Mutex // one openssl run at a time: they share the serial file
}

// newOpenSSLTSA writes pki and cfg into a temporary directory.
func newOpenSSLTSA(t testing.TB, pki *tsaPKI, cfg tsaConfig) *opensslTSA {
	t.Helper()
	opensslBin(t)
	dir := t.TempDir()
	var chain []*x509.Certificate
	if cfg.ChainWithLeaf {
		chain = append(chain, pki.Leaf.Cert)
	}
	if pki.Intermediate != nil {
		chain = append(chain, pki.Intermediate.Cert)
	}
	chain = append(chain, pki.Root.Cert)
	files := map[string][]byte{
		"tsa.cnf":   []byte(cfg.render(dir)),
		"serial":    []byte("01\n"),
		"tsa.key":   testpki.KeyPEM(t, pki.Leaf.Key),
		"tsa.crt":   testpki.CertsPEM(pki.Leaf.Cert),
		"chain.pem": testpki.CertsPEM(chain...),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &opensslTSA{t: t, dir: dir}
}

// Reply returns openssl's DER TimeStampResp to the DER TimeStampReq q.
func (o *opensslTSA) Reply(q []byte) []byte {
	o.t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := os.WriteFile(filepath.Join(o.dir, "query.tsq"), q, 0o600); err != nil {
		o.t.Fatal(err)
	}
	runOpenSSL(o.t, o.dir, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "query.tsq",
		"-inkey", "tsa.key", "-signer", "tsa.crt", "-chain", "chain.pem", "-out", "reply.tsr")
	r, err := os.ReadFile(filepath.Join(o.dir, "reply.tsr"))
	if err != nil {
		o.t.Fatal(err)
	}
	return r
}

// serveTSA serves o over loopback HTTP. rewrite, when set, edits each
// decoded query before openssl answers it; respond, when set, writes the
// HTTP answer instead of the plain 200 reply.
func serveTSA(t testing.TB, o *opensslTSA, rewrite func(*timeStampReq), respond func(w http.ResponseWriter, reply []byte)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != MediaTypeQuery {
			http.Error(w, "want a POST of "+MediaTypeQuery, http.StatusBadRequest)
			return
		}
		q, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if rewrite != nil {
			var req timeStampReq
			if err := unmarshalDER(q, &req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			rewrite(&req)
			if q, err = asn1.Marshal(req); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		reply := o.Reply(q)
		if respond != nil {
			respond(w, reply)
			return
		}
		w.Header().Set("Content-Type", MediaTypeReply)
		w.Write(reply)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// opensslToken gets a real token over sig from an openssl TSA through the
// client, checking nothing beyond what Timestamp checks.
func opensslToken(t testing.TB, pki *tsaPKI, cfg tsaConfig, sig []byte, h crypto.Hash) *Token {
	t.Helper()
	srv := serveTSA(t, newOpenSSLTSA(t, pki, cfg), nil, nil)
	tok, err := (&HTTPTimestamper{URL: srv.URL}).Timestamp(context.Background(), &Request{Signature: sig, Hash: h})
	if err != nil {
		t.Fatalf("timestamp from openssl: %v", err)
	}
	return tok
}

// opensslReplyToken asks openssl directly (no client checks) and returns
// the DER token of its reply.
func opensslReplyToken(t testing.TB, pki *tsaPKI, cfg tsaConfig, sig []byte, h crypto.Hash) []byte {
	t.Helper()
	q, err := newQuery(&Request{Signature: sig, Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	var resp timeStampResp
	if err := unmarshalDER(newOpenSSLTSA(t, pki, cfg).Reply(q.der), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status.Status != 0 {
		t.Fatalf("openssl refused: status %d %v", resp.Status.Status, resp.Status.StatusString)
	}
	return resp.TimeStampToken.FullBytes
}

// cmsOptions shape cmsSign.
type cmsOptions struct {
	CAdES       bool     // -cades: add signing-certificate-v2
	NoCerts     bool     // -nocerts: embed no certificate
	Data        bool     // leave the encapsulated content type id-data
	Digest      string   // -md; "" means sha256
	KeyOpts     []string // -keyopt values, e.g. rsa_padding_mode:pss
	CoSigner    *tsaPKI  // a second signer (its leaf), for a two-signer token
	ExtraCerts  []*x509.Certificate
	SkipChainCA bool // embed the signer only, not its CAs
}

// cmsSign signs content (a DER TSTInfo) as a CMS SignedData with `openssl
// cms -sign`, for tokens openssl ts will not make.
func cmsSign(t testing.TB, pki *tsaPKI, content []byte, o cmsOptions) []byte {
	t.Helper()
	dir := t.TempDir()
	var chain []*x509.Certificate
	if !o.SkipChainCA {
		chain = pki.Chain()[1:]
	}
	chain = append(chain, o.ExtraCerts...)
	files := map[string][]byte{
		"tst.der": content,
		"key.pem": testpki.KeyPEM(t, pki.Leaf.Key),
		"crt.pem": testpki.CertsPEM(pki.Leaf.Cert),
	}
	if len(chain) > 0 {
		files["chain.pem"] = testpki.CertsPEM(chain...)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	md := o.Digest
	if md == "" {
		md = "sha256"
	}
	args := []string{"cms", "-sign", "-binary", "-nodetach", "-nosmimecap", "-in", "tst.der",
		"-signer", "crt.pem", "-inkey", "key.pem", "-md", md, "-outform", "DER", "-out", "tok.der"}
	if !o.Data {
		args = append(args, "-econtent_type", oidTSTInfo.String())
	}
	if o.CAdES {
		args = append(args, "-cades")
	}
	for _, k := range o.KeyOpts {
		args = append(args, "-keyopt", k)
	}
	if o.CoSigner != nil {
		writeFile(t, dir, "key2.pem", testpki.KeyPEM(t, o.CoSigner.Leaf.Key))
		writeFile(t, dir, "crt2.pem", testpki.CertsPEM(o.CoSigner.Leaf.Cert))
		args = append(args, "-signer", "crt2.pem", "-inkey", "key2.pem")
	}
	if o.NoCerts {
		args = append(args, "-nocerts")
	} else if len(chain) > 0 {
		args = append(args, "-certfile", "chain.pem")
	}
	runOpenSSL(t, dir, args...)
	tok, err := os.ReadFile(filepath.Join(dir, "tok.der"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// marshalTSTInfo encodes a TSTInfo for cmsSign; genTime is encoded as
// given (so tests can make non-UTC times).
func marshalTSTInfo(t testing.TB, v tstInfo) []byte {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// genTimeRaw encodes a GeneralizedTime from its text form.
func genTimeRaw(s string) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagGeneralizedTime, Bytes: []byte(s)}
}

// imprintOf is the message imprint over sig with h, as the client sends it.
func imprintOf(sig []byte, h crypto.Hash) messageImprint {
	d := h.New()
	d.Write(sig)
	return messageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: hashOID(h), Parameters: asn1.NullRawValue}, HashedMessage: d.Sum(nil)}
}

// essCertHash returns the hash signing-certificate-v2 uses for the
// signer's certificate, failing when the attribute is absent.
func essCertHash(t testing.TB, tok *Token) crypto.Hash {
	t.Helper()
	for _, a := range tok.p7.Signers[0].AuthenticatedAttributes {
		if !a.Type.Equal(oidSigningCertificateV2) {
			continue
		}
		var sc signingCertificateV2
		if err := unmarshalSingleValue(a.Value, &sc); err != nil {
			t.Fatal(err)
		}
		if len(sc.Certs[0].HashAlgorithm.Algorithm) == 0 {
			return crypto.SHA256
		}
		return hashFromOID(sc.Certs[0].HashAlgorithm.Algorithm)
	}
	t.Fatal("token has no signing-certificate-v2 attribute")
	return 0
}

// writeFile writes data to dir/name.
func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}
