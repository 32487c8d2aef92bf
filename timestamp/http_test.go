package timestamp

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTimestampResponseFaults: every way a TSA answer can fail TSA-2 is a
// distinct error, with the real openssl TSA producing the answer and the
// handler distorting the query or the HTTP exchange around it.
func TestTimestampResponseFaults(t *testing.T) {
	opensslBin(t)
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	sig := randomSig(t, 96)
	plain := func(w http.ResponseWriter, reply []byte) {
		w.Header().Set("Content-Type", MediaTypeReply)
		w.Write(reply)
	}
	tests := []struct {
		name    string
		cfg     tsaConfig
		hash    crypto.Hash
		max     int64
		rewrite func(*timeStampReq)
		respond func(http.ResponseWriter, []byte)
		want    error
		check   func(t *testing.T, err error)
	}{
		{name: "nonce differs", rewrite: func(q *timeStampReq) { q.Nonce = new(big.Int).Add(q.Nonce, big.NewInt(1)) }, want: ErrNonceMismatch},
		{name: "nonce dropped", rewrite: func(q *timeStampReq) { q.Nonce = nil }, want: ErrNonceMismatch},
		{name: "imprint over other bytes", rewrite: func(q *timeStampReq) {
			q.MessageImprint = imprintOf([]byte("the payload, not the signature"), crypto.SHA256)
		}, want: ErrImprintMismatch},
		{name: "imprint with another hash", rewrite: func(q *timeStampReq) { q.MessageImprint = imprintOf(sig, crypto.SHA512) }, want: ErrImprintMismatch},
		{
			name: "status rejection (imprint hash not accepted by the TSA)", cfg: tsaConfig{Digests: "sha256"}, hash: crypto.SHA512, want: ErrRejected,
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) {
					t.Fatalf("%v is not a *StatusError", err)
				}
				if se.Status != 2 || !slices.Contains(se.FailInfo, "badAlg") {
					t.Errorf("status %d, failInfo %v; want 2 (rejection) with badAlg", se.Status, se.FailInfo)
				}
				if !strings.Contains(err.Error(), "badAlg") || !strings.Contains(err.Error(), "rejection") {
					t.Errorf("message %q does not name the status and failure", err)
				}
			},
		},
		{name: "HTTP 500", respond: func(w http.ResponseWriter, _ []byte) { http.Error(w, "TSA down", http.StatusInternalServerError) }, want: ErrHTTPStatus},
		{name: "content type application/octet-stream", respond: func(w http.ResponseWriter, reply []byte) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(reply)
		}, want: ErrContentType},
		{name: "no content type", respond: func(w http.ResponseWriter, reply []byte) {
			w.Header()["Content-Type"] = nil
			w.Write(reply)
		}, want: ErrContentType},
		{name: "body over MaxResponseBytes", max: 256, want: ErrResponseTooLarge},
		{name: "body over the 1 MiB default, announced", respond: func(w http.ResponseWriter, reply []byte) {
			w.Header().Set("Content-Type", MediaTypeReply)
			w.Header().Set("Content-Length", strconv.Itoa(DefaultMaxResponseBytes+1))
			w.Write(append(reply, make([]byte, DefaultMaxResponseBytes+1-len(reply))...))
		}, want: ErrResponseTooLarge},
		{name: "body over the 1 MiB default, chunked", respond: func(w http.ResponseWriter, reply []byte) {
			w.Header().Set("Content-Type", MediaTypeReply)
			w.Write(reply)
			w.(http.Flusher).Flush()
			w.Write(make([]byte, DefaultMaxResponseBytes))
		}, want: ErrResponseTooLarge},
		{name: "body is not a TimeStampResp", respond: func(w http.ResponseWriter, _ []byte) { plain(w, []byte("<html>hello</html>")) }, want: ErrMalformedResponse},
		{name: "trailing bytes after the TimeStampResp", respond: func(w http.ResponseWriter, reply []byte) { plain(w, append(reply, 0, 0)) }, want: ErrMalformedResponse},
		{name: "granted without a token", respond: func(w http.ResponseWriter, _ []byte) {
			der, _ := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: 0}})
			plain(w, der)
		}, want: ErrMalformedResponse},
		{name: "token is not CMS", respond: func(w http.ResponseWriter, _ []byte) {
			der, _ := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: 0}, TimeStampToken: asn1.RawValue{FullBytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}})
			plain(w, der)
		}, want: ErrMalformedToken},
		{name: "signing-certificate (v1, SHA-1) instead of v2", cfg: tsaConfig{ESSCertIDAlg: "sha1"}, want: ErrMissingSigningCertificateV2},
		{name: "CMS digest SHA-1", cfg: tsaConfig{SignerDigest: "sha1"}, want: ErrUnsupportedHash},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := serveTSA(t, newOpenSSLTSA(t, pki, tc.cfg), tc.rewrite, tc.respond)
			h := tc.hash
			if h == 0 {
				h = crypto.SHA256
			}
			tok, err := (&HTTPTimestamper{URL: srv.URL, MaxResponseBytes: tc.max}).Timestamp(context.Background(), &Request{Signature: sig, Hash: h})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tok != nil {
				t.Error("a token came back with the error")
			}
			var te *TSAError
			if !errors.As(err, &te) || te.URL != srv.URL {
				t.Errorf("%v is not a *TSAError naming %s", err, srv.URL)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

// TestTimestampRequest: the query the client sends is TSA-1's, as the real
// TSA reads it back: version 1, imprint with NULL parameters over the
// signature bytes, certReq true, a fresh nonce below 2^159, no policy.
func TestTimestampRequest(t *testing.T) {
	opensslBin(t)
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	o := newOpenSSLTSA(t, pki, tsaConfig{})
	var seen []timeStampReq
	var raw [][]byte
	srv := serveTSA(t, o, func(q *timeStampReq) {
		seen = append(seen, *q)
		der, _ := asn1.Marshal(*q)
		raw = append(raw, der)
	}, nil)
	sig := randomSig(t, 64)
	for range 2 {
		if _, err := (&HTTPTimestamper{URL: srv.URL}).Timestamp(context.Background(), &Request{Signature: sig, Hash: crypto.SHA384}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("%d queries, want 2", len(seen))
	}
	want := imprintOf(sig, crypto.SHA384)
	for i, q := range seen {
		if q.Version != 1 || !q.CertReq || q.ReqPolicy != nil || q.Extensions != nil {
			t.Errorf("query %d: version %d certReq %v policy %v extensions %v", i, q.Version, q.CertReq, q.ReqPolicy, q.Extensions)
		}
		if !q.MessageImprint.HashAlgorithm.Algorithm.Equal(oidSHA384) || !bytes.Equal(q.MessageImprint.HashedMessage, want.HashedMessage) {
			t.Errorf("query %d: imprint %v", i, q.MessageImprint)
		}
		if !bytes.Equal(q.MessageImprint.HashAlgorithm.Parameters.FullBytes, asn1.NullBytes) {
			t.Errorf("query %d: hash parameters %x, want NULL", i, q.MessageImprint.HashAlgorithm.Parameters.FullBytes)
		}
		if q.Nonce == nil || q.Nonce.Sign() < 0 || q.Nonce.Cmp(maxNonce()) >= 0 {
			t.Errorf("query %d: nonce %v not in [0, 2^159)", i, q.Nonce)
		}
	}
	if seen[0].Nonce.Cmp(seen[1].Nonce) == 0 {
		t.Error("two queries carried the same nonce")
	}
	// openssl ts -query -text reads the DER the client sent.
	dir := t.TempDir()
	writeFile(t, dir, "q.tsq", raw[0])
	out := string(runOpenSSL(t, dir, "ts", "-query", "-in", "q.tsq", "-text"))
	for _, s := range []string{"Version: 1", "Hash Algorithm: sha384", "Certificate required: yes", "Policy OID: unspecified"} {
		if !strings.Contains(out, s) {
			t.Errorf("openssl ts -query -text lacks %q:\n%s", s, out)
		}
	}
}

// TestTimestampInvalidRequest: a bad request or URL fails before anything
// is sent.
func TestTimestampInvalidRequest(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	sig := []byte("signature")
	tests := []struct {
		name string
		url  string
		req  *Request
	}{
		{name: "nil request", url: srv.URL},
		{name: "no signature bytes", url: srv.URL, req: &Request{Hash: crypto.SHA256}},
		{name: "SHA-1 imprint", url: srv.URL, req: &Request{Signature: sig, Hash: crypto.SHA1}},
		{name: "no hash", url: srv.URL, req: &Request{Signature: sig}},
		{name: "empty URL", req: &Request{Signature: sig, Hash: crypto.SHA256}},
		{name: "relative URL", url: "/tsa", req: &Request{Signature: sig, Hash: crypto.SHA256}},
		{name: "ftp URL", url: "ftp://" + strings.TrimPrefix(srv.URL, "http://"), req: &Request{Signature: sig, Hash: crypto.SHA256}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := (&HTTPTimestamper{URL: tc.url}).Timestamp(context.Background(), tc.req)
			if !errors.Is(err, ErrInvalidRequest) {
				t.Errorf("err = %v, want ErrInvalidRequest", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestTimestampSlowTSA: a TSA that does not answer in time is ErrTimeout,
// whether the client's timeout or the context ends the wait, and the call
// returns promptly. A test double is enough here: nothing of the answer is
// read.
func TestTimestampSlowTSA(t *testing.T) {
	const stall = 5 * time.Second
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client hanging up.
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(stall):
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	req := &Request{Signature: []byte("sig"), Hash: crypto.SHA256}
	t.Run("client timeout", func(t *testing.T) {
		start := time.Now()
		_, err := (&HTTPTimestamper{URL: srv.URL, Client: &http.Client{Timeout: 200 * time.Millisecond}}).Timestamp(context.Background(), req)
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("err = %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("context deadline with the default client", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := (&HTTPTimestamper{URL: srv.URL}).Timestamp(ctx, req)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want ErrTimeout wrapping context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
	})
}

// TestTimestampUnreachable: a refused connection is ErrUnreachable, not a
// timeout.
func TestTimestampUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = (&HTTPTimestamper{URL: "http://" + addr + "/tsa"}).Timestamp(context.Background(), &Request{Signature: []byte("sig"), Hash: crypto.SHA256})
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrUnreachable", err)
	}
}

// TestDefaultClient: a nil Client means a client with a 15 s timeout (the
// reference CLI's, digest §0.5), a caller's client is used as it is, and a
// zero MaxResponseBytes means 1 MiB.
func TestDefaultClient(t *testing.T) {
	if c := (&HTTPTimestamper{}).client(); c.Timeout != 15*time.Second {
		t.Errorf("default client timeout %v, want 15s", c.Timeout)
	}
	mine := &http.Client{}
	if c := (&HTTPTimestamper{Client: mine}).client(); c != mine {
		t.Error("the caller's client was not used")
	}
	if n := (&HTTPTimestamper{}).maxResponseBytes(); n != 1<<20 {
		t.Errorf("default response limit %d, want 1 MiB", n)
	}
	if n := (&HTTPTimestamper{MaxResponseBytes: 10}).maxResponseBytes(); n != 10 {
		t.Errorf("response limit %d, want 10", n)
	}
}
