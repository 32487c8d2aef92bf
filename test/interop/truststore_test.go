package interop

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testtsa"
)

// storeCase is a trust policy statement naming a trust store that is
// missing or empty (TS-6), verified by both tools.
type storeCase struct {
	name   string
	stores []string
	// level is the verification level ("" is strict); verifyTimestamp the
	// statement's option ("" is the default, always).
	level, verifyTimestamp string
	// timestamped signs with a timestamp from the test TSA; unsigned (OCI
	// only) leaves the artifact without a signature.
	timestamped, unsigned bool
	// store is the unusable store signet's error names ("type:name").
	store string
	// notation is what notation's refusal says; "" means notation does
	// not load the store for this signature and accepts it (a divergence,
	// docs/divergences.md).
	notation string
}

// storeCases are the cases for both the OCI and the blob policy. The world
// has ca:good (the signer's root), tsa:stamps (the TSA's root) and the
// empty directory ca:empty.
var storeCases = []storeCase{
	{name: "missing ca store", stores: []string{"ca:missing"}, store: "ca:missing", notation: `"missing" of type "ca" does not exist`},
	{name: "missing store before the signer's", stores: []string{"ca:missing", "ca:good"}, store: "ca:missing", notation: `"missing" of type "ca" does not exist`},
	{name: "missing store after the signer's", stores: []string{"ca:good", "ca:missing"}, store: "ca:missing", notation: `"missing" of type "ca" does not exist`},
	{name: "empty store", stores: []string{"ca:empty"}, store: "ca:empty", notation: "no x509 certificates were found"},
	{name: "empty store next to the signer's", stores: []string{"ca:good", "ca:empty"}, store: "ca:empty", notation: "no x509 certificates were found"},
	{name: "missing tsa store, timestamped signature", stores: []string{"ca:good", "tsa:missing"}, timestamped: true, store: "tsa:missing", notation: `"missing" of type "tsa" does not exist`},
	{name: "missing tsa store next to the TSA's, timestamped signature", stores: []string{"ca:good", "tsa:stamps", "tsa:missing"}, timestamped: true, store: "tsa:missing", notation: `"missing" of type "tsa" does not exist`},
	{name: "missing store at level audit", stores: []string{"ca:missing"}, level: "audit", store: "ca:missing"},
	// notation refuses because the default verifyTimestamp (always) wants a
	// timestamp; v1.3.2 says only "signature verification failed".
	{name: "missing tsa store, signature without timestamp", stores: []string{"ca:good", "tsa:missing"}, store: "tsa:missing", notation: "verification failed"},
	{name: "missing tsa store, timestamp only after expiry", stores: []string{"ca:good", "tsa:missing"}, verifyTimestamp: "afterCertExpiry", store: "tsa:missing"},
	{name: "missing signingAuthority store, notary.x509 signature", stores: []string{"ca:good", "signingAuthority:missing"}, store: "signingAuthority:missing"},
}

// storeWorld has the key "good" (root in ca:good), the TSA root in
// tsa:stamps and the empty store ca:empty.
func storeWorld(t *testing.T, notation string, tsa *testtsa.TSA) (w *world, tsaRoot string) {
	w = newWorld(t, notation)
	w.addKey("good", "ec-256")
	tsaRoot = tsa.RootPEM(t, t.TempDir())
	must(t, w.Notation("cert", "add", "--type", "tsa", "--store", "stamps", tsaRoot), "notation cert add tsa")
	if err := os.MkdirAll(filepath.Join(w.Config(), "truststore", "x509", "ca", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	return w, tsaRoot
}

// statementFor is the case's trust policy statement.
func (tc storeCase) statement() map[string]any {
	sv := map[string]any{"level": "strict"}
	if tc.level != "" {
		sv["level"] = tc.level
	}
	if tc.verifyTimestamp != "" {
		sv["verifyTimestamp"] = tc.verifyTimestamp
	}
	return map[string]any{"name": "stores", "signatureVerification": sv, "trustStores": tc.stores, "trustedIdentities": []string{"*"}}
}

// checkStoreRefusal asserts both verdicts: notation refuses (saying
// tc.notation) or, where it diverges, accepts; signet refuses with exit 2,
// naming the store and its path, with the hint to create or fill it.
func checkStoreRefusal(t *testing.T, w *world, tc storeCase, n, s result) {
	t.Helper()
	switch {
	case tc.notation == "" && n.code != 0:
		t.Errorf("notation refused a case documented as accepted (docs/divergences.md): %s", n)
	case tc.notation != "" && n.code == 0:
		t.Errorf("notation accepted: %s", n)
	case tc.notation != "" && !strings.Contains(n.stderr, tc.notation):
		t.Errorf("notation's refusal does not say %q: %s", tc.notation, n)
	}
	typ, name, _ := strings.Cut(tc.store, ":")
	path := filepath.Join(w.Config(), "truststore", "x509", typ, name)
	hint := "Hint: create the trust store with 'signet cert add --type " + typ + " --store " + name + " FILE'"
	if typ == "ca" && name == "empty" {
		hint = "Hint: add the trusted root certificate with 'signet cert add --type ca --store empty FILE'"
	}
	if s.code != 2 || !strings.Contains(s.stderr, `Error: trust policy statement "stores": trust store "`+tc.store+`"`) ||
		!strings.Contains(s.stderr, path) || !strings.Contains(s.stderr, hint) {
		t.Errorf("signet: want exit 2 naming %s and %s with %q, got %s", tc.store, path, hint, s)
	}
	if strings.Contains(s.stdout, "not verified") {
		t.Errorf("signet looked at the signature: %s", s)
	}
}

// TestTrustStoreMissingOCI (TS-6, issue 9): an OCI trust policy statement
// naming a missing or empty trust store is invalid configuration. notation
// v1.3.2 refuses wherever it loads the store; signet refuses every case
// with exit 2 before looking at a signature.
func TestTrustStoreMissingOCI(t *testing.T) {
	tsa := testtsa.Start(t)
	w, tsaRoot := storeWorld(t, peer.Notation(t), tsa)
	cases := append(storeCases, storeCase{name: "missing store, unsigned artifact", stores: []string{"ca:missing"}, unsigned: true, store: "ca:missing", notation: "no signature is associated"})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stmt := tc.statement()
			stmt["registryScopes"] = []string{scope}
			doc, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{stmt}})
			must(t, w.Notation("policy", "import", "--force", writeFile(t, t.TempDir(), "policy.json", doc)), "notation policy import")
			dir, dgst := newLayout(t)
			ref := dir + "@" + dgst.String()
			if !tc.unsigned {
				args := []string{"sign", "--oci-layout", "--key", "good"}
				if tc.timestamped {
					args = append(args, "--timestamp-url", tsa.URL, "--timestamp-root-cert", tsaRoot)
				}
				must(t, w.Signet(append(args, ref)...), "signet sign")
			}
			n := w.Notation("verify", "--oci-layout", "--scope", scope, ref)
			s := w.Signet("verify", "--oci-layout", "--scope", scope, ref)
			checkStoreRefusal(t, w, tc, n, s)
		})
	}
}

// TestTrustStoreMissingBlob (TS-6, issue 9): the same for a blob trust
// policy, against notation v2.0.0-alpha.1.
func TestTrustStoreMissingBlob(t *testing.T) {
	tsa := testtsa.Start(t)
	w, tsaRoot := storeWorld(t, peer.Notation2(t), tsa)
	for _, tc := range storeCases {
		t.Run(tc.name, func(t *testing.T) {
			stmt := tc.statement()
			stmt["globalPolicy"] = true
			doc, _ := json.Marshal(map[string]any{"version": "1.0", "trustPolicies": []any{stmt}})
			must(t, w.Notation("blob", "policy", "import", "--force", writeFile(t, t.TempDir(), "policy.json", doc)), "notation blob policy import")
			dir := t.TempDir()
			blob := writeFile(t, dir, "data.txt", []byte("content"))
			args := []string{"blob", "sign", "--signature-directory", dir, "--key", "good"}
			if tc.timestamped {
				args = append(args, "--timestamp-url", tsa.URL, "--timestamp-root-cert", tsaRoot)
			}
			must(t, w.Signet(append(args, blob)...), "signet blob sign")
			n := w.Notation("blob", "verify", "--signature", blob+".jws.sig", blob)
			s := w.Signet("blob", "verify", "--signature", blob+".jws.sig", blob)
			checkStoreRefusal(t, w, tc, n, s)
		})
	}
}
