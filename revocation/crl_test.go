package revocation

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// TestCRLOpenSSL checks a leaf against CRLs made by `openssl ca -gencrl`
// and served over loopback HTTP (REV-5, REV-6).
func TestCRLOpenSSL(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	sameName := newCA(t, "intermediate", root, nil) // the issuer's name, another key
	stranger := newCA(t, "stranger", nil, nil)
	srv := newCRLServer(t)
	gen := func(t *testing.T, ca *testpki.Issued, o crlOptions, entries ...indexEntry) []byte {
		c := newOpenSSLCA(t, ca)
		c.writeIndex(t, entries...)
		return c.genCRL(t, o)
	}
	now := time.Now()
	idp := func(lines ...string) crlOptions {
		return crlOptions{exts: append([]string{"issuingDistributionPoint = critical, @idp", "[ idp ]"}, lines...)}
	}
	tests := []struct {
		name string
		// crls returns what to serve at the CRL paths the leaf names (by
		// default one, "/<n>.crl"); a nil body is not served (404).
		crls func(t *testing.T, leaf, other *testpki.Issued) [][]byte
		// cdps, when set, replaces the default distribution point list;
		// "%d" paths are relative to the server.
		cdps []string
		// ncrl is the number of CRLs crls returns; 0 means 1.
		ncrl        int
		signingTime time.Time
		want        Result
		errIs       error
		reasonHas   string
		// crlTimeout, when set, is the Validator's CRLTimeout: the size
		// limit cases read ~32 MiB, which under -race on a loaded machine
		// can take longer than DefaultCRLTimeout; they test the limit, not
		// the timeout (TestCRLTimeout does).
		crlTimeout time.Duration
	}{
		{name: "current, not listed", crls: one(func(t *testing.T, leaf, other *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, good(leaf), revoked(other, "keyCompromise", ""))
		}), want: OK, reasonHas: "does not list"},
		{name: "revoked, keyCompromise", crls: one(func(t *testing.T, leaf, other *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "keyCompromise", ""), good(other))
		}), want: Revoked, reasonHas: "keyCompromise"},
		{name: "revoked without a reason code", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "", ""))
		}), want: Revoked, reasonHas: "unspecified"},
		{name: "revoked, superseded", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "superseded", ""))
		}), want: Revoked, reasonHas: "superseded"},
		{name: "on hold", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "certificateHold", "holdInstructionReject"))
		}), want: Revoked, reasonHas: "certificateHold"},
		{name: "nextUpdate passed", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{lastUpdate: now.Add(-48 * time.Hour), nextUpdate: now.Add(-time.Minute)}, good(leaf))
		}), want: Unknown, errIs: ErrExpired},
		{name: "signed by a CA with the issuer's name and another key", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, sameName, crlOptions{}, good(leaf))
		}), want: Unknown, errIs: ErrBadSignature},
		{name: "signed by another CA", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, stranger, crlOptions{}, revoked(leaf, "keyCompromise", ""))
		}), want: Unknown, errIs: ErrBadSignature},
		{name: "unknown critical extension", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{exts: []string{"1.2.3.4.5.6 = critical, ASN1:NULL"}}, good(leaf))
		}), want: Unknown, errIs: ErrUnsupportedCRL},
		{name: "unknown non-critical extension", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{exts: []string{"1.2.3.4.5.6 = ASN1:NULL"}}, good(leaf))
		}), want: OK},
		{name: "issuing distribution point with a full name and only user certificates", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, idp("fullname = URI:http://crl.example.com/i.crl", "onlyuser = TRUE"), revoked(leaf, "keyCompromise", ""))
		}), want: Revoked},
		{name: "issuing distribution point: only CA certificates", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, idp("onlyCA = TRUE"), good(leaf))
		}), want: Unknown, errIs: ErrUnsupportedCRL},
		{name: "issuing distribution point: only some reasons", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, idp("onlysomereasons = keyCompromise"), good(leaf))
		}), want: Unknown, errIs: ErrUnsupportedCRL},
		{name: "issuing distribution point: indirect CRL", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, idp("indirectCRL = TRUE"), good(leaf))
		}), want: Unknown, errIs: ErrUnsupportedCRL},
		{name: "not found", crls: one(func(*testing.T, *testpki.Issued, *testpki.Issued) []byte { return nil }), want: Unknown, errIs: ErrUnreachable},
		{name: "not a CRL", crls: one(func(*testing.T, *testpki.Issued, *testpki.Issued) []byte { return []byte("<html>moved</html>") }), want: Unknown, errIs: ErrMalformed},
		{name: "PEM instead of DER", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			c := newOpenSSLCA(t, inter)
			c.writeIndex(t, good(leaf))
			c.genCRL(t, crlOptions{})
			return readFile(t, c.dir, "crl.pem")
		}), want: Unknown, errIs: ErrMalformed},
		// The reference refuses a body of exactly 32 MiB (§0.5).
		{name: "exactly MaxCRLBytes", crls: one(func(*testing.T, *testpki.Issued, *testpki.Issued) []byte {
			return bytes.Repeat([]byte{0x30}, MaxCRLBytes)
		}), want: Unknown, errIs: ErrTooLarge, crlTimeout: sizeLimitTimeout},
		{name: "one byte under MaxCRLBytes is read", crls: one(func(*testing.T, *testpki.Issued, *testpki.Issued) []byte {
			return bytes.Repeat([]byte{0x30}, MaxCRLBytes-1)
		}), want: Unknown, errIs: ErrMalformed, crlTimeout: sizeLimitTimeout},
		{name: "https distribution point", cdps: []string{"https://127.0.0.1:1/x.crl"}, want: Unknown, errIs: ErrUnsupportedURL},
		{name: "ldap distribution point", cdps: []string{"ldap://example.com/cn=x?certificateRevocationList"}, want: Unknown, errIs: ErrUnsupportedURL},
		{name: "revoked in the second of two CRLs", crls: func(t *testing.T, leaf, other *testpki.Issued) [][]byte {
			return [][]byte{gen(t, inter, crlOptions{}, good(leaf)), gen(t, inter, crlOptions{}, revoked(leaf, "keyCompromise", ""))}
		}, ncrl: 2, want: Revoked},
		{name: "first CRL missing, second revokes", crls: func(t *testing.T, leaf, other *testpki.Issued) [][]byte {
			return [][]byte{nil, gen(t, inter, crlOptions{}, revoked(leaf, "keyCompromise", ""))}
		}, ncrl: 2, want: Revoked},
		{name: "first CRL missing, second good", crls: func(t *testing.T, leaf, other *testpki.Issued) [][]byte {
			return [][]byte{nil, gen(t, inter, crlOptions{}, good(leaf))}
		}, ncrl: 2, want: Unknown, errIs: ErrUnreachable},
		// REV-7: openssl's "keyTime" database reason is keyCompromise with
		// an invalidityDate entry extension.
		{name: "keyCompromise with invalidity date after the signing time", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "keyTime", genTime(now.Add(-30*time.Minute))))
		}), signingTime: now.Add(-2 * time.Hour), want: OK, reasonHas: "REV-7"},
		{name: "keyCompromise with invalidity date before the signing time", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "keyTime", genTime(now.Add(-30*time.Minute))))
		}), signingTime: now.Add(-10 * time.Minute), want: Revoked},
		{name: "keyCompromise with invalidity date, no authentic signing time", crls: one(func(t *testing.T, leaf, _ *testpki.Issued) []byte {
			return gen(t, inter, crlOptions{}, revoked(leaf, "keyTime", genTime(now.Add(-30*time.Minute))))
		}), want: Revoked},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cdps := tc.cdps
			if cdps == nil {
				for j := range max(tc.ncrl, 1) {
					cdps = append(cdps, srv.URL+"/"+strconv.Itoa(i)+"-"+strconv.Itoa(j)+".crl")
				}
			}
			leaf := newLeaf(t, "leaf", inter, urls(nil, cdps...))
			other := newLeaf(t, "other", inter, nil)
			if tc.crls != nil {
				for j, body := range tc.crls(t, leaf, other) {
					if body != nil {
						srv.put("/"+strconv.Itoa(i)+"-"+strconv.Itoa(j)+".crl", body)
					}
				}
			}
			res := validate(t, &Validator{CRLTimeout: tc.crlTimeout}, tc.signingTime, leaf, inter, root)
			wantCert(t, res[0], tc.want, MethodCRL, tc.errIs)
			if !strings.Contains(res[0].Reason, tc.reasonHas) {
				t.Errorf("reason %q does not contain %q", res[0].Reason, tc.reasonHas)
			}
		})
	}
}

// sizeLimitTimeout is the CRL timeout of the tests that read a CRL of
// about MaxCRLBytes: generous, since they test the size limit.
const sizeLimitTimeout = 60 * time.Second

// TestCRLTimeout: a distribution point that does not answer, or stops
// halfway through its body, within CRLTimeout is unknown with ErrTimeout
// (REV-5, §0.5), and the check does not wait for the server.
func TestCRLTimeout(t *testing.T) {
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	const timeout = 300 * time.Millisecond
	// The handlers hold the request this long unless the client goes: a
	// check that took as long did not time out.
	const hold = 60 * time.Second
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter, r *http.Request)
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(hold):
			}
		}},
		{"stalled body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte{0x30, 0x83, 0x01, 0x86, 0x9d})
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(hold):
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(tc.respond))
			defer srv.Close()
			leaf := newLeaf(t, "leaf", inter, urls(nil, srv.URL+"/x.crl"))
			start := time.Now()
			res := validate(t, &Validator{CRLTimeout: timeout}, time.Time{}, leaf, inter, root)
			elapsed := time.Since(start)
			wantCert(t, res[0], Unknown, MethodCRL, ErrTimeout)
			if elapsed < timeout || elapsed >= hold {
				t.Errorf("the check took %s with a CRL timeout of %s", elapsed, timeout)
			}
		})
	}
}

// TestReadBounded: a body is read whole up to max bytes, with or without a
// declared length, and refused past it (digest §0.5).
func TestReadBounded(t *testing.T) {
	body := bytes.Repeat([]byte{0x30}, 1000)
	tests := []struct {
		name      string
		body      []byte
		size, max int64
		wantErr   error
		wantAny   bool // some (transport) error
	}{
		{name: "declared, under max", body: body, size: 1000, max: 1001},
		{name: "declared, exactly max", body: body, size: 1000, max: 1000},
		{name: "undeclared, exactly max", body: body, size: -1, max: 1000},
		{name: "undeclared, one over max", body: body, size: -1, max: 999, wantErr: ErrTooLarge},
		{name: "more than declared", body: body, size: 999, max: 1000, wantErr: ErrTooLarge},
		{name: "less than declared", body: body, size: 1001, max: 2000, wantAny: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBounded(bytes.NewReader(tc.body), tc.size, tc.max)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("got %v, want %v", err, tc.wantErr)
				}
			case tc.wantAny:
				if err == nil {
					t.Error("a short body was read")
				}
			case err != nil:
				t.Errorf("got %v", err)
			case !bytes.Equal(got, tc.body):
				t.Errorf("read %d bytes, want %d", len(got), len(tc.body))
			}
		})
	}
}

// one adapts a single-CRL maker.
func one(f func(t *testing.T, leaf, other *testpki.Issued) []byte) func(t *testing.T, leaf, other *testpki.Issued) [][]byte {
	return func(t *testing.T, leaf, other *testpki.Issued) [][]byte { return [][]byte{f(t, leaf, other)} }
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
