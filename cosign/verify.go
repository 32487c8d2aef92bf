package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
)

// ErrNoKey means no key given to Verify verified the signature.
var ErrNoKey = errors.New("the signature does not verify under any trusted public key")

// Signed is what a verified signature covers.
type Signed struct {
	// KeyIndex is the index, in the keys given to Verify, of the key the
	// signature verified under.
	KeyIndex int
	// Digests are the artifact digests the signed content names
	// ("sha256:<hex>"): the in-toto statement's subjects, or the
	// simple-signing payload's docker-manifest-digest.
	Digests []string
	// PredicateType is the in-toto predicate type (bundle form only).
	PredicateType string
	// DockerReference is the repository the simple-signing payload claims
	// (legacy form only; informational, as for cosign).
	DockerReference string
}

// Verify checks the signature's cryptography under each of keys in turn,
// without the transparency log (see VerifyTlog), and returns what the first
// key that verifies it signed: the signed content is decoded only after its
// signature holds. A bundle must be a DSSE envelope over an in-toto
// statement of predicate type PredicateTypeSign, or a message signature
// (legacy form) over a simple-signing payload. A certificate-based
// (keyless) signature is refused: keys cannot authenticate it.
func (s *Signature) Verify(keys []crypto.PublicKey) (*Signed, error) {
	if s.Keyless() {
		return nil, errors.New("the signature is certificate-based (keyless): publickey trust stores cannot verify it")
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrNoKey)
	}
	var errs []string
	for i, k := range keys {
		st, err := s.verifyWith(k)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		signed, err := s.signedContent(st)
		if err != nil {
			return nil, err
		}
		signed.KeyIndex = i
		return signed, nil
	}
	return nil, fmt.Errorf("%w (%d keys tried; the first: %s)", ErrNoKey, len(keys), errs[0])
}

// verifyWith checks the signature under one key (with each hash the key
// may have signed with) and returns the in-toto statement of a DSSE
// envelope (nil when the payload is not one).
func (s *Signature) verifyWith(pub crypto.PublicKey) (*intoto.Statement, error) {
	var last error = errors.New("unsupported public key type")
	for _, sv := range signatureVerifiers(pub) {
		st, err := s.verifyWithVerifier(sv)
		if err == nil {
			return st, nil
		}
		last = err
	}
	return nil, last
}

func (s *Signature) verifyWithVerifier(sv signature.Verifier) (*intoto.Statement, error) {
	if env := s.b.GetDsseEnvelope(); env != nil {
		if len(env.GetSignatures()) != 1 {
			return nil, errors.New("DSSE envelope does not contain exactly one signature")
		}
		if err := sv.VerifySignature(bytes.NewReader(env.GetSignatures()[0].GetSig()), bytes.NewReader(pae(env.GetPayloadType(), env.GetPayload()))); err != nil {
			return nil, fmt.Errorf("could not verify envelope: %w", err)
		}
		if env.GetPayloadType() != inTotoPayloadType {
			return nil, nil
		}
		var st intoto.Statement
		if err := protojson.Unmarshal(env.GetPayload(), &st); err != nil {
			return nil, nil
		}
		return &st, nil
	}
	ms := s.b.GetMessageSignature()
	if s.payload != nil {
		if err := sv.VerifySignature(bytes.NewReader(ms.GetSignature()), bytes.NewReader(s.payload)); err != nil {
			return nil, fmt.Errorf("could not verify message signature: %w", err)
		}
		return nil, nil
	}
	// A message signature in a bundle signs an artifact signet does not
	// have: check it over the bundle's digest (signedContent refuses it).
	if err := sv.VerifySignature(bytes.NewReader(ms.GetSignature()), nil, options.WithDigest(ms.GetMessageDigest().GetDigest())); err != nil {
		return nil, fmt.Errorf("could not verify message signature: %w", err)
	}
	return nil, nil
}

// inTotoPayloadType is the DSSE payload type of an in-toto statement.
const inTotoPayloadType = "application/vnd.in-toto+json"

// pae is DSSE's pre-authentication encoding of a payload, what a DSSE
// signature signs: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// signatureVerifiers are the sigstore verifiers a key may have signed
// with: its default hash, and SHA-256 for larger ECDSA curves (cosign
// signs with SHA-256 whatever the curve of an imported key).
func signatureVerifiers(pub crypto.PublicKey) []signature.Verifier {
	var out []signature.Verifier
	if v, err := signature.LoadDefaultVerifier(pub); err == nil {
		out = append(out, v)
	}
	if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve.Params().BitSize > 256 {
		if v, err := signature.LoadECDSAVerifier(k, crypto.SHA256); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// signedContent decodes the verified content.
func (s *Signature) signedContent(st *intoto.Statement) (*Signed, error) {
	if s.payload != nil {
		var p payload.Cosign
		if err := json.Unmarshal(s.payload, &p); err != nil {
			return nil, fmt.Errorf("%w: simple-signing payload: %v", ErrInvalid, err)
		}
		if p.Image.DigestStr() == "" {
			return nil, fmt.Errorf("%w: simple-signing payload names no image digest", ErrInvalid)
		}
		return &Signed{Digests: []string{p.Image.DigestStr()}, DockerReference: p.ClaimedIdentity}, nil
	}
	if st == nil {
		return nil, fmt.Errorf("%w: the bundle holds no in-toto statement (a cosign image signature is a DSSE envelope)", ErrInvalid)
	}
	if st.GetPredicateType() != PredicateTypeSign {
		return nil, fmt.Errorf("%w: the statement's predicate type is %q, not %s: an attestation, not a signature", ErrInvalid, st.GetPredicateType(), PredicateTypeSign)
	}
	signed := &Signed{PredicateType: st.GetPredicateType()}
	for _, sub := range st.GetSubject() {
		for alg, h := range sub.GetDigest() {
			signed.Digests = append(signed.Digests, strings.ToLower(alg)+":"+strings.ToLower(h))
		}
	}
	sort.Strings(signed.Digests)
	if len(signed.Digests) == 0 {
		return nil, fmt.Errorf("%w: the statement has no subject digest", ErrInvalid)
	}
	return signed, nil
}

// TlogEntry is a verified transparency log entry.
type TlogEntry struct {
	// IntegratedTime is when the log says it recorded the entry (zero when
	// only an inclusion proof, which does not sign the time, was checked).
	IntegratedTime time.Time
	// LogID is the lowercase hex SHA-256 of the log's public key.
	LogID string
}

// VerifyTlog checks the signature's transparency log entries offline, as
// sigstore-go's verify.VerifyTlogEntry does: each entry's inclusion promise
// (signed entry timestamp) and/or inclusion proof against rekorKeys, and
// that the entry records this signature, signed by key (the key Verify
// accepted). At least one entry must verify. Rekor v1 entries are
// supported; Rekor v2 entries, whose checkpoints name the log by URL, are
// not.
func (s *Signature) VerifyTlog(key crypto.PublicKey, rekorKeys []crypto.PublicKey) (*TlogEntry, error) {
	if !s.HasTlogEntry() {
		return nil, errors.New("the signature has no transparency log entry")
	}
	if len(rekorKeys) == 0 {
		return nil, errors.New("no Rekor public keys to check the transparency log entry with")
	}
	logs := map[string]crypto.PublicKey{}
	for _, rk := range rekorKeys {
		der, err := x509.MarshalPKIXPublicKey(rk)
		if err != nil {
			return nil, fmt.Errorf("rekor key: %w", err)
		}
		id := sha256.Sum256(der)
		logs[hex.EncodeToString(id[:])] = rk
	}
	if len(s.entries) > maxTlogEntries {
		return nil, fmt.Errorf("too many tlog entries: %d > %d", len(s.entries), maxTlogEntries)
	}
	for i, a := range s.entries {
		for _, b := range s.entries[i+1:] {
			if bytes.Equal(a.tle.LogId.KeyId, b.tle.LogId.KeyId) && a.tle.LogIndex == b.tle.LogIndex {
				return nil, errors.New("duplicate tlog entries found")
			}
		}
	}
	sig := s.b.GetMessageSignature().GetSignature()
	if env := s.b.GetDsseEnvelope(); env != nil {
		sig = env.GetSignatures()[0].GetSig()
	}
	var out *TlogEntry
	for _, e := range s.entries {
		tle := e.tle
		logKey, ok := logs[hex.EncodeToString(tle.LogId.KeyId)]
		if !ok {
			continue
		}
		if tle.InclusionPromise == nil && tle.InclusionProof == nil {
			return nil, errors.New("entry must contain an inclusion proof and/or promise")
		}
		if e.v2 {
			if tle.InclusionProof == nil {
				return nil, errors.New("rekor v2 entries must have an inclusion proof")
			}
			if tle.InclusionPromise != nil {
				continue // a v2 entry has no signed entry timestamp to check
			}
			return nil, errors.New("cannot verify Rekor v2 entry without baseUrl in transparency log's trusted root")
		}
		if tle.InclusionPromise != nil {
			if err := verifySET(tle, logKey); err != nil {
				continue
			}
		}
		if tle.InclusionProof != nil {
			if err := verifyInclusion(tle, logKey); err != nil {
				return nil, err
			}
		}
		if !bytes.Equal(e.signature, sig) {
			return nil, errors.New("transparency log signature does not match")
		}
		if k, ok := key.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(e.publicKey()) {
			return nil, errors.New("transparency log certificate does not match")
		}
		if ms := s.b.GetMessageSignature(); ms != nil {
			if e.hash == "" {
				return nil, errors.New("transparency log entry is not a hashedrekord or missing digest")
			}
			if ms.GetMessageDigest().GetAlgorithm() != protocommon.HashAlgorithm_SHA2_256 || e.hashAlg != "sha256" {
				return nil, fmt.Errorf("transparency log hashedrekord entry digest algorithm mismatch: %s != %s", ms.GetMessageDigest().GetAlgorithm(), e.hashAlg)
			}
			if got := hex.EncodeToString(ms.GetMessageDigest().GetDigest()); !strings.EqualFold(got, e.hash) {
				return nil, fmt.Errorf("transparency log hashedrekord entry digest %s does not match artifact %s", e.hash, got)
			}
		} else {
			if e.payloadHash == "" {
				return nil, errors.New("transparency log rekor v1 entry is not a dsse_v001 or intoto_v002 entry")
			}
			sum := sha256.Sum256(s.b.GetDsseEnvelope().GetPayload())
			if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, e.payloadHash) {
				return nil, fmt.Errorf("transparency log dsse/intoto entry payload hash %s does not match envelope payload hash %s", e.payloadHash, got)
			}
		}
		if out == nil {
			out = &TlogEntry{LogID: hex.EncodeToString(tle.LogId.KeyId)}
			if tle.InclusionPromise != nil {
				out.IntegratedTime = time.Unix(tle.IntegratedTime, 0).UTC()
			}
		}
	}
	if out == nil {
		return nil, errors.New("not enough verified log entries from transparency log: 0 < 1")
	}
	return out, nil
}
