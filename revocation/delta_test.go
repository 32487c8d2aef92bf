package revocation

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// TestDeltaCRL: base CRLs from `openssl ca -gencrl` name a delta CRL in
// their freshestCRL extension; the delta CRLs are made with the standard
// library (openssl ca cannot make them). REV-5, REV-6.
func TestDeltaCRL(t *testing.T) {
	opensslBin(t)
	root := newCA(t, "root", nil, nil)
	inter := newCA(t, "intermediate", root, nil)
	stranger := newCA(t, "intermediate", root, nil)
	srv := newCRLServer(t)
	now := time.Now()
	const baseNumber = 0x10 // newOpenSSLCA's first CRL number

	type deltaSpec struct {
		signer            *testpki.Issued
		number            int64
		indicator         int64 // 0: no delta CRL indicator
		nextUpdate        time.Time
		entries           []x509.RevocationListEntry
		atBaseLocationToo bool // also serve it where the base CRL belongs
	}
	entry := func(leaf *testpki.Issued, reason int, ago time.Duration) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: leaf.Cert.SerialNumber, RevocationTime: now.Add(-ago), ReasonCode: reason}
	}
	tests := []struct {
		name string
		base func(leaf *testpki.Issued) []indexEntry
		// delta returns the delta CRL to serve, or nil for none (404).
		delta func(leaf *testpki.Issued) *deltaSpec
		// certNamesDelta: the leaf, not the base CRL, names the delta.
		certNamesDelta bool
		want           Result
		errIs          []error
		reasonHas      string
	}{
		{name: "empty delta", delta: func(*testpki.Issued) *deltaSpec { return &deltaSpec{} }, want: OK},
		{name: "delta revokes", delta: func(l *testpki.Issued) *deltaSpec {
			return &deltaSpec{entries: []x509.RevocationListEntry{entry(l, 1, time.Minute)}}
		}, want: Revoked, reasonHas: "(delta)"},
		{name: "hold lifted by removeFromCRL in the delta",
			base: func(l *testpki.Issued) []indexEntry {
				return []indexEntry{revoked(l, "certificateHold", "holdInstructionReject")}
			},
			delta: func(l *testpki.Issued) *deltaSpec {
				return &deltaSpec{entries: []x509.RevocationListEntry{entry(l, reasonRemoveFromCRL, time.Minute)}}
			}, want: OK, reasonHas: "removeFromCRL"},
		{name: "hold in base and delta",
			base: func(l *testpki.Issued) []indexEntry {
				return []indexEntry{revoked(l, "certificateHold", "holdInstructionReject")}
			},
			delta: func(l *testpki.Issued) *deltaSpec {
				return &deltaSpec{entries: []x509.RevocationListEntry{entry(l, reasonCertificateHold, time.Minute)}}
			}, want: Revoked, reasonHas: "certificateHold"},
		{name: "keyCompromise is not lifted by removeFromCRL",
			base: func(l *testpki.Issued) []indexEntry { return []indexEntry{revoked(l, "keyCompromise", "")} },
			delta: func(l *testpki.Issued) *deltaSpec {
				return &deltaSpec{entries: []x509.RevocationListEntry{entry(l, reasonRemoveFromCRL, time.Minute)}}
			}, want: Revoked, reasonHas: "keyCompromise"},
		{name: "delta not found", delta: func(*testpki.Issued) *deltaSpec { return nil }, want: Unknown, errIs: []error{ErrDeltaCRL, ErrUnreachable}},
		{name: "delta without a delta CRL indicator", delta: func(*testpki.Issued) *deltaSpec { return &deltaSpec{indicator: -1} },
			want: Unknown, errIs: []error{ErrDeltaCRL}},
		{name: "delta number not above the base's", delta: func(*testpki.Issued) *deltaSpec { return &deltaSpec{number: baseNumber} },
			want: Unknown, errIs: []error{ErrDeltaCRL}},
		{name: "delta needs a later base CRL", delta: func(*testpki.Issued) *deltaSpec {
			return &deltaSpec{number: baseNumber + 2, indicator: baseNumber + 1}
		}, want: Unknown, errIs: []error{ErrDeltaCRL}},
		{name: "delta expired", delta: func(*testpki.Issued) *deltaSpec { return &deltaSpec{nextUpdate: now.Add(-time.Minute)} },
			want: Unknown, errIs: []error{ErrDeltaCRL, ErrExpired}},
		{name: "delta signed by another key", delta: func(*testpki.Issued) *deltaSpec { return &deltaSpec{signer: stranger} },
			want: Unknown, errIs: []error{ErrDeltaCRL, ErrBadSignature}},
		{name: "a delta CRL served as the base CRL", delta: func(*testpki.Issued) *deltaSpec { return &deltaSpec{atBaseLocationToo: true} },
			want: Unknown, errIs: []error{ErrUnsupportedCRL}},
		{name: "certificate names the delta and it revokes", certNamesDelta: true, delta: func(l *testpki.Issued) *deltaSpec {
			return &deltaSpec{entries: []x509.RevocationListEntry{entry(l, 1, time.Minute)}}
		}, want: Revoked, reasonHas: "(delta)"},
		{name: "certificate names the delta and it is missing", certNamesDelta: true, delta: func(*testpki.Issued) *deltaSpec { return nil },
			want: Unknown, errIs: []error{ErrDeltaCRL, ErrUnreachable}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			basePath, deltaPath := "/d"+strconv.Itoa(i)+".crl", "/d"+strconv.Itoa(i)+"-delta.crl"
			leaf := newLeaf(t, "leaf", inter, func(c *x509.Certificate) {
				c.CRLDistributionPoints = []string{srv.URL + basePath}
				if tc.certNamesDelta {
					c.ExtraExtensions = []pkix.Extension{freshestCRLExt(t, srv.URL+deltaPath)}
				}
			})
			ca := newOpenSSLCA(t, inter)
			var entries []indexEntry
			if tc.base != nil {
				entries = tc.base(leaf)
			}
			ca.writeIndex(t, entries...)
			var o crlOptions
			if !tc.certNamesDelta {
				o.exts = []string{"freshestCRL = URI:" + srv.URL + deltaPath}
			}
			srv.put(basePath, ca.genCRL(t, o))
			if d := tc.delta(leaf); d != nil {
				if d.signer == nil {
					d.signer = inter
				}
				if d.number == 0 {
					d.number = baseNumber + 1
				}
				if d.nextUpdate.IsZero() {
					d.nextUpdate = now.Add(time.Hour)
				}
				var exts []pkix.Extension
				switch d.indicator {
				case 0:
					exts = append(exts, deltaIndicator(t, baseNumber))
				case -1:
				default:
					exts = append(exts, deltaIndicator(t, d.indicator))
				}
				der := goCRL(t, d.signer, d.number, now.Add(-2*time.Minute), d.nextUpdate, d.entries, exts...)
				srv.put(deltaPath, der)
				if d.atBaseLocationToo {
					srv.put(basePath, der)
				}
			}
			res := validate(t, &Validator{}, time.Time{}, leaf, inter, root)
			var first error
			if len(tc.errIs) > 0 {
				first = tc.errIs[0]
			}
			wantCert(t, res[0], tc.want, MethodCRL, first)
			for _, e := range tc.errIs[min(1, len(tc.errIs)):] {
				if !errors.Is(res[0].Err, e) {
					t.Errorf("error %v does not wrap %q", res[0].Err, e)
				}
			}
			if !strings.Contains(res[0].Reason, tc.reasonHas) {
				t.Errorf("reason %q does not contain %q", res[0].Reason, tc.reasonHas)
			}
		})
	}
}
