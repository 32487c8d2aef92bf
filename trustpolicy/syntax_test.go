package trustpolicy

import (
	"regexp"
	"strings"
	"testing"
)

// The TP-7 and TS-6 regular expressions as the spec states them: the
// oracle for validRegistry, validRepository and validStoreName, which
// spell them out by hand so that no signet process compiles them.
var (
	tp7Registry   = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$`)
	tp7Repository = regexp.MustCompile(`^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$`)
	ts6StoreName  = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
)

// TP-7: scope syntax; TS-6: store names.
func TestScopeAndStoreNameSyntax(t *testing.T) {
	for _, tc := range []struct {
		name  string
		check func(string) bool
		re    *regexp.Regexp
		in    string
		want  bool
	}{
		{"registry host", validRegistry, tp7Registry, "registry.example.com", true},
		{"registry single label", validRegistry, tp7Registry, "localhost", true},
		{"registry port", validRegistry, tp7Registry, "localhost:5000", true},
		{"registry inner hyphens", validRegistry, tp7Registry, "my--reg.ex-ample.com", true},
		{"registry upper case", validRegistry, tp7Registry, "Registry.Example.COM", true},
		{"registry one character labels", validRegistry, tp7Registry, "a.b.c", true},
		{"registry empty", validRegistry, tp7Registry, "", false},
		{"registry leading hyphen", validRegistry, tp7Registry, "-reg.example", false},
		{"registry trailing hyphen", validRegistry, tp7Registry, "reg-.example", false},
		{"registry empty label", validRegistry, tp7Registry, "reg..example", false},
		{"registry trailing dot", validRegistry, tp7Registry, "reg.example.", false},
		{"registry empty port", validRegistry, tp7Registry, "reg.example:", false},
		{"registry port letters", validRegistry, tp7Registry, "reg.example:80a", false},
		{"registry two ports", validRegistry, tp7Registry, "reg.example:80:81", false},
		{"registry underscore", validRegistry, tp7Registry, "reg_example.com", false},
		{"registry IPv6", validRegistry, tp7Registry, "[::1]:5000", false},
		{"repository one component", validRepository, tp7Repository, "app", true},
		{"repository path", validRepository, tp7Repository, "team/app/v2", true},
		{"repository separators", validRepository, tp7Repository, "a.b_c__d-e---f", true},
		{"repository empty", validRepository, tp7Repository, "", false},
		{"repository upper case", validRepository, tp7Repository, "App", false},
		{"repository triple underscore", validRepository, tp7Repository, "a___b", false},
		{"repository two dots", validRepository, tp7Repository, "a..b", false},
		{"repository leading separator", validRepository, tp7Repository, ".app", false},
		{"repository trailing separator", validRepository, tp7Repository, "app-", false},
		{"repository empty component", validRepository, tp7Repository, "team//app", false},
		{"repository trailing slash", validRepository, tp7Repository, "team/", false},
		{"repository tag", validRepository, tp7Repository, "app:v1", false},
		{"repository digest", validRepository, tp7Repository, "app@sha256:ab", false},
		{"store name", validStoreName, ts6StoreName, "acme-rockets_1.0", true},
		{"store name dots only", validStoreName, ts6StoreName, "..", true},
		{"store name empty", validStoreName, ts6StoreName, "", false},
		{"store name slash", validStoreName, ts6StoreName, "a/b", false},
		{"store name space", validStoreName, ts6StoreName, "a b", false},
		{"store name non-ASCII", validStoreName, ts6StoreName, "magasín", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.check(tc.in); got != tc.want {
				t.Errorf("%q: got %v, want %v", tc.in, got, tc.want)
			}
			if got := tc.re.MatchString(tc.in); got != tc.want {
				t.Errorf("the spec's expression says %v for %q: the table is wrong", got, tc.in)
			}
		})
	}
}

// FuzzScopeSyntax checks the hand-written TP-7 and TS-6 matchers against
// the spec's regular expressions.
func FuzzScopeSyntax(f *testing.F) {
	for _, s := range []string{"registry.example.com:5000", "a-b.c", "team/app", "a__b/c--d.e", "a___b", "x..y", "-a", "a:", "", "/", strings.Repeat("a.", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validRegistry(s), tp7Registry.MatchString(s); got != want {
			t.Errorf("validRegistry(%q) = %v, TP-7 says %v", s, got, want)
		}
		if got, want := validRepository(s), tp7Repository.MatchString(s); got != want {
			t.Errorf("validRepository(%q) = %v, TP-7 says %v", s, got, want)
		}
		if got, want := validStoreName(s), ts6StoreName.MatchString(s); got != want {
			t.Errorf("validStoreName(%q) = %v, TS-6 says %v", s, got, want)
		}
	})
}
