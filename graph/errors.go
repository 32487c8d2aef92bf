package graph

import (
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// Errors of this package, for errors.Is.
var (
	// ErrLimit means a referrer graph went over one of the walk's limits
	// (Options.MaxDepth, MaxReferrers or MaxNodes) while Options.Truncate was
	// off. A *LimitError says which.
	ErrLimit = errors.New("the referrer graph is over a limit")
	// ErrHasReferrers means a delete would orphan referrers: the artifact
	// has referrers and DeleteOptions.Cascade is off.
	ErrHasReferrers = errors.New("the artifact has referrers")
)

// LimitError says which limit a walk went over, and where.
type LimitError struct {
	// Limit names the limit: "depth", "referrers" or "nodes".
	Limit string
	// Max is the limit's value.
	Max int
	// Node is the digest of the node at which the limit was hit.
	Node digest.Digest
}

var _ error = (*LimitError)(nil)

func (e *LimitError) Error() string {
	switch e.Limit {
	case "depth":
		return fmt.Sprintf("%v: %s has referrers deeper than the depth limit of %d", ErrLimit, e.Node, e.Max)
	case "referrers":
		return fmt.Sprintf("%v: %s has more than %d referrers", ErrLimit, e.Node, e.Max)
	}
	return fmt.Sprintf("%v: more than %d nodes (reached at %s)", ErrLimit, e.Max, e.Node)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }
