package revocation

import (
	"errors"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is. ValidateChain returns
// ErrUnsupportedPurpose (or the chain's *signature.ChainError) itself; the
// others reach callers inside CertResult.Err, wrapped in a *ServerError that
// names the URL, when a certificate's status is unknown.
var (
	// ErrUnsupportedPurpose: the Purpose is neither CodeSigning nor
	// Timestamping.
	ErrUnsupportedPurpose = errors.New("unsupported revocation purpose")
	// ErrUnsupportedURL: the OCSP or CRL URL is not an absolute http URL
	// (https, ldap and the like are not used, REV-4, REV-6).
	ErrUnsupportedURL = errors.New("unsupported revocation URL")
	// ErrTooManyURLs: the certificate names more than MaxURLs CRL
	// distribution points; checking only some of them could miss a
	// partitioned CRL.
	ErrTooManyURLs = errors.New("too many revocation URLs")
	// ErrUnreachable: the server could not be reached or answered with an
	// HTTP status other than 200.
	ErrUnreachable = errors.New("revocation server could not be reached")
	// ErrTimeout: the server did not answer within the timeout.
	ErrTimeout = errors.New("revocation server did not answer in time")
	// ErrTooLarge: the response is over MaxOCSPResponseBytes or the CRL
	// reaches MaxCRLBytes.
	ErrTooLarge = errors.New("revocation response is too large")
	// ErrMalformed: the OCSP response or CRL does not parse, or holds no
	// answer for the certificate.
	ErrMalformed = errors.New("malformed revocation response")
	// ErrBadSignature: the OCSP response or CRL is not signed by the
	// certificate's issuer or by an OCSP responder the issuer authorised.
	ErrBadSignature = errors.New("revocation response is not signed by the issuer")
	// ErrExpired: the OCSP response or CRL has no nextUpdate, or its
	// nextUpdate has passed (REV-4, REV-5).
	ErrExpired = errors.New("revocation response has expired")
	// ErrOCSPErrorResponse: the responder answered with an error status
	// (malformedRequest, internalError, tryLater, sigRequired,
	// unauthorized).
	ErrOCSPErrorResponse = errors.New("OCSP responder returned an error")
	// ErrOCSPUnknownStatus: the responder answered certStatus unknown.
	ErrOCSPUnknownStatus = errors.New("OCSP responder does not know the certificate")
	// ErrUnsupportedCRL: the CRL has an unknown critical extension or
	// entry extension, is an indirect CRL, covers only some reasons or a
	// class of certificates this one is not in, or is a delta CRL where a
	// base CRL is expected (REV-6).
	ErrUnsupportedCRL = errors.New("unsupported CRL")
	// ErrDeltaCRL: a delta CRL is named but none could be obtained, or the
	// one obtained lacks the delta CRL indicator or does not fit the base
	// CRL's number (REV-5, REV-6).
	ErrDeltaCRL = errors.New("delta CRL is unavailable or inconsistent")
	// ErrCacheMiss: a CRLCache holds nothing for the URL.
	ErrCacheMiss = errors.New("CRL cache miss")
)

// ServerError is the failure of one OCSP responder or CRL distribution
// point. Err wraps one of the sentinels above and the transport error, if
// any.
type ServerError struct {
	// Method is MethodOCSP or MethodCRL.
	Method Method
	// URL is the responder or distribution point.
	URL string
	// Err is the cause.
	Err error
}

var _ error = (*ServerError)(nil)

func (e *ServerError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Method))
	if e.URL != "" {
		b.WriteString(" " + e.URL)
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("failed")
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *ServerError) Unwrap() error { return e.Err }
