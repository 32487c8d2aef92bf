package cosign

import (
	"reflect"
	"strings"
	"testing"

	intoto "github.com/in-toto/attestation/go/v1"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// The bundle and statement decoders replace protojson with
// protobuf-specs' and in-toto's generated types (which sigstore-go uses).
// These tests decode the same bytes both ways and require the same
// verdict and, when both accept, the same values.

// fromProto converts a protojson-decoded bundle into this package's type.
func fromProto(pb *protobundle.Bundle) *sigstoreBundle {
	b := &sigstoreBundle{MediaType: pb.GetMediaType()}
	if vm := pb.GetVerificationMaterial(); vm != nil {
		b.VerificationMaterial = &verificationMaterial{}
		if pk := vm.GetPublicKey(); pk != nil {
			b.VerificationMaterial.PublicKey = &publicKeyIdentifier{Hint: pk.GetHint()}
		}
		if c := vm.GetCertificate(); c != nil {
			b.VerificationMaterial.Certificate = &x509Certificate{RawBytes: c.GetRawBytes()}
		}
		if ch := vm.GetX509CertificateChain(); ch != nil {
			b.VerificationMaterial.X509CertificateChain = &x509CertificateChain{}
			for _, c := range ch.GetCertificates() {
				b.VerificationMaterial.X509CertificateChain.Certificates = append(b.VerificationMaterial.X509CertificateChain.Certificates, &x509Certificate{RawBytes: c.GetRawBytes()})
			}
		}
		for _, e := range vm.GetTlogEntries() {
			b.VerificationMaterial.TlogEntries = append(b.VerificationMaterial.TlogEntries, entryFromProto(e))
		}
		for _, ts := range vm.GetTimestampVerificationData().GetRfc3161Timestamps() {
			b.VerificationMaterial.RFC3161Timestamps = append(b.VerificationMaterial.RFC3161Timestamps, ts.GetSignedTimestamp())
		}
	}
	if ms := pb.GetMessageSignature(); ms != nil {
		b.MessageSignature = &messageSignature{Signature: ms.GetSignature()}
		if md := ms.GetMessageDigest(); md != nil {
			b.MessageSignature.MessageDigest = &hashOutput{Algorithm: int32(md.GetAlgorithm()), Digest: md.GetDigest()}
		}
	}
	if env := pb.GetDsseEnvelope(); env != nil {
		b.DsseEnvelope = &dsseEnvelope{Payload: env.GetPayload(), PayloadType: env.GetPayloadType()}
		for _, s := range env.GetSignatures() {
			b.DsseEnvelope.Signatures = append(b.DsseEnvelope.Signatures, &dsseSignature{Sig: s.GetSig(), KeyID: s.GetKeyid()})
		}
	}
	return b
}

func entryFromProto(e *protorekor.TransparencyLogEntry) *tlogEntryProto {
	out := &tlogEntryProto{LogIndex: e.GetLogIndex(), IntegratedTime: e.GetIntegratedTime(), CanonicalizedBody: e.GetCanonicalizedBody()}
	if id := e.GetLogId(); id != nil {
		out.LogID = &logID{KeyID: id.GetKeyId()}
	}
	if kv := e.GetKindVersion(); kv != nil {
		out.KindVersion = &kindVersion{Kind: kv.GetKind(), Version: kv.GetVersion()}
	}
	if p := e.GetInclusionPromise(); p != nil {
		out.InclusionPromise = &inclusionPromise{SignedEntryTimestamp: p.GetSignedEntryTimestamp()}
	}
	if p := e.GetInclusionProof(); p != nil {
		out.InclusionProof = &inclusionProof{LogIndex: p.GetLogIndex(), RootHash: p.GetRootHash(), TreeSize: p.GetTreeSize()}
		for _, h := range p.GetHashes() {
			if len(h) == 0 {
				h = nil
			}
			out.InclusionProof.Hashes = append(out.InclusionProof.Hashes, h)
		}
		if c := p.GetCheckpoint(); c != nil {
			out.InclusionProof.Checkpoint = &checkpoint{Envelope: c.GetEnvelope()}
		}
	}
	return out
}

// compareBundle decodes data both ways and fails on any difference.
func compareBundle(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	var pb protobundle.Bundle
	perr := protojson.Unmarshal(data, &pb)
	b, err := parseBundleJSON(data)
	if (perr == nil) != (err == nil) {
		t.Fatalf("%s\nprotojson: %v\nsignet: %v", data, perr, err)
	}
	if err != nil {
		return false
	}
	if want := fromProto(&pb); !reflect.DeepEqual(b, want) {
		t.Fatalf("%s\ndecoded differently from protojson:\n got %+v\nwant %+v", data, b, want)
	}
	return true
}

const (
	bundleHead = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",`
	entryJSON  = `{"logIndex":"7","logId":{"keyId":"q83v"},"kindVersion":{"kind":"dsse","version":"0.0.1"},"integratedTime":"1764800000","inclusionPromise":{"signedEntryTimestamp":"AAEC"},"inclusionProof":{"logIndex":"7","rootHash":"AAEC","treeSize":"8","hashes":["AAEC","AwQF"],"checkpoint":{"envelope":"rekor - 1\n8\nAAEC\n\n— rekor AAAA\n"}},"canonicalizedBody":"e30="}`
)

var bundleCases = []struct {
	name string
	json string
	ok   bool
}{
	{"DSSE bundle with a log entry", bundleHead + `"verificationMaterial":{"publicKey":{"hint":"h"},"tlogEntries":[` + entryJSON + `]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAEC","keyid":""}]}}`, true},
	{"message signature, field names", `{"media_type":"application/vnd.dev.sigstore.bundle+json;version=0.1","verification_material":{"public_key":{}},"message_signature":{"message_digest":{"algorithm":"SHA2_256","digest":"AAEC"},"signature":"AAEC"}}`, true},
	{"enum as a number", bundleHead + `"messageSignature":{"messageDigest":{"algorithm":3}}}`, true},
	{"unknown enum name", bundleHead + `"messageSignature":{"messageDigest":{"algorithm":"MD5"}}}`, false},
	{"certificate chain and timestamps", bundleHead + `"verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"AAEC"},{"raw_bytes":"AwQF"}]},"timestampVerificationData":{"rfc3161Timestamps":[{"signedTimestamp":"AAEC"}]}}}`, true},
	{"base64url without padding", bundleHead + `"dsseEnvelope":{"payload":"-_8","signatures":[{"sig":"AAE"}]}}`, true},
	{"not base64", bundleHead + `"dsseEnvelope":{"payload":"!!!!"}}`, false},
	{"empty bytes are unset", bundleHead + `"verificationMaterial":{"tlogEntries":[{"canonicalizedBody":"","logId":{"keyId":""}}]}}`, true},
	{"integers as numbers and exponents", bundleHead + `"verificationMaterial":{"tlogEntries":[{"logIndex":7,"integratedTime":"1e3"}]}}`, true},
	{"fractional integer", bundleHead + `"verificationMaterial":{"tlogEntries":[{"logIndex":"1.5"}]}}`, false},
	{"integer with blanks", bundleHead + `"verificationMaterial":{"tlogEntries":[{"logIndex":" 1"}]}}`, false},
	{"integer out of range", bundleHead + `"verificationMaterial":{"tlogEntries":[{"logIndex":"9223372036854775808"}]}}`, false},
	{"null members are unset", bundleHead + `"verificationMaterial":null,"messageSignature":null,"dsseEnvelope":{"payload":null,"signatures":null}}`, true},
	{"null oneof member beside a set one", bundleHead + `"messageSignature":null,"dsseEnvelope":{}}`, true},
	{"two members of a oneof", bundleHead + `"messageSignature":{},"dsseEnvelope":{}}`, false},
	{"two key members", bundleHead + `"verificationMaterial":{"publicKey":{},"certificate":{}}}`, false},
	{"both spellings of a field", bundleHead + `"media_type":"x"}`, false},
	{"duplicate member", bundleHead + `"mediaType":"x"}`, false},
	{"unknown member", bundleHead + `"extra":1}`, false},
	{"unknown nested member", bundleHead + `"dsseEnvelope":{"signatures":[{"sig":"AA==","extra":true}]}}`, false},
	{"null list element", bundleHead + `"dsseEnvelope":{"signatures":[null]}}`, false},
	{"wrong type", bundleHead + `"dsseEnvelope":{"payloadType":1}}`, false},
	{"unpaired surrogate", bundleHead + `"dsseEnvelope":{"payloadType":"\ud800"}}`, false},
	{"paired surrogates", bundleHead + `"dsseEnvelope":{"payloadType":"\ud83d\ude00 \\u"}}`, true},
	{"invalid UTF-8", bundleHead + "\"dsseEnvelope\":{\"payloadType\":\"\xff\"}}", false},
	{"not an object", `[]`, false},
	{"null", `null`, false},
	{"trailing data", `{} {}`, false},
}

func TestBundleJSONMatchesProtojson(t *testing.T) {
	for _, c := range bundleCases {
		t.Run(c.name, func(t *testing.T) {
			if got := compareBundle(t, []byte(c.json)); got != c.ok {
				t.Errorf("accepted %v, want %v", got, c.ok)
			}
		})
	}
	t.Run("signed bundle", func(t *testing.T) {
		compareBundle(t, bundleFor(t, newKey(t, ""), statement(testDigest, PredicateTypeSign)))
	})
}

// compareStatement decodes data both ways and fails on any difference.
// A predicate nested deeper than strictjson.MaxDepth is refused here and
// may be accepted by protojson (the safe direction).
func compareStatement(t *testing.T, data []byte) (accepted bool) {
	t.Helper()
	var st intoto.Statement
	perr := protojson.Unmarshal(data, &st)
	got, err := parseStatement(data)
	if err != nil && perr == nil && strings.Contains(err.Error(), "nested deeper") {
		return false
	}
	if (perr == nil) != (err == nil) {
		t.Fatalf("%s\nprotojson: %v\nsignet: %v", data, perr, err)
	}
	if err != nil {
		return false
	}
	want := &inTotoStatement{Type: st.GetType(), PredicateType: st.GetPredicateType()}
	for _, s := range st.GetSubject() {
		rd := &resourceDescriptor{Name: s.GetName(), URI: s.GetUri(), Digest: s.GetDigest(), Content: s.GetContent(), DownloadLocation: s.GetDownloadLocation(), MediaType: s.GetMediaType()}
		if len(rd.Digest) == 0 {
			rd.Digest = nil
		}
		want.Subject = append(want.Subject, rd)
	}
	gotCmp := *got
	gotCmp.Predicate = nil
	for i, s := range gotCmp.Subject {
		c := *s
		c.Annotations = nil
		if len(c.Digest) == 0 {
			c.Digest = nil
		}
		gotCmp.Subject[i] = &c
	}
	if !reflect.DeepEqual(&gotCmp, want) {
		t.Fatalf("%s\ndecoded differently from protojson:\n got %+v\nwant %+v", data, &gotCmp, want)
	}
	if (got.Predicate != nil) != (st.GetPredicate() != nil) {
		t.Fatalf("%s\npredicate set: %v, protojson: %v", data, got.Predicate != nil, st.GetPredicate() != nil)
	}
	return true
}

var statementCases = []struct {
	name string
	json string
	ok   bool
}{
	{"cosign statement", string(statement(testDigest, PredicateTypeSign)), true},
	{"field names", `{"type":"t","predicate_type":"p","subject":[{"name":"n","download_location":"d","media_type":"m","digest":{"sha256":"ab"},"annotations":{"a":[1,{"b":null}]}}]}`, true},
	{"both spellings of _type", `{"_type":"t","type":"t"}`, false},
	{"unknown member", `{"_type":"t","subjects":[]}`, false},
	{"digest value not a string", `{"subject":[{"digest":{"sha256":1}}]}`, false},
	{"predicate not an object", `{"predicate":[]}`, false},
	{"null predicate", `{"predicate":null}`, true},
}

func TestStatementMatchesProtojson(t *testing.T) {
	for _, c := range statementCases {
		t.Run(c.name, func(t *testing.T) {
			if got := compareStatement(t, []byte(c.json)); got != c.ok {
				t.Errorf("accepted %v, want %v", got, c.ok)
			}
		})
	}
}

// FuzzBundleJSON: whatever protojson makes of a bundle or a statement,
// this package makes the same.
func FuzzBundleJSON(f *testing.F) {
	for _, c := range bundleCases {
		f.Add([]byte(c.json))
	}
	for _, c := range statementCases {
		f.Add([]byte(c.json))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxBundleBytes {
			return
		}
		compareBundle(t, data)
		compareStatement(t, data)
	})
}
