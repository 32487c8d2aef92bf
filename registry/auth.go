package registry

import (
	"context"
	"errors"
	"fmt"

	orasregistry "oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// ErrNoCredentialStore means Login or Logout was called without
// RemoteOptions.Credentials.
var ErrNoCredentialStore = errors.New("no credential store")

// OpenCredentialStore opens the Docker configuration file at path, or
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json, when path is
// empty. Credentials are read and written through the credential helpers it
// names (credsStore, credHelpers); where it names none, Put detects the
// platform's default helper when one is installed and otherwise stores them
// base64-encoded in the file itself, as docker login does. A missing file is
// an empty configuration.
func OpenCredentialStore(path string) (*credentials.DynamicStore, error) {
	opts := credentials.StoreOptions{AllowPlaintextPut: true, DetectDefaultNativeStore: true}
	var (
		s   *credentials.DynamicStore
		err error
	)
	if path == "" {
		s, err = credentials.NewStoreFromDocker(opts)
	} else {
		s, err = credentials.NewStore(path, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("open credential store: %w", err)
	}
	return s, nil
}

// Login checks username and password against registry (host[:port]) with
// one authenticated request to its /v2/ endpoint (basic or token
// authentication, as the registry asks) and, when they are accepted, stores
// them in opts.Credentials. The transport options of opts apply; the
// credentials already stored are not used.
func Login(ctx context.Context, registry, username, password string, opts RemoteOptions) error {
	if opts.Credentials == nil {
		return ErrNoCredentialStore
	}
	if username == "" {
		return fmt.Errorf("login %s: a username is required", registry)
	}
	ref := orasregistry.Reference{Registry: registry}
	if err := ref.ValidateRegistry(); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	store := opts.Credentials
	opts.Credentials = nil
	client, err := opts.newClient()
	if err != nil {
		return err
	}
	reg := &remote.Registry{RepositoryOptions: remote.RepositoryOptions{Client: client, Reference: ref, PlainHTTP: opts.plainHTTP(registry)}}
	if err := credentials.Login(ctx, store, reg, auth.Credential{Username: username, Password: password}); err != nil {
		return fmt.Errorf("login %s: %w", registry, err)
	}
	return nil
}

// Logout removes the credentials stored for registry from opts.Credentials.
func Logout(ctx context.Context, registry string, opts RemoteOptions) error {
	if opts.Credentials == nil {
		return ErrNoCredentialStore
	}
	if err := credentials.Logout(ctx, opts.Credentials, registry); err != nil {
		return fmt.Errorf("logout %s: %w", registry, err)
	}
	return nil
}
