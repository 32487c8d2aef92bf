package revocation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/signet-dev/signet/signature"
)

// Timeouts per URL (digest §0.5). Each OCSP responder and each CRL
// distribution point (and each delta CRL) gets its own.
const (
	// DefaultOCSPTimeout is the wait per OCSP responder when
	// Validator.OCSPTimeout is zero (the reference tool's default).
	DefaultOCSPTimeout = 2 * time.Second
	// DefaultCRLTimeout is the wait per CRL download when
	// Validator.CRLTimeout is zero (the reference tool's default).
	DefaultCRLTimeout = 5 * time.Second
)

// MaxURLs bounds the OCSP responders and the CRL distribution points (each)
// used for one certificate: real certificates name one or two. Further OCSP
// responders are not asked; a certificate with more CRL distribution points
// is unknown, since skipping one could miss a revocation.
const MaxURLs = 8

// Purpose selects the chain rules ValidateChain re-checks before anything
// else (REV-9).
type Purpose int

const (
	// CodeSigning is a signing certificate chain (§3.2). It is the zero
	// value.
	CodeSigning Purpose = iota
	// Timestamping is a TSA certificate chain (§3.3, TSA-8).
	Timestamping
)

func (p Purpose) String() string {
	switch p {
	case CodeSigning:
		return "codeSigning"
	case Timestamping:
		return "timestamping"
	}
	return fmt.Sprintf("Purpose(%d)", int(p))
}

// Result is the revocation status of one certificate or of a chain.
type Result string

const (
	// OK: the certificate is not revoked (or was revoked only after the
	// authentic signing time, REV-7).
	OK Result = "ok"
	// Revoked: the certificate is revoked.
	Revoked Result = "revoked"
	// Unknown: the status could not be determined ("revocation
	// unavailable"): no server answered, or no answer could be trusted.
	Unknown Result = "unknown"
	// NonRevokable: the certificate is the root, or names neither an OCSP
	// responder nor a CRL distribution point (REV-2). It counts as OK.
	NonRevokable Result = "nonRevokable"
)

// Method is the mechanism that decided a certificate's Result.
type Method string

const (
	MethodOCSP Method = "ocsp"
	MethodCRL  Method = "crl"
	// MethodNone: nothing was asked (root, or no URLs).
	MethodNone Method = "none"
)

// CertResult is the revocation status of one certificate of a chain.
type CertResult struct {
	// Subject is the certificate's subject (RFC 2253 form).
	Subject string
	// Result is the certificate's status.
	Result Result
	// Method is the mechanism that decided Result. When OCSP could not
	// decide and the CRL was asked, Method is MethodCRL; when neither
	// could, it is the last one asked.
	Method Method
	// Reason says in a sentence how Result was reached, e.g. which server
	// answered, the revocation time and reason code, or that an OCSP
	// failure was overridden by the CRL.
	Reason string
	// Err is set exactly when Result is Unknown: every server's failure,
	// each a *ServerError (errors.Join). errors.Is finds the sentinels.
	Err error
	// ValidUntil is when the evidence that decided Result stops being
	// current: the OCSP response's nextUpdate, or the earliest nextUpdate of
	// the CRLs read (base and delta, every distribution point). Zero when no
	// evidence was read (NonRevokable, Unknown). Callers that keep a verdict
	// (an admission cache) must not keep it past this time.
	ValidUntil time.Time
}

// Summarize folds per-certificate results into the chain's (REV-3): Revoked
// if any is revoked, else Unknown if any is unknown, else OK (OK and
// NonRevokable certificates alike). An empty slice is OK.
func Summarize(results []CertResult) Result {
	out := OK
	for _, r := range results {
		switch r.Result {
		case Revoked:
			return Revoked
		case OK, NonRevokable:
		default:
			out = Unknown
		}
	}
	return out
}

// FirstProblem returns the certificate a caller should name when Summarize
// is not OK (REV-3): the revoked certificate closest to the root, else the
// first unknown one scanning from the root (the end of the slice) towards
// the leaf. ok is false when there is none.
func FirstProblem(results []CertResult) (r CertResult, ok bool) {
	for i := len(results) - 1; i >= 0; i-- {
		if results[i].Result == Revoked {
			return results[i], true
		}
	}
	for i := len(results) - 1; i >= 0; i-- {
		if res := results[i].Result; res != OK && res != NonRevokable {
			return results[i], true
		}
	}
	return CertResult{}, false
}

// Validator checks the revocation status of certificate chains. The zero
// value is ready to use: a private HTTP client, the default timeouts, no
// caches, the system clock and no logging.
//
// A Validator is safe for concurrent use once its fields are set; do not
// change them while calls are running.
type Validator struct {
	// HTTPClient sends the OCSP and CRL requests. Nil means a client made
	// for each ValidateChain call (its own transport, proxies from the
	// environment, idle connections closed at the end of the call); no
	// state is shared with http.DefaultClient.
	HTTPClient *http.Client
	// OCSPTimeout bounds each OCSP request, from connecting to reading the
	// whole response. Zero means DefaultOCSPTimeout (2 s).
	OCSPTimeout time.Duration
	// CRLTimeout bounds each CRL download (base and delta each). Zero
	// means DefaultCRLTimeout (5 s).
	CRLTimeout time.Duration
	// Cache keeps downloaded CRLs between calls and processes (REV-8). Nil
	// means CRLs are downloaded every time. Cached CRLs are used only while
	// their nextUpdate is in the future, and their signature is checked
	// again on every use. Cache errors never fail a check: they are logged
	// once per call at warning level.
	Cache CRLCache
	// OCSPCache keeps OCSP answers in memory between calls while they are
	// valid. Nil means every check asks the responder.
	OCSPCache *OCSPCache
	// Now returns the current time, against which nextUpdate is checked.
	// Nil means time.Now.
	Now func() time.Time
	// Evidence, when set, makes the Validator offline: it makes no
	// request at all, and answers from these OCSP responses and CRLs
	// (fetched earlier by Collect, e.g. carried in an air-gapped bundle),
	// checked as if just fetched. A certificate whose responders and
	// distribution points have no usable evidence is Unknown (ErrNoEvidence,
	// or ErrExpired past nextUpdate). Cache and OCSPCache are not used.
	Evidence *Evidence
	// Logger receives warnings (certificates without revocation
	// information, cache errors) and debug records of each request. Nil
	// means no logging.
	Logger *slog.Logger
}

// ValidateChain checks every certificate of chain (leaf first, root last)
// but the root against the certificate after it, concurrently (REV-1,
// REV-2). It returns one CertResult per certificate, in chain order; the
// root's is NonRevokable with MethodNone.
//
// purpose selects the chain rules checked first (REV-9): an invalid chain
// is an error wrapping signature.ErrInvalidChain, and nothing is fetched.
// Certificate validity periods are not checked here.
//
// signingTime is the authentic signing time of a notary.x509.signingAuthority
// signature, or zero. Only when it is set does a revocation whose
// invalidity date is after it count as OK (REV-7); the timestamp of a
// notary.x509 signature must not be passed (TSA-11).
//
// Failures of servers are never errors: they make the certificate Unknown.
// The error is non-nil only for an invalid chain or purpose, or when ctx
// ends before the checks do.
func (v *Validator) ValidateChain(ctx context.Context, chain []*x509.Certificate, purpose Purpose, signingTime time.Time) ([]CertResult, error) {
	var err error
	switch purpose {
	case CodeSigning:
		err = signature.ValidateCodeSigningChain(chain, time.Time{})
	case Timestamping:
		err = signature.ValidateTimestampingChain(chain, time.Time{})
	default:
		return nil, fmt.Errorf("revocation: %w: %v", ErrUnsupportedPurpose, purpose)
	}
	if err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}

	r, done := v.newRun(signingTime)
	defer done()

	results := make([]CertResult, len(chain))
	last := len(chain) - 1
	results[last] = CertResult{
		Subject: chain[last].Subject.String(),
		Result:  NonRevokable,
		Method:  MethodNone,
		Reason:  "root certificate: not checked",
	}
	var wg sync.WaitGroup
	for i := range last {
		wg.Go(func() { results[i] = r.checkCert(ctx, chain[i], chain[i+1]) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("revocation: %w", err)
	}
	return results, nil
}

// run is the state of one ValidateChain call.
type run struct {
	v           *Validator
	client      *http.Client
	now         time.Time
	signingTime time.Time
	log         *slog.Logger
	cacheWarned sync.Once
}

func (v *Validator) newRun(signingTime time.Time) (*run, func()) {
	r := &run{v: v, signingTime: signingTime, log: v.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if v.Now != nil {
		r.now = v.Now()
	} else {
		r.now = time.Now()
	}
	done := func() {}
	if v.Evidence != nil {
		// Offline: nothing may reach the network, whatever calls it.
		r.client = &http.Client{Transport: offlineTransport{}}
		return r, done
	}
	if r.client = v.HTTPClient; r.client == nil {
		tr := newTransport()
		r.client = &http.Client{Transport: tr}
		done = tr.CloseIdleConnections
	}
	return r, done
}

// newTransport is the transport of the default client: the settings of
// http.DefaultTransport, as a new value.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func (r *run) ocspTimeout() time.Duration {
	if r.v.OCSPTimeout > 0 {
		return r.v.OCSPTimeout
	}
	return DefaultOCSPTimeout
}

func (r *run) crlTimeout() time.Duration {
	if r.v.CRLTimeout > 0 {
		return r.v.CRLTimeout
	}
	return DefaultCRLTimeout
}

// warnCache logs a cache error once per call (REV-8).
func (r *run) warnCache(err error) {
	r.cacheWarned.Do(func() {
		r.log.Warn("CRL cache error discarded; revocation is checked without the cache", "error", err)
	})
}

// outcome is one mechanism's verdict on one certificate.
type outcome struct {
	result Result
	reason string
	err    error
	// validUntil is the evidence's nextUpdate (CertResult.ValidUntil).
	validUntil time.Time
}

// checkCert is REV-2 for one certificate: OCSP first, the CRL when OCSP
// cannot decide, non-revokable when the certificate names neither.
func (r *run) checkCert(ctx context.Context, cert, issuer *x509.Certificate) CertResult {
	res := CertResult{Subject: cert.Subject.String()}
	hasOCSP, hasCRL := len(cert.OCSPServer) > 0, len(cert.CRLDistributionPoints) > 0
	if !hasOCSP && !hasCRL {
		// Debug, not Warn: most chains have such certificates (roots, test
		// keys), and the verdict already says so.
		r.log.Debug("certificate names no OCSP responder and no CRL distribution point; its revocation is not checked", "subject", res.Subject)
		res.Result, res.Method = NonRevokable, MethodNone
		res.Reason = "the certificate names no OCSP responder and no CRL distribution point"
		return res
	}
	var ocspOut outcome
	if hasOCSP {
		ocspOut = r.checkOCSP(ctx, cert, issuer)
		if ocspOut.result != Unknown || !hasCRL {
			res.Result, res.Method, res.Reason, res.Err = ocspOut.result, MethodOCSP, ocspOut.reason, ocspOut.err
			res.ValidUntil = ocspOut.validUntil
			return res
		}
		r.log.Debug("OCSP could not decide; falling back to the CRL", "subject", res.Subject, "error", ocspOut.err)
	}
	crlOut := r.checkCRL(ctx, cert, issuer)
	res.Result, res.Method, res.Reason, res.ValidUntil = crlOut.result, MethodCRL, crlOut.reason, crlOut.validUntil
	if hasOCSP {
		res.Reason = fmt.Sprintf("%s (OCSP could not decide: %s)", crlOut.reason, firstLine(ocspOut.reason))
	}
	if crlOut.result == Unknown {
		if hasOCSP {
			res.Err = errors.Join(ocspOut.err, crlOut.err)
		} else {
			res.Err = crlOut.err
		}
	}
	return res
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// readBounded reads all of body if it is at most max bytes, else fails
// with ErrTooLarge after reading max+1 bytes. size is the body's declared
// length (an HTTP Content-Length), or -1 when unknown: a declared length
// within max is read into one buffer of that size, so a large CRL is not
// copied again while the buffer grows (a static CRL file is served with
// its length; a chunked body is read in growing chunks).
func readBounded(body io.Reader, size, max int64) ([]byte, error) {
	if size >= 0 && size <= max {
		data := make([]byte, size)
		if _, err := io.ReadFull(body, data); err != nil {
			return nil, err
		}
		// net/http ends a body at its Content-Length; another reader may
		// not.
		var extra [1]byte
		if n, _ := io.ReadFull(body, extra[:]); n > 0 {
			return nil, fmt.Errorf("%w: more than the declared %d bytes", ErrTooLarge, size)
		}
		return data, nil
	}
	data, err := io.ReadAll(io.LimitReader(body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return data, nil
}
