package cosign

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testcosign"
)

// TestVerifyTlogSET: a legacy signature's Rekor entry verifies offline
// against the log's key, and not against another key; an entry recording
// another signature, or a SET that does not match, fails.
func TestVerifyTlogSET(t *testing.T) {
	k := newKey(t, "")
	rekor, otherLog := testcosign.NewRekor(t), testcosign.NewRekor(t)
	payload := simplePayload(testDigest)
	sig := signPayload(t, k, payload)
	at := time.Unix(1764800000, 0)
	good := rekor.Annotation(t, payload, sig, k.GetPublicKey(), at)

	s, err := ParseSimpleSigning(payload, sig, good)
	if err != nil {
		t.Fatal(err)
	}
	if !s.HasTlogEntry() {
		t.Fatal("no tlog entry parsed")
	}
	if _, err := s.Verify([]crypto.PublicKey{k.GetPublicKey()}); err != nil {
		t.Fatal(err)
	}
	e, err := s.VerifyTlog(k.GetPublicKey(), []crypto.PublicKey{otherLog.Pub(), rekor.Pub()})
	if err != nil {
		t.Fatal(err)
	}
	if !e.IntegratedTime.Equal(at) || e.LogID != rekor.LogID() {
		t.Fatalf("entry = %+v", e)
	}

	tests := []struct {
		name   string
		rekor  string
		logs   []crypto.PublicKey
		signer crypto.PublicKey
	}{
		{name: "another log's key", rekor: good, logs: []crypto.PublicKey{otherLog.Pub()}, signer: k.GetPublicKey()},
		{name: "entry for another signature", rekor: rekor.Annotation(t, payload, signPayload(t, k, payload), k.GetPublicKey(), at), logs: []crypto.PublicKey{rekor.Pub()}, signer: k.GetPublicKey()},
		{name: "entry for another key", rekor: good, logs: []crypto.PublicKey{rekor.Pub()}, signer: newKey(t, "").GetPublicKey()},
		{name: "integrated time edited", rekor: strings.Replace(good, `"integratedTime":1764800000`, `"integratedTime":1764800001`, 1), logs: []crypto.PublicKey{rekor.Pub()}, signer: k.GetPublicKey()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSimpleSigning(payload, sig, tc.rekor)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.VerifyTlog(tc.signer, tc.logs); err == nil {
				t.Fatal("VerifyTlog succeeded")
			}
		})
	}
}
