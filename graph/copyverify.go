package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
)

// VerdictUnsigned is a NodeVerification's verdict for a node of the graph
// that has no signature and need not have one (it is not the root, and
// VerifyOptions.All is off): it is reported, never verified, and does not
// fail the copy.
const VerdictUnsigned = "unsigned"

// Copy ends, as VerifyError.End says.
const (
	EndSource      = "source"
	EndDestination = "destination"
)

// NodeVerification is the verification of one manifest of the graph in a
// verified copy: every manifest but the signatures themselves (the root,
// each platform manifest, each SBOM, scan report or other referrer).
type NodeVerification struct {
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType"`
	// ArtifactType is a referrer's artifact type.
	ArtifactType string   `json:"artifactType,omitempty"`
	Kind         NodeKind `json:"kind"`
	// Signatures is the number of Notary Project signatures referring to
	// the node in the graph copied (as walked at the source).
	Signatures int `json:"signatures"`
	// Required says the node must verify: it is the root, it has
	// signatures, or VerifyOptions.All is set.
	Required bool `json:"required"`
	// Verdict is the node's verdict at the last end verified (the
	// destination after a copy, the source when the copy was refused):
	// signet's verdicts (trusted, notTrusted, skipped), "error" when no
	// verdict could be reached (Error says why), or VerdictUnsigned.
	Verdict string `json:"verdict"`
	// Source and Destination are the verifications at each end, for a
	// required node (a refused copy has no Destination).
	Source      *signet.Outcome `json:"source,omitempty"`
	Destination *signet.Outcome `json:"destination,omitempty"`
	// Error is why the node failed at the last end verified.
	Error string `json:"error,omitempty"`

	err error
}

// VerifyError reports the nodes of the graph that failed a verified
// copy's verification at one end. It wraps each node's error: errors.Is
// finds signet.ErrNotTrusted, signet.ErrIO or signet.ErrNoSignature in
// them.
type VerifyError struct {
	// End is EndSource (nothing was written) or EndDestination.
	End string
	// Scope is the repository URI whose trust policy statement applied.
	Scope string
	// Nodes are the nodes that failed, in walk order; Checked is how many
	// nodes were verified at that end.
	Nodes   []NodeVerification
	Checked int
	// Err joins the nodes' errors.
	Err error
	// msgs are the nodes' messages, in the order of Nodes.
	msgs []string
}

var _ error = (*VerifyError)(nil)

func (e *VerifyError) Error() string {
	when := "at the destination"
	if e.End == EndSource {
		when = "at the source, before copying"
	}
	return fmt.Sprintf("verify %s (%s): %d of %d nodes failed: %s", when, e.Scope, len(e.Nodes), e.Checked, strings.Join(e.msgs, "; "))
}

// Unwrap returns the nodes' errors.
func (e *VerifyError) Unwrap() error { return e.Err }

// ErrPlatformUnsigned means a verified copy of one platform's manifest
// (CopyOptions.Platform) found no signature on that manifest, while the
// index it was selected from is signed. The index's signature names the
// index's digest: it is not copied with one platform's manifest, and
// notation, ratify and signet verify a digest by the signatures that refer
// to it, so the copy would not verify at the destination.
var ErrPlatformUnsigned = errors.New("the platform manifest has no signature of its own, and its index's signature does not travel with it")

// isSignatureType reports whether artifactType is a signature's: such
// nodes are verified as part of the node they sign.
func isSignatureType(artifactType string) bool {
	return artifactType == signature.ArtifactType || artifactType == registry.MediaTypeSigstoreBundle
}

// nodeVerifications lists the manifests of p a verified copy verifies,
// the root first, in walk order: every manifest but signatures, each with
// its number of Notary Project signatures in p. all requires every one to
// verify; otherwise the root and the signed ones.
func nodeVerifications(p *plan, all bool) []NodeVerification {
	sigs := map[digest.Digest]int{}
	for _, n := range p.nodes {
		if n.kind == KindReferrer && n.entry.ArtifactType == signature.ArtifactType {
			sigs[n.subject.Digest]++
		}
	}
	var out []NodeVerification
	for _, n := range p.nodes {
		if n.kind == KindBlob || (n.kind == KindReferrer && isSignatureType(n.entry.ArtifactType)) {
			continue
		}
		nv := NodeVerification{Digest: n.desc.Digest, MediaType: n.desc.MediaType, Kind: n.kind, Signatures: sigs[n.desc.Digest]}
		if n.kind == KindReferrer {
			nv.ArtifactType = n.entry.ArtifactType
		}
		nv.Required = n.kind == KindRoot || nv.Signatures > 0 || all
		if !nv.Required {
			nv.Verdict = VerdictUnsigned
		}
		out = append(out, nv)
	}
	return out
}

// verifyNodes verifies, in t under the statement of scope, every required
// node of nodes but those done says are verified already, up to
// concurrency at once, and records each outcome at end. It returns a
// *VerifyError naming every node that failed (done's included).
func verifyNodes(ctx context.Context, t signet.ReadTarget, nodes []NodeVerification, done func(i int) bool,
	v *VerifyOptions, end, scope string, concurrency int,
) error {
	outs := make([]*signet.Outcome, len(nodes))
	errs := make([]error, len(nodes))
	forEachLimit(len(nodes), concurrency, func(i int) {
		if !nodes[i].Required || (done != nil && done(i)) {
			return
		}
		o := v.VerifyOCIOptions
		o.Scope = scope
		outs[i], errs[i] = signet.VerifyOCI(ctx, t, nodes[i].Digest.String(), o)
	})
	for i := range nodes {
		if !nodes[i].Required || (done != nil && done(i)) {
			continue
		}
		recordNode(&nodes[i], end, outs[i], errs[i])
	}
	return nodeErrors(nodes, end, scope)
}

// recordNode records a node's verification at end.
func recordNode(n *NodeVerification, end string, out *signet.Outcome, err error) {
	if end == EndSource {
		n.Source = out
	} else {
		n.Destination = out
	}
	n.Error = ""
	switch {
	case out != nil:
		n.Verdict = string(out.Verdict)
	default:
		n.Verdict = string(signet.VerdictError)
	}
	if err != nil {
		n.Error = err.Error()
		if n.Verdict == string(signet.VerdictTrusted) || n.Verdict == string(signet.VerdictSkipped) {
			// A signet/v1 requirement not met: the outcome has a
			// verdict of its own, the copy fails.
			n.Verdict = string(signet.VerdictNotTrusted)
		}
	}
	n.err = err
}

// nodeErrors collects the failures recorded at end into a *VerifyError,
// nil when every node verified.
func nodeErrors(nodes []NodeVerification, end, scope string) error {
	e := &VerifyError{End: end, Scope: scope}
	var errs []error
	for _, n := range nodes {
		if !n.Required {
			continue
		}
		e.Checked++
		if n.err == nil {
			continue
		}
		e.Nodes = append(e.Nodes, n)
		what := fmt.Sprintf("%s %s", n.Kind, n.Digest)
		if n.ArtifactType != "" {
			what += " (" + n.ArtifactType + ")"
		}
		e.msgs = append(e.msgs, what+": "+n.err.Error())
		errs = append(errs, fmt.Errorf("%s: %w", what, n.err))
	}
	if len(errs) == 0 {
		return nil
	}
	e.Err = errors.Join(errs...)
	return e
}

// platformNote explains a platform manifest without a signature whose
// index is signed: err wrapped with ErrPlatformUnsigned. Otherwise (or
// when the index's signatures cannot be listed) err is returned as is.
func platformNote(ctx context.Context, src CopySource, index ocispec.Descriptor, err error) error {
	if !errors.Is(err, signet.ErrNoSignature) {
		return err
	}
	sigs, _, lerr := registry.ListSignatures(ctx, src, index, 1)
	if lerr != nil || len(sigs) == 0 {
		return err
	}
	return fmt.Errorf("%w: %w (the index is %s)", err, ErrPlatformUnsigned, index.Digest)
}
