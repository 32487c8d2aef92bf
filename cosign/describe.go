package cosign

import (
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/sigstore/sigstore/pkg/signature/payload"
	"google.golang.org/protobuf/encoding/protojson"
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
	d := Description{Keyless: s.Keyless(), KeyHint: s.b.GetVerificationMaterial().GetPublicKey().GetHint()}
	for _, e := range s.b.GetVerificationMaterial().GetTlogEntries() {
		td := TlogDescription{
			LogID:            hex.EncodeToString(e.GetLogId().GetKeyId()),
			LogIndex:         e.GetLogIndex(),
			Kind:             e.GetKindVersion().GetKind() + " " + e.GetKindVersion().GetVersion(),
			InclusionPromise: e.GetInclusionPromise() != nil,
			InclusionProof:   e.GetInclusionProof() != nil,
		}
		if it := e.GetIntegratedTime(); it > 0 {
			t := time.Unix(it, 0).UTC()
			td.IntegratedTime = &t
		}
		d.TlogEntries = append(d.TlogEntries, td)
	}
	if s.payload != nil {
		var p payload.Cosign
		if err := json.Unmarshal(s.payload, &p); err != nil {
			d.Error = "simple-signing payload: " + err.Error()
			return d
		}
		d.Covers = []string{p.Image.DigestStr()}
		d.DockerReference = p.ClaimedIdentity
		return d
	}
	env := s.b.GetDsseEnvelope()
	if env == nil {
		d.Error = "the bundle holds no DSSE envelope"
		return d
	}
	var st intoto.Statement
	if err := protojson.Unmarshal(env.GetPayload(), &st); err != nil {
		d.Error = "in-toto statement: " + err.Error()
		return d
	}
	d.PredicateType = st.GetPredicateType()
	for _, sub := range st.GetSubject() {
		for alg, h := range sub.GetDigest() {
			d.Covers = append(d.Covers, strings.ToLower(alg)+":"+strings.ToLower(h))
		}
	}
	sort.Strings(d.Covers)
	return d
}
