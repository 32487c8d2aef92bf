package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/signet-dev/signet"
)

// obj is a decoded JSON object.
type obj = map[string]any

// field returns v[key] and fails the test when it is absent or not of type T.
func field[T any](t *testing.T, v obj, key string) T {
	t.Helper()
	raw, ok := v[key]
	if !ok {
		t.Fatalf("JSON object lacks %q: %v", key, v)
	}
	x, ok := raw.(T)
	if !ok {
		t.Fatalf("JSON %q is %T, want %T: %v", key, raw, *new(T), raw)
	}
	return x
}

// keys returns the sorted member names of v.
func keys(v obj) []string {
	var ks []string
	for k := range v {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// checkKeys asserts that v has exactly the members want (docs/json.md).
func checkKeys(t *testing.T, what string, v obj, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keys(v); !slices.Equal(got, want) {
		t.Errorf("%s members = %v, want %v", what, got, want)
	}
}

// checkTime asserts that v[key] is an RFC 3339 time in UTC and returns it.
func checkTime(t *testing.T, v obj, key string) time.Time {
	t.Helper()
	s := field[string](t, v, key)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%s = %q is not RFC 3339: %v", key, s, err)
	}
	if !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %q is not in UTC", key, s)
	}
	return tm
}

// checkOrder is the order of docs/json.md: the five validations, then the
// two that hold at every level.
var checkOrder = []string{"integrity", "authenticity", "expiry", "authenticTimestamp", "revocation", "targetArtifact", "userMetadata"}

// checkList asserts the shape of a signature's checks and returns
// type -> check.
func checkList(t *testing.T, sig obj) map[string]obj {
	t.Helper()
	list := field[[]any](t, sig, "checks")
	var types []string
	byType := map[string]obj{}
	for _, x := range list {
		c := x.(obj)
		typ := field[string](t, c, "type")
		types = append(types, typ)
		byType[typ] = c
		action := field[string](t, c, "action")
		if !slices.Contains([]string{"enforce", "log", "skip"}, action) {
			t.Errorf("check %s: action %q", typ, action)
		}
		status := field[string](t, c, "status")
		if !slices.Contains([]string{"passed", "failed", "skipped", "notChecked", "notEvaluated"}, status) {
			t.Errorf("check %s: status %q", typ, status)
		}
		if (status == "notChecked" || status == "failed") && c["reason"] == nil {
			t.Errorf("check %s is %s without a reason", typ, status)
		}
	}
	if !slices.Equal(types, checkOrder) {
		t.Errorf("check order = %v, want %v", types, checkOrder)
	}
	// Until revocation checking lands it is never reported as passed.
	if s := byType["revocation"]["status"]; s == "passed" {
		t.Errorf("revocation reported as passed: %v", byType["revocation"])
	}
	return byType
}

// statuses returns the status of each check in checkOrder.
func statuses(byType map[string]obj) []string {
	var out []string
	for _, typ := range checkOrder {
		out = append(out, byType[typ]["status"].(string))
	}
	return out
}

// fixedClock makes every command of c run at one instant, whole seconds.
func fixedClock(c *cli) time.Time {
	now := time.Now().UTC().Truncate(time.Second)
	c.now = func() time.Time { return now }
	return now
}

// TestBlobVerifyJSON pins the verification schema of docs/json.md for a
// trusted and a not trusted blob, in both envelope formats.
func TestBlobVerifyJSON(t *testing.T) {
	c := newCLI(t)
	now := fixedClock(c)
	c.must("cert", "generate-test", "--default", "demo")
	c.blobPolicy(global(statement("demo", "strict", []string{"ca:demo"}, []string{testIdentity("demo")})))
	dir := t.TempDir()
	blob := writeFile(t, dir, "app.bin", []byte("app\n"))
	tampered := writeFile(t, dir, "tampered.bin", []byte("app!\n"))

	for _, format := range []struct{ name, mediaType string }{{"jws", "application/jose+json"}, {"cose", "application/cose"}} {
		t.Run(format.name, func(t *testing.T) {
			c.must("blob", "sign", "--force", "--signature-format", format.name, "-e", "1h", "-m", "team=blue", "--signature-directory", dir, blob)
			sig := filepath.Join(dir, "app.bin."+format.name+".sig")

			tests := []struct {
				name     string
				file     string
				args     []string
				code     int
				verdict  string
				statuses []string
			}{
				{
					name: "trusted", file: blob, args: []string{"-m", "team=blue"}, code: exitOK, verdict: "trusted",
					statuses: []string{"passed", "passed", "passed", "passed", "notChecked", "passed", "passed"},
				},
				{
					name: "tampered", file: tampered, code: exitNotTrusted, verdict: "notTrusted",
					statuses: []string{"passed", "passed", "passed", "passed", "notChecked", "failed", "notEvaluated"},
				},
				{
					name: "metadata missing", file: blob, args: []string{"-m", "team=red"}, code: exitNotTrusted, verdict: "notTrusted",
					statuses: []string{"passed", "passed", "passed", "passed", "notChecked", "passed", "failed"},
				},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := c.run(append([]string{"blob", "verify", "-o", "json", "--signature", sig}, append(tt.args, tt.file)...)...)
					if r.code != tt.code {
						t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r)
					}
					var out obj
					jsonOut(t, r, &out)
					if tt.verdict == "trusted" {
						checkKeys(t, "outcome", out, "verdict", "artifact", "policy", "signatures")
					} else {
						checkKeys(t, "outcome", out, "verdict", "artifact", "policy", "signatures", "reason")
						if field[string](t, out, "reason") == "" {
							t.Error("empty reason")
						}
					}
					if v := field[string](t, out, "verdict"); v != tt.verdict {
						t.Errorf("verdict %q, want %q", v, tt.verdict)
					}
					if a := field[string](t, out, "artifact"); a != tt.file {
						t.Errorf("artifact %q, want %q", a, tt.file)
					}
					pol := field[obj](t, out, "policy")
					checkKeys(t, "policy", pol, "name", "level", "actions")
					if pol["name"] != "demo" || pol["level"] != "strict" {
						t.Errorf("policy = %v", pol)
					}
					wantActions := obj{"integrity": "enforce", "authenticity": "enforce", "authenticTimestamp": "enforce", "expiry": "enforce", "revocation": "enforce"}
					if a := field[obj](t, pol, "actions"); !reflect.DeepEqual(a, wantActions) {
						t.Errorf("actions = %v, want %v", a, wantActions)
					}
					sigs := field[[]any](t, out, "signatures")
					if len(sigs) != 1 {
						t.Fatalf("%d signatures, want 1", len(sigs))
					}
					s := sigs[0].(obj)
					want := []string{"source", "mediaType", "format", "verified", "signer", "signingTime", "expiry", "revocation", "checks"}
					if tt.code != exitOK {
						want = append(want, "error")
						if !strings.Contains(field[string](t, s, "error"), "check failed") {
							t.Errorf("error = %q", s["error"])
						}
					}
					checkKeys(t, "signature", s, want...)
					if s["source"] != sig || s["mediaType"] != format.mediaType || s["verified"] != (tt.code == exitOK) {
						t.Errorf("signature = %v", s)
					}
					if s["signer"] != "CN=demo,O=Notary,L=Seattle,ST=WA,C=US" {
						t.Errorf("signer = %q", s["signer"])
					}
					if st := checkTime(t, s, "signingTime"); !st.Equal(now) {
						t.Errorf("signingTime = %s, want %s (Env.Now)", st, now)
					}
					if ex := checkTime(t, s, "expiry"); !ex.Equal(now.Add(time.Hour)) {
						t.Errorf("expiry = %s, want signing time + 1h", ex)
					}
					byType := checkList(t, s)
					if got := statuses(byType); !slices.Equal(got, tt.statuses) {
						t.Errorf("statuses = %v, want %v", got, tt.statuses)
					}
					for typ, c := range byType {
						if c["action"] != "enforce" {
							t.Errorf("check %s action %v at strict", typ, c["action"])
						}
					}
				})
			}
		})
	}
}

// TestBlobInspectJSON pins `blob inspect -o json` (docs/json.md).
func TestBlobInspectJSON(t *testing.T) {
	c := newCLI(t)
	now := fixedClock(c)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	dir := t.TempDir()
	data := []byte("inspect me\n")
	blob := writeFile(t, dir, "app.bin", data)
	c.must("blob", "sign", "--signature-format", "cose", "--media-type", "application/x-test", "-e", "2h", "-m", "team=blue", "-m", "build=42", "--signature-directory", dir, blob)
	sig := blob + ".cose.sig"

	r := c.must("blob", "inspect", "-o", "json", sig)
	var in obj
	jsonOut(t, r, &in)
	checkKeys(t, "inspection", in, "source", "mediaType", "signatureAlgorithm", "signedAttributes", "userDefinedAttributes", "unsignedAttributes", "certificates", "signedArtifact")
	if in["source"] != sig || in["mediaType"] != "application/cose" || in["signatureAlgorithm"] != "ECDSA-SHA-256" {
		t.Errorf("inspection = %v", in)
	}
	sa := field[obj](t, in, "signedAttributes")
	checkKeys(t, "signedAttributes", sa, "signingScheme", "signingTime", "expiry")
	if sa["signingScheme"] != "notary.x509" {
		t.Errorf("signingScheme = %v", sa["signingScheme"])
	}
	if st := checkTime(t, sa, "signingTime"); !st.Equal(now) {
		t.Errorf("signingTime = %s, want %s", st, now)
	}
	if ex := checkTime(t, sa, "expiry"); !ex.Equal(now.Add(2 * time.Hour)) {
		t.Errorf("expiry = %s", ex)
	}
	if ud := field[obj](t, in, "userDefinedAttributes"); !reflect.DeepEqual(ud, obj{"team": "blue", "build": "42"}) {
		t.Errorf("userDefinedAttributes = %v", ud)
	}
	if ua := field[obj](t, in, "unsignedAttributes"); !strings.HasPrefix(field[string](t, ua, "signingAgent"), "signet/"+signet.Version) {
		t.Errorf("unsignedAttributes = %v", ua)
	}
	certs := field[[]any](t, in, "certificates")
	if len(certs) != 1 {
		t.Fatalf("%d certificates, want 1 (self-signed test certificate)", len(certs))
	}
	cert := certs[0].(obj)
	checkKeys(t, "certificate", cert, "sha256Fingerprint", "issuedTo", "issuedBy", "notBefore", "expiry")
	block, _ := pem.Decode(readFile(t, c.path("localkeys", "demo.crt")))
	sum := sha256.Sum256(block.Bytes)
	if cert["sha256Fingerprint"] != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256Fingerprint = %v, want %x", cert["sha256Fingerprint"], sum)
	}
	if cert["issuedTo"] != "CN=demo,O=Notary,L=Seattle,ST=WA,C=US" || cert["issuedTo"] != cert["issuedBy"] {
		t.Errorf("certificate = %v", cert)
	}
	checkTime(t, cert, "notBefore")
	checkTime(t, cert, "expiry")
	art := field[obj](t, in, "signedArtifact")
	// The user metadata travels as the descriptor's annotations (PAY-8).
	checkKeys(t, "signedArtifact", art, "mediaType", "digest", "size", "annotations")
	if a := field[obj](t, art, "annotations"); !reflect.DeepEqual(a, obj{"team": "blue", "build": "42"}) {
		t.Errorf("signedArtifact annotations = %v", a)
	}
	if art["mediaType"] != "application/x-test" || art["digest"] != digest.FromBytes(data).String() || art["size"] != float64(len(data)) {
		t.Errorf("signedArtifact = %v", art)
	}

	// An envelope that fails its integrity checks is shown with the error,
	// and the command fails with 2 (invalid input).
	bad := writeFile(t, dir, "bad.bin.jws.sig", []byte(`{"payload":"e30","protected":"e30","signature":"AA"}`))
	r = c.run("blob", "inspect", "-o", "json", bad)
	checkFailure(t, r, exitUsage, "signature "+bad, "")
	var broken obj
	jsonOut(t, r, &broken)
	checkKeys(t, "broken inspection", broken, "source", "mediaType", "error")
	if !strings.Contains(field[string](t, broken, "error"), "JWS-1") {
		t.Errorf("error = %v", broken["error"])
	}
}

// TestOCIJSON pins verify, list, inspect and sign -o json on an OCI layout.
func TestOCIJSON(t *testing.T) {
	c := newCLI(t)
	now := fixedClock(c)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	c.ociPolicy(scoped(statement("local", "strict", []string{"ca:demo"}, []string{"*"}), "example.com/app"))
	layout, dg := newLayout(t)
	ref := layout + "@" + dg.String()

	// list before signing: an empty array, not null.
	var list obj
	jsonOut(t, c.must("list", "--oci-layout", "-o", "json", ref), &list)
	checkKeys(t, "list", list, "reference", "signatures", "cosignSignatures", "truncated")
	if cs := field[[]any](t, list, "cosignSignatures"); len(cs) != 0 {
		t.Errorf("unsigned list has cosign signatures %v", cs)
	}
	if sigs := field[[]any](t, list, "signatures"); len(sigs) != 0 || list["truncated"] != false || list["reference"] != ref {
		t.Errorf("unsigned list = %v", list)
	}

	var signed obj
	jsonOut(t, c.must("sign", "--oci-layout", "-o", "json", ref), &signed)
	checkKeys(t, "sign", signed, "reference", "signature", "signatureMediaType", "signingTime")
	if signed["reference"] != ref || signed["signatureMediaType"] != "application/jose+json" {
		t.Errorf("sign = %v", signed)
	}
	if st := checkTime(t, signed, "signingTime"); !st.Equal(now) {
		t.Errorf("signingTime = %s, want %s", st, now)
	}
	sigDigest := field[string](t, signed, "signature")

	jsonOut(t, c.must("list", "--oci-layout", "-o", "json", ref), &list)
	sigs := field[[]any](t, list, "signatures")
	if len(sigs) != 1 {
		t.Fatalf("list = %v", list)
	}
	d := sigs[0].(obj)
	if d["digest"] != sigDigest || d["mediaType"] != "application/vnd.oci.image.manifest.v1+json" || d["artifactType"] != "application/vnd.cncf.notary.signature" {
		t.Errorf("listed descriptor = %v", d)
	}
	if _, ok := d["size"].(float64); !ok {
		t.Errorf("listed descriptor has no size: %v", d)
	}

	var out obj
	jsonOut(t, c.must("verify", "--oci-layout", "--scope", "example.com/app", "-o", "json", ref), &out)
	checkKeys(t, "outcome", out, "verdict", "artifact", "policy", "signatures")
	if out["verdict"] != "trusted" || out["artifact"] != ref {
		t.Errorf("outcome = %v", out)
	}
	if p := field[obj](t, out, "policy"); p["name"] != "local" || p["level"] != "strict" {
		t.Errorf("policy = %v", p)
	}
	vsigs := field[[]any](t, out, "signatures")
	if len(vsigs) != 1 {
		t.Fatalf("signatures = %v", vsigs)
	}
	s := vsigs[0].(obj)
	checkKeys(t, "signature", s, "source", "mediaType", "format", "verified", "signer", "signingTime", "revocation", "checks")
	if s["format"] != "notary" {
		t.Errorf("format = %v, want notary", s["format"])
	}
	// The test key's chain names no OCSP responder or CRL distribution
	// point: each certificate is nonRevokable, and the check notChecked.
	for _, rv := range field[[]any](t, s, "revocation") {
		if rv := rv.(obj); rv["result"] != "nonRevokable" || rv["method"] != "none" {
			t.Errorf("revocation entry %v", rv)
		}
	}
	if s["source"] != sigDigest || s["mediaType"] != "application/jose+json" || s["verified"] != true {
		t.Errorf("signature = %v", s)
	}
	if got := statuses(checkList(t, s)); !slices.Equal(got, []string{"passed", "passed", "passed", "passed", "notChecked", "passed", "passed"}) {
		t.Errorf("statuses = %v", got)
	}

	var ins obj
	jsonOut(t, c.must("inspect", "--oci-layout", "-o", "json", layout+":v1"), &ins)
	checkKeys(t, "inspect", ins, "reference", "mediaType", "signatures")
	if ins["reference"] != ref || ins["mediaType"] != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("inspect = %v", ins)
	}
	isigs := field[[]any](t, ins, "signatures")
	if len(isigs) != 1 {
		t.Fatalf("inspect signatures = %v", isigs)
	}
	is := isigs[0].(obj)
	checkKeys(t, "inspection", is, "source", "mediaType", "signatureAlgorithm", "signedAttributes", "unsignedAttributes", "certificates", "signedArtifact")
	art := field[obj](t, is, "signedArtifact")
	if is["source"] != sigDigest || art["digest"] != dg.String() || art["mediaType"] != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("inspection = %v", is)
	}
}

// TestConfigJSON pins key list, cert list, cert show and version -o json.
func TestConfigJSON(t *testing.T) {
	c := newCLI(t)

	var certs []obj
	jsonOut(t, c.must("cert", "list", "-o", "json"), &certs)
	if certs == nil || len(certs) != 0 {
		t.Errorf("empty trust store: %v, want []", certs)
	}

	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	k := c.addChainKey("release", "ec-256")
	c.must("cert", "add", "--type", "signingAuthority", "--store", "release", k.rootFile)

	var keysDoc obj
	jsonOut(t, c.must("key", "list", "-o", "json"), &keysDoc)
	checkKeys(t, "key list", keysDoc, "default", "keys")
	if keysDoc["default"] != "demo" {
		t.Errorf("default = %v", keysDoc["default"])
	}
	var file obj
	if err := json.Unmarshal(readFile(t, c.path("signingkeys.json")), &file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(keysDoc, file) {
		t.Errorf("key list -o json = %v, want the signingkeys.json document %v", keysDoc, file)
	}
	ks := field[[]any](t, keysDoc, "keys")
	if len(ks) != 2 {
		t.Fatalf("keys = %v", ks)
	}
	rel := ks[1].(obj)
	checkKeys(t, "key", rel, "name", "keyPath", "certPath")
	if rel["name"] != "release" || rel["keyPath"] != k.keyFile || rel["certPath"] != k.certFile {
		t.Errorf("key = %v", rel)
	}

	jsonOut(t, c.must("cert", "list", "-o", "json"), &certs)
	want := []obj{
		{"type": "ca", "store": "demo", "file": "demo.crt", "path": c.path("truststore", "x509", "ca", "demo", "demo.crt")},
		{"type": "signingAuthority", "store": "release", "file": filepath.Base(k.rootFile), "path": c.path("truststore", "x509", "signingAuthority", "release", filepath.Base(k.rootFile))},
	}
	if !reflect.DeepEqual(certs, want) {
		t.Errorf("cert list -o json = %v, want %v", certs, want)
	}
	for _, e := range certs {
		if _, err := os.Stat(e["path"].(string)); err != nil {
			t.Errorf("listed path: %v", err)
		}
	}
	jsonOut(t, c.must("cert", "list", "-o", "json", "--type", "signingAuthority"), &certs)
	if len(certs) != 1 || certs[0]["store"] != "release" {
		t.Errorf("cert list --type signingAuthority = %v", certs)
	}

	var shown []obj
	jsonOut(t, c.must("cert", "show", "-o", "json", "--type", "ca", "--store", "demo", "demo.crt"), &shown)
	if len(shown) != 1 {
		t.Fatalf("cert show = %v", shown)
	}
	checkKeys(t, "cert show", shown[0], "subject", "issuer", "sha256Fingerprint", "notBefore", "notAfter", "keySpec", "isCA")
	if shown[0]["subject"] != "CN=demo,O=Notary,L=Seattle,ST=WA,C=US" || shown[0]["keySpec"] != "EC-256" || shown[0]["isCA"] != false {
		t.Errorf("cert show = %v", shown[0])
	}

	var v obj
	jsonOut(t, c.must("version", "-o", "json"), &v)
	if !reflect.DeepEqual(v, obj{"version": signet.Version, "go": runtime.Version()}) {
		t.Errorf("version -o json = %v", v)
	}
	if r := c.must("version"); !strings.Contains(r.stdout, "signet "+signet.Version) {
		t.Errorf("version = %q", r.stdout)
	}
}
