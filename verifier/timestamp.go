package verifier

import (
	"context"
	"fmt"
	"time"

	"github.com/signet-dev/signet/signature"
)

// authenticTimestamp is PIPE-6 (§5.5, §6.3).
func (r *run) authenticTimestamp(context.Context) error {
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
		if len(c.Unsigned.TimestampSignature) == 0 {
			return fmt.Errorf("no timestamp countersignature was found, and the trust policy requires one (it lists a tsa trust store)")
		}
		// TODO(issue 5): verify the RFC 3161 token (TSA-4..TSA-10).
		return fmt.Errorf("the signature carries an RFC 3161 timestamp, which this version of signet cannot verify yet")
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
