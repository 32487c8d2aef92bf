package cosign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	_ "crypto/sha512" // SHA-384 and SHA-512 for ECDSA P-384 and P-521 keys
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"
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
func (s *Signature) verifyWith(pub crypto.PublicKey) (*inTotoStatement, error) {
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

func (s *Signature) verifyWithVerifier(sv keyVerifier) (*inTotoStatement, error) {
	if env := s.b.DsseEnvelope; env != nil {
		if len(env.Signatures) != 1 {
			return nil, errors.New("DSSE envelope does not contain exactly one signature")
		}
		if err := sv.verify(env.Signatures[0].Sig, pae(env.PayloadType, env.Payload)); err != nil {
			return nil, fmt.Errorf("could not verify envelope: %w", err)
		}
		if env.PayloadType != inTotoPayloadType {
			return nil, nil
		}
		st, err := parseStatement(env.Payload)
		if err != nil {
			return nil, nil
		}
		return st, nil
	}
	ms := s.b.MessageSignature
	if s.payload != nil {
		if err := sv.verify(ms.Signature, s.payload); err != nil {
			return nil, fmt.Errorf("could not verify message signature: %w", err)
		}
		return nil, nil
	}
	// A message signature in a bundle signs an artifact signet does not
	// have: check it over the bundle's digest (signedContent refuses it).
	var digest []byte
	if ms.MessageDigest != nil {
		digest = ms.MessageDigest.Digest
	}
	if err := sv.verifyDigest(ms.Signature, digest); err != nil {
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

// signatureVerifiers are the ways a key may have signed: its default
// algorithm (sigstore/sigstore's LoadDefaultVerifier: RSA PKCS #1 v1.5
// with SHA-256 for 2048-, 3072- and 4096-bit keys, ECDSA with SHA-256,
// SHA-384 or SHA-512 for P-256, P-384 and P-521, Ed25519), and SHA-256 for
// larger ECDSA curves (cosign signs with SHA-256 whatever the curve of an
// imported key).
func signatureVerifiers(pub crypto.PublicKey) []keyVerifier {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.Size() * 8 {
		case 2048, 3072, 4096:
			return []keyVerifier{{key: k, hash: crypto.SHA256}}
		}
	case *ecdsa.PublicKey:
		var out []keyVerifier
		switch k.Curve {
		case elliptic.P256():
			out = append(out, keyVerifier{key: k, hash: crypto.SHA256})
		case elliptic.P384():
			out = append(out, keyVerifier{key: k, hash: crypto.SHA384})
		case elliptic.P521():
			out = append(out, keyVerifier{key: k, hash: crypto.SHA512})
		}
		if k.Curve.Params().BitSize > 256 {
			out = append(out, keyVerifier{key: k, hash: crypto.SHA256})
		}
		return out
	case ed25519.PublicKey:
		return []keyVerifier{{key: k}}
	}
	return nil
}

// keyVerifier checks signatures made with one public key and hash, as
// sigstore/sigstore's pkg/signature verifiers do: RSA PKCS #1 v1.5, ECDSA
// (an ASN.1 signature, or r||s as IEEE P1363 encodes it) and Ed25519
// (which signs the message itself, never a digest).
type keyVerifier struct {
	key  crypto.PublicKey
	hash crypto.Hash // unused for Ed25519
}

// verify checks sig over message.
func (v keyVerifier) verify(sig, message []byte) error {
	if k, ok := v.key.(ed25519.PublicKey); ok {
		if !ed25519.Verify(k, message, sig) {
			return errors.New("failed to verify signature")
		}
		return nil
	}
	if !v.hash.Available() {
		return errors.New("unsupported hash algorithm")
	}
	h := v.hash.New()
	h.Write(message)
	return v.verifyDigest(sig, h.Sum(nil))
}

// verifyDigest checks sig over a digest made with v's hash.
func (v keyVerifier) verifyDigest(sig, digest []byte) error {
	if _, ok := v.key.(ed25519.PublicKey); ok {
		return errors.New("message cannot be nil: an Ed25519 signature signs the message, not a digest")
	}
	if !v.hash.Available() || len(digest) != v.hash.Size() {
		return errors.New("unexpected length of digest for hash function specified")
	}
	switch k := v.key.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, v.hash, digest, sig)
	case *ecdsa.PublicKey:
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &rs); err == nil {
			if !ecdsa.VerifyASN1(k, digest, sig) {
				return errors.New("invalid signature when validating ASN.1 encoded signature")
			}
			return nil
		}
		if len(sig) == 0 || len(sig) > 132 || len(sig)%2 != 0 {
			return errors.New("ecdsa: invalid IEEE P1363 encoded bytes")
		}
		r := new(big.Int).SetBytes(sig[:len(sig)/2])
		s := new(big.Int).SetBytes(sig[len(sig)/2:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("invalid signature when validating IEEE P1363 encoded signature")
		}
		return nil
	}
	return errors.New("unsupported public key type")
}

// signedContent decodes the verified content.
func (s *Signature) signedContent(st *inTotoStatement) (*Signed, error) {
	if s.payload != nil {
		p, err := parseSimpleSigningPayload(s.payload)
		if err != nil {
			return nil, fmt.Errorf("%w: simple-signing payload: %v", ErrInvalid, err)
		}
		if p.digest == "" {
			return nil, fmt.Errorf("%w: simple-signing payload names no image digest", ErrInvalid)
		}
		return &Signed{Digests: []string{p.digest}, DockerReference: p.dockerReference}, nil
	}
	if st == nil {
		return nil, fmt.Errorf("%w: the bundle holds no in-toto statement (a cosign image signature is a DSSE envelope)", ErrInvalid)
	}
	if st.PredicateType != PredicateTypeSign {
		return nil, fmt.Errorf("%w: the statement's predicate type is %q, not %s: an attestation, not a signature", ErrInvalid, st.PredicateType, PredicateTypeSign)
	}
	signed := &Signed{PredicateType: st.PredicateType}
	for _, sub := range st.Subject {
		for alg, h := range sub.Digest {
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
			if bytes.Equal(a.tle.LogID.KeyID, b.tle.LogID.KeyID) && a.tle.LogIndex == b.tle.LogIndex {
				return nil, errors.New("duplicate tlog entries found")
			}
		}
	}
	var sig []byte
	if ms := s.b.MessageSignature; ms != nil {
		sig = ms.Signature
	}
	if env := s.b.DsseEnvelope; env != nil {
		if len(env.Signatures) != 1 {
			return nil, errors.New("DSSE envelope does not contain exactly one signature")
		}
		sig = env.Signatures[0].Sig
	}
	var out *TlogEntry
	for _, e := range s.entries {
		tle := e.tle
		logKey, ok := logs[hex.EncodeToString(tle.LogID.KeyID)]
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
		if ms := s.b.MessageSignature; ms != nil {
			if e.hash == "" {
				return nil, errors.New("transparency log entry is not a hashedrekord or missing digest")
			}
			md := ms.MessageDigest
			if md == nil {
				md = &hashOutput{}
			}
			if md.Algorithm != hashSHA256 || e.hashAlg != "sha256" {
				return nil, fmt.Errorf("transparency log hashedrekord entry digest algorithm mismatch: %s != %s", hashAlgorithmName(md.Algorithm), e.hashAlg)
			}
			if got := hex.EncodeToString(md.Digest); !strings.EqualFold(got, e.hash) {
				return nil, fmt.Errorf("transparency log hashedrekord entry digest %s does not match artifact %s", e.hash, got)
			}
		} else {
			if e.payloadHash == "" {
				return nil, errors.New("transparency log rekor v1 entry is not a dsse_v001 or intoto_v002 entry")
			}
			sum := sha256.Sum256(s.b.DsseEnvelope.Payload)
			if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, e.payloadHash) {
				return nil, fmt.Errorf("transparency log dsse/intoto entry payload hash %s does not match envelope payload hash %s", e.payloadHash, got)
			}
		}
		if out == nil {
			out = &TlogEntry{LogID: hex.EncodeToString(tle.LogID.KeyID)}
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
