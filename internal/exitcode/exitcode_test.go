package exitcode

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

func TestOf(t *testing.T) {
	store := func(cause error) error {
		return fmt.Errorf("verify: %w", &verifier.TrustStoreError{Statement: "s", Type: truststore.TypeCA, Name: "n",
			Err: &truststore.StoreError{Type: truststore.TypeCA, Name: "n", Err: cause}})
	}
	for _, c := range []struct {
		name string
		err  error
		want int
	}{
		// TS-6: a store the policy names that is missing, empty or invalid
		// is invalid configuration; one that cannot be read is I/O.
		{name: "trust store missing", err: store(truststore.ErrStoreNotFound), want: Usage},
		{name: "trust store empty", err: store(truststore.ErrEmptyStore), want: Usage},
		{name: "trust store holds a non-certificate", err: store(truststore.ErrInvalidCertificate), want: Usage},
		{name: "trust store unreadable", err: store(fs.ErrPermission), want: IO},
		{name: "not trusted", err: fmt.Errorf("x: %w", signet.ErrNotTrusted), want: NotTrusted},
		{name: "verification failed", err: fmt.Errorf("x: %w", verifier.ErrVerification), want: NotTrusted},
		{name: "no applicable policy", err: fmt.Errorf("x: %w", trustpolicy.ErrNoApplicablePolicy), want: NotTrusted},
		{name: "I/O", err: fmt.Errorf("x: %w", signet.ErrIO), want: IO},
		{name: "invalid input", err: fmt.Errorf("x: %w", signet.ErrInvalidInput), want: Usage},
		{name: "invalid policy", err: fmt.Errorf("x: %w", trustpolicy.ErrInvalidPolicy), want: Usage},
		{name: "policy not found", err: fmt.Errorf("x: %w", trustpolicy.ErrPolicyNotFound), want: Usage},
		{name: "path error", err: &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}, want: IO},
		{name: "unknown error", err: errors.New("something else"), want: Usage},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Of(c.err); got != c.want {
				t.Errorf("Of(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}
