package graph_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/signet-dev/signet/graph"
)

// FuzzParseFileRef: any FILE[:MEDIATYPE] argument parses or fails with
// ErrInvalidAttach, never panics; what parses names a file and a valid (or
// no) media type, and rebuilds the input.
func FuzzParseFileRef(f *testing.F) {
	for _, s := range []string{"sbom.json", "sbom.json:application/spdx+json", "a:b.txt", "a:b:c/d", ":", "", "x:text/plain;q=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := graph.ParseFileRef(s)
		if err != nil {
			if !errors.Is(err, graph.ErrInvalidAttach) {
				t.Fatalf("error %v is not ErrInvalidAttach", err)
			}
			return
		}
		if got.Path == "" || got.MediaType != "" && !graph.ValidMediaType(got.MediaType) {
			t.Fatalf("%q parsed to %+v", s, got)
		}
		rebuilt := got.Path
		if got.MediaType != "" {
			rebuilt += ":" + got.MediaType
		}
		if rebuilt != s {
			t.Fatalf("%q parsed to %+v, which rebuilds %q", s, got, rebuilt)
		}
	})
}

// FuzzParseAnnotations: any --annotation values parse or fail with
// ErrInvalidAttach; what parses has one entry per pair.
func FuzzParseAnnotations(f *testing.F) {
	f.Add("a=1\nb=2")
	f.Add("a=1\na=2")
	f.Add("=x")
	f.Add("k=v=w")
	f.Fuzz(func(t *testing.T, joined string) {
		pairs := strings.Split(joined, "\n")
		got, err := graph.ParseAnnotations(pairs)
		if err != nil {
			if !errors.Is(err, graph.ErrInvalidAttach) {
				t.Fatalf("error %v is not ErrInvalidAttach", err)
			}
			return
		}
		if len(got) != len(pairs) {
			t.Fatalf("%d pairs gave %d annotations", len(pairs), len(got))
		}
		for _, p := range pairs {
			k, v, _ := strings.Cut(p, "=")
			if got[k] != v {
				t.Fatalf("%q: got %q", p, got[k])
			}
		}
	})
}
