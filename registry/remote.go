package registry

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Limits and defaults of remote repositories (§0.5). A registry is untrusted:
// these bound what one answer, and one listing, can cost.
const (
	// DefaultRequestTimeout bounds one HTTP exchange with a registry, its
	// retries and the reading of its body included, when
	// RemoteOptions.Timeout is zero.
	DefaultRequestTimeout = 30 * time.Second
	// MaxReferrersPages bounds the pages of one referrers listing: a
	// registry whose Link headers never end gets an error, not a loop
	// (oras-go's ReferrerListMaxPages is unlimited by default).
	MaxReferrersPages = 100
	// MaxReferrers bounds the descriptors accepted from one subject's
	// referrers listing, all pages and artifact types together. Each page
	// is at most MaxManifestBytes (the reference's 4 MiB metadata limit).
	MaxReferrers = 10000
	// MaxCAFileBytes bounds RemoteOptions.CAFile.
	MaxCAFileBytes = 1 << 20
	// DefaultUserAgent is sent when RemoteOptions.UserAgent is empty.
	DefaultUserAgent = "signet"
)

// maxErrorBodyBytes bounds the error body read to tell a registry without
// the referrers API from a missing repository (NAME_UNKNOWN).
const maxErrorBodyBytes = 64 << 10

// manifestCacheEntries bounds the manifests a Repository keeps after
// Resolve, so that the Fetch that follows costs no request. Each entry is at
// most MaxManifestBytes.
const manifestCacheEntries = 8

// ReferrersMode chooses how a Repository stores and finds referrers
// (PUSH-3, PUSH-4, DISC-2).
type ReferrersMode int

const (
	// ReferrersAuto uses the referrers API when the registry has one and
	// the referrers tag schema otherwise, probing once per Repository. The
	// zero value.
	ReferrersAuto ReferrersMode = iota
	// ReferrersAPI always uses the referrers API: no tag index is written,
	// and listing on a registry without the API fails with
	// ErrReferrersUnsupported.
	ReferrersAPI
	// ReferrersTag always uses the referrers tag schema (an image index
	// tagged <alg>-<hex> of the subject digest), as notation v1.3.2 does by
	// default (--force-referrers-tag).
	ReferrersTag
)

func (m ReferrersMode) String() string {
	switch m {
	case ReferrersAuto:
		return "auto"
	case ReferrersAPI:
		return "api"
	case ReferrersTag:
		return "tag"
	}
	return fmt.Sprintf("ReferrersMode(%d)", int(m))
}

// ParseReferrersMode parses "auto", "api" or "tag".
func ParseReferrersMode(s string) (ReferrersMode, error) {
	for _, m := range []ReferrersMode{ReferrersAuto, ReferrersAPI, ReferrersTag} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("referrers mode %q: want auto, api or tag", s)
}

// Errors of remote repositories.
var (
	// ErrReferrersUnsupported means the registry has no referrers API
	// and ReferrersAPI was asked for.
	ErrReferrersUnsupported = errors.New("the registry does not support the referrers API")
	// ErrTooManyReferrers means a referrers listing went over
	// MaxReferrers descriptors or MaxReferrersPages pages, or its
	// pagination looped.
	ErrTooManyReferrers = errors.New("too many referrers")
	// ErrReferrersIndexConflict means concurrent updates of a referrers
	// tag index kept dropping this signature and convergence gave up.
	ErrReferrersIndexConflict = errors.New("the referrers index kept losing the signature to concurrent updates")
	// ErrCAFile means RemoteOptions.CAFile could not be used.
	ErrCAFile = errors.New("invalid CA bundle")
)

// RemoteOptions configure NewRepository and Login. The zero value talks
// HTTPS with the system roots, anonymously, with DefaultRequestTimeout per
// request and the referrers mode detected automatically.
type RemoteOptions struct {
	// PlainHTTP talks plain HTTP to every registry (--insecure-registry).
	PlainHTTP bool
	// InsecureRegistries lists registries ("host[:port]", compared
	// case-insensitively and exactly) reached over plain HTTP
	// (insecureRegistries in config.json, CFG-3). localhost, 127.0.0.1 and
	// ::1 (any port) always are.
	InsecureRegistries []string
	// CAFile names a PEM bundle of certificates trusted for registries in
	// addition to the system roots. At most MaxCAFileBytes.
	CAFile string
	// Credentials answers Get for each registry host (Docker config file
	// and credential helpers: OpenCredentialStore); nil means anonymous.
	// Login and Logout write to it.
	Credentials credentials.Store
	// Timeout bounds each HTTP exchange (retries and body included) and
	// each credential helper call; zero means DefaultRequestTimeout.
	Timeout time.Duration
	// UserAgent is sent with each request; empty means DefaultUserAgent.
	UserAgent string
	// Referrers chooses the referrers API or tag schema; the zero value
	// detects it.
	Referrers ReferrersMode
	// Logger receives warnings (registry Warning headers, an outdated
	// referrers index that could not be deleted) and convergence retries;
	// nil discards them.
	Logger *slog.Logger
	// WrapTransport, when set, wraps the transport that sends each request
	// on the wire (below retries and authentication): for tracing and for
	// counting requests in tests.
	WrapTransport func(http.RoundTripper) http.RoundTripper

	// shared, set by Share, is the client every Repository made with
	// these options uses; nil gives each Repository its own.
	shared *auth.Client
}

// maxIdleConnsPerHost is how many idle connections to one registry a
// client keeps for reuse (net/http keeps 2 by default): a verify of many
// references sends up to 32 requests to a registry at once, and each
// connection closed for want of room is a new TCP (and TLS) handshake for
// the next request.
const maxIdleConnsPerHost = 32

// Share returns options whose repositories all use one HTTP client, made
// now: one connection pool and one token cache for every repository a
// command opens (the other options as given). Use it when one command
// opens many repositories.
func (o RemoteOptions) Share() (RemoteOptions, error) {
	c, err := o.newClient()
	if err != nil {
		return RemoteOptions{}, err
	}
	o.shared = c
	return o, nil
}

func (o *RemoteOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultRequestTimeout
}

func (o *RemoteOptions) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// plainHTTP reports whether registry (host[:port]) is reached over plain
// HTTP (CFG-3).
func (o *RemoteOptions) plainHTTP(registry string) bool {
	if o.PlainHTTP {
		return true
	}
	for _, r := range o.InsecureRegistries {
		if strings.EqualFold(r, registry) {
			return true
		}
	}
	host := registry
	if h, _, err := net.SplitHostPort(registry); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	return strings.EqualFold(host, "localhost") || host == "127.0.0.1" || host == "::1"
}

// newClient builds the authenticating client: HTTPS roots plus CAFile,
// oras-go's retries (429 and 5xx), a whole-exchange timeout, a fresh token
// cache, and credentials read through a bounded call.
func (o *RemoteOptions) newClient() (*auth.Client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = maxIdleConnsPerHost
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		tlsConfig.RootCAs = pool
	}
	base.TLSClientConfig = tlsConfig
	var rt http.RoundTripper = base
	if o.WrapTransport != nil {
		rt = o.WrapTransport(rt)
	}
	ua := o.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	c := &auth.Client{
		Client: &http.Client{Transport: retry.NewTransport(rt), Timeout: o.timeout()},
		Header: http.Header{"User-Agent": {ua}},
		Cache:  auth.NewCache(),
	}
	if o.Credentials != nil {
		get := credentials.Credential(o.Credentials)
		timeout := o.timeout()
		c.Credential = func(ctx context.Context, hostport string) (auth.Credential, error) {
			// A credential helper is a process: bound it as a request.
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return get(ctx, hostport)
		}
	}
	return c, nil
}

// loadCAFile reads a PEM bundle into the system pool (or a new pool where
// the system has none).
func loadCAFile(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCAFile, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxCAFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrCAFile, path, err)
	}
	if len(data) > MaxCAFileBytes {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCAFile, path, MaxCAFileBytes)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%w: %s holds no PEM certificate", ErrCAFile, path)
	}
	return pool, nil
}

// Repository is a remote repository that signatures are read from and
// pushed to. It implements signet.Target (content.Storage, Resolve,
// Predecessors) plus Tag and oras-go's registry.ReferrerLister, so
// ListSignatures, FetchSignature, PushSignature and ResolveManifest work on
// it. It is safe for concurrent use.
//
// Beyond oras-go's remote.Repository it bounds referrers listings
// (MaxReferrersPages, MaxReferrers, MaxManifestBytes per page), keeps the
// manifests it resolved so that reading them again costs no request, and
// makes pushes of signature manifests on registries without the referrers
// API converge when several signers update the same referrers tag index at
// once (see Push).
type Repository struct {
	repo    *remote.Repository
	client  *auth.Client
	log     *slog.Logger
	timeout time.Duration

	probeMu    sync.Mutex  // held while decideReferrers or a first Referrers probes
	listedOnce atomic.Bool // a Referrers listing ran while the API support was unknown

	mu       sync.Mutex
	hasAPI   *bool // detected referrers API support; nil until known
	cache    []cachedManifest
	warnings map[string]bool
	noIndex  *remote.Repository // see unindexed
}

type cachedManifest struct {
	desc ocispec.Descriptor
	data []byte
}

// NewRepository parses ref, REGISTRY/REPOSITORY[:TAG|@DIGEST], with oras-go's
// registry.ParseReference and returns the repository with reference, the
// tag or digest ("" when ref names none).
func NewRepository(ref string, opts RemoteOptions) (*Repository, string, error) {
	r, err := orasregistry.ParseReference(ref)
	if err != nil {
		return nil, "", fmt.Errorf("invalid reference %q: want REGISTRY/REPOSITORY[:TAG|@DIGEST]: %w", ref, err)
	}
	client := opts.shared
	if client == nil {
		if client, err = opts.newClient(); err != nil {
			return nil, "", err
		}
	}
	repo := &Repository{
		client:  client,
		log:     opts.logger(),
		timeout: opts.timeout(),
	}
	repo.repo = &remote.Repository{
		Client:               timeoutClient{client, opts.timeout()},
		Reference:            orasregistry.Reference{Registry: r.Registry, Repository: r.Repository},
		PlainHTTP:            opts.plainHTTP(r.Registry),
		ReferrerListMaxPages: MaxReferrersPages,
		MaxMetadataBytes:     MaxManifestBytes,
		HandleWarning:        repo.warn,
	}
	switch opts.Referrers {
	case ReferrersAuto:
	case ReferrersAPI:
		repo.setReferrersAPI(true)
	case ReferrersTag:
		repo.setReferrersAPI(false)
	default:
		return nil, "", fmt.Errorf("unknown referrers mode %d", opts.Referrers)
	}
	return repo, r.Reference, nil
}

// Name returns REGISTRY/REPOSITORY, the trust policy scope of its
// artifacts (SEL-1).
func (r *Repository) Name() string {
	return r.repo.Reference.Registry + "/" + r.repo.Reference.Repository
}

// PlainHTTP reports whether the repository is reached over plain HTTP.
func (r *Repository) PlainHTTP() bool { return r.repo.PlainHTTP }

func (r *Repository) warn(w remote.Warning) {
	r.mu.Lock()
	if r.warnings == nil {
		r.warnings = map[string]bool{}
	}
	seen := r.warnings[w.Text]
	r.warnings[w.Text] = true
	r.mu.Unlock()
	if !seen {
		r.log.Warn("registry warning", "registry", r.repo.Reference.Registry, "text", w.Text)
	}
}

// Resolve resolves reference (a tag or a digest) to the manifest it names.
// It GETs the manifest rather than asking HEAD, reads it (at most
// MaxManifestBytes), checks that it hashes to the digest the registry
// reports, and keeps it so that the Fetch that follows costs no request.
func (r *Repository) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	desc, rc, err := r.repo.FetchReference(ctx, reference)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer rc.Close()
	if desc.Size > MaxManifestBytes {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s is %d bytes, over the limit of %d", desc.Digest, desc.Size, MaxManifestBytes)
	}
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) || errors.Is(err, io.ErrUnexpectedEOF) {
			return ocispec.Descriptor{}, fmt.Errorf("%w: manifest %s: %w", ErrDigestMismatch, desc.Digest, err)
		}
		return ocispec.Descriptor{}, fmt.Errorf("read manifest %s: %w", desc.Digest, err)
	}
	r.remember(desc, data)
	return desc, nil
}

func (r *Repository) remember(desc ocispec.Descriptor, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.cache {
		if c.desc.Digest == desc.Digest {
			return
		}
	}
	if len(r.cache) == manifestCacheEntries {
		r.cache = r.cache[1:]
	}
	r.cache = append(r.cache, cachedManifest{desc: ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}, data: data})
}

func (r *Repository) cached(desc ocispec.Descriptor) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.cache {
		if c.desc.Digest == desc.Digest && c.desc.Size == desc.Size && c.desc.MediaType == desc.MediaType {
			return c.data, true
		}
	}
	return nil, false
}

// Fetch fetches the content desc names: a manifest this Repository
// resolved comes from memory (it was digest-checked then).
func (r *Repository) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if data, ok := r.cached(desc); ok {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	return r.repo.Fetch(ctx, desc)
}

// Exists reports whether desc is in the repository.
func (r *Repository) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if _, ok := r.cached(desc); ok {
		return true, nil
	}
	return r.repo.Exists(ctx, desc)
}

// Tag tags the manifest desc with reference.
func (r *Repository) Tag(ctx context.Context, desc ocispec.Descriptor, reference string) error {
	return r.repo.Tag(ctx, desc, reference)
}

// Predecessors returns the referrers of desc, all artifact types.
func (r *Repository) Predecessors(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	var all []ocispec.Descriptor
	err := r.Referrers(ctx, desc, "", func(page []ocispec.Descriptor) error {
		all = append(all, page...)
		return nil
	})
	return all, err
}

// referrersAPI returns the known referrers API support (ok false while
// unknown).
func (r *Repository) referrersAPI() (has, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hasAPI == nil {
		return false, false
	}
	return *r.hasAPI, true
}

// setReferrersAPI records the referrers API support, here and in oras-go's
// repository (which then maintains the tag index on push, or does not).
func (r *Repository) setReferrersAPI(has bool) {
	r.mu.Lock()
	if r.hasAPI == nil {
		r.hasAPI = &has
	}
	r.mu.Unlock()
	// Only our decision sets it: oras-go never probes on its own because
	// every push of a manifest with a subject goes through Push, which
	// decides first, and listing goes through Referrers below.
	if err := r.repo.SetReferrersCapability(has); err != nil && !errors.Is(err, remote.ErrReferrersCapabilityAlreadySet) {
		r.log.Warn("set referrers capability", "error", err)
	}
}

// Referrers calls fn with each page of the referrers of subject whose
// artifactType is artifactType ("" for all), in the registry's order
// (DISC-5). It uses the referrers API, or the referrers tag index when the
// registry has no API (DISC-2), detecting which on the first call in
// ReferrersAuto. Listings are bounded by MaxReferrersPages and MaxReferrers.
//
// While the detection is pending, listings run one at a time (fn included,
// so fn must not push to this repository): the verifies of many references
// into one repository start at once, and the first answer serves the rest,
// which would otherwise each probe the API (one probe per repository, not
// one per concurrent reference).
func (r *Repository) Referrers(ctx context.Context, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	has, known := r.referrersAPI()
	if !known && !r.listedOnce.Load() {
		r.probeMu.Lock()
		if has, known = r.referrersAPI(); !known && !r.listedOnce.Load() {
			// Only the first listing is waited for: should it fail
			// without an answer, the others do not queue behind one
			// another's timeouts.
			defer r.probeMu.Unlock()
			defer r.listedOnce.Store(true)
			return r.referrers(ctx, subject, artifactType, fn, false, false)
		}
		r.probeMu.Unlock()
	}
	return r.referrers(ctx, subject, artifactType, fn, has, known)
}

// referrers is Referrers once the detection is known, or (known false)
// the listing that detects it.
func (r *Repository) referrers(ctx context.Context, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error, has, known bool) error {
	if known && !has {
		return r.referrersByTag(ctx, subject, artifactType, fn)
	}
	listed := false // a page came back: the registry has the API
	err := r.referrersByAPI(ctx, subject, artifactType, func(page []ocispec.Descriptor) error {
		listed = true
		return fn(page)
	})
	if !known && listed {
		r.setReferrersAPI(true)
	}
	switch {
	case err == nil:
		if !known {
			r.setReferrersAPI(true)
		}
		return nil
	case errors.Is(err, errNoReferrersAPI):
		if known {
			return fmt.Errorf("%w: %w", ErrReferrersUnsupported, err)
		}
		r.setReferrersAPI(false)
		return r.referrersByTag(ctx, subject, artifactType, fn)
	default:
		return err
	}
}

// errStopListing ends a listing early without error.
var errStopListing = errors.New("stop listing")

// decideReferrers makes sure the referrers mode is known before a manifest
// with subject is pushed: oras-go only learns of the API from an OCI-Subject
// response header, which some registries with the API (go-containerregistry)
// never send, and would then write a tag index nobody reads. The probe is
// one GET of the subject's first referrers page.
func (r *Repository) decideReferrers(ctx context.Context, subject ocispec.Descriptor) (hasAPI bool, err error) {
	if has, ok := r.referrersAPI(); ok {
		return has, nil
	}
	// One probe at a time: the pushes of a copy ask at once, and the
	// first answer serves them all.
	r.probeMu.Lock()
	defer r.probeMu.Unlock()
	if has, ok := r.referrersAPI(); ok {
		return has, nil
	}
	err = r.referrersByAPI(ctx, subject, "", func([]ocispec.Descriptor) error { return errStopListing })
	switch {
	case err == nil || errors.Is(err, errStopListing):
		r.setReferrersAPI(true)
	case errors.Is(err, errNoReferrersAPI):
		r.setReferrersAPI(false)
	default:
		return false, fmt.Errorf("probe the referrers API: %w", err)
	}
	has, _ := r.referrersAPI()
	return has, nil
}

// Push pushes content described by expected. A manifest with a subject is
// indexed as the subject's referrer: by the registry where it has the
// referrers API, otherwise in the referrers tag index (PUSH-3), which
// oras-go updates by GET, modify, PUT. That races with other signers doing
// the same; Push then converges: it re-reads the index after a settle delay,
// re-adds its own descriptor when a concurrent update dropped it, and
// returns only after seeing it present on convergeConfirmations reads in a
// row (at most convergeRounds reads, else ErrReferrersIndexConflict). A
// failure to delete the outdated index is a logged warning, as in the
// reference.
func (r *Repository) Push(ctx context.Context, expected ocispec.Descriptor, rd io.Reader) error {
	p, err := r.readPushed(ctx, expected, rd)
	if err != nil {
		return err
	}
	if p.subject == nil {
		return r.repo.Push(ctx, expected, p.body)
	}
	start := time.Now()
	if err := r.repo.Push(ctx, expected, p.body); err != nil {
		if re := (*remote.ReferrersError)(nil); !errors.As(err, &re) || !re.IsReferrersIndexDelete() {
			return err
		}
		r.log.Warn("removal of the outdated referrers index from the registry failed; garbage collection may be required", "subject", p.subject.Digest.String(), "error", err)
	}
	if p.hasAPI {
		return nil
	}
	return r.converge(ctx, *p.subject, p.entry, time.Since(start))
}

// pushed is content that Push or PushDeferred is given. A manifest is read
// (within MaxManifestBytes) to find its subject; for a manifest with a
// subject, hasAPI says whether the registry indexes referrers itself.
type pushed struct {
	body    io.Reader           // the content to push, not yet read
	entry   ocispec.Descriptor  // the manifest's referrers index entry
	subject *ocispec.Descriptor // nil for content that refers to no subject
	hasAPI  bool
}

func (r *Repository) readPushed(ctx context.Context, expected ocispec.Descriptor, rd io.Reader) (pushed, error) {
	if !isManifestMediaType(expected.MediaType) {
		return pushed{body: rd}, nil
	}
	if expected.Size > MaxManifestBytes {
		return pushed{}, fmt.Errorf("manifest %s is %d bytes, over the limit of %d", expected.Digest, expected.Size, MaxManifestBytes)
	}
	raw, err := content.ReadAll(rd, expected)
	if err != nil {
		return pushed{}, err
	}
	p := pushed{body: bytes.NewReader(raw)}
	p.entry, p.subject = referrerEntry(expected, raw)
	if p.subject == nil {
		return p, nil
	}
	if p.hasAPI, err = r.decideReferrers(ctx, *p.subject); err != nil {
		return pushed{}, err
	}
	return p, nil
}

func isManifestMediaType(mt string) bool {
	switch mt {
	case ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex, MediaTypeArtifactManifest:
		return true
	}
	return false
}

// errNoReferrersAPI means the registry answered the referrers endpoint in
// a way that says it has no referrers API (DISC-2).
var errNoReferrersAPI = errors.New("no referrers API")

// timeoutClient says which limit a timed-out request ran into: the request
// timeout (RemoteOptions.Timeout), not the caller's context.
type timeoutClient struct {
	c       remote.Client
	timeout time.Duration
}

func (c timeoutClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.c.Do(req)
	if err != nil {
		return nil, c.explain(req, err)
	}
	resp.Body = &timeoutBody{ReadCloser: resp.Body, c: c, req: req}
	return resp, nil
}

func (c timeoutClient) explain(req *http.Request, err error) error {
	var timeout interface{ Timeout() bool }
	isTimeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout()
	if req.Context().Err() != nil || !isTimeout {
		return err
	}
	return fmt.Errorf("%w (no complete answer from %s within the request timeout of %v)", err, req.URL.Host, c.timeout)
}

type timeoutBody struct {
	io.ReadCloser
	c   timeoutClient
	req *http.Request
}

func (b *timeoutBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = b.c.explain(b.req, err)
	}
	return n, err
}

// Registry returns the repository's registry, host[:port].
func (r *Repository) Registry() string { return r.repo.Reference.Registry }

// Mount makes desc, a blob of the repository fromRepo on the same
// registry, available here without uploading it (cross-repository blob
// mount). A registry that declines the mount gets the content from
// getContent instead (oras-go's registry.Mounter).
func (r *Repository) Mount(ctx context.Context, desc ocispec.Descriptor, fromRepo string, getContent func() (io.ReadCloser, error)) error {
	return r.repo.Mount(ctx, desc, fromRepo, getContent)
}

// EnsureReferrers makes every entry (a referrer of subject, as
// ReferrerDescriptor describes it) findable as subject's referrer: it is
// AddReferrers followed by the update's Converge.
func (r *Repository) EnsureReferrers(ctx context.Context, subject ocispec.Descriptor, entries []ocispec.Descriptor) error {
	u, err := r.AddReferrers(ctx, subject, entries)
	if err != nil {
		return err
	}
	return u.Converge(ctx)
}

// ReferrersUpdate is an update of a subject's referrers tag index written
// by AddReferrers and not yet converged. Its zero value (nothing written)
// converges at once.
type ReferrersUpdate struct {
	r       *Repository
	subject ocispec.Descriptor
	entries []ocispec.Descriptor
	settle  time.Duration // zero: nothing was written

	// first is closed once Converge's first read of the index is in
	// (firstList, firstErr), or Converge ended without one.
	first     chan struct{}
	firstOnce sync.Once
	firstList []ocispec.Descriptor
	firstOK   bool
	firstErr  error
}

func newReferrersUpdate(r *Repository, subject ocispec.Descriptor, entries []ocispec.Descriptor, settle time.Duration) *ReferrersUpdate {
	return &ReferrersUpdate{r: r, subject: subject, entries: entries, settle: settle, first: make(chan struct{})}
}

// publishFirst makes list, ok and err what FirstListing returns, once.
func (u *ReferrersUpdate) publishFirst(list []ocispec.Descriptor, ok bool, err error) {
	u.firstOnce.Do(func() {
		u.firstList, u.firstOK, u.firstErr = list, ok, err
		close(u.first)
	})
}

// FirstListing waits for the first read of the index Converge makes (after
// the first settle delay) and returns the subject's referrers it found,
// as Referrers lists them (every artifact type): a reader that needs the
// subject's referrers after the update can use that read instead of
// making one of its own. ok is false when the update has no such read
// (nothing was written: list the referrers) or Converge ended before it.
func (u *ReferrersUpdate) FirstListing(ctx context.Context) (list []ocispec.Descriptor, ok bool, err error) {
	if u.settle == 0 {
		return nil, false, nil
	}
	select {
	case <-u.first:
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
	if u.firstErr != nil {
		return nil, false, u.firstErr
	}
	return u.firstList, u.firstOK, nil
}

// AddReferrers writes every entry (a referrer of subject, as
// ReferrerDescriptor describes it) into subject's referrers index. With
// the referrers API the registry indexes what is pushed and there is
// nothing to do. With the referrers tag schema, the entries missing from
// the subject's index (pushed with PushDeferred, or by a push interrupted
// between the manifest and the index update, or lost to a concurrent
// writer) are added in one update; the index is read once when nothing is
// missing. A concurrent writer may still drop what was added: the caller
// must Converge the update returned before relying on the index.
func (r *Repository) AddReferrers(ctx context.Context, subject ocispec.Descriptor, entries []ocispec.Descriptor) (*ReferrersUpdate, error) {
	if len(entries) == 0 {
		return &ReferrersUpdate{}, nil
	}
	hasAPI, err := r.decideReferrers(ctx, subject)
	if err != nil {
		return nil, err
	}
	if hasAPI {
		return &ReferrersUpdate{}, nil
	}
	start := time.Now()
	added, err := r.addAllToReferrersIndex(ctx, subject, entries)
	if err != nil || !added {
		return &ReferrersUpdate{}, err
	}
	return newReferrersUpdate(r, subject, entries, clampSettle(time.Since(start))), nil
}

// Converge makes the update's entries stay in the index after concurrent
// read-modify-write updates by other writers, as Push does: the index is
// re-read after a settle delay (how long the update took) and the entries
// a concurrent update dropped are added again, until every entry is seen
// on convergeConfirmations reads in a row (at most convergeRounds reads,
// else ErrReferrersIndexConflict). Each delay has random jitter of up to
// as much again, so that writers retrying at once spread out.
func (u *ReferrersUpdate) Converge(ctx context.Context) error {
	if u.settle == 0 {
		return nil
	}
	// Converge ending before its first read leaves FirstListing to list.
	defer u.publishFirst(nil, false, nil)
	r, subject, entries, settle := u.r, u.subject, u.entries, u.settle
	seen := 0
	for range convergeRounds {
		if err := sleep(ctx, settle+rand.N(settle)); err != nil {
			return err
		}
		_, list, err := r.readReferrersIndex(ctx, subject)
		if err != nil {
			return fmt.Errorf("check the referrers index of %s: %w", subject.Digest, err)
		}
		if len(list) > MaxReferrers {
			u.publishFirst(nil, false, fmt.Errorf("%w: %s has more than %d referrers", ErrTooManyReferrers, subject.Digest, MaxReferrers))
		} else {
			u.publishFirst(filterReferrers(list, ""), true, nil)
		}
		if missing := missingFrom(list, entries); len(missing) == 0 {
			if seen++; seen == convergeConfirmations {
				return nil
			}
			continue
		}
		seen = 0
		r.log.Info("a concurrent update dropped referrers from the referrers index; adding them again", "subject", subject.Digest.String())
		start := time.Now()
		if _, err := r.addAllToReferrersIndex(ctx, subject, entries); err != nil {
			return err
		}
		settle = clampSettle(max(settle, time.Since(start)))
	}
	return fmt.Errorf("%w: referrers of %s after %d reads of its index", ErrReferrersIndexConflict, subject.Digest, convergeRounds)
}

func missingFrom(list, entries []ocispec.Descriptor) []ocispec.Descriptor {
	var missing []ocispec.Descriptor
	for _, e := range entries {
		if !containsDigest(list, e) && !containsDigest(missing, e) {
			missing = append(missing, e)
		}
	}
	return missing
}

// addAllToReferrersIndex adds the entries missing from subject's referrers
// tag index in one update: GET the index, PUT it with the missing entries
// appended under the tag, DELETE the outdated index (PUSH-3; a failed delete
// is a logged warning). Entries of others, malformed or not, are kept as they
// are. added is false when none was missing.
func (r *Repository) addAllToReferrersIndex(ctx context.Context, subject ocispec.Descriptor, entries []ocispec.Descriptor) (added bool, err error) {
	tag, err := referrersTag(subject)
	if err != nil {
		return false, err
	}
	old, list, err := r.readReferrersIndex(ctx, subject)
	if err != nil {
		return false, err
	}
	missing := missingFrom(list, entries)
	if len(missing) == 0 {
		return false, nil
	}
	if len(list)+len(missing) > MaxReferrers {
		return false, fmt.Errorf("%w: %s would have %d referrers", ErrTooManyReferrers, subject.Digest, len(list)+len(missing))
	}
	if err := r.putReferrersIndex(ctx, subject, tag, old, append(list, missing...)); err != nil {
		return false, err
	}
	return true, nil
}

// PushDeferred pushes content as Push does, except that a manifest with a
// subject, on a registry without the referrers API, is not added to its
// subject's referrers tag index: the caller adds it with EnsureReferrers
// afterwards, one index update per subject for a whole graph where Push
// makes one (and converges) per referrer. Until then the referrer is not
// listed.
func (r *Repository) PushDeferred(ctx context.Context, expected ocispec.Descriptor, rd io.Reader) error {
	p, err := r.readPushed(ctx, expected, rd)
	if err != nil {
		return err
	}
	if p.subject == nil || p.hasAPI {
		return r.repo.Push(ctx, expected, p.body)
	}
	return r.unindexed().Push(ctx, expected, p.body)
}

// unindexed is the repository as oras-go sees it when the registry indexes
// referrers itself: its pushes leave the referrers tag index alone.
func (r *Repository) unindexed() *remote.Repository {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.noIndex == nil {
		u := &remote.Repository{
			Client:           r.repo.Client,
			Reference:        r.repo.Reference,
			PlainHTTP:        r.repo.PlainHTTP,
			MaxMetadataBytes: r.repo.MaxMetadataBytes,
			HandleWarning:    r.repo.HandleWarning,
		}
		_ = u.SetReferrersCapability(true)
		r.noIndex = u
	}
	return r.noIndex
}
