package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/config"
	"github.com/signet-dev/signet/registry"
)

// registryFlags are the flags of every command that talks to a registry,
// named as notation names them where it has them.
type registryFlags struct {
	username, password string
	plainHTTP          bool
	caFile             string
	referrers          string
	forceReferrersTag  bool
}

func (f *registryFlags) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.username, "username", "u", "", "registry user name (default: the Docker credential store)")
	fl.StringVarP(&f.password, "password", "p", "", "registry password or identity token")
	fl.BoolVar(&f.plainHTTP, "plain-http", false, "talk to the registry over plain HTTP (localhost always may)")
	fl.BoolVar(&f.plainHTTP, "insecure-registry", false, "alias of --plain-http, as notation names it")
	fl.StringVar(&f.caFile, "ca-file", "", "PEM bundle of extra CA certificates to trust for registry TLS")
	fl.StringVar(&f.referrers, "referrers", "auto", "how signatures are stored and found: auto (referrers API where the registry has it, else the referrers tag schema), api or tag")
	fl.BoolVar(&f.forceReferrersTag, "force-referrers-tag", false, "same as --referrers tag (notation's flag)")
	_ = cmd.RegisterFlagCompletionFunc("referrers", cobra.FixedCompletions([]string{"auto", "api", "tag"}, cobra.ShellCompDirectiveNoFileComp))
}

// remoteOptions builds the repository options from the flags, config.json
// and the Docker credential store ($DOCKER_CONFIG/config.json, else
// ~/.docker/config.json).
func (f *registryFlags) remoteOptions(env *Env, dir config.Dir) (registry.RemoteOptions, error) {
	mode, err := registry.ParseReferrersMode(f.referrers)
	if err != nil {
		return registry.RemoteOptions{}, usageErr(err)
	}
	if f.forceReferrersTag {
		mode = registry.ReferrersTag
	}
	cfg, err := dir.LoadConfig()
	if err != nil {
		return registry.RemoteOptions{}, usageErr(err)
	}
	store, err := registry.OpenCredentialStore(dockerConfigPath(env))
	if err != nil {
		return registry.RemoteOptions{}, usageErr(fmt.Errorf("open the Docker credential store: %w", err))
	}
	var creds credentials.Store = store
	if f.username != "" || f.password != "" {
		if f.username == "" || f.password == "" {
			return registry.RemoteOptions{}, usageErr(errors.New("--username and --password go together"))
		}
		creds = staticCredentials{auth.Credential{Username: f.username, Password: f.password}}
	}
	return registry.RemoteOptions{
		PlainHTTP:          f.plainHTTP,
		InsecureRegistries: cfg.InsecureRegistries,
		CAFile:             f.caFile,
		Credentials:        creds,
		UserAgent:          "signet/" + signet.Version,
		Referrers:          mode,
		Logger:             env.logger(),
	}, nil
}

// dockerConfigPath is where the Docker credential store lives.
func dockerConfigPath(env *Env) string {
	if d := env.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	if h := env.Getenv("HOME"); h != "" {
		return filepath.Join(h, ".docker", "config.json")
	}
	return ""
}

// staticCredentials answers every registry with the --username/--password.
type staticCredentials struct{ cred auth.Credential }

func (s staticCredentials) Get(context.Context, string) (auth.Credential, error) {
	return s.cred, nil
}
func (staticCredentials) Put(context.Context, string, auth.Credential) error {
	return errors.New("credentials given on the command line are not stored")
}
func (staticCredentials) Delete(context.Context, string) error { return nil }

// artifactRef is one artifact a command acts on: in an OCI layout
// (directory or tar archive), or in a remote repository.
type artifactRef struct {
	layout *registry.LayoutReference
	remote *registry.Repository
	// reference is the tag or digest inside the layout or repository.
	reference string
}

// parseArtifactRefs parses the arguments: layout references with
// --oci-layout, remote references otherwise.
func parseArtifactRefs(env *Env, args []string, ociLayout bool, rf *registryFlags) ([]artifactRef, error) {
	refs := make([]artifactRef, len(args))
	var opts *registry.RemoteOptions
	// One Repository per repository name: references into one repository
	// share its connections, credentials and referrers capability.
	repos := map[string]*registry.Repository{}
	for i, a := range args {
		if ociLayout {
			lref, err := registry.ParseLayoutReference(a)
			if err != nil {
				return nil, usageErr(err)
			}
			refs[i] = artifactRef{layout: &lref, reference: lref.Reference}
			continue
		}
		if opts == nil {
			dir, err := env.configDir()
			if err != nil {
				return nil, err
			}
			o, err := rf.remoteOptions(env, dir)
			if err != nil {
				return nil, err
			}
			// One HTTP client for every repository: one connection pool
			// and one token cache.
			if o, err = o.Share(); err != nil {
				return nil, withHint(usageErr(err), "check the --ca-file bundle: a readable PEM file of CA certificates")
			}
			opts = &o
		}
		repo, reference, err := registry.NewRepository(a, *opts)
		if err != nil {
			return nil, withHint(usageErr(err), "name the artifact as REGISTRY/REPOSITORY@sha256:DIGEST (or :TAG), or pass --oci-layout for a local OCI layout")
		}
		if shared, ok := repos[repo.Name()]; ok {
			repo = shared
		} else {
			repos[repo.Name()] = repo
		}
		if reference == "" {
			return nil, usageErr(fmt.Errorf("reference %q names no tag or digest: add @sha256:DIGEST", a))
		}
		refs[i] = artifactRef{remote: repo, reference: reference}
	}
	return refs, nil
}

// isDigest reports whether the reference is a digest.
func (a artifactRef) isDigest() bool {
	return (&registry.LayoutReference{Reference: a.reference}).IsDigest()
}

// prefix is what goes before "@digest" when the artifact is displayed.
func (a artifactRef) prefix() string {
	if a.layout != nil {
		return a.layout.Dir
	}
	return a.remote.Name()
}

func (a artifactRef) String() string {
	if a.layout != nil {
		return a.layout.String()
	}
	if a.isDigest() {
		return a.remote.Name() + "@" + a.reference
	}
	return a.remote.Name() + ":" + a.reference
}

// scope is the repository URI that selects the OCI trust policy statement
// (SEL-1): the repository's name, or --scope for a layout.
func (a artifactRef) scope(flag string) string {
	if a.layout != nil {
		return flag
	}
	return a.remote.Name()
}

// openRead opens the artifact's store for reading.
func (a artifactRef) openRead(ctx context.Context) (signet.ReadTarget, error) {
	if a.remote != nil {
		return a.remote, nil
	}
	var (
		t   signet.ReadTarget
		err error
	)
	if registry.IsLayoutTar(a.layout.Dir) {
		t, err = registry.OpenLayoutTar(ctx, a.layout.Dir)
	} else {
		t, err = registry.OpenLayout(ctx, a.layout.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return t, nil
}

// withWritable runs fn on the artifact's store: a remote repository or a
// layout directory directly, a layout tar archive extracted beside it and
// written back (atomically) only when fn succeeds.
func (a artifactRef) withWritable(ctx context.Context, fn func(signet.Target) error) error {
	if a.remote != nil {
		return fn(a.remote)
	}
	if registry.IsLayoutTar(a.layout.Dir) {
		var fnErr error
		err := registry.UpdateLayoutTar(ctx, a.layout.Dir, func(s *oci.Store) error {
			fnErr = fn(s)
			return fnErr
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return fmt.Errorf("%w: %w", signet.ErrIO, err)
		}
		return nil
	}
	store, err := registry.OpenLayout(ctx, a.layout.Dir)
	if err != nil {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return fn(store)
}
