package interop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testtsa"
)

// TestTimestampInterop (issue 5): signatures countersigned by a real TSA
// (openssl ts) verify across tools: signet timestamps and notation v1.3.2
// verifies with the TSA root in a tsa trust store, and the reverse. A
// policy naming a tsa store refuses a signature without a timestamp, in
// both tools.
func TestTimestampInterop(t *testing.T) {
	tsa := testtsa.Start(t)
	w := newWorld(t, peer.Notation(t))
	w.addKey("ts", "ec-256")
	root := tsa.RootPEM(t, t.TempDir())
	must(t, w.Notation("cert", "add", "--type", "tsa", "--store", "tsa", root), "notation cert add tsa")
	w.ociPolicy(scope, []string{"ca:ts", "tsa:tsa"}, []string{"*"}, "strict", nil)
	for _, format := range []string{"jws", "cose"} {
		for _, signer := range []string{"signet", "notation"} {
			t.Run(format+"/"+signer+" signs", func(t *testing.T) {
				dir, dgst := newLayout(t)
				ref := dir + "@" + dgst.String()
				sign := w.Signet
				if signer == "notation" {
					sign = w.Notation
				}
				must(t, sign("sign", "--oci-layout", "--key", "ts", "--signature-format", format,
					"--timestamp-url", tsa.URL, "--timestamp-root-cert", root, ref), signer+" sign with a timestamp")
				must(t, w.Notation("verify", "--oci-layout", "--scope", scope, ref), "notation verify")
				r := must(t, w.Signet("verify", "--oci-layout", "--scope", scope, "-o", "json", ref), "signet verify")
				var out struct {
					Signatures []struct {
						Timestamp *struct {
							GenTime    string
							Revocation []struct{ Result string }
						}
					}
				}
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Signatures) != 1 || out.Signatures[0].Timestamp == nil {
					t.Fatalf("no verified timestamp in %s", r)
				}
				// The TSA chain's revocation was checked (TSA-8): the test
				// TSA names no responder, so each certificate is nonRevokable.
				if rv := out.Signatures[0].Timestamp.Revocation; len(rv) != 2 || rv[0].Result != "nonRevokable" {
					t.Errorf("TSA chain revocation %+v", rv)
				}
			})
		}
	}
	t.Run("no timestamp", func(t *testing.T) {
		dir, dgst := newLayout(t)
		ref := dir + "@" + dgst.String()
		must(t, w.Signet("sign", "--oci-layout", "--key", "ts", ref), "signet sign")
		if r := w.Notation("verify", "--oci-layout", "--scope", scope, ref); r.code == 0 {
			t.Errorf("notation accepted a signature without a timestamp: %s", r)
		}
		r := w.Signet("verify", "--oci-layout", "--scope", scope, ref)
		if r.code != 1 || !strings.Contains(r.stderr, "no timestamp countersignature") {
			t.Errorf("signet: %s", r)
		}
	})
}
