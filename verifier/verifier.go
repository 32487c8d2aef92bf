package verifier

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
)

// Verifier verifies signatures against trust policy statements. The zero
// value is not usable: Store is required. A Verifier is safe for concurrent
// use when its Store is.
type Verifier struct {
	// Store supplies the trust anchors named by a statement's trustStores.
	Store truststore.Store
	// Now returns the verification time; nil means time.Now.
	Now func() time.Time
	// Logger receives debug records of each step; nil discards them.
	Logger *slog.Logger
	// Revocation checks the signing chain and a timestamp's TSA chain
	// (PIPE-7, TSA-8). Nil means revocation is reported as not checked.
	Revocation RevocationChecker
	// Plugins finds the verification plugin a signature names (PIPE-2,
	// VPLG-1..3). Nil means such signatures fail verification.
	Plugins VerificationPlugins
	// PluginConfig is passed to verification plugins (PCFG-2).
	PluginConfig map[string]string
}

// Input is one signature to verify.
type Input struct {
	// Statement is the trust policy statement that applies. Required; a
	// skip statement yields a Result with every check skipped.
	Statement *trustpolicy.Statement
	// MediaType is the envelope media type (application/jose+json or
	// application/cose).
	MediaType string
	// Envelope is the raw envelope bytes.
	Envelope []byte
	// CheckTarget, when set, is called with the verified payload's target
	// descriptor; an error means the signature does not sign this artifact
	// and fails it at every level (VER-6, BVER-3).
	// The content is the verified envelope (its Algorithm fixes the digest
	// algorithm a blob must be hashed with).
	CheckTarget func(ctx context.Context, target ocispec.Descriptor, content *signature.Content) error
	// UserMetadata must all be present, with equal values, in the payload's
	// target annotations (PAY-8); a mismatch fails at every level.
	UserMetadata map[string]string
}

// Verify runs the pipeline on one signature. It returns an error only for
// unusable input or configuration: a nil statement, or a trust store the
// statement names that is missing, empty or invalid (a *TrustStoreError,
// TS-6), checked before the signature is looked at. Every verification
// failure is recorded in the Result, whose Err wraps ErrVerification.
func (v *Verifier) Verify(ctx context.Context, in Input) (*Result, error) {
	if in.Statement == nil {
		return nil, fmt.Errorf("verify: no trust policy statement")
	}
	if v.Store == nil {
		return nil, fmt.Errorf("verify: no trust store")
	}
	stores, err := v.loadTrustStores(ctx, in.Statement)
	if err != nil {
		return nil, err
	}
	r := &run{v: v, in: in, actions: in.Statement.Actions(), res: &Result{}, now: v.now(), stores: stores}
	r.pipeline(ctx)
	return r.res, nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) logger() *slog.Logger {
	if v.Logger != nil {
		return v.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// run is the state of one verification.
type run struct {
	v       *Verifier
	in      Input
	actions map[trustpolicy.ValidationType]trustpolicy.Action
	res     *Result
	now     time.Time
	stopped bool
	// stores are the statement's trust stores, loaded before the pipeline.
	stores anchors

	// plugin is the verification plugin the signature names, once found.
	plugin *plugin.Plugin
	// unprocessed are the critical extended attributes signet itself does
	// not process (ATTR-3).
	unprocessed []string
	// pluginResp memoizes the one verify-signature call (PIPE-8).
	pluginResp *proto.VerifySignatureResponse
	pluginErr  error
	pluginDone bool
}

// step is one validation: it returns nil when the check passes, a
// notChecked error when it could not be performed, or the failure.
type step struct {
	typ trustpolicy.ValidationType
	// fixed, when set, is the action regardless of policy (integrity and the
	// payload checks are always enforced).
	fixed trustpolicy.Action
	run   func(r *run, ctx context.Context) error
}

// notChecked marks a check that was not performed; it never fails.
type notChecked struct{ reason string }

func (n notChecked) Error() string { return n.reason }

// pipeline runs the steps in the specification's order (PIPE-1..PIPE-9).
func (r *run) pipeline(ctx context.Context) {
	steps := []step{
		{typ: trustpolicy.Integrity, fixed: trustpolicy.ActionEnforce, run: (*run).integrity},
		{typ: trustpolicy.Authenticity, run: (*run).authenticity},
		{typ: trustpolicy.Expiry, run: (*run).expiry},
		{typ: trustpolicy.AuthenticTimestamp, run: (*run).authenticTimestamp},
		{typ: trustpolicy.Revocation, run: (*run).revocation},
		{typ: CheckTargetArtifact, fixed: trustpolicy.ActionEnforce, run: (*run).targetArtifact},
		{typ: CheckUserMetadata, fixed: trustpolicy.ActionEnforce, run: (*run).userMetadata},
	}
	skipAll := r.in.Statement.IsSkip()
	for _, s := range steps {
		action := s.fixed
		if action == "" {
			action = r.actions[s.typ]
		}
		if skipAll {
			action = trustpolicy.ActionSkip
		}
		c := Check{Type: s.typ, Action: action}
		switch {
		case r.stopped:
			c.Status = StatusNotEvaluated
			c.Reason = "an earlier enforced check failed"
		case action == trustpolicy.ActionSkip:
			c.Status = StatusSkipped
			c.Reason = "skipped by the trust policy"
		default:
			err := s.run(r, ctx)
			var nc notChecked
			switch {
			case err == nil:
				c.Status = StatusPassed
			case asNotChecked(err, &nc):
				c.Status = StatusNotChecked
				c.Reason = nc.reason
			default:
				c.Status = StatusFailed
				c.Reason = err.Error()
				if action == trustpolicy.ActionEnforce {
					r.stopped = true
					r.res.Err = &CheckError{Type: s.typ, Err: err}
				}
			}
		}
		r.v.logger().DebugContext(ctx, "verification step", "check", c.Type, "action", c.Action, "status", c.Status, "reason", c.Reason)
		r.res.Checks = append(r.res.Checks, c)
	}
	r.res.Verified = !r.stopped
}

func asNotChecked(err error, nc *notChecked) bool {
	n, ok := err.(notChecked)
	if ok {
		*nc = n
	}
	return ok
}
