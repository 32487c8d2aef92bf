package admission

import (
	"context"
	"fmt"
)

// Checks named in a Result when an image is refused. The verifier's own
// checks (integrity, authenticity, authenticTimestamp, expiry, revocation,
// targetArtifact, userMetadata) are named as the trust policy names them;
// these name the failures before or around them.
const (
	// CheckSignature: no signature is associated with the image.
	CheckSignature = "signature"
	// CheckRegistry: the image or its signatures could not be read.
	CheckRegistry = "registry"
	// CheckPolicy: the policy set could not be loaded, or no trust policy
	// statement applies to the image's repository.
	CheckPolicy = "policy"
	// CheckReference: the image reference cannot be parsed.
	CheckReference = "reference"
	// CheckTimeout: verification did not finish within the deadline.
	CheckTimeout = "timeout"
	// CheckVerifier: the verifier failed for another reason (a plugin).
	CheckVerifier = "verifier"
)

// ImageVerifier verifies one image under a named policy set. The handler
// calls it once per distinct image of a request, concurrently. It must be
// safe for concurrent use and must return within ctx's deadline.
type ImageVerifier interface {
	// VerifyImage resolves image (as written in a pod spec) to a digest and
	// verifies it under policySet ("" is the default set). It never returns
	// nil; any failure is a Result with Allowed false.
	VerifyImage(ctx context.Context, policySet, image string) *Result
}

// Readiness is implemented by ImageVerifiers that can tell whether they are
// ready to serve (the default policy set loaded); /readyz asks it.
type Readiness interface {
	Ready() error
}

// Result is the verdict on one image.
type Result struct {
	// Image is the image as written in the pod spec.
	Image string `json:"image"`
	// Repository is the normalised REGISTRY/REPOSITORY (the trust policy
	// scope); empty when the reference did not parse.
	Repository string `json:"repository,omitempty"`
	// Digest is the manifest digest verified; empty when it could not be
	// resolved.
	Digest string `json:"digest,omitempty"`
	// PolicySet is the policy set's name ("default" for the default set).
	PolicySet string `json:"policySet"`
	// Statement is the trust policy statement that applied, when one did.
	Statement string `json:"statement,omitempty"`
	// Allowed: a signature verified, or the statement's level is skip.
	Allowed bool `json:"allowed"`
	// Skipped: allowed because the statement's level is skip.
	Skipped bool `json:"skipped,omitempty"`
	// Check names the failing check when Allowed is false (a trust policy
	// validation type, or one of the Check constants).
	Check string `json:"check,omitempty"`
	// Reason says why, in a sentence.
	Reason string `json:"reason,omitempty"`
	// Warnings are failed checks whose action is log (the image is trusted).
	Warnings []string `json:"warnings,omitempty"`
	// Cached: the verdict came from the cache.
	Cached bool `json:"cached,omitempty"`
}

// Pinned returns REPOSITORY@DIGEST, the reference /mutate writes, or "" when
// no digest was verified.
func (r *Result) Pinned() string {
	if r.Digest == "" || r.Repository == "" {
		return ""
	}
	return r.Repository + "@" + r.Digest
}

// describe is the one-line explanation of a refusal: image, policy set,
// statement, failing check, reason.
func (r *Result) describe() string {
	what := fmt.Sprintf("image %q", r.Image)
	if r.Digest != "" {
		what += " (" + r.Digest + ")"
	}
	policy := fmt.Sprintf("policy set %q", r.PolicySet)
	if r.Statement != "" {
		policy += fmt.Sprintf(", trust policy statement %q", r.Statement)
	}
	return fmt.Sprintf("%s is not trusted under %s: %s check failed: %s", what, policy, r.Check, r.Reason)
}
