package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/verifier"
)

// VerifierOptions configure NewVerifier. DefaultSet is required; every
// other zero value is the documented default.
type VerifierOptions struct {
	// DefaultSet is the default policy set's directory: a signet/notation
	// configuration directory with trustpolicy.oci.json (or
	// trustpolicy.json) and truststore/ (--config).
	DefaultSet string
	// PolicySets are the named sets, name to directory (--policy-set).
	PolicySets map[string]string
	// InsecureRegistries are reached over plain HTTP ("host[:port]");
	// loopback registries always are (--insecure-registry).
	InsecureRegistries []string
	// Credentials answers registry logins; nil means anonymous.
	Credentials credentials.Store
	// Timeout bounds one verification (resolve, list, fetch, verify,
	// revocation); zero means DefaultTimeout. A verification shared by
	// several requests runs under its own Timeout, not under a caller's.
	Timeout time.Duration
	// CacheTTL bounds how long a verdict is kept; zero means
	// DefaultCacheTTL, negative disables the cache. Entries also never
	// outlive the revocation evidence (OCSP/CRL nextUpdate), the signing
	// certificates' validity (without a timestamp) or the signature's
	// expiry they relied on; refusals are kept at most NegativeCacheTTL.
	CacheTTL time.Duration
	// MaxCacheEntries bounds the cache; zero means DefaultMaxCacheEntries.
	MaxCacheEntries int
	// MaxVerificationsPerRegistry bounds the verifications that run at
	// once against one registry host; others wait for a slot within their
	// review's deadline. Zero means DefaultMaxVerificationsPerRegistry.
	MaxVerificationsPerRegistry int
	// ReloadInterval is how often set directories are checked for changes;
	// zero means DefaultReloadInterval.
	ReloadInterval time.Duration
	// SnapshotDir is where private copies of the sets are written; empty
	// means os.TempDir().
	SnapshotDir string
	// Revocation checks certificate chains; nil means a revocation.Validator
	// with an in-memory OCSP cache and the default timeouts. The Verifier
	// uses a copy whose HTTP client gives a verification's registry slot
	// back while it waits for a revocation responder.
	Revocation *revocation.Validator
	// WrapTransport wraps the registry transport (tests, tracing).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives policy set loads and errors; nil discards them.
	Logger *slog.Logger
	// Metrics records verdicts, cache hits and registry errors; nil records
	// nothing.
	Metrics *Metrics
}

// Verifier is signet's ImageVerifier: policy sets, tag resolution, the
// verdict cache and shared verifications. It is safe for concurrent use.
// Close removes its snapshots.
type Verifier struct {
	opts       VerifierOptions
	log        *slog.Logger
	now        func() time.Time
	revocation *revocation.Validator
	sets       map[string]*policySet
	cache      *verdictCache
	flights    *flights
	remote     registry.RemoteOptions // one HTTP client for every repository

	reposMu sync.Mutex
	repos   map[string]*registry.Repository
}

var _ ImageVerifier = (*Verifier)(nil)

// maxRepositories bounds the repositories kept (their referrers API
// detection; connections and tokens are in the one shared client); past it
// they are dropped and made afresh.
const maxRepositories = 1024

// NewVerifier checks the options and loads every policy set once; a set
// that does not load is reported in the error, since a webhook that starts
// with a broken set would refuse everything under it.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	if opts.DefaultSet == "" {
		return nil, errors.New("admission: the default policy set's directory is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.CacheTTL == 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.MaxCacheEntries <= 0 {
		opts.MaxCacheEntries = DefaultMaxCacheEntries
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = DefaultReloadInterval
	}
	if opts.MaxVerificationsPerRegistry <= 0 {
		opts.MaxVerificationsPerRegistry = DefaultMaxVerificationsPerRegistry
	}
	v := &Verifier{opts: opts, log: opts.Logger, now: opts.Now, revocation: opts.Revocation,
		sets: map[string]*policySet{}, cache: newVerdictCache(opts.MaxCacheEntries), repos: map[string]*registry.Repository{},
		flights: newFlights(opts.MaxVerificationsPerRegistry)}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	// One HTTP client (connection pool, token cache) for every repository:
	// a client per repository kept idle connections per repository.
	remote, err := registry.RemoteOptions{
		InsecureRegistries: opts.InsecureRegistries,
		Credentials:        opts.Credentials,
		Timeout:            opts.Timeout,
		UserAgent:          "signet-webhook/" + signet.Version,
		Logger:             v.log,
		WrapTransport:      opts.WrapTransport,
	}.Share()
	if err != nil {
		return nil, fmt.Errorf("admission: registry client: %w", err)
	}
	v.remote = remote
	if v.now == nil {
		v.now = time.Now
	}
	if v.revocation == nil {
		v.revocation = &revocation.Validator{OCSPCache: &revocation.OCSPCache{}, Now: opts.Now, Logger: v.log}
	}
	// A copy whose requests give the verification's registry slot back
	// while they wait (slotYielder); the caller's Validator is unchanged.
	rv := *v.revocation
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if rv.HTTPClient != nil {
		c := *rv.HTTPClient
		if c.Transport == nil {
			c.Transport = http.DefaultTransport
		}
		client = &c
	}
	client.Transport = slotYielder{client.Transport}
	rv.HTTPClient = client
	v.revocation = &rv
	add := func(name, dir string) error {
		if _, dup := v.sets[name]; dup {
			return fmt.Errorf("admission: policy set %q given twice", name)
		}
		v.sets[name] = &policySet{name: name, dir: dir, interval: opts.ReloadInterval, load: v.loadSet,
			now: v.now, log: v.log, metrics: opts.Metrics}
		return nil
	}
	if err := add(DefaultSetName, opts.DefaultSet); err != nil {
		return nil, err
	}
	for name, dir := range opts.PolicySets {
		if name == "" || name == DefaultSetName {
			return nil, fmt.Errorf("admission: policy set name %q is reserved", name)
		}
		if err := add(name, dir); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, s := range v.sets {
		if _, err := s.current(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		v.Close()
		return nil, err
	}
	opts.Metrics.registerCacheSize(v.cache.len)
	return v, nil
}

// Close removes the policy sets' snapshots.
func (v *Verifier) Close() error {
	for _, s := range v.sets {
		s.close()
	}
	return nil
}

// Ready reports whether the default policy set is loaded.
func (v *Verifier) Ready() error {
	_, err := v.sets[DefaultSetName].current()
	return err
}

// CacheLen returns the number of verdicts cached.
func (v *Verifier) CacheLen() int { return v.cache.len() }

// VerifyImage implements ImageVerifier.
func (v *Verifier) VerifyImage(ctx context.Context, setName, image string) *Result {
	start := v.now()
	res := v.verifyImage(ctx, setName, image)
	v.opts.Metrics.verdict(res, v.now().Sub(start))
	return res
}

func (v *Verifier) verifyImage(ctx context.Context, setName, image string) *Result {
	if setName == "" {
		setName = DefaultSetName
	}
	res := &Result{Image: image, PolicySet: setName}
	fail := func(check, format string, args ...any) *Result {
		res.Check, res.Reason = check, fmt.Sprintf(format, args...)
		return res
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return fail(CheckReference, "cannot parse the image reference: %v", err)
	}
	res.Repository = named.Name()
	set, ok := v.sets[setName]
	if !ok {
		return fail(CheckPolicy, "%v: the webhook has no policy set %q (the namespace's %s label names it)", ErrUnknownPolicySet, setName, LabelPolicySet)
	}
	ls, err := set.current()
	if err != nil {
		return fail(CheckPolicy, "%v", err)
	}
	repo, err := v.repository(res.Repository)
	if err != nil {
		return fail(CheckRegistry, "%v", err)
	}
	if c, ok := named.(reference.Canonical); ok {
		res.Digest = c.Digest().String()
	} else {
		tag := "latest"
		if t, ok := named.(reference.Tagged); ok {
			tag = t.Tag()
		}
		desc, err := registry.ResolveManifest(ctx, repo, tag)
		if err != nil {
			if ctx.Err() != nil {
				return fail(CheckTimeout, "resolving tag %q did not finish in time: %v", tag, err)
			}
			if errors.Is(err, registry.ErrDigestMismatch) {
				return fail(string(trustpolicy.Integrity), "resolve tag %q: %v", tag, err)
			}
			return fail(CheckRegistry, "resolve tag %q: %v", tag, err)
		}
		res.Digest = desc.Digest.String()
	}

	key := cacheKey{set: setName, gen: ls.gen, repo: res.Repository, digest: res.Digest}
	if v.opts.CacheTTL > 0 {
		if cached, ok := v.cache.get(key, v.now()); ok {
			cached.Image, cached.Cached = image, true
			return &cached
		}
	}
	flightKey := strings.Join([]string{setName, strconv.FormatUint(ls.gen, 10), res.Repository, res.Digest}, "\x00")
	host, _, _ := strings.Cut(res.Repository, "/")
	f, lead := v.flights.join(flightKey)
	if lead {
		go v.fly(ctx, f, flightKey, host, key, ls, repo, *res)
	}
	select {
	case <-f.done:
		r := *f.res
		r.Image = image
		return &r
	case <-ctx.Done():
		if !v.flights.leave(flightKey, f) {
			return fail(CheckTimeout, "verification of %s did not start within the request's deadline: %d verifications against registry %s were running or waiting (at most %d run at once)",
				res.Digest, v.flights.busy(host), host, v.opts.MaxVerificationsPerRegistry)
		}
		return fail(CheckTimeout, "verification of %s did not finish within the request's deadline", res.Digest)
	}
}

// fly runs flight f: it waits for one of host's slots, verifies, caches the
// verdict and publishes it. Detached from the leader's context (others may
// wait on the same flight), it runs at most Timeout, and ends early when
// every waiter left before it got a slot.
func (v *Verifier) fly(ctx context.Context, f *flight, flightKey, host string, key cacheKey, ls *loadedSet, repo *registry.Repository, res Result) {
	fctx, cancel := v.flights.start(ctx, f, v.opts.Timeout)
	defer cancel()
	slot, err := v.flights.acquire(fctx, host, f)
	if err != nil {
		res.Check, res.Reason = CheckTimeout, fmt.Sprintf("no verification slot for registry %s within %s (at most %d run at once)", host, v.opts.Timeout, v.opts.MaxVerificationsPerRegistry)
		v.flights.finish(flightKey, f, &res)
		return
	}
	r, expires := v.verifyDigest(withSlot(fctx, slot), ls, repo, res)
	slot.release()
	if v.opts.CacheTTL > 0 && !expires.IsZero() {
		v.cache.put(key, *r, expires, v.now())
	}
	v.flights.finish(flightKey, f, r)
}

// verifyDigest verifies res.Repository@res.Digest under ls and returns the
// result with the time it may be cached until (zero: not cached).
func (v *Verifier) verifyDigest(ctx context.Context, ls *loadedSet, repo *registry.Repository, res Result) (*Result, time.Time) {
	out, err := signet.VerifyOCI(ctx, repo, res.Digest, signet.VerifyOCIOptions{Policy: ls.policy, Verifier: ls.verifier, Scope: res.Repository})
	now := v.now()
	if out != nil {
		res.Statement = out.Policy.Name
	}
	if err == nil {
		res.Allowed = true
		if out.Verdict == signet.VerdictSkipped {
			res.Skipped = true
			return &res, now.Add(v.opts.CacheTTL)
		}
		s, _ := out.Trusted()
		for _, w := range s.Result().Warnings() {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s check failed (action log): %s", w.Type, w.Reason))
		}
		return &res, v.expiry(now, s.Result())
	}
	switch {
	case ctx.Err() != nil:
		res.Check, res.Reason = CheckTimeout, fmt.Sprintf("verification did not finish within %s: %v", v.opts.Timeout, err)
		return &res, time.Time{}
	case errors.Is(err, trustpolicy.ErrNoApplicablePolicy):
		res.Check, res.Reason = CheckPolicy, err.Error()
		return &res, time.Time{}
	case errors.Is(err, signet.ErrNoSignature):
		res.Check, res.Reason = CheckSignature, "no signature is associated with the image"
		return &res, now.Add(min(v.opts.CacheTTL, NegativeCacheTTL))
	case errors.Is(err, signet.ErrNotTrusted):
		res.Check, res.Reason = string(trustpolicy.Integrity), err.Error()
		if out != nil && len(out.Signatures) > 0 {
			if c, ok := out.Signatures[0].Result().FailedCheck(); ok {
				res.Check, res.Reason = string(c.Type), c.Reason
			}
		}
		if res.Check == string(trustpolicy.Revocation) && revocation.Summarize(out.Signatures[0].Result().Revocation) != revocation.Revoked {
			// Revocation status unavailable (a responder down) is an error,
			// not a verdict: not kept.
			return &res, time.Time{}
		}
		return &res, now.Add(min(v.opts.CacheTTL, NegativeCacheTTL))
	case errors.Is(err, signet.ErrIO):
		res.Check, res.Reason = CheckRegistry, err.Error()
		return &res, time.Time{}
	default:
		res.Check, res.Reason = CheckVerifier, err.Error()
		return &res, time.Time{}
	}
}

// expiry is when a trusted verdict stops being usable: CacheTTL from now,
// or earlier when the evidence it relied on lapses.
func (v *Verifier) expiry(now time.Time, r *verifier.Result) time.Time {
	until := now.Add(v.opts.CacheTTL)
	earlier := func(t time.Time) {
		if !t.IsZero() && t.Before(until) {
			until = t
		}
	}
	if r.Content != nil {
		if r.Timestamp == nil {
			// Without a verified timestamp the signing chain must be valid
			// now (authenticTimestamp): not past its first NotAfter.
			for _, c := range r.Content.CertificateChain {
				earlier(c.NotAfter)
			}
		}
		earlier(r.Content.Signed.Expiry)
	}
	for _, cr := range r.Revocation {
		earlier(cr.ValidUntil)
	}
	for _, cr := range r.TimestampRevocation {
		earlier(cr.ValidUntil)
	}
	return until
}

// repository returns the registry client for REGISTRY/REPOSITORY.
func (v *Verifier) repository(name string) (*registry.Repository, error) {
	v.reposMu.Lock()
	defer v.reposMu.Unlock()
	if r, ok := v.repos[name]; ok {
		return r, nil
	}
	r, _, err := registry.NewRepository(name, v.remote)
	if err != nil {
		return nil, err
	}
	if len(v.repos) >= maxRepositories {
		clear(v.repos)
	}
	v.repos[name] = r
	return r, nil
}
