package verifier

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// targetArtifact is VER-6 / BVER-3: the payload must describe the artifact
// being verified. It holds at every level.
func (r *run) targetArtifact(ctx context.Context) error {
	if r.in.CheckTarget == nil {
		return nil
	}
	return r.in.CheckTarget(ctx, r.res.Payload.TargetArtifact, r.res.Content)
}

// userMetadata is PAY-8: every required key must be in the payload's
// annotations with the same value.
func (r *run) userMetadata(context.Context) error {
	if len(r.in.UserMetadata) == 0 {
		return nil
	}
	got := r.res.Payload.TargetArtifact.Annotations
	var missing []string
	for k, want := range r.in.UserMetadata {
		if v, ok := got[k]; !ok || v != want {
			missing = append(missing, fmt.Sprintf("%s=%s", k, want))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("the signature's user metadata lacks %s", strings.Join(missing, ", "))
}
