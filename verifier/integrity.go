package verifier

import (
	"context"
	"fmt"
	"strings"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/signature"
)

// integrity is PIPE-1: parse the envelope, verify the primitive signature
// and the chain's shape (§2.3), refuse critical attributes nobody processes
// (ATTR-3), and decode the payload (PAY-6: only after the signature holds).
func (r *run) integrity(_ context.Context) error {
	f, err := envelope.ForMediaType(r.in.MediaType)
	if err != nil {
		return err
	}
	content, err := envelope.Open(f, r.in.Envelope)
	if err != nil {
		return err
	}
	r.res.Content = content
	var unprocessed []string
	for _, a := range content.Signed.ExtendedAttributes {
		switch a.Key {
		case signature.HeaderVerificationPlugin:
			// VPLG-1: the named plugin must exist; signet runs no
			// verification plugins yet, so such a signature cannot verify.
			return fmt.Errorf("signature requires verification plugin %v, and plugin-based verification is not supported yet", a.Value)
		case signature.HeaderVerificationPluginMinVersion:
			continue
		}
		if a.Critical {
			unprocessed = append(unprocessed, a.Key)
		}
	}
	if len(unprocessed) > 0 {
		return fmt.Errorf("critical signed attributes %s are not understood (ATTR-3)", strings.Join(unprocessed, ", "))
	}
	p, err := signature.ParsePayload(content.Payload)
	if err != nil {
		return err
	}
	r.res.Payload = &p
	return nil
}
