package timestamp

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Callers test them with errors.Is; each failure a TSA or a
// token can show has its own.
var (
	// ErrInvalidRequest: the caller's request or TSA URL is unusable (no
	// signature bytes, a hash other than SHA-256/384/512, a URL that is not
	// absolute http or https).
	ErrInvalidRequest = errors.New("invalid timestamp request")
	// ErrUnreachable: the TSA could not be reached (connection refused,
	// DNS, TLS, a broken connection).
	ErrUnreachable = errors.New("timestamp authority could not be reached")
	// ErrTimeout: the TSA did not answer within the client's timeout or
	// before the context ended.
	ErrTimeout = errors.New("timestamp authority did not answer in time")
	// ErrHTTPStatus: the TSA answered with an HTTP status other than 200.
	ErrHTTPStatus = errors.New("timestamp authority answered with an HTTP error")
	// ErrContentType: the TSA's answer is not application/timestamp-reply.
	ErrContentType = errors.New("timestamp authority answered with the wrong content type")
	// ErrResponseTooLarge: the TSA's answer exceeds the response limit.
	ErrResponseTooLarge = errors.New("timestamp response is too large")
	// ErrMalformedResponse: the answer is not a DER TimeStampResp, or says
	// granted without a token.
	ErrMalformedResponse = errors.New("malformed timestamp response")
	// ErrRejected: the TSA's PKIStatus is neither granted nor
	// grantedWithMods; a *StatusError carries the details.
	ErrRejected = errors.New("timestamp authority rejected the request")
	// ErrMalformedToken: the token is not a DER CMS SignedData holding one
	// signer and a version 1 TSTInfo, or exceeds MaxTokenBytes.
	ErrMalformedToken = errors.New("malformed timestamp token")
	// ErrUnsupportedHash: a hash algorithm other than SHA-256, SHA-384 or
	// SHA-512 in a request, a message imprint, the token's signer or its
	// signing-certificate-v2 attribute, or another hash than the one
	// VerifyOptions.Hash requires.
	ErrUnsupportedHash = errors.New("unsupported hash algorithm")
	// ErrNonceMismatch: the token's nonce differs from the request's.
	ErrNonceMismatch = errors.New("timestamp nonce does not match the request")
	// ErrImprintMismatch: the token's message imprint is not the hash of
	// the signature bytes (TSA-2, TSA-5).
	ErrImprintMismatch = errors.New("timestamp message imprint does not match the signature")
	// ErrMissingSigningCertificateV2: the signer has no ESS
	// signing-certificate-v2 signed attribute (TSA-6). A token with only the
	// SHA-1 based signing-certificate (v1) attribute gets this error too, as
	// in the reference implementation.
	ErrMissingSigningCertificateV2 = errors.New("timestamp token has no signing-certificate-v2 attribute")
	// ErrSignerCertificate: the certificate that signing-certificate-v2
	// names is not in the token, or is not the certificate that signed it
	// (TSACERT-4).
	ErrSignerCertificate = errors.New("timestamp signing certificate does not match")
	// ErrInvalidSignature: the token's CMS signature or message digest does
	// not verify.
	ErrInvalidSignature = errors.New("timestamp token signature is not valid")
	// ErrUntrustedTSA: no chain leads from the TSA certificate to one of
	// the given roots at genTime (TSA-3, TSA-7). Chains that do lead to a
	// root but break a §3.3 rule fail with signature.ErrInvalidChain.
	ErrUntrustedTSA = errors.New("timestamp authority is not trusted")
)

// TSAError is any failure of HTTPTimestamper.Timestamp, naming the TSA. Err
// wraps one of the sentinels above (and the transport error, if any).
type TSAError struct {
	// URL is the TSA's URL.
	URL string
	// Err is the cause.
	Err error
}

var _ error = (*TSAError)(nil)

func (e *TSAError) Error() string { return "timestamp authority " + e.URL + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TSAError) Unwrap() error { return e.Err }

// StatusError is a TimeStampResp whose PKIStatus is a rejection (RFC 3161
// §2.4.2). It wraps ErrRejected.
type StatusError struct {
	// Status is the PKIStatus value: 2 rejection, 3 waiting,
	// 4 revocationWarning, 5 revocationNotification (or any other the TSA
	// sent).
	Status int
	// StatusString is the TSA's free text, if any.
	StatusString []string
	// FailInfo names the PKIFailureInfo bits set, e.g. "badAlg".
	FailInfo []string
}

var _ error = (*StatusError)(nil)

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: status %s", ErrRejected.Error(), statusName(e.Status))
	if len(e.FailInfo) > 0 {
		b.WriteString(", failure " + strings.Join(e.FailInfo, ", "))
	}
	if len(e.StatusString) > 0 {
		fmt.Fprintf(&b, ", %q", strings.Join(e.StatusString, "; "))
	}
	return b.String()
}

// Unwrap returns ErrRejected.
func (e *StatusError) Unwrap() error { return ErrRejected }

func statusName(s int) string {
	switch s {
	case 0:
		return "granted"
	case 1:
		return "grantedWithMods"
	case 2:
		return "rejection"
	case 3:
		return "waiting"
	case 4:
		return "revocationWarning"
	case 5:
		return "revocationNotification"
	}
	return fmt.Sprintf("%d (unknown)", s)
}

// failInfoName names a PKIFailureInfo bit of RFC 3161 §2.4.2.
func failInfoName(bit int) string {
	switch bit {
	case 0:
		return "badAlg"
	case 2:
		return "badRequest"
	case 5:
		return "badDataFormat"
	case 14:
		return "timeNotAvailable"
	case 15:
		return "unacceptedPolicy"
	case 16:
		return "unacceptedExtension"
	case 17:
		return "addInfoNotAvailable"
	case 25:
		return "systemFailure"
	}
	return fmt.Sprintf("bit %d", bit)
}
