package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"
)

// Delete deletes the manifest or blob desc from the repository. A manifest
// with a subject is first removed from its subject's referrers tag index
// when the registry has no referrers API (the distribution spec's
// "deleting manifests" for clients of the tag schema): the index is
// rewritten without it, or, when it was the last entry, deleted, tag and
// manifest both, so that no listing shows the deleted referrer and no empty
// index is left. The registry must allow deletes (distribution:
// storage.delete.enabled).
func (r *Repository) Delete(ctx context.Context, desc ocispec.Descriptor) error {
	if isManifestMediaType(desc.MediaType) {
		raw, err := FetchBounded(ctx, r, desc, MaxManifestBytes)
		if err != nil {
			return fmt.Errorf("read manifest %s before deleting it: %w", desc.Digest, err)
		}
		if _, subject := referrerEntry(desc, raw); subject != nil {
			hasAPI, err := r.decideReferrers(ctx, *subject)
			if err != nil {
				return err
			}
			if !hasAPI {
				if err := r.removeFromReferrersIndex(ctx, *subject, desc); err != nil {
					return err
				}
			}
		}
	}
	// oras-go then finds the index without the entry and changes nothing.
	err := r.repo.Delete(ctx, desc)
	r.forget(desc)
	if err != nil {
		return fmt.Errorf("delete %s: %w", desc.Digest, err)
	}
	return nil
}

// forget drops desc from the manifest cache.
func (r *Repository) forget(desc ocispec.Descriptor) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.cache {
		if c.desc.Digest == desc.Digest {
			r.cache = append(r.cache[:i:i], r.cache[i+1:]...)
			return
		}
	}
}

// removeFromReferrersIndex removes desc from subject's referrers tag index
// (PUSH-3 in reverse): PUT the index without it under the tag and DELETE
// the outdated index (a failed DELETE is a logged warning, as on push), or,
// when no entry is left, DELETE the tag and then the index manifest.
func (r *Repository) removeFromReferrersIndex(ctx context.Context, subject, desc ocispec.Descriptor) error {
	tag, err := referrersTag(subject)
	if err != nil {
		return err
	}
	old, list, err := r.readReferrersIndex(ctx, subject)
	if err != nil {
		return err
	}
	if old == nil {
		return nil
	}
	kept := make([]ocispec.Descriptor, 0, len(list))
	for _, e := range list {
		if e.Digest != desc.Digest {
			kept = append(kept, e)
		}
	}
	if len(kept) == len(list) {
		return nil
	}
	if len(kept) == 0 {
		tagErr := r.deleteTag(ctx, tag)
		if tagErr != nil && !errors.Is(tagErr, errTagDeleteUnsupported) {
			return fmt.Errorf("delete the empty referrers index tag %s: %w", tag, tagErr)
		}
		err := r.repo.Delete(ctx, *old)
		r.forget(*old)
		if tagErr == nil {
			if err != nil && !errors.Is(err, errdef.ErrNotFound) {
				r.log.Warn("removal of the empty referrers index from the registry failed; garbage collection may be required",
					"subject", subject.Digest.String(), "index", old.Digest.String(), "error", err)
			}
			return nil
		}
		// Without tag deletes, deleting the manifest must take its tags
		// (as distribution does): check that the tag is gone.
		if err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return fmt.Errorf("delete the empty referrers index %s: %w", tag, err)
		}
		if now, _, err := r.readReferrersIndex(ctx, subject); err != nil || now != nil && now.Digest == old.Digest {
			return fmt.Errorf("the registry keeps the referrers index tag %s: it deletes neither tags (%v) nor the tags of deleted manifests", tag, tagErr)
		}
		return nil
	}
	return r.putReferrersIndex(ctx, subject, tag, old, kept)
}

// errTagDeleteUnsupported means the registry refused to delete a tag as
// an unsupported operation.
var errTagDeleteUnsupported = errors.New("the registry does not delete tags")

// deleteTag deletes a tag (DELETE /v2/<name>/manifests/<tag>, which the
// distribution spec allows and distribution v3 and go-containerregistry's
// registry implement). A tag already gone is no error.
func (r *Repository) deleteTag(ctx context.Context, tag string) error {
	ref := r.repo.Reference
	ref.Reference = tag
	if err := ref.ValidateReferenceAsTag(); err != nil {
		return err
	}
	ctx = auth.AppendRepositoryScope(ctx, ref, auth.ActionDelete)
	scheme := "https"
	if r.repo.PlainHTTP {
		scheme = "http"
	}
	u := &url.URL{Scheme: scheme, Host: ref.Host(), Path: "/v2/" + ref.Repository + "/manifests/" + tag}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := timeoutClient{r.client, r.timeout}.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusOK, http.StatusNotFound:
		return nil
	}
	e := errorResponse(resp)
	if resp.StatusCode == http.StatusMethodNotAllowed || hasErrorCode(e, errcode.ErrorCodeUnsupported) {
		return fmt.Errorf("%w: %w", errTagDeleteUnsupported, e)
	}
	return e
}
