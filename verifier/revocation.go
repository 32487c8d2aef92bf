package verifier

import "context"

// revocation is PIPE-7. Revocation checking (OCSP, CRL) is not implemented
// yet, so the check reports notChecked: never passed, never failed.
func (r *run) revocation(context.Context) error {
	for _, cert := range r.res.Content.CertificateChain {
		if len(cert.OCSPServer) > 0 || len(cert.CRLDistributionPoints) > 0 {
			return notChecked{"revocation was not checked: the chain names OCSP or CRL endpoints, and this version of signet does not query them yet"}
		}
	}
	return notChecked{"revocation was not checked: no certificate in the chain names an OCSP responder or CRL distribution point, and this version of signet does not check revocation yet"}
}
