package timestamp

import (
	"crypto"
	"crypto/x509"
	"testing"
	"time"
)

// TestRangeOpenSSL: the accuracy of real tokens (TSA-9) and the TC-16
// shapes of TSA-10. openssl ts writes the accuracy field as configured;
// without one, the baseline policy 0.4.0.2023.1.1 means ± 1 s and any other
// policy means genTime exactly.
func TestRangeOpenSSL(t *testing.T) {
	opensslBin(t)
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256"})
	sig := randomSig(t, 64)
	// validity builds a certificate valid from genTime+from to
	// genTime+to; Within reads nothing else.
	validity := func(gen time.Time, from, to time.Duration) *x509.Certificate {
		return &x509.Certificate{NotBefore: gen.Add(from), NotAfter: gen.Add(to)}
	}
	type within struct {
		name     string
		from, to time.Duration
		want     bool
	}
	tests := []struct {
		name     string
		cfg      tsaConfig
		accuracy time.Duration
		cases    []within
	}{
		{
			name: "accuracy 10 s (TC-16 first)", cfg: tsaConfig{Accuracy: "secs:10"}, accuracy: 10 * time.Second,
			cases: []within{
				{name: "notAfter = genTime + 5 s", from: -time.Hour, to: 5 * time.Second, want: false},
				{name: "notAfter = genTime + 10 s (inclusive)", from: -time.Hour, to: 10 * time.Second, want: true},
				{name: "notBefore = genTime - 10 s (inclusive)", from: -10 * time.Second, to: time.Hour, want: true},
				{name: "notBefore = genTime - 9 s", from: -9 * time.Second, to: time.Hour, want: false},
			},
		},
		{
			name: "no accuracy, baseline policy (TC-16 second)", cfg: tsaConfig{Policy: "0.4.0.2023.1.1"}, accuracy: time.Second,
			cases: []within{
				{name: "notAfter = genTime", from: -time.Hour, to: 0, want: false},
				{name: "notAfter = genTime + 1 s", from: -time.Hour, to: time.Second, want: true},
				{name: "notBefore = genTime", from: 0, to: time.Hour, want: false},
			},
		},
		{
			name: "no accuracy, other policy (TC-16 third)", cfg: tsaConfig{Policy: "1.2.3.4.1"}, accuracy: 0,
			cases: []within{
				{name: "notAfter = genTime", from: -time.Hour, to: 0, want: true},
				{name: "notBefore = notAfter = genTime", from: 0, to: 0, want: true},
				{name: "notAfter = genTime - 1 s", from: -time.Hour, to: -time.Second, want: false},
			},
		},
		{
			name: "seconds, millis and micros add up", cfg: tsaConfig{Accuracy: "secs:1, millisecs:500, microsecs:100", Precision: 3}, accuracy: 1500100 * time.Microsecond,
			cases: []within{
				{name: "notAfter = genTime + 1.5001 s", from: -time.Hour, to: 1500100 * time.Microsecond, want: true},
				{name: "notAfter = genTime + 1.5 s", from: -time.Hour, to: 1500 * time.Millisecond, want: false},
			},
		},
		{
			name: "accuracy field beats the baseline default", cfg: tsaConfig{Policy: "0.4.0.2023.1.1", Accuracy: "millisecs:200"}, accuracy: 200 * time.Millisecond,
			cases: []within{
				{name: "notAfter = genTime + 200 ms", from: -time.Hour, to: 200 * time.Millisecond, want: true},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := opensslToken(t, pki, tc.cfg, sig, crypto.SHA256)
			rng, _, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rng.Accuracy != tc.accuracy {
				t.Errorf("accuracy %v, want %v", rng.Accuracy, tc.accuracy)
			}
			if !rng.GenTime.Equal(tok.Info.GenTime) || !rng.Earliest().Equal(rng.GenTime.Add(-tc.accuracy)) || !rng.Latest().Equal(rng.GenTime.Add(tc.accuracy)) {
				t.Errorf("range %v: earliest %v latest %v", rng, rng.Earliest(), rng.Latest())
			}
			for _, w := range tc.cases {
				if got := rng.Within(validity(rng.GenTime, w.from, w.to)); got != w.want {
					t.Errorf("%s: Within = %v, want %v", w.name, got, w.want)
				}
			}
		})
	}
	if (Range{GenTime: time.Now()}).Within(nil) {
		t.Error("Within(nil) is true")
	}
}

// TestVerifyAfterTSAExpiry: a token stays verifiable after its TSA
// certificate expires, because the TSA chain is validated at genTime, not
// now (TSA-7, TSACERT-4).
func TestVerifyAfterTSAExpiry(t *testing.T) {
	opensslBin(t)
	const life = 2 * time.Second
	pki := newTSAPKI(t, pkiOptions{LeafKey: "ec-256", Modify: func(c *x509.Certificate) {
		c.NotBefore = time.Now().Add(-time.Minute)
		c.NotAfter = time.Now().Add(life)
	}})
	sig := randomSig(t, 64)
	tok := opensslToken(t, pki, tsaConfig{}, sig, crypto.SHA256)
	time.Sleep(time.Until(pki.Leaf.Cert.NotAfter) + 1100*time.Millisecond)
	if !time.Now().After(pki.Leaf.Cert.NotAfter) {
		t.Fatal("the TSA certificate has not expired yet")
	}
	rng, chain, err := tok.Verify(sig, []*x509.Certificate{pki.Root.Cert}, VerifyOptions{})
	if err != nil {
		t.Fatalf("Verify after the TSA certificate expired: %v", err)
	}
	if !rng.Within(chain[0]) {
		t.Errorf("genTime %v is outside the TSA certificate's validity", rng)
	}
}
