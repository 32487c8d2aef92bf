package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/internal/exitcode"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// Exit codes: signet's (docs/exit-codes.md). containerd blocks the pull on
// any of them but exitOK.
const (
	exitOK         = exitcode.OK
	exitNotTrusted = exitcode.NotTrusted
	exitUsage      = exitcode.Usage
	exitIO         = exitcode.IO
)

// Environment variables read (docs/containerd.md). The signet library's own
// (SIGNET_CACHE, SIGNET_LIBEXEC, DOCKER_CONFIG, HOME) apply as for signet.
const (
	envConfig             = config.EnvConfig // configuration directory
	envInsecureRegistries = "SIGNET_INSECURE_REGISTRIES"
	envTimeout            = "SIGNET_VERIFIER_TIMEOUT"
	envCAFile             = "SIGNET_REGISTRY_CA_FILE"
	envLibexec            = "SIGNET_LIBEXEC"
)

// defaultConfigDir is the configuration directory when neither -config nor
// $SIGNET_CONFIG names one: a node-wide directory, since containerd runs
// as a system service.
const defaultConfigDir = "/etc/signet"

// defaultTimeout bounds one whole verification. It is below containerd's
// default per_verifier_timeout (10 s) so that a slow registry yields
// signet's reason rather than containerd's "failed to call verifier".
const defaultTimeout = 8 * time.Second

// maxReasonBytes bounds the reason line printed on stdout; containerd keeps
// at most 32 KiB of it and puts it into an error message.
const maxReasonBytes = 2048

// descriptorMediaType is the only stdin media type this verifier reads
// (containerd v2.4.2 passes it).
const descriptorMediaType = ocispec.MediaTypeDescriptor

// options are the parsed flags and environment.
type options struct {
	name, digest, mediaType string
	configDir               string
	insecure                []string
	timeout                 time.Duration
	caFile                  string
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseArgs parses the command line and the environment.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fl := flag.NewFlagSet("signet-containerd-verifier", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&o.name, "name", "", "image reference being pulled (containerd passes it)")
	fl.StringVar(&o.digest, "digest", "", "resolved digest of the image (containerd passes it)")
	fl.StringVar(&o.mediaType, "stdin-media-type", "", "media type of stdin: "+descriptorMediaType)
	fl.StringVar(&o.configDir, "config", "", "configuration directory with the trust policy and trust store (default $"+envConfig+", else "+defaultConfigDir+")")
	var insecure stringList
	fl.Var(&insecure, "insecure-registry", "registry HOST[:PORT] reached over plain HTTP (repeatable; also $"+envInsecureRegistries+", comma-separated)")
	fl.DurationVar(&o.timeout, "timeout", 0, fmt.Sprintf("time allowed for the whole verification (default $%s, else %s)", envTimeout, defaultTimeout))
	fl.StringVar(&o.caFile, "ca-file", "", "PEM bundle of extra CA certificates for registry TLS (default $"+envCAFile+")")
	if err := fl.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadInput, err)
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", errBadInput, fl.Args())
	}
	if o.name == "" || o.digest == "" || o.mediaType == "" {
		return nil, fmt.Errorf("%w: -name, -digest and -stdin-media-type are required (containerd's bindir verifier contract)", errBadInput)
	}
	if o.mediaType != descriptorMediaType {
		return nil, fmt.Errorf("%w: stdin media type %q is not %s, the only one this verifier reads", errBadInput, o.mediaType, descriptorMediaType)
	}
	if o.configDir == "" {
		o.configDir = getenv(envConfig)
	}
	if o.configDir == "" {
		o.configDir = defaultConfigDir
	}
	if abs, err := filepath.Abs(o.configDir); err == nil {
		o.configDir = abs
	}
	o.insecure = insecure
	for _, h := range strings.FieldsFunc(getenv(envInsecureRegistries), func(r rune) bool { return r == ',' || r == ' ' }) {
		o.insecure = append(o.insecure, h)
	}
	if o.timeout == 0 {
		if v := getenv(envTimeout); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("%w: $%s=%q: %v", errBadInput, envTimeout, v, err)
			}
			o.timeout = d
		}
	}
	if o.timeout == 0 {
		o.timeout = defaultTimeout
	}
	if o.timeout < 0 {
		return nil, fmt.Errorf("%w: timeout %s is negative", errBadInput, o.timeout)
	}
	if o.caFile == "" {
		o.caFile = getenv(envCAFile)
	}
	return o, nil
}

// run is the whole verifier: it prints one reason line on stdout and
// returns the exit code. Details (each check of each signature) go to
// stderr, which containerd logs at debug level.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	image := "the image"
	defer func() {
		// Fail closed, never with a stack trace in containerd's reason.
		if r := recover(); r != nil {
			fmt.Fprintln(stdout, oneLine(fmt.Sprintf("signet: refused %s: internal error: %v", image, r)))
			code = exitUsage
		}
	}()
	o, err := parseArgs(args, getenv, stderr)
	if err != nil {
		fmt.Fprintln(stdout, oneLine("signet: refused: "+err.Error()))
		return exitUsage
	}
	image = o.name
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out, scope, err := verify(ctx, o, stdin, getenv, logger)
	if err == nil {
		fmt.Fprintln(stdout, oneLine(allowed(scope, out)))
		return exitOK
	}
	if out != nil {
		printChecks(stderr, out)
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		fmt.Fprintln(stdout, oneLine(fmt.Sprintf("signet: refused %s@%s: verification did not finish within %s (-timeout): %v", scopeOr(scope, o.name), o.digest, o.timeout, err)))
		return exitIO
	}
	fmt.Fprintln(stdout, oneLine(refused(o, scope, out, err)))
	return classify(err)
}

// verify checks the input and verifies scope@digest. scope is the
// repository (REGISTRY/REPOSITORY) once known.
func verify(ctx context.Context, o *options, stdin io.Reader, getenv func(string) string, logger *slog.Logger) (out *signet.Outcome, scope string, err error) {
	dgst, err := digest.Parse(o.digest)
	if err != nil {
		return nil, "", fmt.Errorf("%w: -digest %q: %v", errBadInput, o.digest, err)
	}
	scope, err = imageRepository(o.name, dgst)
	if err != nil {
		return nil, "", err
	}
	desc, err := readDescriptor(ctx, stdin)
	if err != nil {
		return nil, scope, err
	}
	if desc.Digest != dgst {
		return nil, scope, fmt.Errorf("%w: the descriptor on stdin has digest %s but -digest is %s", errBadInput, desc.Digest, dgst)
	}

	dir := config.Dir{Path: o.configDir}
	policy, _, err := trustpolicy.LoadOCI(dir.Path)
	if err != nil {
		return nil, scope, fmt.Errorf("configuration %s: %w", dir.Path, err)
	}
	cfg, err := dir.LoadConfig()
	if err != nil {
		return nil, scope, fmt.Errorf("configuration %s: %w", dir.Path, err)
	}
	creds, err := credentialStore(getenv)
	if err != nil {
		return nil, scope, err
	}
	ropts := registry.RemoteOptions{
		InsecureRegistries: append(append([]string{}, o.insecure...), cfg.InsecureRegistries...),
		CAFile:             o.caFile,
		Credentials:        creds,
		Timeout:            o.timeout,
		UserAgent:          "signet-containerd-verifier/" + signet.Version,
		Logger:             logger,
	}
	repo, _, err := registry.NewRepository(fetchRepository(scope)+"@"+dgst.String(), ropts)
	if err != nil {
		if errors.Is(err, registry.ErrCAFile) {
			return nil, scope, fmt.Errorf("%w: %w", errConfig, err)
		}
		return nil, scope, fmt.Errorf("%w: %w", errBadInput, err)
	}
	// A pull by tag is verified as the tag when the statement binds tags
	// (signet/v1 tagBinding): the tag must be bound to the digest by a
	// fresh trusted signature, and is never rolled back. Otherwise, and
	// for pulls by digest, the digest containerd resolved is verified.
	reference := dgst.String()
	tag := imageTag(o.name)
	if stmt, err := policy.Match(scope); err == nil && tag != "" && stmt.TagBinding != nil {
		reference = tag
	}
	var tagState signet.TagBindingState
	if cache, err := config.ResolveCacheDir(getenv); err == nil {
		tagState = &signet.FileTagBindings{Dir: filepath.Join(cache, "tagbinding")}
	}
	v := &verifier.Verifier{
		Store:      truststore.NewCache(truststore.NewFileStore(dir.TrustStore(), logger)),
		Logger:     logger,
		Revocation: revocationValidator(getenv, logger),
		Plugins:    &plugin.Manager{Dir: pluginDir(dir, getenv)},
	}
	out, err = signet.VerifyOCI(ctx, repo, reference, signet.VerifyOCIOptions{Policy: policy, Verifier: v, Scope: scope, TagBindings: tagState})
	if out != nil && out.Artifact != dgst.String() {
		// The tag moved between containerd's resolution and ours: the
		// verdict is about other content.
		return nil, scope, fmt.Errorf("%w: the tag %q now names %s, not %s, the digest containerd is pulling: pull again", errTagMoved, tag, out.Artifact, dgst)
	}
	return out, scope, err
}

// errConfig marks a configuration the verifier cannot use.
var errConfig = errors.New("invalid configuration")

// errTagMoved marks a tag that the registry resolved to another digest
// than containerd did: a race with a push, worth a retry.
var errTagMoved = errors.New("the tag moved during verification")

// readDescriptor parses stdin, giving up when ctx ends (containerd writes
// stdin from another goroutine and closes it; a writer that never closes
// must not hold the pull past the timeout).
func readDescriptor(ctx context.Context, stdin io.Reader) (ocispec.Descriptor, error) {
	type result struct {
		d   ocispec.Descriptor
		err error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("%w: read the descriptor from stdin: %v", errBadInput, r)}
			}
		}()
		d, err := parseDescriptor(stdin)
		ch <- result{d, err}
	}()
	select {
	case r := <-ch:
		return r.d, r.err
	case <-ctx.Done():
		return ocispec.Descriptor{}, fmt.Errorf("read the descriptor from stdin: %w", ctx.Err())
	}
}

// fetchRepository is where scope's content is fetched from: Docker Hub's
// registry name docker.io is served by registry-1.docker.io (as containerd
// and docker resolve it); the trust policy scope stays docker.io/....
func fetchRepository(scope string) string {
	if rest, ok := strings.CutPrefix(scope, "docker.io/"); ok {
		return "registry-1.docker.io/" + rest
	}
	return scope
}

// credentialStore opens the Docker credential store
// ($DOCKER_CONFIG/config.json, else $HOME/.docker/config.json); none when
// neither variable is set (a service without HOME pulls anonymously).
func credentialStore(getenv func(string) string) (credentials.Store, error) {
	var path string
	if d := getenv("DOCKER_CONFIG"); d != "" {
		path = filepath.Join(d, "config.json")
	} else if h := getenv("HOME"); h != "" {
		path = filepath.Join(h, ".docker", "config.json")
	} else {
		return nil, nil
	}
	s, err := registry.OpenCredentialStore(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return s, nil
}

// revocationValidator checks OCSP and CRLs as signet verify does, with the
// CRL cache in {CACHE}/crl when a cache directory resolves.
func revocationValidator(getenv func(string) string, logger *slog.Logger) *revocation.Validator {
	v := &revocation.Validator{OCSPCache: &revocation.OCSPCache{}, Logger: logger}
	if dir, err := config.ResolveCacheDir(getenv); err == nil {
		v.Cache = &revocation.FileCache{Dir: filepath.Join(dir, "crl")}
	}
	return v
}

// pluginDir is $SIGNET_LIBEXEC/plugins when set, else {CONFIG}/plugins, as
// for signet.
func pluginDir(dir config.Dir, getenv func(string) string) string {
	if l := getenv(envLibexec); l != "" {
		return filepath.Join(l, "plugins")
	}
	return dir.Plugins()
}

// classify maps an error to signet's exit codes: the verifier's own
// errors first, then the library's as signet classifies them.
func classify(err error) int {
	switch {
	case errors.Is(err, errBadInput), errors.Is(err, errConfig):
		return exitUsage
	case errors.Is(err, errTagMoved):
		return exitIO
	}
	return exitcode.Of(err)
}

// allowed is the reason line of an allowed pull.
func allowed(scope string, out *signet.Outcome) string {
	what := scope + "@" + out.Artifact
	if out.Verdict == signet.VerdictSkipped {
		return fmt.Sprintf("signet: allowed %s: trust policy %q skips signature verification", what, out.Policy.Name)
	}
	s, ok := out.Trusted()
	if !ok {
		return fmt.Sprintf("signet: allowed %s: policy %q (level %s)", what, out.Policy.Name, out.Policy.Level)
	}
	line := fmt.Sprintf("signet: trusted %s: policy %q (level %s), signer %q", what, out.Policy.Name, out.Policy.Level, s.Signer)
	if ws := s.Result().Warnings(); len(ws) > 0 {
		line += fmt.Sprintf("; warning: %s check failed (%s): %s", ws[0].Type, ws[0].Action, ws[0].Reason)
	}
	return line
}

// refused is the reason line of a blocked pull: the image, the policy and
// the failing check.
func refused(o *options, scope string, out *signet.Outcome, err error) string {
	what := scopeOr(scope, o.name) + "@" + o.digest
	switch {
	case errors.Is(err, errBadInput):
		return fmt.Sprintf("signet: refused %s: %v", what, err)
	case errors.Is(err, trustpolicy.ErrPolicyNotFound), errors.Is(err, trustpolicy.ErrInvalidPolicy), errors.Is(err, errConfig):
		return fmt.Sprintf("signet: refused %s: %v", what, err)
	case errors.Is(err, verifier.ErrTrustStore):
		return fmt.Sprintf("signet: refused %s: invalid configuration in %s: %v", what, o.configDir, err)
	case errors.Is(err, trustpolicy.ErrNoApplicablePolicy):
		return fmt.Sprintf("signet: not trusted %s: no trust policy statement in %s applies to repository %s", what, o.configDir, scope)
	}
	if out != nil {
		policy := fmt.Sprintf("policy %q", out.Policy.Name)
		if errors.Is(err, signet.ErrNoSignature) && len(out.Signatures) == 0 {
			return fmt.Sprintf("signet: not trusted %s: %s: no signature is associated with the image", what, policy)
		}
		if out.Reason != "" {
			// The signature limit, or signet/v1 requirements
			// (minSignatures, counterSignatures, tagBinding).
			line := fmt.Sprintf("signet: not trusted %s: %s: %s", what, policy, out.Reason)
			if len(out.Signatures) > 0 {
				if c, ok := out.Signatures[0].Result().FailedCheck(); ok {
					line += fmt.Sprintf("; first signature: %s check failed: %s", c.Type, c.Reason)
				}
			}
			return line
		}
		if len(out.Signatures) > 0 {
			if c, ok := out.Signatures[0].Result().FailedCheck(); ok {
				return fmt.Sprintf("signet: not trusted %s: %s: %s check failed: %s", what, policy, c.Type, c.Reason)
			}
			return fmt.Sprintf("signet: not trusted %s: %s: %s", what, policy, out.Signatures[0].Error)
		}
	}
	if errors.Is(err, signet.ErrIO) {
		return fmt.Sprintf("signet: refused %s: cannot reach a verdict: %v", what, err)
	}
	return fmt.Sprintf("signet: refused %s: %v", what, err)
}

func scopeOr(scope, name string) string {
	if scope != "" {
		return scope
	}
	return name
}

// printChecks writes every check of every signature evaluated to w.
func printChecks(w io.Writer, out *signet.Outcome) {
	for i, s := range out.Signatures {
		name := s.Source
		if name == "" {
			name = fmt.Sprintf("signature %d", i+1)
		}
		fmt.Fprintf(w, "%s: not verified (policy %q)\n", name, out.Policy.Name)
		for _, c := range s.Checks {
			line := fmt.Sprintf("  %-19s %-12s %s", c.Type, c.Status, c.Action)
			if c.Reason != "" && c.Status != verifier.StatusNotEvaluated {
				line += ": " + c.Reason
			}
			fmt.Fprintln(w, line)
		}
	}
}

// oneLine makes s one line of at most maxReasonBytes: control characters
// (newlines included) become spaces, and a longer line is cut at a rune
// boundary with "...".
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes - len("...")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
