package cosign

import (
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// Description is what `signet inspect` shows of a cosign signature. It is
// decoded, not verified: verification decides whether to trust any of it.
type Description struct {
	// KeyHint is the bundle's unsigned public key hint, if any.
	KeyHint string `json:"keyHint,omitempty"`
	// Keyless marks a certificate-based signature.
	Keyless bool `json:"keyless,omitempty"`
	// PredicateType is the in-toto statement's (bundle form).
	PredicateType string `json:"predicateType,omitempty"`
	// Covers are the digests the signed content names.
	Covers []string `json:"covers,omitempty"`
	// DockerReference is the simple-signing payload's claimed repository.
	DockerReference string `json:"dockerReference,omitempty"`
	// TlogEntries are the transparency log entries it carries.
	TlogEntries []TlogDescription `json:"transparencyLogEntries,omitempty"`
	// Error says why the signed content could not be decoded.
	Error string `json:"error,omitempty"`
}

// TlogDescription is one transparency log entry, not verified.
type TlogDescription struct {
	LogID            string     `json:"logID"`
	LogIndex         int64      `json:"logIndex"`
	IntegratedTime   *time.Time `json:"integratedTime,omitempty"`
	Kind             string     `json:"kind,omitempty"`
	InclusionPromise bool       `json:"inclusionPromise"`
	InclusionProof   bool       `json:"inclusionProof"`
}

// Describe decodes the signature without verifying it.
func (s *Signature) Describe() Description {
	d := Description{Keyless: s.Keyless()}
	vm := s.b.VerificationMaterial
	if vm == nil {
		vm = &verificationMaterial{}
	}
	if vm.PublicKey != nil {
		d.KeyHint = vm.PublicKey.Hint
	}
	for _, e := range vm.TlogEntries {
		td := TlogDescription{
			LogIndex:         e.LogIndex,
			InclusionPromise: e.InclusionPromise != nil,
			InclusionProof:   e.InclusionProof != nil,
		}
		if e.LogID != nil {
			td.LogID = hex.EncodeToString(e.LogID.KeyID)
		}
		if kv := e.KindVersion; kv != nil {
			td.Kind = kv.Kind + " " + kv.Version
		}
		if it := e.IntegratedTime; it > 0 {
			t := time.Unix(it, 0).UTC()
			td.IntegratedTime = &t
		}
		d.TlogEntries = append(d.TlogEntries, td)
	}
	if s.payload != nil {
		p, err := parseSimpleSigningPayload(s.payload)
		if err != nil {
			d.Error = "simple-signing payload: " + err.Error()
			return d
		}
		d.Covers = []string{p.digest}
		d.DockerReference = p.dockerReference
		return d
	}
	env := s.b.DsseEnvelope
	if env == nil {
		d.Error = "the bundle holds no DSSE envelope"
		return d
	}
	st, err := parseStatement(env.Payload)
	if err != nil {
		d.Error = "in-toto statement: " + err.Error()
		return d
	}
	d.PredicateType = st.PredicateType
	for _, sub := range st.Subject {
		for alg, h := range sub.Digest {
			d.Covers = append(d.Covers, strings.ToLower(alg)+":"+strings.ToLower(h))
		}
	}
	sort.Strings(d.Covers)
	return d
}
