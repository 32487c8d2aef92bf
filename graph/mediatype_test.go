package graph_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/signet-dev/signet/graph"
)

// mediaTypeGrammar is the OCI image spec's media type expression
// (descriptor.md), the oracle for graph.ValidMediaType, which spells it
// out by hand so that no signet process compiles it at start-up.
var mediaTypeGrammar = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`)

func TestValidMediaType(t *testing.T) {
	for _, tc := range []struct {
		name string
		mt   string
		want bool
	}{
		{"image manifest", "application/vnd.oci.image.manifest.v1+json", true},
		{"every allowed character", "a!#$&^_.+-Z9/0!#$&^_.+-z", true},
		{"longest names", strings.Repeat("a", 127) + "/" + strings.Repeat("b", 127), true},
		{"type too long", strings.Repeat("a", 128) + "/b", false},
		{"subtype too long", "a/" + strings.Repeat("b", 128), false},
		{"empty", "", false},
		{"no subtype", "application", false},
		{"empty subtype", "application/", false},
		{"empty type", "/json", false},
		{"two slashes", "application/vnd/json", false},
		{"leading punctuation", "+application/json", false},
		{"subtype leading punctuation", "application/.json", false},
		{"space", "application/ json", false},
		{"parameter", "application/json; charset=utf-8", false},
		{"non-ASCII", "applicatión/json", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := graph.ValidMediaType(tc.mt); got != tc.want {
				t.Errorf("ValidMediaType(%q) = %v, want %v", tc.mt, got, tc.want)
			}
			if got := mediaTypeGrammar.MatchString(tc.mt); got != tc.want {
				t.Errorf("the grammar's expression says %v for %q: the table is wrong", got, tc.mt)
			}
		})
	}
}

// FuzzValidMediaType checks graph.ValidMediaType against the grammar's
// regular expression.
func FuzzValidMediaType(f *testing.F) {
	for _, s := range []string{"application/json", "a/b", "a!/b+", "", "/", "a//b", strings.Repeat("x", 127) + "/y", "\xff/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := graph.ValidMediaType(s), mediaTypeGrammar.MatchString(s); got != want {
			t.Fatalf("ValidMediaType(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
