package verifier

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/timestamp"
	"github.com/signet-dev/signet/truststore"
)

// authenticTimestamp is PIPE-6 (§5.5, §6.3).
func (r *run) authenticTimestamp(ctx context.Context) error {
	c := r.res.Content
	chain := c.CertificateChain
	if c.Signed.SigningScheme == signature.SchemeX509SigningAuthority {
		// The authentic signing time must lie inside every certificate's
		// validity.
		t := c.Signed.SigningTime
		for _, cert := range chain {
			if t.Before(cert.NotBefore) || t.After(cert.NotAfter) {
				return fmt.Errorf("certificate %q was not valid when the signature was produced at %s", cert.Subject, t.UTC().Format(time.RFC3339))
			}
		}
		return nil
	}
	if r.timestampTriggered() {
		return r.verifyTimestamp(ctx)
	}
	for _, cert := range chain {
		if r.now.Before(cert.NotBefore) {
			return fmt.Errorf("verification time %s is before certificate %q validity period starts at %s", r.now.UTC().Format(time.RFC3339), cert.Subject, cert.NotBefore.UTC().Format(time.RFC3339))
		}
		if r.now.After(cert.NotAfter) {
			return fmt.Errorf("verification time %s is after certificate %q validity period ended at %s", r.now.UTC().Format(time.RFC3339), cert.Subject, cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// timestampTriggered reports whether TSV-1..TSV-4 hold: the statement lists
// a tsa store and verifyTimestamp is always, or afterCertExpiry with a
// certificate of the chain expired.
func (r *run) timestampTriggered() bool {
	if len(r.in.Statement.StoresOfType("tsa")) == 0 {
		return false
	}
	if r.in.Statement.VerifyTimestampAlways() {
		return true
	}
	for _, cert := range r.res.Content.CertificateChain {
		if r.now.After(cert.NotAfter) {
			return true
		}
	}
	return false
}

// verifyTimestamp is TSA-4..TSA-10: the token must exist, verify against
// the statement's tsa stores, and vouch for a time range inside every
// signing certificate's validity.
func (r *run) verifyTimestamp(ctx context.Context) error {
	c := r.res.Content
	if len(c.Unsigned.TimestampSignature) == 0 {
		return fmt.Errorf("no timestamp countersignature was found, and the trust policy requires one (it lists a tsa trust store)")
	}
	tok, err := timestamp.ParseToken(c.Unsigned.TimestampSignature)
	if err != nil {
		return fmt.Errorf("timestamp countersignature: %w", err)
	}
	var roots []*x509.Certificate
	for _, name := range r.in.Statement.StoresOfType(string(truststore.TypeTSA)) {
		roots = append(roots, r.stores[truststore.TypeTSA][name]...)
	}
	if len(roots) == 0 {
		return fmt.Errorf("no trusted TSA certificate found in the tsa trust stores")
	}
	rng, tsaChain, err := tok.Verify(c.Signature, roots, timestamp.VerifyOptions{})
	if err != nil {
		return fmt.Errorf("timestamp countersignature: %w", err)
	}
	if r.v.Revocation != nil { // TSA-8: revoked or unknown fails the timestamp
		results, err := r.v.Revocation.ValidateChain(ctx, tsaChain, revocation.Timestamping, time.Time{})
		r.res.TimestampRevocation = results
		if err != nil {
			return fmt.Errorf("timestamp countersignature: revocation check: %w", err)
		}
		if err := revocationVerdict("TSA", results); err != nil {
			return fmt.Errorf("timestamp countersignature: %w", err)
		}
	}
	for _, cert := range c.CertificateChain {
		if !rng.Within(cert) {
			return fmt.Errorf("the timestamp %s is not inside the validity of certificate %q (%s to %s)", rng,
				cert.Subject, cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	r.res.Timestamp = &rng
	return nil
}
