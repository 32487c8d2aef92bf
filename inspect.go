package signet

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/cosign"
	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
)

// Inspection describes one signature envelope without deciding trust. Its
// JSON form is documented in docs/json.md.
type Inspection struct {
	// Source is the signature manifest digest or signature file.
	Source    string `json:"source,omitempty"`
	MediaType string `json:"mediaType"`
	// Format is set for cosign signatures: cosignBundle or
	// cosignSimpleSigning (docs/cosign.md); Cosign then describes it.
	Format             string              `json:"format,omitempty"`
	Cosign             *cosign.Description `json:"cosign,omitempty"`
	SignatureAlgorithm string              `json:"signatureAlgorithm,omitempty"`
	SignedAttributes   map[string]any      `json:"signedAttributes,omitempty"`
	UserMetadata       map[string]string   `json:"userDefinedAttributes,omitempty"`
	UnsignedAttributes map[string]any      `json:"unsignedAttributes,omitempty"`
	Certificates       []CertificateInfo   `json:"certificates,omitempty"`
	SignedArtifact     *ocispec.Descriptor `json:"signedArtifact,omitempty"`
	// Error says why the envelope could not be read or failed its integrity
	// checks (the other fields are then empty), or why its payload could not
	// be decoded (the other fields are then filled in, SignedArtifact aside).
	Error string `json:"error,omitempty"`
}

// CertificateInfo summarises one certificate of a chain.
type CertificateInfo struct {
	SHA256Fingerprint string    `json:"sha256Fingerprint"`
	IssuedTo          string    `json:"issuedTo"`
	IssuedBy          string    `json:"issuedBy"`
	NotBefore         time.Time `json:"notBefore"`
	Expiry            time.Time `json:"expiry"`
}

// Inspect opens env (checking its integrity) and describes it. A broken
// envelope yields an Inspection whose Error says why.
func Inspect(source, mediaType string, env []byte) *Inspection {
	in := &Inspection{Source: source, MediaType: mediaType}
	f, err := envelope.ForMediaType(mediaType)
	if err != nil {
		in.Error = err.Error()
		return in
	}
	c, err := envelope.Open(f, env)
	if err != nil {
		in.Error = err.Error()
		return in
	}
	in.SignatureAlgorithm = c.Algorithm.String()
	sa := map[string]any{"signingScheme": string(c.Signed.SigningScheme)}
	if c.Signed.SigningScheme == signature.SchemeX509SigningAuthority {
		sa["authenticSigningTime"] = c.Signed.SigningTime.UTC()
	} else {
		sa["signingTime"] = c.Signed.SigningTime.UTC()
	}
	if !c.Signed.Expiry.IsZero() {
		sa["expiry"] = c.Signed.Expiry.UTC()
	}
	for _, a := range c.Signed.ExtendedAttributes {
		sa[a.Key] = a.Value
	}
	in.SignedAttributes = sa
	ua := map[string]any{}
	if c.Unsigned.SigningAgent != "" {
		ua["signingAgent"] = c.Unsigned.SigningAgent
	}
	if len(c.Unsigned.TimestampSignature) > 0 {
		ua["timestampSignature"] = describeTimestamp(c.Unsigned.TimestampSignature)
	}
	if len(ua) > 0 {
		in.UnsignedAttributes = ua
	}
	for _, cert := range c.CertificateChain {
		in.Certificates = append(in.Certificates, certificateInfo(cert))
	}
	if p, err := signature.ParsePayload(c.Payload); err == nil {
		t := p.TargetArtifact
		in.SignedArtifact = &t
		in.UserMetadata = t.Annotations
	} else {
		in.Error = err.Error()
	}
	return in
}

// TimestampDescription is what inspect shows of an RFC 3161 token. It is
// decoded, not verified: verification decides whether to trust it.
type TimestampDescription struct {
	GenTime      *time.Time        `json:"genTime,omitempty"`
	Accuracy     string            `json:"accuracy,omitempty"`
	Hash         string            `json:"hashAlgorithm,omitempty"`
	Certificates []CertificateInfo `json:"certificates,omitempty"`
	Error        string            `json:"error,omitempty"`
}

func (d TimestampDescription) String() string {
	if d.Error != "" {
		return "unreadable: " + d.Error
	}
	s := d.GenTime.Format(time.RFC3339) + " ±" + d.Accuracy + " (" + d.Hash + ")"
	if len(d.Certificates) > 0 {
		s += ", TSA " + d.Certificates[0].IssuedTo
	}
	return s + ", not verified here"
}

func describeTimestamp(der []byte) TimestampDescription {
	tok, err := timestamp.ParseToken(der)
	if err != nil {
		return TimestampDescription{Error: err.Error()}
	}
	g := tok.Info.GenTime.UTC()
	d := TimestampDescription{GenTime: &g, Accuracy: tok.Info.Range().Accuracy.String(), Hash: tok.Info.Hash.String()}
	seen := map[string]bool{}
	for _, c := range tok.Certificates {
		info := certificateInfo(c)
		if seen[info.SHA256Fingerprint] {
			continue
		}
		seen[info.SHA256Fingerprint] = true
		d.Certificates = append(d.Certificates, info)
	}
	return d
}

func certificateInfo(cert *x509.Certificate) CertificateInfo {
	sum := sha256.Sum256(cert.Raw)
	return CertificateInfo{
		SHA256Fingerprint: hex.EncodeToString(sum[:]),
		IssuedTo:          cert.Subject.String(),
		IssuedBy:          cert.Issuer.String(),
		NotBefore:         cert.NotBefore.UTC(),
		Expiry:            cert.NotAfter.UTC(),
	}
}
