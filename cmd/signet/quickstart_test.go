package main

import (
	"strings"
	"testing"
)

// TestQuickstart runs `signet quickstart` in-process: the embedded registry,
// signing, listing, a trusted verdict, and the two refusals (issue 4 item 6).
func TestQuickstart(t *testing.T) {
	c := newCLI(t)
	r := c.must("quickstart")
	for _, want := range []string{
		"Successfully signed",
		"└── application/vnd.cncf.notary.signature",
		"Successfully verified signature",
		"no signature is associated with the artifact",
		"integrity check failed",
		"Quick start done",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("quickstart output lacks %q\n%s", want, r.stdout)
		}
	}
}
