package interop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
)

// extPolicyDoc renders an OCI trust policy document of version with one
// strict statement for scopes; extra members are added to the statement.
func extPolicyDoc(t *testing.T, version string, scopes, stores []string, extra map[string]any) []byte {
	t.Helper()
	stmt := map[string]any{
		"name":                  "ext",
		"registryScopes":        scopes,
		"signatureVerification": map[string]any{"level": "strict"},
		"trustStores":           stores,
		"trustedIdentities":     []string{"*"},
	}
	for k, v := range extra {
		stmt[k] = v
	}
	doc, err := json.Marshal(map[string]any{"version": version, "trustPolicies": []any{stmt}})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestNotationRefusesExtensions pins that a policy needing a signet/v1
// extension fails closed in notation v1.3.2 instead of being read as
// weaker (docs/policy-extensions.md): notation refuses the "signet/v1"
// version (TP-1) and a prefix scope (TP-4, SEL-3) both when importing the
// policy and when verifying with it, while signet verifies with it.
func TestNotationRefusesExtensions(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	w.addKey("acme", "ec-256")
	reg := testregistry.New(t, testregistry.Options{Referrers: true})
	repo := reg.Ref("team/app")
	ref := pushImage(t, repo, "v1")
	must(t, w.Signet("sign", "--key", "acme", ref), "signet sign")
	w.ociPolicy(repo, []string{"ca:acme"}, []string{"*"}, "strict", nil)
	must(t, w.Notation("verify", "--insecure-registry", ref), "notation verify with a 1.0 policy")

	host, _, _ := strings.Cut(repo, "/")
	tests := []struct {
		name     string
		doc      []byte
		notation string // what notation's error says
		// prefix10: a prefix scope in a "1.0" document, which signet
		// refuses too (exit 2).
		prefix10 bool
	}{
		{"signet/v1 document", extPolicyDoc(t, "signet/v1", []string{repo}, []string{"ca:acme"}, nil), `unsupported version "signet/v1"`, false},
		{"signet/v1 document with every member", extPolicyDoc(t, "signet/v1", []string{host + "/team/*"}, []string{"ca:acme"}, map[string]any{
			"minSignatures": 1, "tagBinding": map[string]any{"maxAge": "7d"},
		}), `unsupported version "signet/v1"`, false},
		{"prefix scope in a 1.0 document", extPolicyDoc(t, "1.0", []string{host + "/team/*"}, []string{"ca:acme"}, nil), "with wild card(s) is not valid", true},
		{"host prefix scope in a 1.0 document", extPolicyDoc(t, "1.0", []string{host + "/*"}, []string{"ca:acme"}, nil), "with wild card(s) is not valid", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, t.TempDir(), "policy.json", tc.doc)
			if r := w.Notation("policy", "import", "--force", file); r.code == 0 || !strings.Contains(r.stderr, tc.notation) {
				t.Errorf("notation policy import: want a refusal mentioning %q: %s", tc.notation, r)
			}
			writeFile(t, w.Config(), "trustpolicy.json", tc.doc)
			if r := w.Notation("verify", "--insecure-registry", ref); r.code == 0 || !strings.Contains(r.stderr, tc.notation) {
				t.Errorf("notation verify: want a refusal mentioning %q: %s", tc.notation, r)
			}
			r := w.Signet("verify", ref)
			if tc.prefix10 {
				if r.code != 2 || !strings.Contains(r.stderr, "is a signet extension") {
					t.Errorf("signet verify with a prefix scope in a 1.0 document: %s", r)
				}
				return
			}
			must(t, r, "signet verify with a signet/v1 document")
		})
	}
}
