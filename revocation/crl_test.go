package revocation

import (
	"bytes"
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
		}), want: Unknown, errIs: ErrTooLarge},
		{name: "one byte under MaxCRLBytes is read", crls: one(func(*testing.T, *testpki.Issued, *testpki.Issued) []byte {
			return bytes.Repeat([]byte{0x30}, MaxCRLBytes-1)
		}), want: Unknown, errIs: ErrMalformed},
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
			res := validate(t, &Validator{}, tc.signingTime, leaf, inter, root)
			wantCert(t, res[0], tc.want, MethodCRL, tc.errIs)
			if !strings.Contains(res[0].Reason, tc.reasonHas) {
				t.Errorf("reason %q does not contain %q", res[0].Reason, tc.reasonHas)
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
