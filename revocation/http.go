package revocation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// checkHTTPURL accepts absolute http URLs only (REV-4, REV-6).
func checkHTTPURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedURL, err)
	}
	if !strings.EqualFold(u.Scheme, "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not an http URL", ErrUnsupportedURL, raw)
	}
	return u, nil
}

// fetch sends req (made with reqCtx, a child of ctx carrying the per-URL
// timeout) and returns the body of a 200 answer of at most max bytes.
func (r *run) fetch(ctx, reqCtx context.Context, req *http.Request, max int64) ([]byte, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, reqCtx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP status %s", ErrUnreachable, resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: Content-Length %d is over %d bytes", ErrTooLarge, resp.ContentLength, max)
	}
	data, err := readBounded(resp.Body, resp.ContentLength, max)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, transportError(ctx, reqCtx, err)
	}
	return data, nil
}

// transportError classifies a failed request: ErrTimeout when the per-URL
// deadline passed, ErrUnreachable otherwise (including the caller's own
// context ending, which ValidateChain reports separately).
func transportError(ctx, reqCtx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %w", ErrUnreachable, err)
}
