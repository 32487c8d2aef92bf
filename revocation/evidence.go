package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// ErrNoEvidence: an offline Validator (Validator.Evidence set) holds no OCSP
// response or CRL for the certificate's responder or distribution point.
var ErrNoEvidence = errors.New("no revocation evidence for the certificate")

// Bounds of Evidence: it travels with an air-gapped bundle, which is
// untrusted input until each response is checked.
const (
	// MaxEvidenceItems bounds the OCSP responses and the CRLs (each) of
	// one Evidence.
	MaxEvidenceItems = 1024
)

// Evidence is revocation information fetched earlier, with which a
// Validator checks chains without a network (air-gapped verification).
// OCSP responses and CRLs are signed by the certificates' issuers and are
// checked on use exactly as if just fetched (issuer, signature, nextUpdate),
// so evidence may come from anywhere: trust never comes from it. Evidence
// past its nextUpdate is not used; the certificate's status is then
// unknown, with ErrExpired, and the trust policy's revocation action
// decides.
type Evidence struct {
	// OCSP holds DER OCSP responses by the responder URL they came from.
	OCSP []OCSPEvidence
	// CRL holds DER CRLs by the distribution point URL they came from.
	CRL []CRLEvidence
}

// OCSPEvidence is one OCSP response.
type OCSPEvidence struct {
	// URL is the responder the certificate names (its OCSPServer).
	URL string
	// Response is the DER OCSP response, at most MaxOCSPResponseBytes.
	Response []byte
}

// CRLEvidence is the CRL of one distribution point.
type CRLEvidence struct {
	// URL is the distribution point the certificate names.
	URL string
	// Base is the DER base CRL; Delta the DER delta CRL, when the base (or
	// the certificate) names one. Each is under MaxCRLBytes.
	Base, Delta []byte
}

// Check bounds the evidence (MaxEvidenceItems, MaxOCSPResponseBytes,
// MaxCRLBytes). It does not parse or verify anything: that happens on use.
func (e *Evidence) Check() error {
	if len(e.OCSP) > MaxEvidenceItems || len(e.CRL) > MaxEvidenceItems {
		return fmt.Errorf("%w: more than %d OCSP responses or CRLs", ErrTooLarge, MaxEvidenceItems)
	}
	for _, o := range e.OCSP {
		if len(o.Response) > MaxOCSPResponseBytes {
			return fmt.Errorf("%w: the OCSP response of %s is %d bytes, over %d", ErrTooLarge, o.URL, len(o.Response), MaxOCSPResponseBytes)
		}
	}
	for _, c := range e.CRL {
		if len(c.Base) >= MaxCRLBytes || len(c.Delta) >= MaxCRLBytes {
			return fmt.Errorf("%w: the CRL of %s reaches %d bytes", ErrTooLarge, c.URL, MaxCRLBytes)
		}
	}
	return nil
}

// Collect fetches revocation evidence for certs, a set of certificates in
// any order (signing chains and the certificates of timestamp tokens):
// for each certificate that is not self-signed and whose issuer is in the
// set, the OCSP response of each responder it names and the CRL (and delta
// CRL) of each distribution point it names, each checked as
// ValidateChain checks it and current now. Evidence that cannot be
// obtained or does not check is left out and reported in the joined
// error, which does not stop the others: the caller decides whether
// partial evidence will do. It honours the Validator's HTTP client and
// timeouts; it does not use Evidence, Cache or OCSPCache.
func (v *Validator) Collect(ctx context.Context, certs []*x509.Certificate) (*Evidence, error) {
	online := *v
	online.Evidence, online.Cache, online.OCSPCache = nil, nil, nil
	r, done := online.newRun(time.Time{})
	defer done()
	ev := &Evidence{}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	seenOCSP, seenCRL := map[string]bool{}, map[string]bool{}
	for _, pair := range issuerPairs(certs) {
		cert, issuer := pair[0], pair[1]
		servers := cert.OCSPServer
		if len(servers) > MaxURLs {
			servers = servers[:MaxURLs]
		}
		for _, u := range servers {
			key := u + "\x00" + string(cert.Raw)
			if seenOCSP[key] {
				continue
			}
			seenOCSP[key] = true
			wg.Go(func() {
				der, err := r.fetchOCSP(ctx, u, cert, issuer)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, &ServerError{Method: MethodOCSP, URL: u, Err: fmt.Errorf("%s: %w", cert.Subject, err)})
					return
				}
				ev.OCSP = append(ev.OCSP, OCSPEvidence{URL: u, Response: der})
			})
		}
		urls := cert.CRLDistributionPoints
		if len(urls) > MaxURLs {
			urls = urls[:MaxURLs]
		}
		for _, u := range urls {
			if seenCRL[u] {
				continue
			}
			seenCRL[u] = true
			wg.Go(func() {
				b, err := r.downloadBundle(ctx, u, cert, issuer)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, &ServerError{Method: MethodCRL, URL: u, Err: err})
					return
				}
				c := CRLEvidence{URL: u, Base: b.BaseCRL.Raw}
				if b.DeltaCRL != nil {
					c.Delta = b.DeltaCRL.Raw
				}
				ev.CRL = append(ev.CRL, c)
			})
		}
	}
	wg.Wait()
	// Deterministic order: the same chains give the same evidence.
	slices.SortFunc(ev.OCSP, func(a, b OCSPEvidence) int {
		if c := strings.Compare(a.URL, b.URL); c != 0 {
			return c
		}
		return bytes.Compare(a.Response, b.Response)
	})
	slices.SortFunc(ev.CRL, func(a, b CRLEvidence) int { return strings.Compare(a.URL, b.URL) })
	if err := ctx.Err(); err != nil {
		return ev, err
	}
	return ev, errors.Join(errs...)
}

// issuerPairs returns (certificate, issuer) for every certificate of certs
// that is not self-signed and whose issuer is in certs (by name and
// signature), each certificate once.
func issuerPairs(certs []*x509.Certificate) [][2]*x509.Certificate {
	var out [][2]*x509.Certificate
	seen := map[string]bool{}
	for _, c := range certs {
		if seen[string(c.Raw)] || bytes.Equal(c.RawIssuer, c.RawSubject) {
			continue
		}
		for _, i := range certs {
			if bytes.Equal(c.RawIssuer, i.RawSubject) && c.CheckSignatureFrom(i) == nil {
				seen[string(c.Raw)] = true
				out = append(out, [2]*x509.Certificate{c, i})
				break
			}
		}
	}
	return out
}

// fetchOCSP asks one responder about cert and returns its DER response,
// checked as checkOCSP checks it.
func (r *run) fetchOCSP(ctx context.Context, server string, cert, issuer *x509.Certificate) ([]byte, error) {
	reqDER, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return nil, err
	}
	resp, body, err := r.queryOCSP(ctx, server, reqDER, cert, issuer)
	if err != nil {
		return nil, err
	}
	if resp.Status == ocsp.Unknown {
		return nil, ErrOCSPUnknownStatus
	}
	return body, nil
}

// offlineOCSP answers checkOCSP from Evidence: the first response from one
// of the certificate's responders that is for it and checks.
func (r *run) offlineOCSP(cert, issuer *x509.Certificate) outcome {
	var errs []error
	for _, e := range r.v.Evidence.OCSP {
		if !slices.Contains(cert.OCSPServer, e.URL) {
			continue
		}
		if pre, err := ocsp.ParseResponse(e.Response, nil); err == nil && pre.SerialNumber != nil && pre.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue // another certificate's answer from the same responder
		}
		resp, err := parseOCSPResponse(e.Response, cert, issuer, r.now)
		if err != nil {
			errs = append(errs, &ServerError{Method: MethodOCSP, URL: e.URL, Err: err})
			continue
		}
		switch resp.Status {
		case ocsp.Good, ocsp.Revoked:
			return r.ocspVerdict(answerFromOCSP(e.URL, resp), " (from the evidence)")
		default:
			err := &ServerError{Method: MethodOCSP, URL: e.URL, Err: ErrOCSPUnknownStatus}
			return outcome{result: Unknown, reason: "the OCSP response of " + e.URL + " in the evidence does not know the certificate", err: err}
		}
	}
	if len(errs) == 0 {
		err := &ServerError{Method: MethodOCSP, Err: fmt.Errorf("%w: no OCSP response from %s", ErrNoEvidence, strings.Join(cert.OCSPServer, ", "))}
		return outcome{result: Unknown, reason: err.Error(), err: err}
	}
	err := errors.Join(errs...)
	return outcome{result: Unknown, reason: "the OCSP evidence could not be used: " + err.Error(), err: err}
}

// offlineBundle answers crlBundle from Evidence.
func (r *run) offlineBundle(url string, cert, issuer *x509.Certificate) (*Bundle, error) {
	for _, e := range r.v.Evidence.CRL {
		if e.URL != url {
			continue
		}
		base, err := parseCRL(e.Base)
		if err != nil {
			return nil, err
		}
		b := &Bundle{BaseCRL: base}
		if len(e.Delta) > 0 {
			if b.DeltaCRL, err = parseCRL(e.Delta); err != nil {
				return nil, err
			}
		}
		if err := r.validateBundle(b, cert, issuer); err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("%w: no CRL from %s", ErrNoEvidence, url)
}

// offlineTransport refuses every request: an offline Validator has none to
// make.
type offlineTransport struct{}

func (offlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("%w: offline revocation check: no request may be made (%s)", ErrUnreachable, req.URL.Redacted())
}
