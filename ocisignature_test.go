package signet

import (
	"context"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestVerifyOCISignature: one given signature is verified against its
// subject: verified for the subject it signs, failed (integrity, with the
// reason) when named against another artifact or when it is no signature,
// skipped under a skip statement.
func TestVerifyOCISignature(t *testing.T) {
	k := newKeys(t, "ec-256")
	store, img := layout(t)
	other := addImage(t, store, "other")
	ctx := context.Background()
	s, err := SignOCI(ctx, store, "app", SignOCIOptions{SignOptions: SignOptions{Signer: k.signer}})
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOCIOptions{Policy: ociPolicy(t), Verifier: k.verifier(), Scope: "example.com/app"}
	tests := []struct {
		name        string
		subject     ocispec.Descriptor
		scope       string
		wantVerdict Verdict
		wantSigner  bool
	}{
		{name: "its subject", subject: img, wantVerdict: VerdictTrusted, wantSigner: true},
		{name: "another artifact", subject: other, wantVerdict: VerdictNotTrusted},
		{name: "skip statement", subject: img, scope: "example.com/unsigned", wantVerdict: VerdictSkipped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := opts
			if tc.scope != "" {
				o.Scope = tc.scope
			}
			out, err := VerifyOCISignature(ctx, store, tc.subject, s.Manifest, o)
			if err != nil {
				t.Fatal(err)
			}
			if out.Verdict != tc.wantVerdict {
				t.Fatalf("verdict %s, want %s: %+v", out.Verdict, tc.wantVerdict, out)
			}
			if tc.wantVerdict == VerdictSkipped {
				return
			}
			if len(out.Signatures) != 1 || out.Signatures[0].Source != s.Manifest.Digest.String() {
				t.Fatalf("signatures %+v", out.Signatures)
			}
			if got := out.Signatures[0].Signer != ""; got != tc.wantSigner {
				t.Errorf("signer %q", out.Signatures[0].Signer)
			}
			if tc.wantVerdict == VerdictNotTrusted && out.Reason == "" {
				t.Error("no reason for the failure")
			}
		})
	}
	// A manifest that is no signature fails integrity, without error.
	out, err := VerifyOCISignature(ctx, store, img, other, opts)
	if err != nil || out.Verdict != VerdictNotTrusted || out.Reason == "" {
		t.Fatalf("not a signature: %v %+v", err, out)
	}
}
