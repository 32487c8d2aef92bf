package cosign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/signet-dev/signet/internal/strictjson"
)

// The Rekor checks in rekor.go replace sigstore-go's (so that the signet
// binary does not link Rekor's OpenAPI client). These tests run both on
// the same bundles, with inclusion proofs and promises, good and edited,
// and require the same verdict: sigstore-go is imported by the test only.

// testLog is a Rekor v1 log of two entries: a leaf before ours and ours.
type testLog struct {
	key *ecdsa.PrivateKey
	id  []byte
}

func newTestLog(t *testing.T) *testLog {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	id := sha256.Sum256(der)
	return &testLog{key: k, id: id[:]}
}

// entry logs body at index 1 of a tree of size 2 and returns the entry
// with a checkpoint-signed inclusion proof and a signed entry timestamp.
func (l *testLog) entry(t *testing.T, body []byte, kind, version string) *protorekor.TransparencyLogEntry {
	other := rfc6962.DefaultHasher.HashLeaf([]byte("another entry"))
	leaf := rfc6962.DefaultHasher.HashLeaf(body)
	rootHash := rfc6962.DefaultHasher.HashChildren(other, leaf)
	text := fmt.Sprintf("rekor.test - 1193050959916656506\n2\n%s\n", base64.StdEncoding.EncodeToString(rootHash))
	d := sha256.Sum256([]byte(text))
	sig, err := ecdsa.SignASN1(rand.Reader, l.key, d[:])
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(l.key.Public())
	ks := sha256.Sum256(der)
	hinted := append(binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(ks[:])), sig...)
	cp := text + "\n\u2014 rekor.test " + base64.StdEncoding.EncodeToString(hinted) + "\n"
	tle := &protorekor.TransparencyLogEntry{
		LogIndex: 1, LogId: &protocommon.LogId{KeyId: l.id},
		KindVersion:       &protorekor.KindVersion{Kind: kind, Version: version},
		IntegratedTime:    1764800000,
		CanonicalizedBody: body,
		InclusionProof: &protorekor.InclusionProof{
			LogIndex: 1, RootHash: rootHash, TreeSize: 2, Hashes: [][]byte{other},
			Checkpoint: &protorekor.Checkpoint{Envelope: cp},
		},
	}
	set := sha256.Sum256(setPayload(asEntry(t, tle)))
	promise, err := ecdsa.SignASN1(rand.Reader, l.key, set[:])
	if err != nil {
		t.Fatal(err)
	}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: promise}
	return tle
}

// asEntry is tle as this package decodes it, from its JSON form.
func asEntry(t *testing.T, tle *protorekor.TransparencyLogEntry) *tlogEntryProto {
	t.Helper()
	data, err := protojson.Marshal(tle)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strictjson.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := newObject(v, "entry")
	if err != nil {
		t.Fatal(err)
	}
	e, err := readTlogEntry(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// dsseBody is the dsse v0.0.1 entry Rekor records for an envelope.
func dsseBody(t *testing.T, k testKey, payload, sig []byte) []byte {
	pubDER, _ := x509.MarshalPKIXPublicKey(k.GetPublicKey())
	pemKey := "-----BEGIN PUBLIC KEY-----\n" + base64.StdEncoding.EncodeToString(pubDER) + "\n-----END PUBLIC KEY-----\n"
	ph := sha256.Sum256(payload)
	b, err := json.Marshal(map[string]any{
		"apiVersion": "0.0.1", "kind": "dsse",
		"spec": map[string]any{
			"envelopeHash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(ph[:])},
			"payloadHash":  map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(ph[:])},
			"signatures":   []any{map[string]any{"signature": base64.StdEncoding.EncodeToString(sig), "verifier": base64.StdEncoding.EncodeToString([]byte(pemKey))}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sigstoreGoTlog is sigstore-go's verdict on the bundle's log entries.
func sigstoreGoTlog(t *testing.T, data []byte, key crypto.PublicKey, logKey crypto.PublicKey) error {
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return err
	}
	der, _ := x509.MarshalPKIXPublicKey(logKey)
	id := sha256.Sum256(der)
	sv, err := signature.LoadDefaultVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	tm := &material{key: root.NewExpiringKey(sv, time.Time{}, time.Time{}), logs: map[string]*root.TransparencyLog{
		hex.EncodeToString(id[:]): {ID: id[:], PublicKey: logKey, HashFunc: crypto.SHA256, SignatureHashFunc: crypto.SHA256, ValidityPeriodStart: time.Unix(1, 0)},
	}}
	_, err = verify.VerifyTlogEntry(&b, tm, 1, true)
	return err
}

type material struct {
	root.BaseTrustedMaterial
	key  *root.ExpiringKey
	logs map[string]*root.TransparencyLog
}

func (m *material) PublicKeyVerifier(string) (root.TimeConstrainedVerifier, error) { return m.key, nil }
func (m *material) RekorLogs() map[string]*root.TransparencyLog                    { return m.logs }

// TestVerifyTlogMatchesSigstoreGo: a DSSE bundle with a Rekor entry
// (inclusion proof and promise) verifies here and in sigstore-go, and each
// edit makes both refuse it.
func TestVerifyTlogMatchesSigstoreGo(t *testing.T) {
	k := newKey(t, "")
	log, otherLog := newTestLog(t), newTestLog(t)
	stmt := statement(testDigest, PredicateTypeSign)
	var env struct {
		DsseEnvelope struct {
			Signatures []struct {
				Sig []byte `json:"sig"`
			} `json:"signatures"`
		} `json:"dsseEnvelope"`
	}
	if err := json.Unmarshal(bundleFor(t, k, stmt), &env); err != nil {
		t.Fatal(err)
	}
	sig := env.DsseEnvelope.Signatures[0].Sig

	build := func(edit func(*protorekor.TransparencyLogEntry)) []byte {
		var pb protobundle.Bundle
		if err := protojson.Unmarshal(bundleFor(t, k, stmt), &pb); err != nil {
			t.Fatal(err)
		}
		pb.GetDsseEnvelope().Signatures[0].Sig = sig
		tle := log.entry(t, dsseBody(t, k, stmt, sig), "dsse", "0.0.1")
		if edit != nil {
			edit(tle)
		}
		pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
		data, err := protojson.Marshal(&pb)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	tests := []struct {
		name   string
		edit   func(*protorekor.TransparencyLogEntry)
		logKey crypto.PublicKey
		ok     bool
	}{
		{name: "proof and promise", logKey: log.key.Public(), ok: true},
		{name: "proof only", edit: func(e *protorekor.TransparencyLogEntry) { e.InclusionPromise = nil }, logKey: log.key.Public(), ok: true},
		{name: "another log", logKey: otherLog.key.Public()},
		{name: "proof hash edited", edit: func(e *protorekor.TransparencyLogEntry) { e.InclusionProof.Hashes[0][0] ^= 1 }, logKey: log.key.Public()},
		{name: "proof index edited", edit: func(e *protorekor.TransparencyLogEntry) { e.InclusionProof.LogIndex = 0 }, logKey: log.key.Public()},
		{name: "root hash edited", edit: func(e *protorekor.TransparencyLogEntry) { e.InclusionProof.RootHash[0] ^= 1 }, logKey: log.key.Public()},
		{name: "checkpoint signature edited", edit: func(e *protorekor.TransparencyLogEntry) {
			e.InclusionProof.Checkpoint.Envelope = e.InclusionProof.Checkpoint.Envelope[:len(e.InclusionProof.Checkpoint.Envelope)-6] + "AAAA=\n"
		}, logKey: log.key.Public()},
		{name: "checkpoint by another log", edit: func(e *protorekor.TransparencyLogEntry) {
			e.InclusionProof.Checkpoint = otherLog.entry(t, e.CanonicalizedBody, "dsse", "0.0.1").InclusionProof.Checkpoint
		}, logKey: log.key.Public()},
		{name: "rekor v2 style checkpoint", edit: func(e *protorekor.TransparencyLogEntry) {
			e.InclusionProof.Checkpoint.Envelope = "rekor.test\n" + e.InclusionProof.Checkpoint.Envelope[len("rekor.test - 1193050959916656506\n"):]
		}, logKey: log.key.Public()},
		{name: "promise edited, proof good", edit: func(e *protorekor.TransparencyLogEntry) { e.IntegratedTime++ }, logKey: log.key.Public()},
		{name: "entry for another signature", edit: func(e *protorekor.TransparencyLogEntry) {
			*e = *log.entry(t, dsseBody(t, k, stmt, k.sign(t, []byte("x"))), "dsse", "0.0.1")
		}, logKey: log.key.Public()},
		{name: "entry for another payload", edit: func(e *protorekor.TransparencyLogEntry) {
			*e = *log.entry(t, dsseBody(t, k, []byte("{}"), sig), "dsse", "0.0.1")
		}, logKey: log.key.Public()},
		{name: "entry by another key", edit: func(e *protorekor.TransparencyLogEntry) {
			*e = *log.entry(t, dsseBody(t, newKey(t, ""), stmt, sig), "dsse", "0.0.1")
		}, logKey: log.key.Public()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := build(tc.edit)
			theirs := sigstoreGoTlog(t, data, k.GetPublicKey(), tc.logKey)
			s, err := ParseBundle(data)
			var ours error = err
			if err == nil {
				_, ours = s.VerifyTlog(k.GetPublicKey(), []crypto.PublicKey{tc.logKey})
			}
			if (ours == nil) != tc.ok || (theirs == nil) != tc.ok {
				t.Fatalf("want ok=%v; signet: %v; sigstore-go: %v", tc.ok, ours, theirs)
			}
		})
	}
}

// TestRekorV2EntryParses: a bundle whose entry is from Rekor v2 still
// parses and verifies under its key (as with sigstore-go); only its log
// entry cannot be checked offline here, so VerifyTlog fails.
func TestRekorV2EntryParses(t *testing.T) {
	k := newKey(t, "")
	log := newTestLog(t)
	var pb protobundle.Bundle
	if err := protojson.Unmarshal(bundleFor(t, k, statement(testDigest, PredicateTypeSign)), &pb); err != nil {
		t.Fatal(err)
	}
	tle := log.entry(t, []byte(`{"kind":"hashedrekord","apiVersion":"0.0.2","spec":{"hashedRekordV002":{}}}`), "hashedrekord", "0.0.2")
	tle.InclusionPromise = nil
	pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{tle}
	data, err := protojson.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify([]crypto.PublicKey{k.GetPublicKey()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyTlog(k.GetPublicKey(), []crypto.PublicKey{log.key.Public()}); err == nil {
		t.Fatal("VerifyTlog accepted a Rekor v2 entry it cannot check")
	}
}

// TestRekorLineChecks: the hand-written checks agree with the regular
// expressions sigstore-go uses.
func TestRekorLineChecks(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	originRE := regexp.MustCompile(`.* - [0-9]+$`)
	for _, s := range []string{
		"", strings.Repeat("a", 64), strings.Repeat("A", 63) + "f", strings.Repeat("0", 65), strings.Repeat("g", 64),
		"rekor.sigstore.dev - 1193050959916656506", " - 1", "- 1", "x - ", "x - 12a", "a - 1 - 2", "x -  1", "rekor.test - 1\r",
	} {
		if got, want := isHexSHA256(s), hexRE.MatchString(s); got != want {
			t.Errorf("isHexSHA256(%q) = %v, want %v", s, got, want)
		}
		if got, want := isRekorV1Origin(s), originRE.MatchString(s); got != want {
			t.Errorf("isRekorV1Origin(%q) = %v, want %v", s, got, want)
		}
	}
}
