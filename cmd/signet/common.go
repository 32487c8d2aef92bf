package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/envelope"
	"github.com/signet-dev/signet/internal/fsutil"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
	"github.com/signet-dev/signet/revocation"
	"github.com/signet-dev/signet/signature"
	"github.com/signet-dev/signet/signer"
	"github.com/signet-dev/signet/timestamp"
	"github.com/signet-dev/signet/trustpolicy"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// signFlags are the flags every signing command shares with notation sign.
type signFlags struct {
	key          string
	format       string
	expiry       time.Duration
	userMetadata []string
	tsaURL       string
	tsaRoot      string
	plugin       string
	keyID        string
	pluginConfig []string
}

func (f *signFlags) AddFlags(cmd *cobra.Command, env *Env) {
	fl := cmd.Flags()
	fl.StringVarP(&f.key, "key", "k", "", "signing key name from 'signet key list' (default: the default key)")
	fl.StringVar(&f.format, "signature-format", "", "envelope format: jws or cose (default: config.json signatureFormat, else jws)")
	fl.DurationVarP(&f.expiry, "expiry", "e", 0, "signature validity from now, e.g. 24h (whole seconds); 0 means no expiry")
	fl.StringArrayVarP(&f.userMetadata, "user-metadata", "m", nil, "signed user metadata k=v (repeatable)")
	fl.StringVar(&f.plugin, "plugin", "", "sign with a key held by this plugin (with --id), without registering it")
	fl.StringVar(&f.keyID, "id", "", "the key's ID in the plugin (with --plugin)")
	fl.StringArrayVar(&f.pluginConfig, "plugin-config", nil, "plugin configuration k=v passed to the plugin; overrides the key's stored values (repeatable)")
	fl.StringVar(&f.tsaURL, "timestamp-url", "", "RFC 3161 Time Stamping Authority URL: countersign the signature with a timestamp")
	fl.StringVar(&f.tsaRoot, "timestamp-root-cert", "", "PEM file with the TSA's self-signed root certificate (required with --timestamp-url)")
	_ = cmd.RegisterFlagCompletionFunc("signature-format", cobra.FixedCompletions([]string{"jws", "cose"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("key", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return keyNames(env), cobra.ShellCompDirectiveNoFileComp
	})
}

func keyNames(env *Env) []string {
	dir, err := env.configDir()
	if err != nil {
		return nil
	}
	keys, err := dir.LoadSigningKeys()
	if err != nil {
		return nil
	}
	var names []string
	for _, k := range keys.Keys {
		names = append(names, k.Name)
	}
	return names
}

// signOptions resolves the signing flags into library options: user
// metadata, then the configuration directory, the envelope format and the
// signing key, in that order.
func (f *signFlags) signOptions(ctx context.Context, env *Env) (signet.SignOptions, error) {
	md, err := parseMetadata(f.userMetadata)
	if err != nil {
		return signet.SignOptions{}, err
	}
	dir, err := env.configDir()
	if err != nil {
		return signet.SignOptions{}, err
	}
	format, err := f.envelopeFormat(dir)
	if err != nil {
		return signet.SignOptions{}, err
	}
	s, gen, err := f.loadSigner(ctx, env, dir)
	if err != nil {
		return signet.SignOptions{}, err
	}
	opts := signet.SignOptions{Signer: s, Generator: gen, Format: format, Expiry: f.expiry, UserMetadata: md, Now: env.Now, Revocation: (*verifyFlags)(nil).validator(env)}
	if err := f.timestampOptions(&opts); err != nil {
		return signet.SignOptions{}, err
	}
	return opts, nil
}

// timestampOptions resolves --timestamp-url and --timestamp-root-cert: both
// or neither; the root file holds exactly one self-signed certificate
// (TSA-3).
func (f *signFlags) timestampOptions(opts *signet.SignOptions) error {
	if (f.tsaURL == "") != (f.tsaRoot == "") {
		return usageErr(errors.New("--timestamp-url and --timestamp-root-cert go together"))
	}
	if f.tsaURL == "" {
		return nil
	}
	u, err := url.Parse(f.tsaURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErr(fmt.Errorf("--timestamp-url %q is not an http(s) URL", f.tsaURL))
	}
	data, err := fsutil.ReadFile(f.tsaRoot, truststore.MaxCertificateFileBytes)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: --timestamp-root-cert: %w", signet.ErrIO, err)
		}
		return usageErr(fmt.Errorf("--timestamp-root-cert: %w", err))
	}
	certs, err := truststore.ParseCertificates(data)
	if err != nil {
		return usageErr(fmt.Errorf("--timestamp-root-cert %s: %w", f.tsaRoot, err))
	}
	if len(certs) != 1 {
		return usageErr(fmt.Errorf("--timestamp-root-cert %s holds %d certificates; it must hold exactly one, the TSA's root", f.tsaRoot, len(certs)))
	}
	root := certs[0]
	if !bytes.Equal(root.RawIssuer, root.RawSubject) || root.CheckSignatureFrom(root) != nil {
		return usageErr(fmt.Errorf("--timestamp-root-cert %s: %q is not a self-signed root certificate", f.tsaRoot, root.Subject))
	}
	opts.Timestamper = &timestamp.HTTPTimestamper{URL: f.tsaURL}
	opts.TSARoots = certs
	return nil
}

// envelopeFormat resolves --signature-format, then config.json, then jws.
func (f *signFlags) envelopeFormat(dir config.Dir) (envelope.Format, error) {
	name := f.format
	if name == "" {
		cfg, err := dir.LoadConfig()
		if err != nil {
			return nil, usageErr(err)
		}
		name = cfg.SignatureFormat
	}
	switch strings.ToLower(name) {
	case "", "jws":
		return envelope.ForMediaType(signature.MediaTypeJWS)
	case "cose":
		return envelope.ForMediaType(signature.MediaTypeCOSE)
	}
	return nil, usageErr(fmt.Errorf("unsupported signature format %q: use jws or cose", name))
}

// loadSigner opens the signing key: --plugin/--id, else the named key (or
// the default one).
func (f *signFlags) loadSigner(ctx context.Context, env *Env, dir config.Dir) (signature.Signer, signet.EnvelopeGenerator, error) {
	cfg, err := parsePluginConfig(f.pluginConfig)
	if err != nil {
		return nil, nil, err
	}
	if f.plugin != "" || f.keyID != "" {
		if f.plugin == "" || f.keyID == "" {
			return nil, nil, usageErr(errors.New("--plugin and --id go together"))
		}
		if f.key != "" {
			return nil, nil, usageErr(errors.New("--key excludes --plugin and --id"))
		}
		return pluginSigner(ctx, env.pluginDir(dir), f.plugin, f.keyID, cfg)
	}
	keys, err := dir.LoadSigningKeys()
	if err != nil {
		return nil, nil, usageErr(err)
	}
	k, err := keys.Get(f.key)
	if err != nil {
		return nil, nil, withHint(usageErr(err), "add a key with 'signet key add NAME --key-file KEY --cert-file CERT', or make a test key with 'signet cert generate-test NAME --default'")
	}
	if k.PluginName != "" {
		merged := map[string]string{}
		for kk, v := range k.PluginConfig {
			merged[kk] = v
		}
		for kk, v := range cfg { // PCFG-2: sign-time values win key by key
			merged[kk] = v
		}
		return pluginSigner(ctx, env.pluginDir(dir), k.PluginName, k.ID, merged)
	}
	s, err := signer.LoadLocal(resolvePath(dir, k.KeyPath), resolvePath(dir, k.CertificatePath))
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("load signing key %q: %w", k.Name, err))
	}
	return s, nil, nil
}

// resolvePath makes a relative path in signingkeys.json relative to the
// configuration directory.
func resolvePath(dir config.Dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir.Path, p)
}

// metadata parses k=v pairs (PCFG-2 rules: '=' with non-empty key and value).
func parseMetadata(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || v == "" {
			return nil, usageErr(fmt.Errorf("user metadata %q: want key=value with a non-empty key and value", p))
		}
		if _, dup := m[k]; dup {
			return nil, usageErr(fmt.Errorf("user metadata key %q given twice", k))
		}
		m[k] = v
	}
	return m, nil
}

// ociVerification loads what verifying OCI signatures needs: the OCI trust
// policy of the configuration directory (with the hint that fits when it is
// absent or invalid) and a verifier over its trust store, with vf's
// revocation and plugin settings.
func ociVerification(env *Env, vf *verifyFlags) (*trustpolicy.Document, *verifier.Verifier, error) {
	dir, err := env.configDir()
	if err != nil {
		return nil, nil, err
	}
	policy, _, err := trustpolicy.LoadOCI(dir.Path)
	if err != nil {
		return nil, nil, policyLoadError(err, "signet policy")
	}
	v, err := newVerifier(env, dir, vf)
	if err != nil {
		return nil, nil, err
	}
	return policy, v, nil
}

func newVerifier(env *Env, dir config.Dir, vf *verifyFlags) (*verifier.Verifier, error) {
	cfg, err := parsePluginConfig(vf.pluginConfig)
	if err != nil {
		return nil, err
	}
	return &verifier.Verifier{
		Store:        truststore.NewCache(truststore.NewFileStore(dir.TrustStore(), env.logger())),
		Now:          env.now,
		Logger:       env.logger(),
		Revocation:   vf.validator(env),
		Plugins:      &plugin.Manager{Dir: env.pluginDir(dir)},
		PluginConfig: cfg,
	}, nil
}

// verifyFlags tune OCSP and CRL checking and configure verification
// plugins.
type verifyFlags struct {
	ocspTimeout, crlTimeout time.Duration
	pluginConfig            []string
}

func (f *verifyFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.ocspTimeout, "ocsp-timeout", revocation.DefaultOCSPTimeout, "time allowed for each OCSP request")
	cmd.Flags().DurationVar(&f.crlTimeout, "crl-timeout", revocation.DefaultCRLTimeout, "time allowed for each CRL download")
	cmd.Flags().StringArrayVar(&f.pluginConfig, "plugin-config", nil, "configuration k=v for a verification plugin the signature names (repeatable)")
}

// validator is the revocation checker: OCSP answers cached in memory for
// the process, CRLs cached in {CACHE}/crl across processes (REV-8).
func (f *verifyFlags) validator(env *Env) *revocation.Validator {
	v := &revocation.Validator{OCSPCache: &revocation.OCSPCache{}, Now: env.Now, Logger: env.logger()}
	if f != nil {
		v.OCSPTimeout, v.CRLTimeout = f.ocspTimeout, f.crlTimeout
	}
	if dir, err := config.ResolveCacheDir(env.Getenv); err == nil {
		v.Cache = &revocation.FileCache{Dir: filepath.Join(dir, "crl")}
	}
	return v
}

// explain turns a failed verification into one line plus a hint.
func explainFailure(err error, failed verifier.Check, policy string) error {
	hints := map[string]string{
		"integrity":          "the signature envelope or the signed content was altered, or the envelope is malformed: re-sign the artifact",
		"authenticity":       "the signer is not trusted by this policy: add the signer's root certificate to a trust store the policy lists ('signet cert add --type ca --store NAME FILE') or correct trustedIdentities",
		"authenticTimestamp": "a certificate of the signing chain is outside its validity period: re-sign with a valid certificate",
		"expiry":             "the signature has expired: re-sign the artifact (with a later --expiry)",
		"revocation":         "a certificate of the signing chain is revoked: re-sign with a valid certificate",
		"targetArtifact":     "the signature belongs to other content: check that you verify the file or digest that was signed, and the --media-type",
		"userMetadata":       "the signature does not carry the required --user-metadata: re-sign with it, or drop the requirement",
	}
	msg := fmt.Errorf("%w (policy %q, %s check)", err, policy, failed.Type)
	if h, ok := hints[string(failed.Type)]; ok {
		return withHint(msg, h)
	}
	return msg
}

// policyLoadError adds the hint that fits a trust policy that could not be
// loaded: write one when it is absent, correct it when it is invalid. cmd is
// "signet policy" or "signet blob policy".
func policyLoadError(err error, cmd string) error {
	if errors.Is(err, trustpolicy.ErrPolicyNotFound) {
		return withHint(err, fmt.Sprintf("write a trust policy with '%s init' or '%s import FILE'", cmd, cmd))
	}
	if errors.Is(err, trustpolicy.ErrInvalidPolicy) {
		return withHint(err, fmt.Sprintf("correct the file ('%s show' prints it with its errors) or replace it with '%s import --force FILE'", cmd, cmd))
	}
	return err
}

// pluginSigner opens a plugin's key: a RAW plugin signs and signet builds
// the envelope (preferred, CAP-2); an ENVELOPE plugin builds it whole.
func pluginSigner(ctx context.Context, pluginDir, name, keyID string, cfg map[string]string) (signature.Signer, signet.EnvelopeGenerator, error) {
	m := &plugin.Manager{Dir: pluginDir}
	p, err := m.Get(ctx, name)
	if err != nil {
		return nil, nil, withHint(usageErr(err), "install the plugin as "+filepath.Join(pluginDir, name, plugin.ExecutableName(name))+" ('signet plugin list' shows what is installed)")
	}
	switch {
	case p.HasCapability(proto.CapabilitySignatureGenerator):
		s, err := plugin.NewSigner(ctx, p, keyID, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("plugin %q, key %q: %w", name, keyID, err)
		}
		return s, nil, nil
	case p.HasCapability(proto.CapabilityEnvelopeGenerator), p.HasCapability(proto.CapabilityEnvelopeGeneratorForBlob):
		return nil, &envelopePlugin{p: p, keyID: keyID, cfg: cfg}, nil
	}
	return nil, nil, usageErr(fmt.Errorf("plugin %q has no signing capability (SIGNATURE_GENERATOR.RAW, .ENVELOPE or .ENVELOPE_FOR_BLOB)", name))
}

// envelopePlugin is an envelope-generating plugin's key.
type envelopePlugin struct {
	p     *plugin.Plugin
	keyID string
	cfg   map[string]string
}

func (e *envelopePlugin) GenerateEnvelope(ctx context.Context, payload []byte, mediaType string, expiry time.Duration) ([]byte, map[string]string, error) {
	return plugin.GenerateEnvelope(ctx, e.p, e.keyID, e.cfg, payload, mediaType, expiry)
}

// KeySpec asks describe-key (which a blob needs for its digest
// algorithm; the plugin must then support ENVELOPE_FOR_BLOB).
func (e *envelopePlugin) KeySpec(ctx context.Context) (signature.KeySpec, error) {
	resp, err := e.p.DescribeKey(ctx, &proto.DescribeKeyRequest{KeyID: e.keyID, PluginConfig: e.cfg})
	if err != nil {
		return signature.KeySpec{}, err
	}
	return signature.ParseKeySpec(string(resp.KeySpec))
}

// parsePluginConfig parses --plugin-config k=v pairs (PCFG-2).
func parsePluginConfig(pairs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" || v == "" {
			return nil, usageErr(fmt.Errorf("--plugin-config %q: want key=value with a non-empty key and value", p))
		}
		m[k] = v
	}
	return m, nil
}
