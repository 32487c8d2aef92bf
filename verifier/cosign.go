package verifier

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/signet-dev/signet/cosign"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
)

// CheckTransparencyLog is the check of a cosign signature's transparency
// log entry; its action follows the statement's transparencyLog (require
// and verify: enforce; skip: skip).
const CheckTransparencyLog trustpolicy.ValidationType = "transparencyLog"

// Cosign signature forms.
const (
	FormatNotary              = "notary"
	FormatCosignBundle        = cosign.FormatBundle
	FormatCosignSimpleSigning = cosign.FormatSimpleSigning
)

// CosignInput is one cosign signature to verify.
type CosignInput struct {
	// Statement is the trust policy statement that applies; required.
	Statement *trustpolicy.Statement
	// Digest is the verified artifact's digest ("sha256:<hex>"); the
	// signature must cover it.
	Digest string
	// Bundle is a sigstore bundle (the referrer form). When empty, Payload,
	// Signature and RekorBundle are a legacy simple-signing layer.
	Bundle      []byte
	Payload     []byte
	Signature   string
	RekorBundle string
	// UserMetadata, when set, fails the signature: cosign signatures carry
	// no Notary Project user metadata (PAY-8).
	UserMetadata map[string]string
}

// CosignInfo describes a cosign signature in a Result.
type CosignInfo struct {
	// Format is FormatCosignBundle or FormatCosignSimpleSigning.
	Format string
	// Key is the trusted key the signature verified under; nil when none.
	Key *truststore.PublicKey
	// Digests are what the signature covers.
	Digests []string
	// Tlog is the verified transparency log entry, when one was checked.
	Tlog *cosign.TlogEntry
}

// VerifyCosign verifies one cosign signature under the statement, with the
// checks of a Notary Project signature where they apply and the
// statement's level and overrides (docs/cosign.md):
//
//   - integrity (enforced): the signature parses and verifies under a key
//     of one of the statement's publickey stores. Without a trusted key a
//     cosign signature's integrity cannot be established, so a signature
//     by an unknown key fails here at every level.
//   - authenticity: the key is in a named publickey store (so it passes
//     whenever integrity did).
//   - expiry, authenticTimestamp, revocation: not checked (a cosign
//     signature carries no expiry, and keys no revocation information).
//   - transparencyLog: per the statement's transparencyLog, offline.
//   - targetArtifact (enforced): the signature covers in.Digest.
//   - userMetadata (enforced when asked for).
//
// It returns an error only for unusable input; failures are in the Result.
func (v *Verifier) VerifyCosign(ctx context.Context, in CosignInput) (*Result, error) {
	if in.Statement == nil {
		return nil, fmt.Errorf("verify: no trust policy statement")
	}
	ks, ok := v.Store.(truststore.KeyStore)
	if !ok {
		return nil, fmt.Errorf("verify: the trust store has no publickey stores")
	}
	c := &cosignRun{v: v, in: in, ks: ks, res: &Result{}}
	c.info = &CosignInfo{Format: FormatCosignBundle}
	if len(in.Bundle) == 0 {
		c.info.Format = FormatCosignSimpleSigning
	}
	c.res.Cosign = c.info
	c.pipeline(ctx)
	return c.res, nil
}

type cosignRun struct {
	v    *Verifier
	in   CosignInput
	ks   truststore.KeyStore
	res  *Result
	info *CosignInfo
	sig  *cosign.Signature
	keys []truststore.PublicKey
}

func (c *cosignRun) pipeline(ctx context.Context) {
	stmt := c.in.Statement
	actions := stmt.Actions()
	tlogAction := trustpolicy.ActionEnforce
	if stmt.TransparencyLogMode() == trustpolicy.TlogSkip {
		tlogAction = trustpolicy.ActionSkip
	}
	unchecked := func(reason string) func(context.Context) error {
		return func(context.Context) error { return notChecked{reason} }
	}
	steps := []struct {
		typ    trustpolicy.ValidationType
		action trustpolicy.Action
		run    func(context.Context) error
	}{
		{trustpolicy.Integrity, trustpolicy.ActionEnforce, c.integrity},
		{trustpolicy.Authenticity, actions[trustpolicy.Authenticity], func(context.Context) error { return nil }},
		{trustpolicy.Expiry, actions[trustpolicy.Expiry], unchecked("a cosign signature carries no expiry")},
		{trustpolicy.AuthenticTimestamp, actions[trustpolicy.AuthenticTimestamp], unchecked("a key-based cosign signature is not bound to a signing time")},
		{trustpolicy.Revocation, actions[trustpolicy.Revocation], unchecked("public keys have no revocation information")},
		{CheckTransparencyLog, tlogAction, c.transparencyLog},
		{CheckTargetArtifact, trustpolicy.ActionEnforce, c.targetArtifact},
		{CheckUserMetadata, trustpolicy.ActionEnforce, c.userMetadata},
	}
	stopped := false
	for _, s := range steps {
		ch := Check{Type: s.typ, Action: s.action}
		switch {
		case stopped:
			ch.Status = StatusNotEvaluated
			ch.Reason = "an earlier enforced check failed"
		case s.action == trustpolicy.ActionSkip:
			ch.Status = StatusSkipped
			ch.Reason = "skipped by the trust policy"
		default:
			err := s.run(ctx)
			var nc notChecked
			switch {
			case err == nil:
				ch.Status = StatusPassed
			case asNotChecked(err, &nc):
				ch.Status = StatusNotChecked
				ch.Reason = nc.reason
			default:
				ch.Status = StatusFailed
				ch.Reason = err.Error()
				if s.action == trustpolicy.ActionEnforce {
					stopped = true
					c.res.Err = &CheckError{Type: s.typ, Err: err}
				}
			}
		}
		c.v.logger().DebugContext(ctx, "cosign verification step", "check", ch.Type, "action", ch.Action, "status", ch.Status, "reason", ch.Reason)
		c.res.Checks = append(c.res.Checks, ch)
	}
	c.res.Verified = !stopped
}

// loadKeys reads the keys of the named stores, in listed order.
func (c *cosignRun) loadKeys(ctx context.Context, names []string) ([]truststore.PublicKey, error) {
	var keys []truststore.PublicKey
	for _, name := range names {
		got, err := c.ks.GetPublicKeys(ctx, name)
		if err != nil {
			return nil, err
		}
		keys = append(keys, got...)
	}
	return keys, nil
}

func (c *cosignRun) integrity(ctx context.Context) error {
	var err error
	if c.info.Format == FormatCosignBundle {
		c.sig, err = cosign.ParseBundle(c.in.Bundle)
	} else {
		c.sig, err = cosign.ParseSimpleSigning(c.in.Payload, c.in.Signature, c.in.RekorBundle)
	}
	if err != nil {
		return err
	}
	names := c.in.Statement.StoresOfType(trustpolicy.StorePublicKey)
	if len(names) == 0 {
		return fmt.Errorf("trust policy statement %q lists no publickey trust store, which cosign signatures need", c.in.Statement.Name)
	}
	if c.keys, err = c.loadKeys(ctx, names); err != nil {
		return fmt.Errorf("load trust stores: %w", err)
	}
	pubs := make([]crypto.PublicKey, len(c.keys))
	for i, k := range c.keys {
		pubs[i] = k.Key
	}
	signed, err := c.sig.Verify(pubs)
	if err != nil {
		if errors.Is(err, cosign.ErrNoKey) {
			return fmt.Errorf("the cosign signature does not verify under any key of trust stores publickey:%s", strings.Join(names, ", publickey:"))
		}
		return err
	}
	key := c.keys[signed.KeyIndex]
	c.info.Key = &key
	c.info.Digests = signed.Digests
	return nil
}

func (c *cosignRun) transparencyLog(ctx context.Context) error {
	mode := c.in.Statement.TransparencyLogMode()
	if !c.sig.HasTlogEntry() {
		if mode == trustpolicy.TlogRequire {
			return errors.New("the signature has no transparency log entry, and the trust policy requires one")
		}
		return notChecked{"the signature has no transparency log entry"}
	}
	names := c.in.Statement.RekorStores()
	if len(names) == 0 {
		return notChecked{"the signature has a transparency log entry, but the trust policy names no rekorTrustStores to check it with"}
	}
	rekor, err := c.loadKeys(ctx, names)
	if err != nil {
		return fmt.Errorf("load Rekor trust stores: %w", err)
	}
	pubs := make([]crypto.PublicKey, len(rekor))
	for i, k := range rekor {
		pubs[i] = k.Key
	}
	e, err := c.sig.VerifyTlog(c.info.Key.Key, pubs)
	if err != nil {
		return fmt.Errorf("transparency log entry (checked against publickey:%s): %w", strings.Join(names, ", publickey:"), err)
	}
	c.info.Tlog = e
	return nil
}

func (c *cosignRun) targetArtifact(context.Context) error {
	if slices.Contains(c.info.Digests, c.in.Digest) {
		return nil
	}
	return fmt.Errorf("the cosign signature covers %s, not the artifact %s", strings.Join(c.info.Digests, ", "), c.in.Digest)
}

func (c *cosignRun) userMetadata(context.Context) error {
	if len(c.in.UserMetadata) == 0 {
		return nil
	}
	return errors.New("a cosign signature carries no Notary Project user metadata")
}
