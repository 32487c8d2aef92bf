package timestamp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Media types of RFC 3161 §3.4.
const (
	MediaTypeQuery = "application/timestamp-query"
	MediaTypeReply = "application/timestamp-reply"
)

// DefaultTimeout is the timeout of the HTTP client HTTPTimestamper uses when
// Client is nil: the reference CLI's (digest §0.5).
const DefaultTimeout = 15 * time.Second

// DefaultMaxResponseBytes bounds a TSA response when
// HTTPTimestamper.MaxResponseBytes is 0: the reference's 1 MiB (digest
// §0.5). Real responses are a few KiB.
const DefaultMaxResponseBytes = 1 << 20

// HTTPTimestamper is a Timestamper that POSTs the request to an RFC 3161
// TSA over HTTP or HTTPS (RFC 3161 §3.4). The zero value is not usable: URL
// is required. It is safe for concurrent use if Client is.
type HTTPTimestamper struct {
	// URL is the TSA's absolute http or https URL.
	URL string
	// Client sends the request. nil means a new http.Client with Timeout
	// DefaultTimeout (15 s) for each call; a caller's client keeps its own
	// timeout, and the context bounds the call either way.
	Client *http.Client
	// MaxResponseBytes bounds the response body; 0 (or less) means
	// DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64
}

var _ Timestamper = (*HTTPTimestamper)(nil)

// Timestamp asks the TSA for a token over req.Signature and checks the
// response (TSA-2): HTTP 200, Content-Type application/timestamp-reply, a
// body within MaxResponseBytes, a DER TimeStampResp with PKIStatus granted
// or grantedWithMods, a token that ParseToken accepts, whose TSTInfo echoes
// the request's message imprint and nonce, and whose signer is found
// through signing-certificate-v2 and has signed it. It does not check the
// TSA's chain: the caller calls Token.Verify with its TSA root (TSA-3).
//
// Every error is a *TSAError wrapping one of ErrInvalidRequest,
// ErrUnreachable, ErrTimeout, ErrHTTPStatus, ErrContentType,
// ErrResponseTooLarge, ErrMalformedResponse, ErrRejected (a *StatusError),
// ErrMalformedToken, ErrImprintMismatch, ErrNonceMismatch,
// ErrMissingSigningCertificateV2, ErrSignerCertificate,
// ErrUnsupportedHash or ErrInvalidSignature.
func (h *HTTPTimestamper) Timestamp(ctx context.Context, req *Request) (*Token, error) {
	tok, err := h.timestamp(ctx, req)
	if err != nil {
		return nil, &TSAError{URL: h.URL, Err: err}
	}
	return tok, nil
}

func (h *HTTPTimestamper) timestamp(ctx context.Context, req *Request) (*Token, error) {
	u, err := url.Parse(h.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: TSA URL %q is not an absolute http or https URL", ErrInvalidRequest, h.URL)
	}
	q, err := newQuery(req)
	if err != nil {
		return nil, err
	}
	body, err := h.post(ctx, q.der)
	if err != nil {
		return nil, err
	}
	tok, err := parseResponse(body)
	if err != nil {
		return nil, err
	}
	if err := q.check(tok); err != nil {
		return nil, err
	}
	if _, err := tok.verifySigner(); err != nil {
		return nil, err
	}
	return tok, nil
}

// post sends the query and returns the bounded body of a 200 answer of the
// right media type.
func (h *HTTPTimestamper) post(ctx context.Context, der []byte) ([]byte, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(der))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	hreq.Header.Set("Content-Type", MediaTypeQuery)
	hreq.Header.Set("Accept", MediaTypeReply)
	resp, err := h.client().Do(hreq)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s", ErrHTTPStatus, resp.Status)
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != MediaTypeReply {
		return nil, fmt.Errorf("%w: %q, want %s", ErrContentType, ct, MediaTypeReply)
	}
	limit := h.maxResponseBytes()
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes announced, over the limit of %d", ErrResponseTooLarge, resp.ContentLength, limit)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrResponseTooLarge, limit)
	}
	return body, nil
}

// client returns Client, or a new client with DefaultTimeout.
func (h *HTTPTimestamper) client() *http.Client {
	if h.Client != nil {
		return h.Client
	}
	return &http.Client{Timeout: DefaultTimeout}
}

// maxResponseBytes returns MaxResponseBytes, or DefaultMaxResponseBytes.
func (h *HTTPTimestamper) maxResponseBytes() int64 {
	if h.MaxResponseBytes > 0 {
		return h.MaxResponseBytes
	}
	return DefaultMaxResponseBytes
}

// transportError classifies a failure to exchange the request.
func transportError(ctx context.Context, err error) error {
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}

// parseResponse decodes a TimeStampResp (RFC 3161 §2.4.2) and parses its
// token.
func parseResponse(der []byte) (*Token, error) {
	var resp timeStampResp
	if err := unmarshalDER(der, &resp); err != nil {
		return nil, fmt.Errorf("%w: not a DER TimeStampResp: %v", ErrMalformedResponse, err)
	}
	if s := resp.Status.Status; s != 0 && s != 1 {
		se := &StatusError{Status: s, StatusString: resp.Status.StatusString}
		for i := range resp.Status.FailInfo.BitLength {
			if resp.Status.FailInfo.At(i) == 1 {
				se.FailInfo = append(se.FailInfo, failInfoName(i))
			}
		}
		return nil, se
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, fmt.Errorf("%w: status is %s but there is no token", ErrMalformedResponse, statusName(resp.Status.Status))
	}
	return ParseToken(resp.TimeStampToken.FullBytes)
}

// check compares the token's TSTInfo with the request (TSA-2).
func (q *query) check(tok *Token) error {
	info := &tok.Info
	if !info.HashOID.Equal(q.imprint.HashAlgorithm.Algorithm) || !bytes.Equal(info.HashedMessage, q.imprint.HashedMessage) {
		return fmt.Errorf("%w: the token's message imprint (%s) differs from the request's (%s)",
			ErrImprintMismatch, info.HashOID, q.imprint.HashAlgorithm.Algorithm)
	}
	if info.Nonce == nil {
		return fmt.Errorf("%w: the token has no nonce", ErrNonceMismatch)
	}
	if info.Nonce.Cmp(q.nonce) != 0 {
		return fmt.Errorf("%w: sent %s, the token has %s", ErrNonceMismatch, q.nonce, info.Nonce)
	}
	return nil
}
