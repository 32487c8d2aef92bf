package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/internal/testregistry"
)

// dockerConfig reads the auths section of a Docker config file.
func dockerConfig(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Auths map[string]struct {
			Auth string `json:"auth"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for host, a := range cfg.Auths {
		dec, _ := base64.StdEncoding.DecodeString(a.Auth)
		out[host] = string(dec)
	}
	return out
}

// TestLoginLogout checks credentials against registries that require
// basic authentication (go-containerregistry behind a basic-auth handler,
// and distribution v3 with htpasswd), stores them in a Docker config file
// only when accepted, uses them for pushes, and removes them on logout.
func TestLoginLogout(t *testing.T) {
	const user, password = "alice", "s3cret-pw"
	for _, rc := range []struct {
		name  string
		start func(t *testing.T) *testregistry.Registry
	}{
		{name: "ggcr basic auth", start: func(t *testing.T) *testregistry.Registry {
			return testregistry.New(t, testregistry.Options{Referrers: true, Username: user, Password: password})
		}},
		{name: "distribution v3 htpasswd", start: func(t *testing.T) *testregistry.Registry {
			return testregistry.Distribution(t, testregistry.DistributionOptions{Username: user, Password: password})
		}},
	} {
		t.Run(rc.name, func(t *testing.T) {
			ctx := context.Background()
			reg := rc.start(t)
			cfgPath := filepath.Join(t.TempDir(), "config.json")
			store, err := OpenCredentialStore(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			opts := RemoteOptions{Credentials: store}

			err = Login(ctx, reg.Host, user, "wrong", opts)
			if err == nil || !strings.Contains(err.Error(), "401") {
				t.Fatalf("login with a wrong password: %v", err)
			}
			if _, err := os.Stat(cfgPath); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a refused login wrote the config file: %v", err)
			}

			anonymous := newRemote(t, reg.Ref("app"), RemoteOptions{})
			if _, err := anonymous.Exists(ctx, ocispec.DescriptorEmptyJSON); !errors.Is(err, auth.ErrBasicCredentialNotFound) {
				t.Fatalf("anonymous access: %v", err)
			}

			if err := Login(ctx, reg.Host, user, password, opts); err != nil {
				t.Fatal(err)
			}
			if got := dockerConfig(t, cfgPath)[reg.Host]; got != user+":"+password {
				t.Fatalf("config file holds %q for %s", got, reg.Host)
			}
			// A store opened afresh, as the next signet process would.
			store2, err := OpenCredentialStore(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			r := newRemote(t, reg.Ref("app"), RemoteOptions{Credentials: store2})
			subject := testregistry.PushImage(t, r, "app", "v1")
			if _, err := ResolveManifest(ctx, r, "v1"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := ListSignatures(ctx, r, subject, 0); err != nil {
				t.Fatal(err)
			}

			if err := Logout(ctx, reg.Host, RemoteOptions{Credentials: store2}); err != nil {
				t.Fatal(err)
			}
			if _, ok := dockerConfig(t, cfgPath)[reg.Host]; ok {
				t.Fatal("logout left the credentials in the config file")
			}
			store3, _ := OpenCredentialStore(cfgPath)
			after := newRemote(t, reg.Ref("app"), RemoteOptions{Credentials: store3})
			if _, err := ResolveManifest(ctx, after, "v1"); err == nil {
				t.Fatal("resolved after logout")
			}
		})
	}
}

func TestLoginNeedsStore(t *testing.T) {
	if err := Login(context.Background(), "localhost:1", "u", "p", RemoteOptions{}); !errors.Is(err, ErrNoCredentialStore) {
		t.Fatalf("login: %v", err)
	}
	if err := Logout(context.Background(), "localhost:1", RemoteOptions{}); !errors.Is(err, ErrNoCredentialStore) {
		t.Fatalf("logout: %v", err)
	}
}

// TestCAFile serves a registry over TLS with a certificate from a private CA
// on 127.0.0.2, which CFG-3 does not turn into plain HTTP: the system roots
// refuse it, CAFile makes it trusted, and a file without certificates is
// refused up front.
func TestCAFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this machine: %v", err)
	}
	root := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("registry root"), IsCA: true}, nil)
	leaf := testpki.Issue(t, testpki.Cert{Subject: testpki.Name("127.0.0.2"), KeyType: "ec-256", Modify: func(c *x509.Certificate) {
		c.IPAddresses = []net.IP{net.ParseIP("127.0.0.2")}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}}, root)
	srv := httptest.NewUnstartedServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := ln.Addr().String()

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, testpki.CertsPEM(root.Cert), 0o600)
	junk := filepath.Join(dir, "junk.pem")
	os.WriteFile(junk, []byte("not a certificate"), 0o600)

	ctx := context.Background()
	plain := newRemote(t, host+"/app", RemoteOptions{})
	if plain.PlainHTTP() {
		t.Fatal("127.0.0.2 is reached over plain HTTP")
	}
	var unknownAuthority x509.UnknownAuthorityError
	if _, err := plain.Exists(ctx, ocispec.DescriptorEmptyJSON); !errors.As(err, &unknownAuthority) {
		t.Fatalf("without the CA: %v", err)
	}
	trusted := newRemote(t, host+"/app", RemoteOptions{CAFile: caFile})
	testregistry.PushImage(t, trusted, "app", "v1")
	if _, err := ResolveManifest(ctx, trusted, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewRepository(host+"/app", RemoteOptions{CAFile: junk}); !errors.Is(err, ErrCAFile) {
		t.Fatalf("junk CA file: %v", err)
	}
}

// TestCredentialHelper reads credentials through a Docker credential helper
// named in credHelpers (a script on PATH speaking the helper protocol), and
// bounds a helper that never answers by the request timeout.
func TestCredentialHelper(t *testing.T) {
	const user, password = "alice", "from-helper"
	reg := testregistry.New(t, testregistry.Options{Username: user, Password: password})
	bin := t.TempDir()
	helper := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"" + user + "\",\"Secret\":\"" + password + "\"}' \"$server\"\n"
	os.WriteFile(filepath.Join(bin, "docker-credential-signettest"), []byte(helper), 0o700)
	os.WriteFile(filepath.Join(bin, "docker-credential-signethang"), []byte("#!/bin/sh\nexec sleep 30\n"), 0o700)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	for _, tc := range []struct {
		name, helper string
		ok           bool
	}{
		{name: "answering helper", helper: "signettest", ok: true},
		{name: "helper that never answers", helper: "signethang"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "config.json")
			os.WriteFile(cfgPath, []byte(`{"credHelpers":{"`+reg.Host+`":"`+tc.helper+`"}}`), 0o600)
			store, err := OpenCredentialStore(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			r := newRemote(t, reg.Ref("app"), RemoteOptions{Credentials: store, Timeout: hostileTimeout})
			start := time.Now()
			_, err = r.Exists(context.Background(), ocispec.DescriptorEmptyJSON)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v", err)
			}
			if took := time.Since(start); took > 5*hostileTimeout {
				t.Fatalf("took %v", took)
			}
		})
	}
}
