package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
)

// TestBlobLevels runs the verification levels (LVL-1..3, TC-05) through
// `blob verify`: what fails, what only warns, and what is skipped.
func TestBlobLevels(t *testing.T) {
	base := newCLI(t)
	t0 := time.Now().UTC().Truncate(time.Second)
	base.now = func() time.Time { return t0 }
	base.must("cert", "generate-test", "--default", "demo")
	// ca:other trusts an unrelated root.
	other := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("other root"), IsCA: true}, nil)
	base.must("cert", "add", "--type", "ca", "--store", "other", writeFile(t, t.TempDir(), "other.crt", testpki.CertsPEM(other.Cert)))
	id := []string{testIdentity("demo")}
	withOverride := func(s map[string]any, o map[string]string) map[string]any {
		s["signatureVerification"].(map[string]any)["override"] = o
		return s
	}
	base.blobPolicy(
		statement("strict", "strict", []string{"ca:demo"}, id),
		statement("permissive", "permissive", []string{"ca:demo"}, id),
		statement("audit-untrusted", "audit", []string{"ca:other"}, []string{"*"}),
		statement("audit", "audit", []string{"ca:demo"}, id),
		statement("permissive-untrusted", "permissive", []string{"ca:other"}, []string{"*"}),
		withOverride(statement("strict-expiry-log", "strict", []string{"ca:demo"}, id), map[string]string{"expiry": "log"}),
		withOverride(statement("audit-authenticity-enforce", "audit", []string{"ca:other"}, []string{"*"}), map[string]string{"authenticity": "enforce"}),
		statement("skipped", "skip", nil, nil),
	)
	dir := t.TempDir()
	blob := writeFile(t, dir, "app.bin", []byte("levels\n"))
	tampered := writeFile(t, dir, "tampered.bin", []byte("levels!\n"))
	// Signed at t0, valid for one second: expired from t0+1s on (ATTR-7:
	// expiry == now is expired).
	base.must("blob", "sign", "-e", "1s", "--signature-directory", dir, blob)
	sig := blob + ".jws.sig"

	tests := []struct {
		name    string
		policy  string
		at      time.Duration // verification time after t0
		file    string
		code    int
		verdict string
		// warning is a substring of the one Warning: line; "" means none.
		warning string
		// wantErr and wantHint are substrings of the Error and Hint lines
		// when code != 0.
		wantErr, wantHint string
		// checks: type -> "action status" for the checks that matter.
		checks map[string]string
	}{
		{name: "strict, valid", policy: "strict", code: exitOK, verdict: "trusted", checks: map[string]string{"expiry": "enforce passed"}},
		{name: "strict, expired", policy: "strict", at: time.Minute, code: exitNotTrusted, verdict: "notTrusted", wantErr: `(policy "strict", expiry check)`, wantHint: "the signature has expired", checks: map[string]string{"expiry": "enforce failed", "authenticTimestamp": "enforce notEvaluated"}},
		{name: "strict, expiry equal to now", policy: "strict", at: time.Second, code: exitNotTrusted, verdict: "notTrusted", wantErr: "expiry check", wantHint: "re-sign"},
		{name: "strict, one second before expiry", policy: "strict", at: 0, code: exitOK, verdict: "trusted"},
		{name: "permissive, expired", policy: "permissive", at: time.Minute, code: exitOK, verdict: "trusted", warning: `expiry was set to "log" and failed`, checks: map[string]string{"expiry": "log failed", "authenticity": "enforce passed"}},
		{name: "strict with expiry override, expired", policy: "strict-expiry-log", at: time.Minute, code: exitOK, verdict: "trusted", warning: `expiry was set to "log"`, checks: map[string]string{"expiry": "log failed", "authenticTimestamp": "enforce passed"}},
		{name: "permissive, untrusted store", policy: "permissive-untrusted", code: exitNotTrusted, verdict: "notTrusted", wantErr: "authenticity check", wantHint: "signer is not trusted", checks: map[string]string{"authenticity": "enforce failed"}},
		{name: "audit, untrusted store", policy: "audit-untrusted", code: exitOK, verdict: "trusted", warning: `authenticity was set to "log" and failed`, checks: map[string]string{"authenticity": "log failed", "expiry": "log passed"}},
		{name: "audit with authenticity override, untrusted store", policy: "audit-authenticity-enforce", code: exitNotTrusted, verdict: "notTrusted", wantErr: "authenticity check", wantHint: "signer is not trusted", checks: map[string]string{"authenticity": "enforce failed"}},
		// LVL-3: integrity and the target are enforced at every level but skip.
		{name: "audit, tampered blob", policy: "audit", file: tampered, code: exitNotTrusted, verdict: "notTrusted", wantErr: "targetArtifact check", wantHint: "belongs to other content", checks: map[string]string{"targetArtifact": "enforce failed"}},
		{name: "audit, expired", policy: "audit", at: time.Minute, code: exitOK, verdict: "trusted", warning: `expiry was set to "log"`},
		// LVL-1: skip reads no signature; the spec says success (notation
		// v2.0.0-alpha.1 panics here, docs/divergences.md).
		{name: "named statement at skip", policy: "skipped", file: tampered, code: exitOK, verdict: "skipped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cli{t: t, cfg: base.cfg, now: func() time.Time { return t0.Add(tt.at) }}
			file := tt.file
			if file == "" {
				file = blob
			}
			r := c.run("blob", "verify", "--policy-name", tt.policy, "--signature", sig, file)
			if tt.code != exitOK {
				checkFailure(t, r, tt.code, tt.wantErr, tt.wantHint)
			} else if r.code != exitOK {
				t.Fatalf("want exit 0\n%s", r)
			}
			var warnings []string
			for _, l := range strings.Split(r.stderr, "\n") {
				if strings.HasPrefix(l, "Warning: ") {
					warnings = append(warnings, l)
				}
			}
			switch {
			case tt.warning == "" && len(warnings) != 0:
				t.Errorf("unexpected warnings %q", warnings)
			case tt.warning != "" && (len(warnings) != 1 || !strings.Contains(warnings[0], tt.warning)):
				t.Errorf("warnings %q, want one containing %q", warnings, tt.warning)
			}
			switch tt.verdict {
			case "trusted":
				if !strings.Contains(r.stdout, "Successfully verified signature for "+file) || !strings.Contains(r.stdout, "policy: "+tt.policy) {
					t.Errorf("stdout:\n%s", r.stdout)
				}
			case "skipped":
				if want := `Trust policy "skipped" is configured to skip signature verification for ` + file; !strings.Contains(r.stdout, want) {
					t.Errorf("stdout %q, want %q", r.stdout, want)
				}
			}

			// The same verification as JSON.
			r = c.run("blob", "verify", "-o", "json", "--policy-name", tt.policy, "--signature", sig, file)
			if r.code != tt.code {
				t.Fatalf("-o json: exit %d, want %d\n%s", r.code, tt.code, r)
			}
			var out obj
			jsonOut(t, r, &out)
			if out["verdict"] != tt.verdict {
				t.Errorf("verdict %v, want %s", out["verdict"], tt.verdict)
			}
			sigs := field[[]any](t, out, "signatures")
			if tt.verdict == "skipped" {
				if len(sigs) != 0 {
					t.Errorf("skip evaluated signatures: %v", sigs)
				}
				return
			}
			if len(sigs) != 1 {
				t.Fatalf("signatures = %v", sigs)
			}
			byType := checkList(t, sigs[0].(obj))
			for typ, want := range tt.checks {
				c := byType[typ]
				if got := c["action"].(string) + " " + c["status"].(string); got != want {
					t.Errorf("%s check = %q, want %q (%v)", typ, got, want, c)
				}
			}
		})
	}
}

// TestSkipLevelNeedsNoSignature: a named blob statement at level skip
// verifies a file whose signature is not a Notary envelope at all (LVL-1).
func TestSkipLevelNeedsNoSignature(t *testing.T) {
	c := newCLI(t)
	c.blobPolicy(statement("skipped", "skip", nil, nil))
	dir := t.TempDir()
	blob := writeFile(t, dir, "app.bin", []byte("x"))
	sig := writeFile(t, dir, "app.bin.cose.sig", []byte("not an envelope"))
	r := c.must("blob", "verify", "-o", "json", "--policy-name", "skipped", "--signature", sig, blob)
	var out obj
	jsonOut(t, r, &out)
	if out["verdict"] != "skipped" || out["artifact"] != blob {
		t.Errorf("outcome = %v", out)
	}
	pol := field[obj](t, out, "policy")
	if pol["level"] != "skip" {
		t.Errorf("policy = %v", pol)
	}
	for typ, a := range field[obj](t, pol, "actions") {
		if a != "skip" {
			t.Errorf("action of %s at level skip = %v", typ, a)
		}
	}
	if got := keys(field[obj](t, pol, "actions")); !slices.Equal(got, []string{"authenticTimestamp", "authenticity", "expiry", "integrity", "revocation"}) {
		t.Errorf("actions = %v", got)
	}
}
