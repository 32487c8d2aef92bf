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

	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/payload"
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
		res, err := s.verifyWith(k)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		signed, err := s.signedContent(res)
		if err != nil {
			return nil, err
		}
		signed.KeyIndex = i
		return signed, nil
	}
	return nil, fmt.Errorf("%w (%d keys tried; the first: %s)", ErrNoKey, len(keys), errs[0])
}

// verifyWith runs sigstore-go's verifier with one key and no observer
// timestamps (a key has no validity window).
func (s *Signature) verifyWith(pub crypto.PublicKey) (*verify.VerificationResult, error) {
	var last error
	for _, sv := range signatureVerifiers(pub) {
		tm := &material{key: root.NewExpiringKey(sv, time.Time{}, time.Time{})}
		v, err := verify.NewVerifier(tm, verify.WithNoObserverTimestamps())
		if err != nil {
			return nil, err
		}
		artifact := verify.WithoutArtifactUnsafe() // DSSE: the subject is checked by the caller
		if s.payload != nil {
			artifact = verify.WithArtifact(bytes.NewReader(s.payload))
		}
		res, err := v.Verify(s.b, verify.NewPolicy(artifact, verify.WithKey()))
		if err == nil {
			return res, nil
		}
		last = err
	}
	return nil, last
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
func (s *Signature) signedContent(res *verify.VerificationResult) (*Signed, error) {
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
	st := res.Statement
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

// VerifyTlog checks the signature's transparency log entries offline with
// sigstore-go: each entry's inclusion promise (signed entry timestamp)
// and/or inclusion proof against rekorKeys, and that the entry records this
// signature, signed by key (the key Verify accepted). At least one entry
// must verify. Rekor v1 entries are supported; Rekor v2 entries, whose
// checkpoints name the log by URL, are not.
func (s *Signature) VerifyTlog(key crypto.PublicKey, rekorKeys []crypto.PublicKey) (*TlogEntry, error) {
	if !s.HasTlogEntry() {
		return nil, errors.New("the signature has no transparency log entry")
	}
	if len(rekorKeys) == 0 {
		return nil, errors.New("no Rekor public keys to check the transparency log entry with")
	}
	logs := map[string]*root.TransparencyLog{}
	for _, rk := range rekorKeys {
		der, err := x509.MarshalPKIXPublicKey(rk)
		if err != nil {
			return nil, fmt.Errorf("rekor key: %w", err)
		}
		id := sha256.Sum256(der)
		logs[hex.EncodeToString(id[:])] = &root.TransparencyLog{
			ID:                id[:],
			PublicKey:         rk,
			HashFunc:          crypto.SHA256,
			SignatureHashFunc: crypto.SHA256,
			// The key is trusted for as long as it is in the store.
			ValidityPeriodStart: time.Unix(1, 0),
		}
	}
	var last error
	for _, sv := range signatureVerifiers(key) {
		tm := &material{key: root.NewExpiringKey(sv, time.Time{}, time.Time{}), logs: logs}
		ts, err := verify.VerifyTlogEntry(s.b, tm, 1, true)
		if err != nil {
			last = err
			continue
		}
		e := &TlogEntry{}
		if len(ts) > 0 {
			e.IntegratedTime = ts[0].Time.UTC()
			e.LogID = hex.EncodeToString([]byte(ts[0].URI))
		}
		for _, tle := range s.b.GetVerificationMaterial().GetTlogEntries() {
			if _, ok := logs[hex.EncodeToString(tle.GetLogId().GetKeyId())]; ok {
				e.LogID = hex.EncodeToString(tle.GetLogId().GetKeyId())
				break
			}
		}
		return e, nil
	}
	return nil, last
}

// material is the trusted material of one verification: the candidate
// signing key and the Rekor logs.
type material struct {
	root.BaseTrustedMaterial
	key  *root.ExpiringKey
	logs map[string]*root.TransparencyLog
}

// PublicKeyVerifier returns the candidate key whatever the bundle's hint:
// the hint is unsigned, so it selects nothing.
func (m *material) PublicKeyVerifier(string) (root.TimeConstrainedVerifier, error) {
	return m.key, nil
}

// RekorLogs returns the trusted Rekor logs by hex log ID.
func (m *material) RekorLogs() map[string]*root.TransparencyLog {
	if m.logs == nil {
		return map[string]*root.TransparencyLog{}
	}
	return m.logs
}
