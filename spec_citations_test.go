package signet

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// specListFile lists every [MUST] requirement ID of the requirements digest
// (spec-digest.md), one per line ('#' starts a comment).
const specListFile = "testdata/spec-must.txt"

var updateSpecList = flag.Bool("update-spec-list", false, "rewrite "+specListFile+" from the requirements digest")

// mustHeading is a [MUST] requirement in the digest: "**PAY-1 [MUST]**",
// also "[MUST/SHOULD]" and "**CERT-11 [MUST] Validity at verification**".
var mustHeading = regexp.MustCompile(`\*\*([A-Z][A-Z0-9]*-[0-9]+) \[MUST[A-Z/]*\]`)

// citation is a requirement ID cited in a test: "PAY-3", or a range
// "TSV-1..TSV-4", "MAN-1..7", "TSA-5–7".
var citation = regexp.MustCompile(`\b([A-Z][A-Z0-9]*)-([0-9]+)(?:(?:\.\.|–)(?:([A-Z][A-Z0-9]*)-)?([0-9]+))?\b`)

// TestSpecMustCited: every [MUST] of the digest is cited by at least one
// test of the module (a *_test.go file), so a rule cannot lose its test
// unnoticed. When the digest is at hand (SIGNET_SPEC_DIGEST, else
// ../shared/spec-digest.md next to the repository), the committed list must
// also be the digest's.
func TestSpecMustCited(t *testing.T) {
	ids := readSpecList(t)
	if digest := findDigest(); digest != "" {
		data, err := os.ReadFile(digest)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, m := range mustHeading.FindAllSubmatch(data, -1) {
			if id := string(m[1]); !slices.Contains(want, id) {
				want = append(want, id)
			}
		}
		if *updateSpecList {
			writeSpecList(t, want)
			ids = want
		} else if !slices.Equal(ids, want) {
			t.Errorf("%s is not the [MUST] list of %s: run 'go test -run TestSpecMustCited -update-spec-list .'\nlist:   %v\ndigest: %v", specListFile, digest, ids, want)
		}
	} else {
		t.Logf("requirements digest not found (set SIGNET_SPEC_DIGEST): checking the committed list only")
	}
	if len(ids) < 100 {
		t.Fatalf("%s holds %d IDs; the digest has over 100 [MUST] requirements", specListFile, len(ids))
	}
	cited := citedIDs(t)
	var missing []string
	for _, id := range ids {
		if !cited[id] {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d [MUST] requirements are cited by no test: %s\n(cite the ID, e.g. // PAY-3, in the test that checks it)", len(missing), strings.Join(missing, " "))
	}
}

// TestCitationRanges pins how citations are read.
func TestCitationRanges(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"single", "// PAY-3: the descriptor", []string{"PAY-3"}},
		{"range with prefix", "(TSV-1..TSV-4)", []string{"TSV-1", "TSV-2", "TSV-3", "TSV-4"}},
		{"range without prefix", "MAN-2..5", []string{"MAN-2", "MAN-3", "MAN-4", "MAN-5"}},
		{"en dash range", "TSA-5–7", []string{"TSA-5", "TSA-6", "TSA-7"}},
		{"not a prefix of a longer number", "PAY-30", []string{"PAY-30"}},
		{"two citations", "ATTR-2, ATTR-4", []string{"ATTR-2", "ATTR-4"}},
		{"range to another prefix is two citations", "PIPE-9..VER-2", []string{"PIPE-9", "VER-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]bool{}
			addCitations(got, []byte(tc.text))
			var ids []string
			for id := range got {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Errorf("got %v, want %v", ids, want)
			}
		})
	}
}

func readSpecList(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(specListFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func writeSpecList(t *testing.T, ids []string) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# Every [MUST] requirement ID of the Notary Project requirements digest (spec-digest.md), in\n")
	b.WriteString("# the digest's order. spec_citations_test.go checks that a test cites each one.\n")
	b.WriteString("# Regenerate from the digest: go test -run TestSpecMustCited -update-spec-list .\n")
	for _, id := range ids {
		b.WriteString(id + "\n")
	}
	if err := os.WriteFile(specListFile, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// findDigest returns the requirements digest's path, or "".
func findDigest() string {
	candidates := []string{os.Getenv("SIGNET_SPEC_DIGEST"), filepath.Join("..", "shared", "spec-digest.md"), filepath.Join("..", "..", "shared", "spec-digest.md")}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// citedIDs reads every *_test.go file of the module (nested modules and
// testdata excluded; this file excluded, as it cites none).
func citedIDs(t *testing.T) map[string]bool {
	t.Helper()
	cited := map[string]bool{}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			if p != "." {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, "_test.go") || p == "spec_citations_test.go" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		addCitations(cited, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cited
}

// addCitations adds the IDs data cites, ranges expanded.
func addCitations(cited map[string]bool, data []byte) {
	for _, m := range citation.FindAllSubmatch(data, -1) {
		prefix, from := string(m[1]), string(m[2])
		if len(m[4]) == 0 {
			cited[prefix+"-"+from] = true
			continue
		}
		if len(m[3]) > 0 && string(m[3]) != prefix {
			cited[prefix+"-"+from] = true
			cited[string(m[3])+"-"+string(m[4])] = true
			continue
		}
		a, _ := strconv.Atoi(from)
		b, _ := strconv.Atoi(string(m[4]))
		if b < a || b-a > 50 {
			cited[prefix+"-"+from] = true
			continue
		}
		for i := a; i <= b; i++ {
			cited[fmt.Sprintf("%s-%d", prefix, i)] = true
		}
	}
}
