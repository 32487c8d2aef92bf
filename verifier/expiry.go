package verifier

import (
	"context"
	"fmt"
	"time"
)

// expiry is PIPE-5: the signature is expired when now >= expiry (ATTR-7;
// the spec's appendix and the reference use >=).
func (r *run) expiry(context.Context) error {
	exp := r.res.Content.Signed.Expiry
	if exp.IsZero() {
		return nil
	}
	if !r.now.Before(exp) {
		return fmt.Errorf("the signature expired on %s", exp.UTC().Format(time.RFC3339))
	}
	return nil
}
