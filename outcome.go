package signet

import (
	"fmt"
	"time"

	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// Verdict is the decision on an artifact.
type Verdict string

// Verdicts.
const (
	// VerdictTrusted: a signature verified under the policy.
	VerdictTrusted Verdict = "trusted"
	// VerdictNotTrusted: no signature verified.
	VerdictNotTrusted Verdict = "notTrusted"
	// VerdictSkipped: the policy's level is skip; nothing was verified.
	VerdictSkipped Verdict = "skipped"
	// VerdictError: no verdict could be reached (the artifact or policy
	// could not be read); Reason says why. Only the CLI's multi-reference
	// output uses it: library calls return the error instead.
	VerdictError Verdict = "error"
)

// Outcome explains a verification: the verdict, the policy statement that
// applied, and every check of every signature evaluated. Its JSON form is
// documented in docs/json.md and is stable.
type Outcome struct {
	Verdict    Verdict            `json:"verdict"`
	Artifact   string             `json:"artifact"`
	Policy     PolicyRef          `json:"policy"`
	Signatures []SignatureOutcome `json:"signatures"`
	Reason     string             `json:"reason,omitempty"`
	// Requirements reports the signet/v1 extension members of the
	// statement (minSignatures, counterSignatures, tagBinding), when it
	// has any that applied.
	Requirements *Requirements `json:"requirements,omitempty"`
}

// PolicyRef names the trust policy statement that applied.
type PolicyRef struct {
	Name  string `json:"name"`
	Level string `json:"level"`
	// Actions is the effective action of each validation after overrides.
	Actions map[trustpolicy.ValidationType]trustpolicy.Action `json:"actions"`
}

// SignatureOutcome is the verdict on one signature.
type SignatureOutcome struct {
	// Source is the signature manifest digest (OCI) or the signature file.
	Source    string `json:"source,omitempty"`
	MediaType string `json:"mediaType"`
	Verified  bool   `json:"verified"`
	// Format is "notary" for a Notary Project signature, "cosignBundle" or
	// "cosignSimpleSigning" for a cosign signature.
	Format string `json:"format"`
	// Signer is the leaf certificate's subject, when the envelope parsed.
	Signer string `json:"signer,omitempty"`
	// Key is the trusted public key a cosign signature verified under.
	Key *KeyInfo `json:"key,omitempty"`
	// TransparencyLog is the cosign signature's verified transparency log
	// entry, when one was checked.
	TransparencyLog *TlogInfo `json:"transparencyLog,omitempty"`
	// Covers are the artifact digests a verified cosign signature names.
	Covers      []string   `json:"covers,omitempty"`
	SigningTime *time.Time `json:"signingTime,omitempty"`
	Expiry      *time.Time `json:"expiry,omitempty"`
	// Timestamp is the verified RFC 3161 timestamp, when the policy had one
	// verified.
	Timestamp *TimestampInfo `json:"timestamp,omitempty"`
	// Revocation is the signing chain's revocation status, one entry per
	// certificate (leaf first), when it was checked.
	Revocation []RevocationInfo `json:"revocation,omitempty"`
	Checks     []verifier.Check `json:"checks"`
	// Error is the first enforced failure.
	Error string `json:"error,omitempty"`

	// The members below are set only under signet/v1 extension members
	// (docs/policy-extensions.md).

	// KeyID names the signing key (KeyID) of an accepted signature.
	KeyID string `json:"keyId,omitempty"`
	// Counted: the signature counts toward minSignatures.
	Counted bool `json:"counted,omitempty"`
	// NotCounted says why a signature does not count (or, for a
	// counter-signature, satisfies no entry).
	NotCounted string `json:"notCounted,omitempty"`
	// BindsTag is the tag the signature binds (io.signet.tag), when it is
	// the verified tag.
	BindsTag string `json:"bindsTag,omitempty"`
	// TagBindingIgnored says why the signature's binding of the verified
	// tag was ignored (dated in the future).
	TagBindingIgnored string `json:"tagBindingIgnored,omitempty"`
	// CounterSignatures are the counter-signatures evaluated on this
	// signature.
	CounterSignatures []SignatureOutcome `json:"counterSignatures,omitempty"`
	// Satisfies names the counterSignatures entries a counter-signature
	// satisfies.
	Satisfies []string `json:"satisfies,omitempty"`

	result *verifier.Result
}

// KeyInfo names a trusted public key: its store and file, algorithm and
// the SHA-256 fingerprint of its SubjectPublicKeyInfo.
type KeyInfo struct {
	Store             string `json:"store"`
	File              string `json:"file"`
	Algorithm         string `json:"algorithm"`
	SHA256Fingerprint string `json:"sha256Fingerprint"`
}

// TlogInfo is a verified transparency log entry.
type TlogInfo struct {
	// IntegratedTime is when the log recorded the entry, as its signed
	// entry timestamp says; absent when only an inclusion proof was checked.
	IntegratedTime *time.Time `json:"integratedTime,omitempty"`
	// LogID is the hex SHA-256 of the log's public key.
	LogID string `json:"logID"`
}

// TimestampInfo is the time a verified timestamp vouches for:
// [genTime - accuracy, genTime + accuracy].
type TimestampInfo struct {
	GenTime  time.Time `json:"genTime"`
	Accuracy string    `json:"accuracy"`
	// Revocation is the TSA chain's revocation status, when checked.
	Revocation []RevocationInfo `json:"revocation,omitempty"`
}

// RevocationInfo is one certificate's revocation status.
type RevocationInfo struct {
	Subject string `json:"subject"`
	// Result is ok, revoked, unknown or nonRevokable (no OCSP responder or
	// CRL distribution point to ask).
	Result string `json:"result"`
	// Method is ocsp, crl or none.
	Method string `json:"method"`
	Reason string `json:"reason,omitempty"`
}

// Result returns the underlying verifier result.
func (s *SignatureOutcome) Result() *verifier.Result { return s.result }

func newOutcome(stmt *trustpolicy.Statement) *Outcome {
	return &Outcome{
		Verdict: VerdictNotTrusted,
		Policy: PolicyRef{
			Name:    stmt.Name,
			Level:   stmt.SignatureVerification.Level,
			Actions: stmt.Actions(),
		},
		Signatures: []SignatureOutcome{},
	}
}

func (o *Outcome) add(source, mediaType string, r *verifier.Result) {
	o.Signatures = append(o.Signatures, newSignatureOutcome(source, mediaType, r))
	if r.Verified {
		o.Verdict = VerdictTrusted
	}
}

func newSignatureOutcome(source, mediaType string, r *verifier.Result) SignatureOutcome {
	so := SignatureOutcome{Source: source, MediaType: mediaType, Format: verifier.FormatNotary, Verified: r.Verified, Checks: r.Checks, result: r}
	if ci := r.Cosign; ci != nil {
		so.Format = ci.Format
		if k := ci.Key; k != nil {
			so.Key = &KeyInfo{Store: "publickey:" + k.Store, File: k.File, Algorithm: k.Algorithm(), SHA256Fingerprint: k.Fingerprint()}
			so.Covers = ci.Digests
		}
		if e := ci.Tlog; e != nil {
			so.TransparencyLog = &TlogInfo{LogID: e.LogID}
			if !e.IntegratedTime.IsZero() {
				t := e.IntegratedTime
				so.TransparencyLog.IntegratedTime = &t
			}
		}
	}
	if c := r.Content; c != nil {
		if len(c.CertificateChain) > 0 {
			so.Signer = c.CertificateChain[0].Subject.String()
		}
		if t := c.Signed.SigningTime; !t.IsZero() {
			t = t.UTC()
			so.SigningTime = &t
		}
		if t := c.Signed.Expiry; !t.IsZero() {
			t = t.UTC()
			so.Expiry = &t
		}
	}
	so.Revocation = revocationInfo(r.Revocation)
	if ts := r.Timestamp; ts != nil {
		so.Timestamp = &TimestampInfo{GenTime: ts.GenTime.UTC(), Accuracy: ts.Accuracy.String(), Revocation: revocationInfo(r.TimestampRevocation)}
	}
	if r.Err != nil {
		so.Error = r.Err.Error()
	}
	return so
}

// Trusted returns the signature that verified, if any.
func (o *Outcome) Trusted() (*SignatureOutcome, bool) {
	for i := range o.Signatures {
		if o.Signatures[i].Verified {
			return &o.Signatures[i], true
		}
	}
	return nil, false
}

// err returns nil when trusted or skipped, else an error wrapping
// ErrNotTrusted (and the first signature's failure).
func (o *Outcome) err() error {
	if o.Verdict != VerdictNotTrusted {
		return nil
	}
	if len(o.Signatures) == 0 {
		if o.Reason == "" {
			o.Reason = ErrNoSignature.Error()
		}
		return fmt.Errorf("%w: %w", ErrNotTrusted, ErrNoSignature)
	}
	first := o.Signatures[0].result.Err
	if o.Reason == "" {
		o.Reason = first.Error()
	}
	if len(o.Signatures) == 1 {
		return fmt.Errorf("%w: %w", ErrNotTrusted, first)
	}
	return fmt.Errorf("%w: all %d signatures failed; the first: %w", ErrNotTrusted, len(o.Signatures), first)
}

func revocationInfo(results []revocation.CertResult) []RevocationInfo {
	var out []RevocationInfo
	for _, cr := range results {
		out = append(out, RevocationInfo{Subject: cr.Subject, Result: string(cr.Result), Method: string(cr.Method), Reason: cr.Reason})
	}
	return out
}
