package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// MaxOCSPResponseBytes bounds an OCSP response body (the reference tool's
// limit, digest §0.5). Typical responses are 1-4 KB.
const MaxOCSPResponseBytes = 20480

// maxGETRequestChars: an OCSP request whose URL-escaped base64 form is
// shorter than this is sent with GET (RFC 6960 Appendix A.1, so caches in
// between can answer it); longer ones are POSTed (REV-4).
const maxGETRequestChars = 255

// oidInvalidityDate is the invalidityDate extension of CRL entries and OCSP
// single responses (RFC 5280 §5.3.2).
var oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}

// checkOCSP asks the certificate's OCSP responders in order until one
// gives a trustworthy answer (REV-4). Good and revoked answers end the
// search and are cached; an unknown answer ends it too; any failure moves
// on to the next responder.
func (r *run) checkOCSP(ctx context.Context, cert, issuer *x509.Certificate) outcome {
	if r.v.Evidence != nil {
		return r.offlineOCSP(cert, issuer)
	}
	if a, ok := r.v.OCSPCache.get(cert, issuer, r.now); ok {
		return r.ocspVerdict(a, " (cached)")
	}
	reqDER, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		return outcome{result: Unknown, reason: "OCSP request could not be made", err: &ServerError{Method: MethodOCSP, Err: err}}
	}
	servers := cert.OCSPServer
	if len(servers) > MaxURLs {
		r.log.Warn("certificate names too many OCSP responders; asking only the first ones", "subject", cert.Subject.String(), "count", len(servers), "max", MaxURLs)
		servers = servers[:MaxURLs]
	}
	var errs []error
	for _, server := range servers {
		if ctx.Err() != nil {
			break
		}
		resp, _, err := r.queryOCSP(ctx, server, reqDER, cert, issuer)
		if err != nil {
			r.log.Debug("OCSP responder failed", "url", server, "error", err)
			errs = append(errs, &ServerError{Method: MethodOCSP, URL: server, Err: err})
			continue
		}
		switch resp.Status {
		case ocsp.Good, ocsp.Revoked:
			a := answerFromOCSP(server, resp)
			r.v.OCSPCache.put(cert, issuer, a, r.now)
			return r.ocspVerdict(a, "")
		default:
			err := &ServerError{Method: MethodOCSP, URL: server, Err: ErrOCSPUnknownStatus}
			return outcome{result: Unknown, reason: "OCSP responder " + server + " does not know the certificate", err: err}
		}
	}
	err = errors.Join(errs...)
	return outcome{result: Unknown, reason: "no OCSP responder gave a usable answer: " + err.Error(), err: err}
}

// ocspAnswer is what a good or revoked OCSP response says, as kept in the
// OCSPCache.
type ocspAnswer struct {
	url        string
	status     int // ocsp.Good or ocsp.Revoked
	revokedAt  time.Time
	reason     int
	invalidity time.Time // zero when the response has none
	nextUpdate time.Time
}

func answerFromOCSP(server string, resp *ocsp.Response) ocspAnswer {
	a := ocspAnswer{url: server, status: resp.Status, revokedAt: resp.RevokedAt, reason: resp.RevocationReason, nextUpdate: resp.NextUpdate}
	for _, ext := range resp.Extensions {
		if ext.Id.Equal(oidInvalidityDate) {
			a.invalidity, _ = parseInvalidityDate(ext.Value)
		}
	}
	return a
}

func (r *run) ocspVerdict(a ocspAnswer, note string) outcome {
	if a.status == ocsp.Good {
		return outcome{result: OK, reason: fmt.Sprintf("OCSP responder %s answered good, valid until %s%s", a.url, a.nextUpdate.UTC().Format(time.RFC3339), note), validUntil: a.nextUpdate}
	}
	what := fmt.Sprintf("OCSP responder %s answered revoked at %s, reason %s%s", a.url, a.revokedAt.UTC().Format(time.RFC3339), reasonName(a.reason), note)
	out := revokedVerdict(what, a.invalidity, r.signingTime)
	out.validUntil = a.nextUpdate
	return out
}

// revokedVerdict applies REV-7: a revocation counts only if there is no
// authentic signing time, no invalidity date, or the signing time is not
// before the invalidity date.
func revokedVerdict(what string, invalidity, signingTime time.Time) outcome {
	if !signingTime.IsZero() && !invalidity.IsZero() && signingTime.Before(invalidity) {
		return outcome{result: OK, reason: fmt.Sprintf("%s, but the authentic signing time %s is before the invalidity date %s (REV-7)",
			what, signingTime.UTC().Format(time.RFC3339), invalidity.UTC().Format(time.RFC3339))}
	}
	return outcome{result: Revoked, reason: what}
}

// queryOCSP asks one responder and returns its verified, current answer
// and the DER response it was parsed from.
func (r *run) queryOCSP(ctx context.Context, server string, reqDER []byte, cert, issuer *x509.Certificate) (*ocsp.Response, []byte, error) {
	u, err := checkHTTPURL(server)
	if err != nil {
		return nil, nil, err
	}
	reqCtx, cancel := context.WithTimeout(ctx, r.ocspTimeout())
	defer cancel()
	req, err := newOCSPRequest(reqCtx, u, reqDER)
	if err != nil {
		return nil, nil, err
	}
	body, err := r.fetch(ctx, reqCtx, req, MaxOCSPResponseBytes)
	if err != nil {
		return nil, nil, err
	}
	resp, err := parseOCSPResponse(body, cert, issuer, r.now)
	return resp, body, err
}

// newOCSPRequest makes a GET request when the escaped base64 request is
// short enough, a POST of application/ocsp-request otherwise (REV-4).
func newOCSPRequest(ctx context.Context, server *url.URL, der []byte) (*http.Request, error) {
	enc := url.QueryEscape(base64.StdEncoding.EncodeToString(der))
	if len(enc) < maxGETRequestChars {
		base := *server
		base.RawQuery, base.Fragment, base.ForceQuery = "", "", false
		target := strings.TrimSuffix(base.String(), "/") + "/" + enc
		if server.RawQuery != "" {
			target += "?" + server.RawQuery
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server.String(), bytes.NewReader(der))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	return req, nil
}

// parseOCSPResponse parses a DER OCSP response of at most
// MaxOCSPResponseBytes, picks the answer for cert, and checks that issuer or
// a responder issuer authorised signed it and that it is current at now.
func parseOCSPResponse(der []byte, cert, issuer *x509.Certificate, now time.Time) (*ocsp.Response, error) {
	if len(der) > MaxOCSPResponseBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrTooLarge, len(der), MaxOCSPResponseBytes)
	}
	// The issuer is checked below rather than by x/crypto/ocsp, which
	// refuses a response that embeds the issuing CA's own certificate (as
	// openssl ocsp does when the CA signs) unless the CA is self-signed.
	resp, err := ocsp.ParseResponseForCert(der, cert, nil)
	if err != nil {
		var re ocsp.ResponseError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("%w: %s", ErrOCSPErrorResponse, re.Status)
		}
		var pe ocsp.ParseError
		if errors.As(err, &pe) && strings.HasPrefix(string(pe), "bad signature") {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkOCSPSigner(resp, issuer, now); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	switch resp.Status {
	case ocsp.Good, ocsp.Revoked, ocsp.Unknown:
	default:
		return nil, fmt.Errorf("%w: certificate status %d", ErrMalformed, resp.Status)
	}
	// A response without nextUpdate gives no time after which it must not
	// be used; the reference tool treats it as expired (peers.md).
	if resp.NextUpdate.IsZero() {
		return nil, fmt.Errorf("%w: the OCSP response has no nextUpdate", ErrExpired)
	}
	if now.After(resp.NextUpdate) {
		return nil, fmt.Errorf("%w: the OCSP response's nextUpdate %s has passed", ErrExpired, resp.NextUpdate.UTC().Format(time.RFC3339))
	}
	return resp, nil
}

// checkOCSPSigner accepts a response signed by the issuer itself, or by a
// delegated responder certificate the issuer issued with extended key
// usage id-kp-OCSPSigning that is valid at now (RFC 6960 §4.2.2.2). When
// the response embeds a certificate, x/crypto/ocsp has already checked that
// it signed the response.
func checkOCSPSigner(resp *ocsp.Response, issuer *x509.Certificate, now time.Time) error {
	rc := resp.Certificate
	if rc == nil {
		if err := resp.CheckSignatureFrom(issuer); err != nil {
			return fmt.Errorf("response signature does not verify with the issuer's key: %v", err)
		}
		return nil
	}
	if bytes.Equal(rc.Raw, issuer.Raw) {
		return nil
	}
	if !bytes.Equal(rc.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("responder certificate %q was not issued by %q", rc.Subject, issuer.Subject)
	}
	if err := rc.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("responder certificate %q is not signed by the issuer: %v", rc.Subject, err)
	}
	delegated := false
	for _, eku := range rc.ExtKeyUsage {
		if eku == x509.ExtKeyUsageOCSPSigning {
			delegated = true
		}
	}
	if !delegated {
		return fmt.Errorf("responder certificate %q lacks extended key usage id-kp-OCSPSigning", rc.Subject)
	}
	if now.Before(rc.NotBefore) || now.After(rc.NotAfter) {
		return fmt.Errorf("responder certificate %q is not valid at %s", rc.Subject, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseInvalidityDate decodes an invalidityDate extension value.
func parseInvalidityDate(v []byte) (time.Time, error) {
	var t time.Time
	rest, err := asn1.UnmarshalWithParams(v, &t, "generalized")
	if err != nil {
		return time.Time{}, err
	}
	if len(rest) > 0 {
		return time.Time{}, errors.New("trailing data after invalidity date")
	}
	return t, nil
}

// reasonName names an RFC 5280 §5.3.1 CRLReason code.
func reasonName(code int) string {
	names := [...]string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
		"cessationOfOperation", "certificateHold", "7", "removeFromCRL", "privilegeWithdrawn", "aACompromise"}
	if code >= 0 && code < len(names) && code != 7 {
		return names[code]
	}
	return fmt.Sprintf("%d", code)
}
