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
func (r *run) integrity(ctx context.Context) error {
	f, err := envelope.ForMediaType(r.in.MediaType)
	if err != nil {
		return err
	}
	content, err := envelope.Open(f, r.in.Envelope)
	if err != nil {
		return err
	}
	r.res.Content = content
	var pluginName, minVersion string
	for _, a := range content.Signed.ExtendedAttributes {
		switch a.Key {
		case signature.HeaderVerificationPlugin:
			pluginName = fmt.Sprint(a.Value)
		case signature.HeaderVerificationPluginMinVersion:
			minVersion = fmt.Sprint(a.Value)
		default:
			if a.Critical {
				r.unprocessed = append(r.unprocessed, a.Key)
			}
		}
	}
	if pluginName != "" {
		if err := r.resolvePlugin(ctx, pluginName, minVersion); err != nil {
			return err
		}
	}
	if len(r.unprocessed) > 0 {
		if r.plugin == nil {
			return fmt.Errorf("critical signed attributes %s are not understood (ATTR-3)", strings.Join(r.unprocessed, ", "))
		}
		// VPLG-7: the plugin must process every one of them.
		if _, err := r.pluginResponse(ctx); err != nil {
			return err
		}
	}
	p, err := signature.ParsePayload(content.Payload)
	if err != nil {
		return err
	}
	r.res.Payload = &p
	return nil
}
