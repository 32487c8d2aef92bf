package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Convergence of concurrent referrers tag index updates (see Repository.Push).
const (
	// convergeRounds bounds the index reads (and re-adds) of one push.
	convergeRounds = 16
	// convergeConfirmations is how many reads in a row must show the
	// signature before a push returns: a signer whose GET preceded ours and
	// whose PUT follows our first read would drop it after that read.
	convergeConfirmations = 2
	// minSettle and maxSettle clamp the delay before each read. The delay
	// follows how long our own GET-modify-PUT took (a concurrent signer's
	// takes about as long), plus up to as much again of random jitter so
	// that signers retrying at once spread out.
	minSettle = 10 * time.Millisecond
	maxSettle = 2 * time.Second
)

// referrersByAPI lists the referrers of subject through the referrers API
// (DISC-1, DISC-2), following Link pagination within MaxReferrersPages and
// MaxReferrers and refusing a Link that loops or leaves the registry. A
// first page that says the registry has no API wraps errNoReferrersAPI.
func (r *Repository) referrersByAPI(ctx context.Context, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	if err := subject.Digest.Validate(); err != nil {
		return fmt.Errorf("list referrers: subject digest: %w", err)
	}
	ref := r.repo.Reference
	ref.Reference = subject.Digest.String()
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionPull)
	scheme := "https"
	if r.repo.PlainHTTP {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: ref.Host(), Path: "/v2/" + ref.Repository + "/referrers/" + subject.Digest.String()}
	if artifactType != "" {
		u.RawQuery = url.Values{"artifactType": {artifactType}}.Encode()
	}
	seen := map[string]bool{}
	total := 0
	for page := 0; ; page++ {
		if page == MaxReferrersPages {
			return fmt.Errorf("%w: the referrers listing of %s goes on beyond %d pages", ErrTooManyReferrers, subject.Digest, MaxReferrersPages)
		}
		if seen[u.String()] {
			return fmt.Errorf("%w: the referrers listing of %s loops back to %s", ErrTooManyReferrers, subject.Digest, u)
		}
		seen[u.String()] = true
		descs, n, next, err := r.referrersPage(ctx, u, artifactType, page == 0)
		if err != nil {
			return err
		}
		if total += n; total > MaxReferrers {
			return fmt.Errorf("%w: %s has more than %d referrers", ErrTooManyReferrers, subject.Digest, MaxReferrers)
		}
		if len(descs) > 0 {
			if err := fn(descs); err != nil {
				return err
			}
		}
		if next == nil {
			return nil
		}
		u = next
	}
}

// referrersPage GETs one page: its valid descriptors of artifactType, the
// number of descriptors it held, and the next page's URL (nil at the end).
func (r *Repository) referrersPage(ctx context.Context, u *url.URL, artifactType string, first bool) ([]ocispec.Descriptor, int, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, nil, err
	}
	req.Header.Set("Accept", ocispec.MediaTypeImageIndex)
	resp, err := timeoutClient{r.client, r.timeout}.Do(req)
	if err != nil {
		return nil, 0, nil, err
	}
	defer resp.Body.Close()
	for _, w := range resp.Header.Values("Warning") {
		r.log.Warn("registry warning", "registry", u.Host, "warning", w)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		errResp := errorResponse(resp)
		if first && !hasErrorCode(errResp, errcode.ErrorCodeNameUnknown) {
			return nil, 0, nil, fmt.Errorf("%w: %w", errNoReferrersAPI, errResp)
		}
		return nil, 0, nil, errResp
	default:
		return nil, 0, nil, errorResponse(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != ocispec.MediaTypeImageIndex {
		err := fmt.Errorf("GET %s: the referrers response has content type %q, not %s", u, resp.Header.Get("Content-Type"), ocispec.MediaTypeImageIndex)
		if first {
			return nil, 0, nil, fmt.Errorf("%w: %w", errNoReferrersAPI, err)
		}
		return nil, 0, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxManifestBytes+1))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("GET %s: read the referrers response: %w", u, err)
	}
	if len(data) > MaxManifestBytes {
		return nil, 0, nil, fmt.Errorf("GET %s: the referrers response is larger than %d bytes", u, MaxManifestBytes)
	}
	idx, err := parseReferrersIndex(data)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	next, err := nextLink(resp, u)
	if err != nil {
		return nil, 0, nil, err
	}
	// Filter here even when the registry says it did (OCI-Filters-Applied):
	// it costs nothing and a registry may be wrong (DISC-2).
	return filterReferrers(idx.Manifests, artifactType), len(idx.Manifests), next, nil
}

// errorResponse reads a registry error body (bounded) into oras-go's
// ErrorResponse, the type oras-go returns for the requests it makes.
func errorResponse(resp *http.Response) *errcode.ErrorResponse {
	e := &errcode.ErrorResponse{Method: resp.Request.Method, URL: resp.Request.URL, StatusCode: resp.StatusCode}
	var body struct {
		Errors errcode.Errors `json:"errors"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, maxErrorBodyBytes)).Decode(&body) == nil {
		e.Errors = body.Errors
	}
	return e
}

func hasErrorCode(e *errcode.ErrorResponse, code string) bool {
	for _, c := range e.Errors {
		if c.Code == code {
			return true
		}
	}
	return false
}

// nextLink parses the Link header's rel="next" target, resolved against
// the request URL. A target on another host or scheme is refused: the
// listing would send the registry's credentials elsewhere.
func nextLink(resp *http.Response, base *url.URL) (*url.URL, error) {
	for _, v := range resp.Header.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			if !isNextRel(params) {
				continue
			}
			next, err := base.Parse(target[1 : len(target)-1])
			if err != nil {
				return nil, fmt.Errorf("GET %s: invalid Link header %q: %w", base, v, err)
			}
			if next.Scheme != base.Scheme || next.Host != base.Host {
				return nil, fmt.Errorf("GET %s: the Link header leads to another registry: %s", base, next.Redacted())
			}
			return next, nil
		}
	}
	return nil, nil
}

func isNextRel(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
			return true
		}
	}
	return false
}

// parseReferrersIndex parses a referrers API response or referrers tag
// index: an OCI image index of at most MaxManifestBytes. Descriptors are
// returned as they are; filterReferrers drops the malformed ones.
func parseReferrersIndex(data []byte) (*ocispec.Index, error) {
	if len(data) > MaxManifestBytes {
		return nil, fmt.Errorf("referrers index is %d bytes, over the limit of %d", len(data), MaxManifestBytes)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("referrers index: %w", err)
	}
	if idx.MediaType != "" && idx.MediaType != ocispec.MediaTypeImageIndex {
		return nil, fmt.Errorf("referrers index has media type %q, not %s", idx.MediaType, ocispec.MediaTypeImageIndex)
	}
	return &idx, nil
}

// filterReferrers keeps the well-formed descriptors (a valid digest, a
// non-negative size, a media type) whose artifactType is artifactType ("":
// any).
func filterReferrers(descs []ocispec.Descriptor, artifactType string) []ocispec.Descriptor {
	var kept []ocispec.Descriptor
	for _, d := range descs {
		if d.Digest.Validate() != nil || d.Size < 0 || d.MediaType == "" {
			continue
		}
		if artifactType != "" && d.ArtifactType != artifactType {
			continue
		}
		kept = append(kept, d)
	}
	return kept
}

// referrersTag is the referrers tag schema's tag for subject: <alg>-<hex>.
func referrersTag(subject ocispec.Descriptor) (string, error) {
	if err := subject.Digest.Validate(); err != nil {
		return "", fmt.Errorf("referrers tag: %w", err)
	}
	return subject.Digest.Algorithm().String() + "-" + subject.Digest.Encoded(), nil
}

// referrersByTag lists the referrers of subject from its referrers tag
// index (no index: none).
func (r *Repository) referrersByTag(ctx context.Context, subject ocispec.Descriptor, artifactType string, fn func([]ocispec.Descriptor) error) error {
	_, all, err := r.readReferrersIndex(ctx, subject)
	if err != nil {
		return err
	}
	if len(all) > MaxReferrers {
		return fmt.Errorf("%w: %s has more than %d referrers", ErrTooManyReferrers, subject.Digest, MaxReferrers)
	}
	if kept := filterReferrers(all, artifactType); len(kept) > 0 {
		return fn(kept)
	}
	return nil
}

// readReferrersIndex reads the referrers tag index of subject (at most
// MaxManifestBytes, checked against the digest the registry reports) and
// returns its descriptor and entries. A missing tag, or one that names
// something other than an index (some registries answer with the subject
// itself), means no index: nil, nil, nil.
func (r *Repository) readReferrersIndex(ctx context.Context, subject ocispec.Descriptor) (*ocispec.Descriptor, []ocispec.Descriptor, error) {
	tag, err := referrersTag(subject)
	if err != nil {
		return nil, nil, err
	}
	desc, rc, err := r.repo.FetchReference(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read the referrers index %s: %w", tag, err)
	}
	defer rc.Close()
	if desc.MediaType != ocispec.MediaTypeImageIndex || desc.Digest == subject.Digest {
		return nil, nil, nil
	}
	if desc.Size > MaxManifestBytes {
		return nil, nil, fmt.Errorf("the referrers index %s is %d bytes, over the limit of %d", tag, desc.Size, MaxManifestBytes)
	}
	data, err := content.ReadAll(rc, desc)
	if err != nil {
		if errors.Is(err, content.ErrMismatchedDigest) || errors.Is(err, content.ErrTrailingData) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, fmt.Errorf("%w: the referrers index %s (%s): %w", ErrDigestMismatch, tag, desc.Digest, err)
		}
		return nil, nil, fmt.Errorf("read the referrers index %s: %w", tag, err)
	}
	idx, err := parseReferrersIndex(data)
	if err != nil {
		return nil, nil, fmt.Errorf("the referrers index %s: %w", tag, err)
	}
	return &desc, idx.Manifests, nil
}

// referrerEntry returns the descriptor under which the manifest raw
// (described by desc) is listed in a referrers index, as oras-go and the
// reference write it (PUSH-3): artifactType, or the config media type when
// absent, and the manifest's annotations. subject is nil when the manifest
// has none (or does not parse).
func referrerEntry(desc ocispec.Descriptor, raw []byte) (entry ocispec.Descriptor, subject *ocispec.Descriptor) {
	var m struct {
		ArtifactType string              `json:"artifactType"`
		Config       *ocispec.Descriptor `json:"config"`
		Subject      *ocispec.Descriptor `json:"subject"`
		Annotations  map[string]string   `json:"annotations"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Subject == nil {
		return ocispec.Descriptor{}, nil
	}
	entry = ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if entry.ArtifactType == "" && desc.MediaType == ocispec.MediaTypeImageManifest && m.Config != nil {
		entry.ArtifactType = m.Config.MediaType
	}
	return entry, m.Subject
}

// converge makes sure entry stays in subject's referrers tag index after
// concurrent read-modify-write updates by other signers (see Push), as
// ReferrersUpdate.Converge does for a graph's entries. took is how long our
// own push and index update took.
func (r *Repository) converge(ctx context.Context, subject, entry ocispec.Descriptor, took time.Duration) error {
	u := newReferrersUpdate(r, subject, []ocispec.Descriptor{entry}, clampSettle(took))
	return u.Converge(ctx)
}

func clampSettle(d time.Duration) time.Duration {
	return min(max(d, minSettle), maxSettle)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func containsDigest(list []ocispec.Descriptor, d ocispec.Descriptor) bool {
	for _, e := range list {
		if e.Digest == d.Digest {
			return true
		}
	}
	return false
}

// addToReferrersIndex adds entry to subject's referrers tag index unless it
// is there (addAllToReferrersIndex with one entry).
func (r *Repository) addToReferrersIndex(ctx context.Context, subject, entry ocispec.Descriptor) error {
	_, err := r.addAllToReferrersIndex(ctx, subject, []ocispec.Descriptor{entry})
	return err
}

// putReferrersIndex writes the referrers tag index of subject listing
// manifests under tag (PUSH-3), then deletes old, the index it replaces,
// unless they are the same. A failed delete is a logged warning: the
// outdated index is garbage for the registry to collect.
func (r *Repository) putReferrersIndex(ctx context.Context, subject ocispec.Descriptor, tag string, old *ocispec.Descriptor, manifests []ocispec.Descriptor) error {
	raw, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: manifests,
	})
	if err != nil {
		return err
	}
	if len(raw) > MaxManifestBytes {
		return fmt.Errorf("the referrers index of %s would be %d bytes, over the limit of %d", subject.Digest, len(raw), MaxManifestBytes)
	}
	desc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, raw)
	if err := r.repo.PushReference(ctx, desc, bytes.NewReader(raw), tag); err != nil {
		return fmt.Errorf("push the referrers index %s: %w", tag, err)
	}
	if old != nil && old.Digest != desc.Digest {
		if err := r.repo.Delete(ctx, *old); err != nil && !errors.Is(err, errdef.ErrNotFound) {
			r.log.Warn("removal of the outdated referrers index from the registry failed; garbage collection may be required",
				"subject", subject.Digest.String(), "index", old.Digest.String(), "error", err)
		}
		r.forget(*old)
	}
	return nil
}

// ReferrerDescriptor returns the descriptor under which the manifest raw
// (described by desc) is listed among its subject's referrers: its
// artifactType (the config media type when absent) and annotations, as the
// referrers API and tag schema list it (PUSH-3). subject is nil when the
// manifest has no subject or does not parse.
func ReferrerDescriptor(desc ocispec.Descriptor, raw []byte) (entry ocispec.Descriptor, subject *ocispec.Descriptor) {
	return referrerEntry(desc, raw)
}
