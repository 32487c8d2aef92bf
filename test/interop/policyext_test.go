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

// TestNotationSignaturesUnderExtensions: what notation v1.3.2 makes counts
// under a signet/v1 policy (docs/policy-extensions.md), on registries with
// and without the referrers API and in an OCI layout: its signatures count
// toward minSignatures (one key signing twice counts once), `notation sign
// REPO@SIGNATURE_DIGEST` makes a counter-signature signet accepts, and
// `--user-metadata io.signet.tag=TAG` binds a tag (VER-4, VER-5, VER-6,
// PAY-8).
func TestNotationSignaturesUnderExtensions(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	for _, k := range []string{"alice", "bob", "sec", "stranger"} {
		w.addKey(k, "ec-256")
	}
	places := map[string]struct {
		scope  string
		layout bool
		reg    *testregistry.Registry
	}{"oci-layout": {scope: "example.com/ext/app", layout: true}}
	for name, reg := range registries(t) {
		places[name] = struct {
			scope  string
			layout bool
			reg    *testregistry.Registry
		}{scope: reg.Ref("ext/app"), reg: reg}
	}
	for name, p := range places {
		t.Run(name, func(t *testing.T) {
			policy := extPolicyDoc(t, "signet/v1", []string{p.scope}, []string{"ca:alice", "ca:bob"}, map[string]any{
				"minSignatures":     2,
				"counterSignatures": []any{map[string]any{"name": "security", "trustStores": []string{"ca:sec"}, "trustedIdentities": []string{"*"}}},
				"tagBinding":        map[string]any{"maxAge": "1h"},
			})
			writeFile(t, w.Config(), "trustpolicy.json", policy)
			var base, byTag, byDigest string
			var layoutArgs, notationArgs []string
			if p.layout {
				dir, d := newLayout(t)
				base, byTag, byDigest = dir, dir+":v1", dir+"@"+d.String()
				layoutArgs = []string{"--oci-layout", "--scope", p.scope}
				notationArgs = []string{"--oci-layout"}
			} else {
				byDigest = pushImage(t, p.scope, "v1")
				base, byTag = p.scope, p.scope+":v1"
				notationArgs = []string{"--insecure-registry"}
			}
			notation := func(args ...string) {
				t.Helper()
				must(t, w.Notation(append(append([]string{"sign"}, notationArgs...), args...)...), "notation sign")
			}
			verify := func(ref string) (result, map[string]any) {
				t.Helper()
				r := w.Signet(append(append([]string{"verify", "-o", "json"}, layoutArgs...), ref)...)
				var out map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
					t.Fatalf("verify -o json: %v\n%s", err, r)
				}
				return r, out
			}

			notation("--key", "alice", "--user-metadata", "io.signet.tag=v1", byDigest)
			notation("--key", "alice", byDigest)
			if r, out := verify(byDigest); r.code != 1 || !strings.Contains(out["reason"].(string), "1 of the required 2 signatures") {
				t.Fatalf("one key twice must count once: %s", r)
			}
			notation("--key", "bob", byDigest)
			notation("--key", "stranger", byDigest) // not in the statement's stores: never counted
			if r, out := verify(byDigest); r.code != 1 || !strings.Contains(out["reason"].(string), `no accepted signature is counter-signed by "security"`) {
				t.Fatalf("without a counter-signature: %s", r)
			}
			// notation counter-signs one of the accepted signatures;
			// a counter-signature by a key outside ca:sec does not count.
			lr := must(t, w.Signet(append(append([]string{"list", "-o", "json"}, layoutArgs[:min(1, len(layoutArgs))]...), byDigest)...), "signet list")
			var l struct{ Signatures []struct{ Digest string } }
			if err := json.Unmarshal([]byte(lr.stdout), &l); err != nil || len(l.Signatures) != 4 {
				t.Fatalf("signet list: %v %s", err, lr)
			}
			_, out := verify(byDigest)
			var accepted string
			for _, s := range out["signatures"].([]any) {
				if so := s.(map[string]any); so["counted"] == true {
					accepted = so["source"].(string)
				}
			}
			notation("--key", "stranger", base+"@"+accepted)
			if r, _ := verify(byDigest); r.code != 1 {
				t.Fatalf("a counter-signature from the wrong store counted: %s", r)
			}
			notation("--key", "sec", base+"@"+accepted)
			r, out := verify(byTag)
			if r.code != 0 {
				t.Fatalf("signet verify of notation's signatures by tag: %s", r)
			}
			req := out["requirements"].(map[string]any)
			if ms := req["minSignatures"].(map[string]any); ms["counted"] != 2.0 || ms["met"] != true {
				t.Errorf("minSignatures %v", ms)
			}
			if cs := req["counterSignatures"].([]any)[0].(map[string]any); cs["met"] != true || cs["on"] != accepted {
				t.Errorf("counterSignatures %v", cs)
			}
			if tb := req["tagBinding"].(map[string]any); tb["met"] != true {
				t.Errorf("tagBinding %v", tb)
			}
			// signet list shows notation's counter-signatures under their
			// signature.
			lr = must(t, w.Signet(append(append([]string{"list"}, layoutArgs[:min(1, len(layoutArgs))]...), byDigest)...), "signet list")
			if !strings.Contains(lr.stdout, "counter-signatures") {
				t.Errorf("signet list:\n%s", lr)
			}
		})
	}
}
