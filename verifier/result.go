package verifier

import (
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
	"github.com/signet-dev/signet/trustpolicy"
)

// Status is the outcome of one check.
type Status string

// Check outcomes.
const (
	// StatusPassed: the check ran and passed.
	StatusPassed Status = "passed"
	// StatusFailed: the check ran and failed. Whether that fails the
	// signature depends on the check's action (enforce fails it, log does not).
	StatusFailed Status = "failed"
	// StatusSkipped: the policy skips the check.
	StatusSkipped Status = "skipped"
	// StatusNotChecked: the check was not performed for a reason given in
	// Reason (e.g. revocation checking is not available). It never counts as
	// passed and never fails the signature.
	StatusNotChecked Status = "notChecked"
	// StatusNotEvaluated: an earlier enforced check failed, so this one was
	// not run.
	StatusNotEvaluated Status = "notEvaluated"
)

// Check names beyond the five validation types of the trust policy: they
// hold at every level and cannot be overridden (VER-6, BVER-3, PAY-8).
const (
	CheckTargetArtifact trustpolicy.ValidationType = "targetArtifact"
	CheckUserMetadata   trustpolicy.ValidationType = "userMetadata"
)

// Check is one validation of one signature.
type Check struct {
	Type   trustpolicy.ValidationType `json:"type"`
	Action trustpolicy.Action         `json:"action"`
	Status Status                     `json:"status"`
	Reason string                     `json:"reason,omitempty"`
}

// Result is the verdict on one signature.
type Result struct {
	// Verified is true when no enforced check failed (PIPE-10).
	Verified bool `json:"verified"`
	// Checks are in evaluation order; every validation type appears once.
	Checks []Check `json:"checks"`
	// Content is the decoded envelope; nil when integrity failed early.
	Content *signature.Content `json:"-"`
	// Payload is the decoded payload; nil when integrity failed.
	Payload *signature.Payload `json:"-"`
	// Err is the first enforced failure, nil when Verified.
	Err error `json:"-"`
	// Timestamp is the time range a verified RFC 3161 timestamp vouches
	// for; nil when no timestamp was verified.
	Timestamp *timestamp.Range `json:"-"`
	// Revocation holds the signing chain's revocation results, one per
	// certificate, when they were checked.
	Revocation []revocation.CertResult `json:"-"`
	// TimestampRevocation holds the TSA chain's revocation results when a
	// timestamp was verified with a revocation checker (TSA-8).
	TimestampRevocation []revocation.CertResult `json:"-"`
	// Cosign describes a cosign signature (VerifyCosign); nil for a Notary
	// Project signature.
	Cosign *CosignInfo `json:"-"`
}

// Warnings returns the failed checks whose action is log: the signature is
// trusted, but each should be shown to the user (VER-7).
func (r *Result) Warnings() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == StatusFailed && c.Action == trustpolicy.ActionLog {
			out = append(out, c)
		}
	}
	return out
}

// FailedCheck returns the enforced check that failed, if any.
func (r *Result) FailedCheck() (Check, bool) {
	for _, c := range r.Checks {
		if c.Status == StatusFailed && c.Action == trustpolicy.ActionEnforce {
			return c, true
		}
	}
	return Check{}, false
}
