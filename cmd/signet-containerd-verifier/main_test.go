package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/internal/testsign"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/trustpolicy"
)

// envRunVerifier makes the test binary run main() instead of the tests: the
// tests run the verifier as containerd does, as a separate process with
// arguments, stdin, stdout and an exit status.
const envRunVerifier = "SIGNET_TEST_RUN_CONTAINERD_VERIFIER"

func TestMain(m *testing.M) {
	if os.Getenv(envRunVerifier) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// fixture is a registry holding, in repository app, a signed, an unsigned,
// a tampered and an untrusted image, and in repository other a signed
// image no policy statement covers; plus the configuration directory whose
// policy trusts the key for app.
type fixture struct {
	reg                                   *testregistry.Registry
	cfg                                   *testsign.Config
	signed, unsigned, tampered, untrusted ocispec.Descriptor
	otherRepo                             ocispec.Descriptor
	home                                  string
}

func newFixture(t *testing.T, reg *testregistry.Registry) *fixture {
	t.Helper()
	f := &fixture{reg: reg, home: t.TempDir()}
	f.cfg = testsign.NewConfig(t, "demo", reg.Ref("app"))
	stranger := testsign.NewConfig(t, "stranger")
	// Plain HTTP: the fixture's registries all are.
	ropts := registry.RemoteOptions{PlainHTTP: true}
	repo, _, err := registry.NewRepository(reg.Ref("app"), ropts)
	if err != nil {
		t.Fatal(err)
	}
	f.signed = testregistry.PushImage(t, repo, "signed", "signed")
	f.cfg.Sign(t, repo, f.signed.Digest.String())
	f.unsigned = testregistry.PushImage(t, repo, "unsigned", "unsigned")
	f.tampered = testregistry.PushImage(t, repo, "tampered", "tampered")
	f.cfg.SignTampered(t, repo, "tampered", f.tampered)
	f.untrusted = testregistry.PushImage(t, repo, "untrusted", "untrusted")
	stranger.Sign(t, repo, f.untrusted.Digest.String())
	other, _, err := registry.NewRepository(reg.Ref("other"), ropts)
	if err != nil {
		t.Fatal(err)
	}
	f.otherRepo = testregistry.PushImage(t, other, "other", "v1")
	f.cfg.Sign(t, other, f.otherRepo.Digest.String())
	return f
}

// result is one verifier run.
type result struct {
	stdout, stderr string
	code           int
}

// stdinFor is the descriptor JSON containerd writes (json.Encoder: a
// trailing newline).
func stdinFor(t *testing.T, d ocispec.Descriptor) []byte {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

// containerdArgs are the arguments containerd v2.4.2 passes.
func containerdArgs(name string, d ocispec.Descriptor) []string {
	return []string{"-name", name, "-digest", d.Digest.String(), "-stdin-media-type", ocispec.MediaTypeDescriptor}
}

// execVerifier runs the verifier as a process with args, stdin and env
// (added to a minimal environment: HOME and SIGNET_CACHE in temporary
// directories, so no user's Docker credentials or CRL cache are read).
func (f *fixture) exec(t *testing.T, args []string, stdin []byte, env ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append([]string{
		envRunVerifier + "=1",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + f.home,
		"SIGNET_CACHE=" + filepath.Join(f.home, "cache"),
		"SIGNET_CONFIG=" + f.cfg.Dir,
	}, env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run the verifier: %v", err)
		}
		code = ee.ExitCode()
	}
	r := result{stdout: stdout.String(), stderr: stderr.String(), code: code}
	checkReasonLine(t, r.stdout)
	return r
}

// checkReasonLine asserts the containerd contract signet keeps: stdout is
// exactly one line, at most maxReasonBytes long, that starts "signet: ".
func checkReasonLine(t *testing.T, stdout string) {
	t.Helper()
	line, rest, ok := strings.Cut(stdout, "\n")
	if !ok || rest != "" {
		t.Errorf("stdout is not exactly one line: %q", stdout)
	}
	if len(line) > maxReasonBytes {
		t.Errorf("reason is %d bytes, more than %d", len(line), maxReasonBytes)
	}
	if !strings.HasPrefix(line, "signet: ") {
		t.Errorf("reason %q does not start with \"signet: \"", line)
	}
}

type verdictCase struct {
	name     string
	image    string // -name
	desc     ocispec.Descriptor
	stdin    []byte // nil: the descriptor's JSON
	args     []string
	env      []string
	wantCode int
	want     []string // substrings of stdout
}

func (f *fixture) run(t *testing.T, c verdictCase) result {
	t.Helper()
	args := c.args
	if args == nil {
		args = containerdArgs(c.image, c.desc)
	}
	stdin := c.stdin
	if stdin == nil {
		stdin = stdinFor(t, c.desc)
	}
	r := f.exec(t, args, stdin, c.env...)
	if r.code != c.wantCode {
		t.Errorf("exit %d, want %d\nstdout: %sstderr: %s", r.code, c.wantCode, r.stdout, r.stderr)
	}
	for _, w := range c.want {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("stdout %q does not contain %q", r.stdout, w)
		}
	}
	return r
}

// TestVerdicts runs the verifier process as containerd does against a real
// registry (go-containerregistry's, with the referrers API) holding real
// signatures: the same verdicts as signet verify.
func TestVerdicts(t *testing.T) {
	f := newFixture(t, testregistry.New(t, testregistry.Options{Referrers: true}))
	app := f.reg.Ref("app")
	cases := []verdictCase{
		{name: "signed by tag", image: app + ":signed", desc: f.signed, wantCode: exitOK,
			want: []string{"signet: trusted " + app + "@" + f.signed.Digest.String(), `policy "demo" (level strict)`, `CN=demo`}},
		{name: "signed by digest", image: app + "@" + f.signed.Digest.String(), desc: f.signed, wantCode: exitOK,
			want: []string{"signet: trusted " + app + "@" + f.signed.Digest.String()}},
		{name: "signed by tag and digest", image: app + ":signed@" + f.signed.Digest.String(), desc: f.signed, wantCode: exitOK,
			want: []string{"signet: trusted "}},
		{name: "unsigned", image: app + ":unsigned", desc: f.unsigned, wantCode: exitNotTrusted,
			want: []string{"signet: not trusted " + app + "@" + f.unsigned.Digest.String(), `policy "demo"`, "no signature is associated with the image"}},
		// TS-6 style: a signature whose value was altered fails integrity.
		{name: "tampered signature", image: app + ":tampered", desc: f.tampered, wantCode: exitNotTrusted,
			want: []string{"signet: not trusted " + app + "@" + f.tampered.Digest.String(), `policy "demo"`, "integrity check failed"}},
		{name: "untrusted signer", image: app + ":untrusted", desc: f.untrusted, wantCode: exitNotTrusted,
			want: []string{"signet: not trusted " + app + "@" + f.untrusted.Digest.String(), `policy "demo"`, "authenticity check failed"}},
		{name: "no policy statement for the repository", image: f.reg.Ref("other:v1"), desc: f.otherRepo, wantCode: exitNotTrusted,
			want: []string{"signet: not trusted " + f.reg.Ref("other"), "no trust policy statement", "applies to repository " + f.reg.Ref("other")}},
		{name: "digest unknown to the registry", image: app + ":gone", desc: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + strings.Repeat("ab", 32)), Size: 10}, wantCode: exitIO,
			want: []string{"signet: refused " + app + "@sha256:abab", "cannot reach a verdict"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { f.run(t, c) })
	}
}

// TestBadInputRefused: whatever containerd (or anything else) passes that
// does not follow the bindir contract blocks the pull, with exit code 2.
func TestBadInputRefused(t *testing.T) {
	f := newFixture(t, testregistry.New(t, testregistry.Options{Referrers: true}))
	app := f.reg.Ref("app")
	good := stdinFor(t, f.signed)
	dg := f.signed.Digest.String()
	other := f.unsigned.Digest.String()
	cases := []verdictCase{
		{name: "empty stdin", stdin: []byte{}, want: []string{"no descriptor on stdin"}},
		{name: "stdin not JSON", stdin: []byte("hello\n"), want: []string{"not one JSON object"}},
		{name: "stdin a JSON array", stdin: []byte("[1]\n"), want: []string{"not one JSON object"}},
		{name: "two descriptors", stdin: append(append([]byte{}, good...), good...), want: []string{"not one JSON object"}},
		{name: "duplicate digest member", stdin: []byte(`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + other + `","digest":"` + dg + `","size":1}`), want: []string{"not one JSON object"}},
		{name: "descriptor for another digest", stdin: stdinFor(t, f.unsigned), want: []string{"has digest " + other + " but -digest is " + dg}},
		{name: "descriptor without media type", stdin: []byte(`{"digest":"` + dg + `","size":1}`), want: []string{"no mediaType"}},
		{name: "descriptor with a bad digest", stdin: []byte(`{"mediaType":"a/b","digest":"sha256:xyz","size":1}`), want: []string{`digest "sha256:xyz"`}},
		{name: "descriptor with a negative size", stdin: []byte(`{"mediaType":"a/b","digest":"` + dg + `","size":-1}`), want: []string{"size -1"}},
		{name: "descriptor too large", stdin: append([]byte(`{"mediaType":"a/b","digest":"`+dg+`","size":1,"annotations":{"x":"`), append(bytes.Repeat([]byte("a"), maxDescriptorBytes), `"}}`...)...), want: []string{"larger than 65536 bytes"}},
		{name: "other stdin media type", args: []string{"-name", app + ":signed", "-digest", dg, "-stdin-media-type", "application/json"}, want: []string{`"application/json" is not application/vnd.oci.descriptor.v1+json`}},
		{name: "missing -name", args: []string{"-digest", dg, "-stdin-media-type", ocispec.MediaTypeDescriptor}, want: []string{"-name, -digest and -stdin-media-type are required"}},
		{name: "unknown flag", args: append(containerdArgs(app+":signed", f.signed), "-future-flag", "x"), want: []string{"flag provided but not defined: -future-flag"}},
		{name: "extra argument", args: append(containerdArgs(app+":signed", f.signed), "extra"), want: []string{`unexpected arguments ["extra"]`}},
		{name: "bad -digest", args: []string{"-name", app + ":signed", "-digest", "md5:00", "-stdin-media-type", ocispec.MediaTypeDescriptor}, want: []string{`-digest "md5:00"`}},
		{name: "name pins another digest", image: app + "@" + other, want: []string{"pins digest " + other + " but -digest is " + dg}},
		{name: "name without registry", image: "app:signed", want: []string{`the name "app:signed" has no registry`}},
		{name: "invalid repository name", image: f.reg.Host + "/App/UPPER:v1", want: []string{"invalid reference"}},
		{name: "bad timeout variable", image: app + ":signed", env: []string{envTimeout + "=soon"}, want: []string{`$SIGNET_VERIFIER_TIMEOUT="soon"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.image == "" {
				c.image = app + ":signed"
			}
			c.desc = f.signed
			c.wantCode = exitUsage
			c.want = append(c.want, "signet: refused")
			f.run(t, c)
		})
	}
}

// TestConfiguration: where the trust policy comes from, and what happens
// when it is missing or names nothing usable.
func TestConfiguration(t *testing.T) {
	f := newFixture(t, testregistry.New(t, testregistry.Options{Referrers: true}))
	app := f.reg.Ref("app")
	empty := t.TempDir()

	t.Run("no configuration directory", func(t *testing.T) {
		f.run(t, verdictCase{image: app + ":signed", desc: f.signed, env: []string{"SIGNET_CONFIG=" + filepath.Join(empty, "none")},
			wantCode: exitUsage, want: []string{"signet: refused", "trust policy is not present"}})
	})
	t.Run("-config wins over SIGNET_CONFIG", func(t *testing.T) {
		args := append(containerdArgs(app+":signed", f.signed), "-config", f.cfg.Dir)
		f.run(t, verdictCase{args: args, desc: f.signed, env: []string{"SIGNET_CONFIG=" + empty}, wantCode: exitOK, want: []string{"signet: trusted"}})
	})
	t.Run("invalid trust policy", func(t *testing.T) {
		bad := testsign.NewConfig(t, "bad")
		if err := os.WriteFile(filepath.Join(bad.Dir, "trustpolicy.oci.json"), []byte(`{"version":"1.0","trustPolicies":[{"name":"x"}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		f.run(t, verdictCase{image: app + ":signed", desc: f.signed, env: []string{"SIGNET_CONFIG=" + bad.Dir},
			wantCode: exitUsage, want: []string{"signet: refused", `trust policy statement "x": signatureVerification.level: level is missing`}})
	})
	// TS-6: a trust store the statement names that does not exist is
	// invalid configuration, refused before any signature is looked at.
	t.Run("trust store missing", func(t *testing.T) {
		dir := testsign.NewConfig(t, "nostore").Dir
		policy := `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["` + app + `"],"signatureVerification":{"level":"strict"},"trustStores":["ca:absent"],"trustedIdentities":["*"]}]}`
		if err := os.WriteFile(filepath.Join(dir, "trustpolicy.oci.json"), []byte(policy), 0o600); err != nil {
			t.Fatal(err)
		}
		f.run(t, verdictCase{image: app + ":signed", desc: f.signed, env: []string{"SIGNET_CONFIG=" + dir},
			wantCode: exitUsage, want: []string{"signet: refused", "invalid configuration in " + dir, `trust policy statement "p"`, `"ca:absent"`}})
	})
	t.Run("skip level allows unsigned", func(t *testing.T) {
		skip := testsign.NewConfig(t, "skip")
		skip.WritePolicy(t, trustpolicy.LevelSkip, app)
		f.run(t, verdictCase{image: app + ":unsigned", desc: f.unsigned, env: []string{"SIGNET_CONFIG=" + skip.Dir},
			wantCode: exitOK, want: []string{"signet: allowed " + app + "@" + f.unsigned.Digest.String(), `trust policy "skip" skips signature verification`}})
	})
	t.Run("audit level allows an untrusted signer with a warning", func(t *testing.T) {
		audit := testsign.NewConfig(t, "demo2")
		audit.WritePolicy(t, trustpolicy.LevelAudit, app)
		// The image is signed by "demo", which demo2's store does not hold:
		// audit logs authenticity failures and allows.
		f.run(t, verdictCase{image: app + ":signed", desc: f.signed, env: []string{"SIGNET_CONFIG=" + audit.Dir},
			wantCode: exitOK, want: []string{"signet: trusted", "warning: authenticity check failed"}})
	})
}

// TestRegistryFailuresRefuse: a registry that is down or too slow blocks
// the pull with signet's reason, inside -timeout.
func TestRegistryFailuresRefuse(t *testing.T) {
	f := newFixture(t, testregistry.New(t, testregistry.Options{Referrers: true}))

	t.Run("registry down", func(t *testing.T) {
		// Port 1 on loopback: connections are refused.
		img := "127.0.0.1:1/app:v1"
		f.run(t, verdictCase{image: img, desc: f.signed, env: []string{"SIGNET_CONFIG=" + testsign.NewConfig(t, "x", "127.0.0.1:1/app").Dir},
			wantCode: exitIO, want: []string{"signet: refused 127.0.0.1:1/app@" + f.signed.Digest.String(), "cannot reach a verdict"}})
	})

	t.Run("registry slower than -timeout", func(t *testing.T) {
		slow := testregistry.New(t, testregistry.Options{Middleware: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(5 * time.Second):
				case <-r.Context().Done():
					return
				}
				h.ServeHTTP(w, r)
			})
		}})
		cfg := testsign.NewConfig(t, "slow", slow.Ref("app"))
		start := time.Now()
		args := append(containerdArgs(slow.Ref("app:v1"), f.signed), "-timeout", "300ms")
		f.run(t, verdictCase{args: args, desc: f.signed, env: []string{"SIGNET_CONFIG=" + cfg.Dir},
			wantCode: exitIO, want: []string{"signet: refused " + slow.Ref("app") + "@", "did not finish within 300ms"}})
		// Not a timing assertion: the registry answers after 5 s, so an
		// answer before that shows the timeout, not the registry, ended it.
		if d := time.Since(start); d >= 5*time.Second {
			t.Errorf("the verifier took %s: the timeout did not end it", d)
		}
	})
}

// TestDistributionRegistry: the same verdicts against the CNCF distribution
// registry, which has no referrers API (signatures found through the
// referrers tag schema).
func TestDistributionRegistry(t *testing.T) {
	f := newFixture(t, testregistry.Distribution(t, testregistry.DistributionOptions{}))
	app := f.reg.Ref("app")
	for _, c := range []verdictCase{
		{name: "signed", image: app + ":signed", desc: f.signed, wantCode: exitOK, want: []string{"signet: trusted " + app}},
		{name: "unsigned", image: app + ":unsigned", desc: f.unsigned, wantCode: exitNotTrusted, want: []string{"no signature is associated with the image"}},
		{name: "tampered", image: app + ":tampered", desc: f.tampered, wantCode: exitNotTrusted, want: []string{"integrity check failed"}},
		{name: "untrusted", image: app + ":untrusted", desc: f.untrusted, wantCode: exitNotTrusted, want: []string{"authenticity check failed"}},
	} {
		t.Run(c.name, func(t *testing.T) { f.run(t, c) })
	}
}

// TestInsecureRegistrySources: a registry that is not loopback by name
// (127.0.0.1, ::1 and localhost always get plain HTTP) is reached over
// plain HTTP only when -insecure-registry, $SIGNET_INSECURE_REGISTRIES or
// config.json's insecureRegistries names it; otherwise the verifier speaks
// HTTPS to it, fails, and refuses. The registry listens on 127.0.0.2, which
// stands in for a remote host.
func TestInsecureRegistrySources(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 here: %v", err)
	}
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true), ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	reg := &testregistry.Registry{Host: l.Addr().String(), URL: srv.URL}
	f := newFixture(t, reg)
	image := reg.Ref("app:signed")
	withConfigJSON := filepath.Join(t.TempDir(), "config")
	if err := os.CopyFS(withConfigJSON, os.DirFS(f.cfg.Dir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(withConfigJSON, "config.json"), []byte(`{"insecureRegistries":["`+reg.Host+`"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []verdictCase{
		{name: "not named: HTTPS fails", wantCode: exitIO, want: []string{"signet: refused " + reg.Ref("app"), "cannot reach a verdict"}},
		{name: "-insecure-registry", args: append(containerdArgs(image, f.signed), "-insecure-registry", reg.Host), wantCode: exitOK, want: []string{"signet: trusted"}},
		{name: "SIGNET_INSECURE_REGISTRIES", env: []string{envInsecureRegistries + "=other.example:5000, " + reg.Host}, wantCode: exitOK, want: []string{"signet: trusted"}},
		{name: "config.json insecureRegistries", env: []string{"SIGNET_CONFIG=" + withConfigJSON}, wantCode: exitOK, want: []string{"signet: trusted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.image, c.desc = image, f.signed
			f.run(t, c)
		})
	}
}

// TestInProcessPanicIsRefusal: a panic anywhere in the verifier (here, in
// the stdin reader) is a refusal with a reason, not a crash.
func TestInProcessPanicIsRefusal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest("sha256:" + strings.Repeat("0", 64)), Size: 1}
	code := run(context.Background(), containerdArgs("example.com/app:v1", d), panicReader{}, &stdout, &stderr, func(string) string { return "" })
	if code == exitOK {
		t.Fatalf("exit 0 after a panic: %s", stdout.String())
	}
	checkReasonLine(t, stdout.String())
	if !strings.Contains(stdout.String(), "boom") {
		t.Errorf("reason %q does not say what happened", stdout.String())
	}
}

type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{name: "plain", in: "a b", want: "a b"},
		{name: "newlines and tabs", in: "a\nb\r\tc", want: "a b  c"},
		{name: "invalid UTF-8", in: "a\xffb", want: "a?b"},
		{name: "long ASCII", in: strings.Repeat("x", maxReasonBytes+10), want: strings.Repeat("x", maxReasonBytes-3) + "..."},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := oneLine(c.in); got != c.want {
				t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
	long := oneLine(strings.Repeat("é", maxReasonBytes))
	if len(long) > maxReasonBytes || !strings.HasSuffix(long, "...") || strings.ContainsRune(long, '\uFFFD') {
		t.Errorf("a long multi-byte line was cut badly: %d bytes, %q", len(long), long[len(long)-8:])
	}
}

func TestImageRepository(t *testing.T) {
	dg := "sha256:" + strings.Repeat("0", 64)
	for _, c := range []struct {
		name, in, want string
		ok             bool
	}{
		{name: "tag", in: "reg.example:5000/a/b:v1", want: "reg.example:5000/a/b", ok: true},
		{name: "no tag", in: "reg.example/a/b", want: "reg.example/a/b", ok: true},
		{name: "digest", in: "reg.example/a@" + dg, want: "reg.example/a", ok: true},
		{name: "tag and digest", in: "reg.example/a:v1@" + dg, want: "reg.example/a", ok: true},
		{name: "docker hub", in: "docker.io/library/busybox:latest", want: "docker.io/library/busybox", ok: true},
		{name: "other digest", in: "reg.example/a@sha256:" + strings.Repeat("1", 64)},
		{name: "no registry", in: "busybox:latest"},
		{name: "empty", in: ""},
		{name: "too long", in: "reg.example/" + strings.Repeat("a", maxNameBytes)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := imageRepository(c.in, digest.Digest(dg))
			if c.ok != (err == nil) || got != c.want {
				t.Errorf("imageRepository(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
			}
		})
	}
}

// TestNotationSignatures: images signed by notation v1.3.2 (JWS and COSE),
// with notation's own configuration directory (its test key's trust store
// and a trust policy imported with notation policy import), are trusted by
// the verifier given that directory; an unsigned image in the same
// repository is not. On both registries: referrers API and tag schema.
func TestNotationSignatures(t *testing.T) {
	notation := peer.Notation(t)
	for _, rc := range []struct {
		name string
		reg  func(t *testing.T) *testregistry.Registry
	}{
		{name: "go-containerregistry with referrers API", reg: func(t *testing.T) *testregistry.Registry {
			return testregistry.New(t, testregistry.Options{Referrers: true})
		}},
		{name: "distribution v3", reg: func(t *testing.T) *testregistry.Registry {
			return testregistry.Distribution(t, testregistry.DistributionOptions{})
		}},
	} {
		t.Run(rc.name, func(t *testing.T) {
			reg := rc.reg(t)
			xdg := t.TempDir()
			env := []string{"HOME=" + xdg, "XDG_CONFIG_HOME=" + xdg, "XDG_CACHE_HOME=" + filepath.Join(xdg, "cache")}
			notate := func(args ...string) {
				t.Helper()
				if stdout, stderr, err := peer.Run(t, notation, env, args...); err != nil {
					t.Fatalf("notation %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
				}
			}
			notate("cert", "generate-test", "--default", "nkey")
			policy := `{"version":"1.0","trustPolicies":[{"name":"from-notation","registryScopes":["` + reg.Ref("app") + `"],` +
				`"signatureVerification":{"level":"strict"},"trustStores":["ca:nkey"],"trustedIdentities":["x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=nkey"]}]}`
			policyFile := filepath.Join(xdg, "policy.json")
			if err := os.WriteFile(policyFile, []byte(policy), 0o600); err != nil {
				t.Fatal(err)
			}
			notate("policy", "import", "--force", policyFile)

			repo, _, err := registry.NewRepository(reg.Ref("app"), registry.RemoteOptions{PlainHTTP: true})
			if err != nil {
				t.Fatal(err)
			}
			jws := testregistry.PushImage(t, repo, "jws", "jws")
			cose := testregistry.PushImage(t, repo, "cose", "cose")
			unsigned := testregistry.PushImage(t, repo, "unsigned", "unsigned")
			notate("sign", "--insecure-registry", "--signature-format", "jws", reg.Ref("app@"+jws.Digest.String()))
			notate("sign", "--insecure-registry", "--signature-format", "cose", reg.Ref("app@"+cose.Digest.String()))

			f := &fixture{reg: reg, home: t.TempDir(), cfg: &testsign.Config{Dir: filepath.Join(xdg, "notation")}}
			for _, c := range []verdictCase{
				{name: "notation JWS signature", image: reg.Ref("app:jws"), desc: jws, wantCode: exitOK,
					want: []string{"signet: trusted " + reg.Ref("app") + "@" + jws.Digest.String(), `policy "from-notation"`, "CN=nkey"}},
				{name: "notation COSE signature", image: reg.Ref("app:cose"), desc: cose, wantCode: exitOK,
					want: []string{"signet: trusted " + reg.Ref("app") + "@" + cose.Digest.String()}},
				{name: "unsigned", image: reg.Ref("app:unsigned"), desc: unsigned, wantCode: exitNotTrusted,
					want: []string{"no signature is associated with the image"}},
			} {
				t.Run(c.name, func(t *testing.T) { f.run(t, c) })
			}
		})
	}
}

// TestTagBinding: under a "signet/v1" statement with tagBinding, a pull by
// tag needs a trusted signature binding that tag (signet sign --bind-tag);
// a pull by digest is verified as before; a tag that the registry resolves
// to another digest than containerd's is refused (docs/policy-extensions.md).
func TestTagBinding(t *testing.T) {
	reg := testregistry.New(t, testregistry.Options{Referrers: true})
	cfg := testsign.NewConfig(t, "demo")
	policy := `{"version":"signet/v1","trustPolicies":[{"name":"bound","registryScopes":["` + reg.Ref("app") + `"],` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:demo"],"trustedIdentities":["` + cfg.Identity() + `"],"tagBinding":{"maxAge":"7d"}}]}`
	if err := os.WriteFile(filepath.Join(cfg.Dir, "trustpolicy.oci.json"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	repo, _, err := registry.NewRepository(reg.Ref("app"), registry.RemoteOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	bound := testregistry.PushImage(t, repo, "bound", "bound")
	if _, err := signet.SignOCI(context.Background(), repo, "bound", signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: cfg.Signer}, BindTag: true}); err != nil {
		t.Fatal(err)
	}
	unbound := testregistry.PushImage(t, repo, "unbound", "unbound")
	cfg.Sign(t, repo, "unbound")

	f := &fixture{reg: reg, home: t.TempDir(), cfg: cfg}
	for _, c := range []verdictCase{
		{name: "pull by a bound tag", image: reg.Ref("app:bound"), desc: bound, wantCode: exitOK,
			want: []string{"signet: trusted " + reg.Ref("app") + "@" + bound.Digest.String(), `policy "bound"`}},
		{name: "pull by a tag no signature binds", image: reg.Ref("app:unbound"), desc: unbound, wantCode: exitNotTrusted,
			want: []string{"signet: not trusted " + reg.Ref("app") + "@" + unbound.Digest.String(), `policy "bound"`, `binds tag "unbound"`}},
		{name: "pull by digest", image: reg.Ref("app@" + unbound.Digest.String()), desc: unbound, wantCode: exitOK,
			want: []string{"signet: trusted " + reg.Ref("app") + "@" + unbound.Digest.String()}},
		{name: "tag moved since containerd resolved it", image: reg.Ref("app:bound"), desc: unbound, wantCode: exitIO,
			want: []string{"signet: refused", `the tag "bound" now names ` + bound.Digest.String() + ", not " + unbound.Digest.String()}},
	} {
		t.Run(c.name, func(t *testing.T) { f.run(t, c) })
	}
	if _, err := os.Stat(filepath.Join(f.home, "cache", "tagbinding")); err != nil {
		t.Errorf("no tag binding state in $SIGNET_CACHE/tagbinding: %v", err)
	}
}

func TestImageTag(t *testing.T) {
	dg := "sha256:" + strings.Repeat("0", 64)
	for _, c := range []struct{ name, in, want string }{
		{name: "tag", in: "reg.example:5000/a/b:v1", want: "v1"},
		{name: "no tag", in: "reg.example:5000/a/b", want: ""},
		{name: "digest", in: "reg.example/a@" + dg, want: ""},
		{name: "tag and digest: the digest is pulled", in: "reg.example/a:v1@" + dg, want: ""},
		{name: "no slash", in: "a:v1", want: ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := imageTag(c.in); got != c.want {
				t.Errorf("imageTag(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
