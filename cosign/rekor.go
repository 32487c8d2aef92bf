package cosign

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Rekor v1 log entries, checked offline. These are the checks sigstore-go
// v1.2.2's verify.VerifyTlogEntry makes for a Rekor v1 entry, written here
// so that the signet binary does not link Rekor's generated OpenAPI client
// (go-openapi, govalidator, ...), whose package initialisation cost more
// than signet's whole verify.

// maxTlogEntries bounds the entries checked (sigstore-go's limit).
const maxTlogEntries = 32

// tlogEntry is a Rekor v1 entry with the fields of its body the checks use.
type tlogEntry struct {
	tle *tlogEntryProto
	// signature and publicKeyPEM are the signature and the key (PEM) the
	// entry records.
	signature    []byte
	publicKeyPEM []byte
	// hashAlg and hash are a hashedrekord's artifact digest; payloadHash a
	// dsse or intoto entry's payload digest (all hex).
	hashAlg, hash, payloadHash string
	// v2 marks a Rekor v2 entry, which parses but cannot be verified here
	// (as with sigstore-go without the log's URL).
	v2 bool
}

// rekorBody is the union of the Rekor v1 body kinds cosign writes:
// hashedrekord v0.0.1, dsse v0.0.1 and intoto v0.0.2.
type rekorBody struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Spec       struct {
		// hashedrekord
		Signature *struct {
			Content   []byte `json:"content"`
			PublicKey *struct {
				Content []byte `json:"content"`
			} `json:"publicKey"`
		} `json:"signature"`
		Data *struct {
			Hash *struct {
				Algorithm string `json:"algorithm"`
				Value     string `json:"value"`
			} `json:"hash"`
		} `json:"data"`
		// dsse
		Signatures []struct {
			Signature string `json:"signature"`
			Verifier  []byte `json:"verifier"`
		} `json:"signatures"`
		PayloadHash *hashValue `json:"payloadHash"`
		// intoto
		Content *struct {
			Envelope *struct {
				Signatures []struct {
					Sig       []byte `json:"sig"`
					PublicKey []byte `json:"publicKey"`
				} `json:"signatures"`
			} `json:"envelope"`
			PayloadHash *hashValue `json:"payloadHash"`
		} `json:"content"`
	} `json:"spec"`
}

type hashValue struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

// isHexSHA256 reports whether s is 64 hex digits (either case), what
// sigstore-go matches with ^[0-9a-fA-F]{64}$. Spelled out rather than a
// package-level regular expression, compiled at every signet start.
func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// parseTlogEntry checks an entry's required fields and parses its body,
// which must be of the kind and version the entry states.
func parseTlogEntry(tle *tlogEntryProto) (*tlogEntry, error) {
	if tle == nil || tle.CanonicalizedBody == nil || tle.LogIndex < 0 || tle.LogID == nil || tle.LogID.KeyID == nil || tle.KindVersion == nil {
		return nil, errors.New("transparency log entry: value is nil")
	}
	if p := tle.InclusionProof; p != nil {
		if p.Checkpoint == nil {
			return nil, errors.New("inclusion proof missing required checkpoint")
		}
		if p.Checkpoint.Envelope == "" {
			return nil, errors.New("inclusion proof checkpoint empty")
		}
	}
	var b rekorBody
	if err := json.Unmarshal(tle.CanonicalizedBody, &b); err != nil {
		return nil, fmt.Errorf("entry body is not a recognizable Rekor v1 entry: %w", err)
	}
	if b.Kind != tle.KindVersion.Kind || b.APIVersion != tle.KindVersion.Version {
		return nil, fmt.Errorf("kind and version mismatch: %s/%s != %s/%s", b.Kind, b.APIVersion, tle.KindVersion.Kind, tle.KindVersion.Version)
	}
	e := &tlogEntry{tle: tle}
	bad := func(what string) error {
		return fmt.Errorf("entry body (%s %s): %s", b.Kind, b.APIVersion, what)
	}
	checkHash := func(h *hashValue) (string, error) {
		if h == nil || h.Algorithm != "sha256" || !isHexSHA256(h.Value) {
			return "", bad("payloadHash is not a sha256 digest")
		}
		return h.Value, nil
	}
	var err error
	switch b.Kind + " " + b.APIVersion {
	case "hashedrekord 0.0.1":
		s := b.Spec.Signature
		if s == nil || s.PublicKey == nil || b.Spec.Data == nil || b.Spec.Data.Hash == nil {
			return nil, bad("signature, public key or data missing")
		}
		h := b.Spec.Data.Hash
		switch {
		case h.Algorithm == "sha256" && len(h.Value) == 64,
			h.Algorithm == "sha384" && len(h.Value) == 96,
			h.Algorithm == "sha512" && len(h.Value) == 128:
		default:
			return nil, bad("data hash is not a sha256, sha384 or sha512 digest")
		}
		if _, err := hex.DecodeString(h.Value); err != nil {
			return nil, bad("data hash is not hex")
		}
		e.signature, e.publicKeyPEM, e.hashAlg, e.hash = s.Content, s.PublicKey.Content, h.Algorithm, h.Value
	case "dsse 0.0.1":
		if len(b.Spec.Signatures) == 0 || b.Spec.Signatures[0].Signature == "" || len(b.Spec.Signatures[0].Verifier) == 0 {
			return nil, bad("no signature")
		}
		if e.payloadHash, err = checkHash(b.Spec.PayloadHash); err != nil {
			return nil, err
		}
		e.signature, err = base64.StdEncoding.DecodeString(b.Spec.Signatures[0].Signature)
		if err != nil {
			e.signature = []byte{}
		}
		e.publicKeyPEM = b.Spec.Signatures[0].Verifier
	case "intoto 0.0.2":
		c := b.Spec.Content
		if c == nil || c.Envelope == nil || len(c.Envelope.Signatures) == 0 || len(c.Envelope.Signatures[0].Sig) == 0 || len(c.Envelope.Signatures[0].PublicKey) == 0 {
			return nil, bad("no signature")
		}
		if e.payloadHash, err = checkHash(c.PayloadHash); err != nil {
			return nil, err
		}
		e.signature, err = base64.StdEncoding.DecodeString(string(c.Envelope.Signatures[0].Sig))
		if err != nil {
			e.signature = []byte{}
		}
		e.publicKeyPEM = c.Envelope.Signatures[0].PublicKey
	case "hashedrekord 0.0.2", "dsse 0.0.2":
		e.v2 = true
	default:
		return nil, fmt.Errorf("entry body is not a recognizable Rekor v1 entry: unsupported kind %s %s", b.Kind, b.APIVersion)
	}
	return e, nil
}

// publicKey is the key (or certificate's key) the entry records, nil if
// none parses.
func (e *tlogEntry) publicKey() crypto.PublicKey {
	blk, _ := pem.Decode(e.publicKeyPEM)
	if blk == nil {
		return nil
	}
	if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
		return c.PublicKey
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil
	}
	return k
}

// setPayload is the canonical JSON (RFC 8785) a signed entry timestamp
// signs: the members sorted by name; base64 and hex need no escaping.
func setPayload(tle *tlogEntryProto) []byte {
	return fmt.Appendf(nil, `{"body":"%s","integratedTime":%d,"logID":"%s","logIndex":%d}`,
		base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), tle.IntegratedTime,
		hex.EncodeToString(tle.LogID.KeyID), tle.LogIndex)
}

// verifySET checks the entry's signed entry timestamp under the log's key
// (ECDSA over SHA-256, as Rekor v1 signs).
func verifySET(tle *tlogEntryProto, logKey crypto.PublicKey) error {
	if tle.IntegratedTime < 1 {
		return errors.New("rekor log public key not valid at payload integrated time")
	}
	k, ok := logKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("unsupported public key type: %T", logKey)
	}
	sum := sha256.Sum256(setPayload(tle))
	var set []byte
	if tle.InclusionPromise != nil {
		set = tle.InclusionPromise.SignedEntryTimestamp
	}
	if !ecdsa.VerifyASN1(k, sum[:], set) {
		return errors.New("unable to verify SET")
	}
	return nil
}

// isRekorV1Origin reports whether line is the first checkpoint line of a
// Rekor v1 log ("<host> - <tree ID>"): what sigstore-go matches with
// `.* - [0-9]+$` (the line holds no newline).
func isRekorV1Origin(line string) bool {
	rest := strings.TrimRight(line, "0123456789")
	return len(rest) < len(line) && strings.HasSuffix(rest, " - ")
}

// verifyInclusion checks the entry's inclusion proof (RFC 6962) and the
// log's signature on the checkpoint holding the proof's root.
func verifyInclusion(tle *tlogEntryProto, logKey crypto.PublicKey) error {
	p := tle.InclusionProof
	if p == nil {
		return errors.New("no inclusion proof")
	}
	var cp string
	if p.Checkpoint != nil {
		cp = p.Checkpoint.Envelope
	}
	if lines := strings.Split(cp, "\n"); len(lines) < 4 || !isRekorV1Origin(lines[0]) {
		return errors.New("cannot verify Rekor v2 entry without baseUrl in transparency log's trusted root")
	}
	leaf := rfc6962.DefaultHasher.HashLeaf(tle.CanonicalizedBody)
	if p.LogIndex < 0 || p.TreeSize < 0 {
		return errors.New("inclusion proof: negative index or size")
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(p.LogIndex), uint64(p.TreeSize), leaf, p.Hashes, p.RootHash); err != nil {
		return err
	}
	switch logKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return errors.New("unsupported public key type")
	}
	root, err := verifyCheckpoint(cp, logKey)
	if err != nil {
		return err
	}
	if !bytes.Equal(root, p.RootHash) {
		return fmt.Errorf("proof root hash does not match signed tree head, expected %x got %x", p.RootHash, root)
	}
	return nil
}

// verifyCheckpoint checks a signed note holding a checkpoint (origin, tree
// size, base64 root hash, other lines; a blank line; "— name
// base64(4-byte key hint || signature)" lines) and returns its root hash.
// Every signature must be by logKey and verify (over SHA-256 for RSA and
// ECDSA keys, as Rekor v1 signs).
func verifyCheckpoint(cp string, logKey crypto.PublicKey) ([]byte, error) {
	data := []byte(cp)
	split := bytes.LastIndex(data, []byte("\n\n"))
	if split < 0 {
		return nil, errors.New("unmarshalling log entry checkpoint: malformed note")
	}
	text, sigs := data[:split+1], data[split+2:]
	if len(sigs) == 0 || sigs[len(sigs)-1] != '\n' {
		return nil, errors.New("unmarshalling log entry checkpoint: malformed note")
	}
	der, err := x509.MarshalPKIXPublicKey(logKey)
	if err != nil {
		return nil, err
	}
	keySum := sha256.Sum256(der)
	hint := binary.BigEndian.Uint32(keySum[:])
	digest := sha256.Sum256(text)
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(sigs))
	for sc.Scan() {
		var name, sigB64 string
		if _, err := fmt.Fscanf(strings.NewReader(sc.Text()), "\u2014 %s %s\n", &name, &sigB64); err != nil {
			return nil, fmt.Errorf("unmarshalling log entry checkpoint: parsing signature: %w", err)
		}
		sig, err := base64.StdEncoding.DecodeString(sigB64)
		if err != nil {
			return nil, fmt.Errorf("unmarshalling log entry checkpoint: decoding signature: %w", err)
		}
		if len(sig) < 5 {
			return nil, errors.New("unmarshalling log entry checkpoint: signature is too small")
		}
		if binary.BigEndian.Uint32(sig[:4]) != hint {
			return nil, errors.New("signature on checkpoint did not verify")
		}
		v := keyVerifier{key: logKey, hash: crypto.SHA256}
		var verr error
		switch logKey.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
			verr = v.verifyDigest(sig[4:], digest[:])
		case ed25519.PublicKey:
			verr = v.verify(sig[4:], text)
		default:
			verr = errors.New("unsupported public key type")
		}
		if verr != nil {
			return nil, errors.New("signature on checkpoint did not verify")
		}
		n++
	}
	if n == 0 {
		return nil, errors.New("unmarshalling log entry checkpoint: no signatures found in input")
	}
	l := strings.Split(string(text), "\n")
	if len(l) < 4 || l[0] == "" {
		return nil, errors.New("invalid checkpoint")
	}
	if _, err := strconv.ParseUint(l[1], 10, 64); err != nil {
		return nil, fmt.Errorf("invalid checkpoint - size invalid: %w", err)
	}
	root, err := base64.StdEncoding.DecodeString(l[2])
	if err != nil {
		return nil, fmt.Errorf("invalid checkpoint - invalid hash: %w", err)
	}
	return root, nil
}
