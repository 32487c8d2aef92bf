package verifier

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
)

// RevocationChecker checks the revocation status of a certificate chain
// (revocation.Validator). The verifier declares the one method it needs.
type RevocationChecker interface {
	ValidateChain(ctx context.Context, chain []*x509.Certificate, purpose revocation.Purpose, signingTime time.Time) ([]revocation.CertResult, error)
}

// revocation is PIPE-7: the signing chain's revocation status by OCSP or
// CRL (§6.8). Without a checker the check is reported as not checked:
// never passed, never failed.
func (r *run) revocation(ctx context.Context) error {
	if r.plugin != nil && r.plugin.HasCapability(proto.CapabilityRevocationCheckVerifier) {
		return r.pluginResult(ctx, proto.CapabilityRevocationCheckVerifier) // LVL-5
	}
	if r.v.Revocation == nil {
		return notChecked{"revocation was not checked: this verifier has no revocation checker"}
	}
	c := r.res.Content
	var authentic time.Time
	if c.Signed.SigningScheme == signature.SchemeX509SigningAuthority {
		authentic = c.Signed.SigningTime // REV-7: only an authentic signing time counts
	}
	results, err := r.v.Revocation.ValidateChain(ctx, c.CertificateChain, revocation.CodeSigning, authentic)
	r.res.Revocation = results
	if err != nil {
		return fmt.Errorf("revocation check: %w", err)
	}
	if allNonRevokable(results) {
		// Nothing to ask: not a pass, not a failure.
		return notChecked{"revocation cannot be checked: no certificate of the chain names an OCSP responder or a CRL distribution point"}
	}
	return revocationVerdict("signing", results)
}

// revocationVerdict turns a chain's results into nil (not revoked, or no
// revocation information anywhere) or the failure that names the
// certificate (REV-3).
func revocationVerdict(what string, results []revocation.CertResult) error {
	if revocation.Summarize(results) == revocation.OK {
		return nil
	}
	p, _ := revocation.FirstProblem(results)
	if p.Result == revocation.Revoked {
		return fmt.Errorf("%s certificate %q is revoked: %s", what, p.Subject, p.Reason)
	}
	return fmt.Errorf("the revocation status of %s certificate %q is unknown: %s", what, p.Subject, strings.TrimSpace(p.Reason))
}

// allNonRevokable reports that no certificate of the chain could be checked.
func allNonRevokable(results []revocation.CertResult) bool {
	for _, r := range results {
		if r.Result != revocation.NonRevokable {
			return false
		}
	}
	return true
}
