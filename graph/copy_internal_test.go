package graph

import (
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestTransferStates: oras-go reaches a blob listed under two media types
// (the "{}" config of signatures and of OCI 1.1 artifacts) on two paths,
// concurrently, and the second phase of a copy finds the first phase's
// nodes present. Whatever order the paths report in, a node transferred in
// this run is copied, else mounted, else present, and counts once in the
// progress.
func TestTransferStates(t *testing.T) {
	blob := ocispec.Descriptor{MediaType: "application/vnd.oci.empty.v1+json", Digest: digest.FromString("{}"), Size: 2}
	asSignatureConfig := blob
	asSignatureConfig.MediaType = "application/vnd.cncf.notary.signature"
	cases := []struct {
		name   string
		events []string
		want   string
	}{
		{"copied, then found present by the other path", []string{StateCopied, StatePresent}, StateCopied},
		{"found present by the other path, then copied", []string{StatePresent, StateCopied}, StateCopied},
		{"copied by both paths", []string{StateCopied, StateCopied}, StateCopied},
		{"mounted, then found present", []string{StateMounted, StatePresent}, StateMounted},
		{"found present, then mounted", []string{StatePresent, StateMounted}, StateMounted},
		{"mounted by one path, copied by the other", []string{StateMounted, StateCopied}, StateCopied},
		{"present on every path", []string{StatePresent, StatePresent, StatePresent}, StatePresent},
		{"reported by no path", nil, StatePresent},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &plan{index: map[digest.Digest]int{}}
			if err := p.add(planNode{desc: bare(blob), kind: KindBlob}); err != nil {
				t.Fatal(err)
			}
			prog := &Progress{}
			res := newResult(p)
			s := newTransferStates(p, prog)
			for i, state := range tc.events {
				d := blob
				if i%2 == 1 {
					d = asSignatureConfig
				}
				s.mark(d, state)
			}
			s.apply(res)
			if got := res.Nodes[0].State; got != tc.want {
				t.Errorf("state %s, want %s", got, tc.want)
			}
			wantNodes := int64(min(len(tc.events), 1))
			if got := prog.Nodes.Load(); got != wantNodes {
				t.Errorf("progress counted %d nodes, want %d", got, wantNodes)
			}
		})
	}
}
