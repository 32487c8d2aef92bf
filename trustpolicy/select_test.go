package trustpolicy

import (
	"errors"
	"strings"
	"testing"
)

// TestMatch covers SEL-1..SEL-3.
func TestMatch(t *testing.T) {
	d := ociDoc()
	d.TrustPolicies = append(d.TrustPolicies, Statement{
		Name:                  "global",
		RegistryScopes:        []string{"*"},
		SignatureVerification: SignatureVerification{Level: LevelAudit},
		TrustStores:           []string{"ca:acme"},
		TrustedIdentities:     []string{"*"},
	})
	// The global statement comes before a specific one to show that order
	// does not matter.
	d.TrustPolicies[0], d.TrustPolicies[2] = d.TrustPolicies[2], d.TrustPolicies[0]
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, repo, want string
	}{
		{"exact match wins over global", "reg.example/app", "app"},
		{"second scope of a statement", "localhost:5000/team/tool", "other"},
		{"unknown repository gets global", "reg.example/unknown", "global"},
		{"no prefix matching", "reg.example/app/sub", "global"},
		{"no parent matching", "reg.example", "global"},
		{"literal comparison", "reg.example/APP", "global"},
		{"no port normalisation", "localhost/team/tool", "global"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := d.Match(tc.repo)
			if err != nil {
				t.Fatalf("Match(%q) = %v", tc.repo, err)
			}
			if s.Name != tc.want {
				t.Errorf("Match(%q) = %q, want %q", tc.repo, s.Name, tc.want)
			}
		})
	}
}

func TestMatchNoApplicablePolicy(t *testing.T) {
	d := ociDoc()
	tests := []struct{ name, repo string }{
		{"unknown repository without global", "reg.example/unknown"},
		{"empty repository", ""},
		{"wildcard repository", "*"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := d.Match(tc.repo)
			if !errors.Is(err, ErrNoApplicablePolicy) || s != nil {
				t.Fatalf("Match(%q) = %v, %v; want ErrNoApplicablePolicy", tc.repo, s, err)
			}
			if !strings.Contains(err.Error(), `"`+tc.repo+`"`) {
				t.Errorf("error %q does not name the repository", err)
			}
		})
	}
}

// TestSelect covers BTP-4.
func TestSelect(t *testing.T) {
	d := blobDoc() // "app" is global, "other" is not
	tests := []struct {
		name    string
		policy  string
		want    string
		wantErr error
	}{
		{"named global statement", "app", "app", nil},
		{"named statement", "other", "other", nil},
		{"no name selects global", "", "app", nil},
		{"unknown name", "missing", "", ErrNoApplicablePolicy},
		{"names are case-sensitive", "Other", "", ErrNoApplicablePolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := d.Select(tc.policy)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || s != nil {
					t.Fatalf("Select(%q) = %v, %v; want %v", tc.policy, s, err, tc.wantErr)
				}
				return
			}
			if err != nil || s.Name != tc.want {
				t.Fatalf("Select(%q) = %v, %v; want %q", tc.policy, s, err, tc.want)
			}
		})
	}
	t.Run("blank name", func(t *testing.T) {
		s, err := d.Select(" \t")
		if err == nil || errors.Is(err, ErrNoApplicablePolicy) || s != nil {
			t.Fatalf("Select(blank) = %v, %v; want a blank-name error", s, err)
		}
		if !strings.Contains(err.Error(), "cannot be blank") {
			t.Errorf("error %q", err)
		}
	})
	t.Run("no global statement", func(t *testing.T) {
		d := blobDoc()
		d.TrustPolicies[0].GlobalPolicy = false
		if _, err := d.Select(""); !errors.Is(err, ErrNoApplicablePolicy) {
			t.Fatalf("Select(\"\") = %v", err)
		}
	})
}
