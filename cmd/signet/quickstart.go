package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/embedregistry"
	"github.com/signet-dev/signet/registry"
)

func newQuickstartCmd(env *Env) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Sign and verify on an embedded registry: nothing else to install",
		Long: `Start an OCI registry (with the referrers API) inside this process on
loopback, push sample images, make a test key and a trust policy in a
temporary configuration directory, then run the signet commands a user runs:
sign an image, list and verify its signature, and show an unsigned image and
a tampered signature refused, each with its explanation.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error { return runQuickstart(cmd.Context(), env, keep) },
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary configuration directory and print its path")
	return cmd
}

func runQuickstart(ctx context.Context, env *Env, keep bool) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start the embedded registry: %w", err)
	}
	srv := &http.Server{Handler: embedregistry.Handler(true), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	cfg, err := os.MkdirTemp("", "signet-quickstart-")
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Fprintf(env.Stdout, "\nThe configuration directory is kept at %s (export SIGNET_CONFIG=%s)\n", cfg, cfg)
	} else {
		defer os.RemoveAll(cfg)
	}
	sub := &Env{Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stdout, Now: env.Now,
		Getenv: func(k string) string {
			switch k {
			case "SIGNET_CONFIG":
				return filepath.Join(cfg, "signet")
			case "DOCKER_CONFIG":
				return filepath.Join(cfg, "docker")
			}
			return env.Getenv(k)
		}}
	step := func(want int, why string, args ...string) error {
		fmt.Fprintf(env.Stdout, "\n# %s\n$ signet %s\n", why, quoteArgs(args))
		if got := Main(ctx, args, sub); got != want {
			return fmt.Errorf("quickstart: 'signet %s' exited %d, expected %d", strings.Join(args, " "), got, want)
		}
		return nil
	}

	repo := ln.Addr().String() + "/quickstart/app"
	fmt.Fprintf(env.Stdout, "An OCI registry with the referrers API is running in this process at %s.\n", ln.Addr())
	r, _, err := registry.NewRepository(repo+":v1", registry.RemoteOptions{})
	if err != nil {
		return err
	}
	app, err := pushSample(ctx, r, "app", "v1")
	if err != nil {
		return err
	}
	unsigned, err := pushSample(ctx, r, "unsigned", "unsigned")
	if err != nil {
		return err
	}
	other, err := pushSample(ctx, r, "other", "other")
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Pushed three sample images to %s: v1 (%s), unsigned and other.\n", repo, app.Digest)
	ref := func(d ocispec.Descriptor) string { return repo + "@" + d.Digest.String() }
	steps := []struct {
		want int
		why  string
		args []string
	}{
		{0, "Make a test key and a self-signed certificate, trusted in store ca:quickstart", []string{"cert", "generate-test", "--default", "quickstart"}},
		{0, "Trust that certificate for this repository", []string{"policy", "init", "--name", "quickstart", "--scope", repo,
			"--trust-store", "ca:quickstart", "--trusted-identity", "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=quickstart"}},
		{0, "Sign the image by digest; the signature is stored in the registry as a referrer", []string{"sign", ref(app)}},
		{0, "List its signatures", []string{"list", ref(app)}},
		{0, "Verify it: trusted", []string{"verify", ref(app)}},
		{1, "An unsigned image is refused (exit code 1)", []string{"verify", ref(unsigned)}},
	}
	for _, s := range steps {
		if err := step(s.want, s.why, s.args...); err != nil {
			return err
		}
	}
	if err := attachTampered(ctx, r, app, other); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nA copy of the v1 signature, with one byte of its signature value changed, was attached to the image 'other'.\n")
	if err := step(1, "A tampered signature is refused: the integrity check names it (exit code 1)", "verify", ref(other)); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nQuick start done: one image signed and trusted, an unsigned image and a tampered signature refused.\n")
	return nil
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " ,") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// pushSample pushes a small image and tags it.
func pushSample(ctx context.Context, r *registry.Repository, name, tag string) (ocispec.Descriptor, error) {
	push := func(mt string, data []byte) (ocispec.Descriptor, error) {
		d := content.NewDescriptorFromBytes(mt, data)
		if ok, err := r.Exists(ctx, d); err != nil || ok {
			return d, err
		}
		return d, r.Push(ctx, d, bytes.NewReader(data))
	}
	cfg, err := push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	if err != nil {
		return cfg, fmt.Errorf("push the sample image: %w", err)
	}
	layer, err := push(ocispec.MediaTypeImageLayer, []byte("signet quickstart: "+name))
	if err != nil {
		return layer, fmt.Errorf("push the sample image: %w", err)
	}
	raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	m, err := push(ocispec.MediaTypeImageManifest, raw)
	if err != nil {
		return m, fmt.Errorf("push the sample image: %w", err)
	}
	return m, r.Tag(ctx, m, tag)
}

// attachTampered copies the first signature of signed, with one byte of its
// signature value changed, onto target.
func attachTampered(ctx context.Context, r *registry.Repository, signed, target ocispec.Descriptor) error {
	sigs, _, err := registry.ListSignatures(ctx, r, signed, 1)
	if err != nil || len(sigs) == 0 {
		return fmt.Errorf("quickstart: find the signature: %v", err)
	}
	sig, err := registry.FetchSignature(ctx, r, sigs[0], signed)
	if err != nil {
		return err
	}
	f, err := envelope.ForMediaType(sig.MediaType)
	if err != nil {
		return err
	}
	c, err := envelope.Open(f, sig.Envelope)
	if err != nil {
		return err
	}
	i := bytes.Index(sig.Envelope, []byte(`"signature":"`))
	if i < 0 {
		return errors.New("quickstart: the signature is not a JWS envelope")
	}
	tampered := bytes.Clone(sig.Envelope)
	j := i + len(`"signature":"`) + 4
	if tampered[j] == 'A' {
		tampered[j] = 'B'
	} else {
		tampered[j] = 'A'
	}
	_, err = registry.PushSignature(ctx, r, target, sig.MediaType, tampered, c.CertificateChain, time.Now(), registry.FormConfig)
	return err
}
