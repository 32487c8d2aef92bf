package signature

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSignedHeaders pins the Notary headers an envelope signs and their crit
// marks (ATTR-2: what a verifier must process is critical, the informational
// signingTime is not; ATTR-4: exactly one scheme), and the extended
// attributes refused before anything is signed.
func TestSignedHeaders(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	exp := at.Add(time.Hour)
	jwsReserved := func(k string) bool { return k == "alg" || k == "crit" }
	tests := []struct {
		name       string
		req        SignRequest
		reserved   func(string) bool
		wantScheme SigningScheme
		want       []SignedHeader
		wantErr    string
	}{
		{
			name:       "default scheme, no expiry",
			req:        SignRequest{SigningTime: at},
			wantScheme: SchemeX509,
			want: []SignedHeader{
				{Key: HeaderSigningScheme, Value: string(SchemeX509), Critical: true},
				{Key: HeaderSigningTime, IsTime: true, Time: at},
			},
		},
		{
			name:       "signing authority with expiry and extended attributes",
			req:        SignRequest{SigningTime: at, Expiry: exp, SigningScheme: SchemeX509SigningAuthority, ExtendedSignedAttributes: []Attribute{{Key: "io.example.a", Value: "1", Critical: true}, {Key: "io.example.b", Value: 2}}},
			wantScheme: SchemeX509SigningAuthority,
			want: []SignedHeader{
				{Key: HeaderSigningScheme, Value: string(SchemeX509SigningAuthority), Critical: true},
				{Key: HeaderAuthenticSigningTime, IsTime: true, Time: at, Critical: true},
				{Key: HeaderExpiry, IsTime: true, Time: exp, Critical: true},
				{Key: "io.example.a", Value: "1", Critical: true},
				{Key: "io.example.b", Value: 2},
			},
		},
		{name: "unknown scheme", req: SignRequest{SigningScheme: "notary.x509.other"}, wantErr: `unsupported signing scheme "notary.x509.other"`},
		{name: "empty attribute name", req: SignRequest{ExtendedSignedAttributes: []Attribute{{Key: ""}}}, wantErr: `extended attribute name "" is reserved`},
		{name: "attribute named like a Notary header", req: SignRequest{ExtendedSignedAttributes: []Attribute{{Key: HeaderExpiry}}}, wantErr: "is reserved"},
		{name: "attribute named like an unsigned header", req: SignRequest{ExtendedSignedAttributes: []Attribute{{Key: HeaderSigningAgent}}}, wantErr: "is reserved"},
		{name: "attribute reserved by the format", req: SignRequest{ExtendedSignedAttributes: []Attribute{{Key: "crit"}}}, reserved: jwsReserved, wantErr: `extended attribute name "crit" is reserved`},
		{name: "format reservation applies only to its format", req: SignRequest{SigningTime: at, ExtendedSignedAttributes: []Attribute{{Key: "crit", Value: "x"}}}, wantScheme: SchemeX509,
			want: []SignedHeader{{Key: HeaderSigningScheme, Value: string(SchemeX509), Critical: true}, {Key: HeaderSigningTime, IsTime: true, Time: at}, {Key: "crit", Value: "x"}}},
		{name: "attribute given twice", req: SignRequest{ExtendedSignedAttributes: []Attribute{{Key: "io.example.a"}, {Key: "io.example.a"}}}, wantErr: `extended attribute "io.example.a" is already a header`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scheme, got, err := tc.req.SignedHeaders(tc.reserved)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if scheme != tc.wantScheme {
				t.Errorf("scheme = %q, want %q", scheme, tc.wantScheme)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("headers =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}
