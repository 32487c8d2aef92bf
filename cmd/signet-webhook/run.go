package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/admission"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/revocation"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// shutdownGrace is how long in-flight reviews may run after SIGTERM; above
// the longest --timeout a webhook configuration allows (10 s... plus the
// response).
const shutdownGrace = 15 * time.Second

type options struct {
	addr               string
	certFile, keyFile  string
	configDir          string
	policySets         []string
	insecureRegistries []string
	timeout            time.Duration
	cacheTTL           time.Duration
	maxPerRegistry     int
	kubeconfig         string
}

// usageError marks bad flags or configuration (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// Main runs the command and returns its exit code.
func Main(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	o := &options{}
	cmd := &cobra.Command{
		Use:   "signet-webhook --tls-cert-file FILE --tls-key-file FILE [flags]",
		Short: "Kubernetes admission webhook that verifies container images with signet",
		Long: `signet-webhook answers AdmissionReview v1 requests (POST /validate, POST
/mutate) for Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs
and CronJobs: every container, init container and ephemeral container image
is verified with the OCI trust policy and trust store of a policy set. The
namespace label signet.dev/policy-set selects a set named by --policy-set
(else the default set, --config); signet.dev/mode=audit admits failures with
a warning. /mutate pins each verified image to its digest. GET /healthz,
/readyz and /metrics (Prometheus) serve operations. See docs/webhook.md.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o, stderr, getenv)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.addr, "addr", ":8443", "HOST:PORT to serve HTTPS on")
	fl.StringVar(&o.certFile, "tls-cert-file", "", "PEM certificate (chain) to serve; re-read when it changes")
	fl.StringVar(&o.keyFile, "tls-key-file", "", "PEM private key of --tls-cert-file; re-read when it changes")
	fl.StringVar(&o.configDir, "config", "", "the default policy set: a signet/notation configuration directory with trustpolicy.oci.json and truststore/ (default: signet's configuration directory)")
	fl.StringArrayVar(&o.policySets, "policy-set", nil, "a named policy set NAME=DIR, selected by the namespace label signet.dev/policy-set=NAME (repeatable)")
	fl.StringArrayVar(&o.insecureRegistries, "insecure-registry", nil, "registry HOST[:PORT] reached over plain HTTP (repeatable; loopback always is)")
	fl.DurationVar(&o.timeout, "timeout", admission.DefaultTimeout, "time allowed to verify one request's images; keep it below the webhook configurations' timeoutSeconds")
	fl.DurationVar(&o.cacheTTL, "cache-ttl", admission.DefaultCacheTTL, "how long a verdict is kept at most (never past its revocation evidence or certificates); 0s or less disables the cache")
	fl.IntVar(&o.maxPerRegistry, "max-verifications-per-registry", admission.DefaultMaxVerificationsPerRegistry, "verifications run at once against one registry host; more wait for a slot within their request's deadline")
	fl.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig to read namespace labels with, outside a cluster (default: the pod's service account)")
	cmd.SetArgs(args)
	cmd.SetOut(stderr)
	cmd.SetErr(stderr)
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Hint: see 'signet-webhook --help' and docs/webhook.md")
		return exitUsage
	}
	return exitError
}

func run(ctx context.Context, o *options, stderr io.Writer, getenv func(string) string) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if o.certFile == "" || o.keyFile == "" {
		return &usageError{errors.New("--tls-cert-file and --tls-key-file are required: the API server calls webhooks over HTTPS only")}
	}
	if o.maxPerRegistry <= 0 {
		return &usageError{fmt.Errorf("--max-verifications-per-registry %d: want at least 1", o.maxPerRegistry)}
	}
	if o.timeout <= 0 || o.timeout > 30*time.Second {
		return &usageError{fmt.Errorf("--timeout %s: want more than 0s and at most 30s (webhook configurations allow at most 30 s)", o.timeout)}
	}
	sets := map[string]string{}
	for _, s := range o.policySets {
		name, dir, ok := strings.Cut(s, "=")
		if !ok || name == "" || dir == "" {
			return &usageError{fmt.Errorf("--policy-set %q: want NAME=DIR", s)}
		}
		if _, dup := sets[name]; dup {
			return &usageError{fmt.Errorf("--policy-set %q given twice", name)}
		}
		sets[name] = dir
	}
	if o.configDir == "" {
		d, err := config.ResolveDir(getenv)
		if err != nil {
			return &usageError{fmt.Errorf("no --config and no signet configuration directory: %w", err)}
		}
		o.configDir = d.Path
	}
	certs, err := newCertReloader(o.certFile, o.keyFile, log)
	if err != nil {
		return &usageError{err}
	}

	var creds registry.RemoteOptions
	if p := dockerConfigPath(getenv); p != "" {
		store, err := registry.OpenCredentialStore(p)
		if err != nil {
			return &usageError{fmt.Errorf("open the Docker credential store %s: %w", p, err)}
		}
		creds.Credentials = store
	}
	cacheTTL := o.cacheTTL
	if cacheTTL <= 0 {
		cacheTTL = -1
	}
	metrics := admission.NewMetrics()
	v, err := admission.NewVerifier(admission.VerifierOptions{
		DefaultSet:                  o.configDir,
		PolicySets:                  sets,
		InsecureRegistries:          o.insecureRegistries,
		Credentials:                 creds.Credentials,
		Timeout:                     o.timeout,
		CacheTTL:                    cacheTTL,
		MaxVerificationsPerRegistry: o.maxPerRegistry,
		Revocation: &revocation.Validator{
			OCSPCache:  &revocation.OCSPCache{},
			Cache:      &revocation.FileCache{Dir: filepath.Join(os.TempDir(), "signet-webhook-crl")},
			HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
			Logger:     log,
		},
		Logger:  log,
		Metrics: metrics,
	})
	if err != nil {
		return &usageError{err}
	}
	defer v.Close()

	ns, err := namespaceLabels(ctx, o.kubeconfig)
	if err != nil {
		return err
	}
	handler := admission.New(v, admission.Options{Namespaces: ns, Timeout: o.timeout, Metrics: metrics, Logger: log})

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return &usageError{fmt.Errorf("--addr %s: %w", o.addr, err)}
	}
	srv := &http.Server{
		Handler:           handler,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      o.timeout + 10*time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("signet-webhook serving", "addr", ln.Addr().String(), "version", signet.Version, "default_policy_set", o.configDir,
		"policy_sets", len(sets), "timeout", o.timeout.String(), "cache_ttl", o.cacheTTL.String())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight reviews", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// namespaceLabels reads namespaces with --kubeconfig, else with the pod's
// service account.
func namespaceLabels(ctx context.Context, kubeconfig string) (admission.NamespaceLabels, error) {
	var (
		cfg *rest.Config
		err error
	)
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, &usageError{fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)}
		}
	} else if cfg, err = rest.InClusterConfig(); err != nil {
		return nil, &usageError{fmt.Errorf("namespace labels cannot be read: not in a cluster (%v); give --kubeconfig", err)}
	}
	cfg.UserAgent = "signet-webhook/" + signet.Version
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, &usageError{err}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ns, err := admission.NewInformerNamespaces(ctx, sctx, client)
	if err != nil {
		return nil, err
	}
	return ns, nil
}

// dockerConfigPath is the Docker credential store: $DOCKER_CONFIG/config.json,
// else ~/.docker/config.json.
func dockerConfigPath(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".docker", "config.json")
	}
	return ""
}
