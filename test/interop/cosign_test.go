package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// cosignPeer runs the real cosign v3.1.3 with an isolated home and no
// network use beyond the test registries.
type cosignPeer struct {
	t   *testing.T
	bin string
	env []string
}

func newCosign(t *testing.T) *cosignPeer {
	home := t.TempDir()
	return &cosignPeer{t: t, bin: peer.Cosign(t), env: []string{
		"HOME=" + home, "COSIGN_PASSWORD=", "TUF_ROOT=" + filepath.Join(home, "tuf"),
		"COSIGN_EXPERIMENTAL=0", "SIGSTORE_NO_CACHE=1",
	}}
}

func (c *cosignPeer) run(args ...string) result {
	c.t.Helper()
	return toResult(peer.Run(c.t, c.bin, c.env, args...))
}

// keyPair makes a cosign key pair (empty password) and returns the paths of
// cosign.key and cosign.pub.
func (c *cosignPeer) keyPair(name string) (string, string) {
	c.t.Helper()
	prefix := filepath.Join(c.t.TempDir(), name)
	must(c.t, c.run("generate-key-pair", "--output-key-prefix", prefix), "cosign generate-key-pair")
	return prefix + ".key", prefix + ".pub"
}

// sign signs ref with key: the bundle form (cosign v3's default) or, with
// legacy, the sha256-<hex>.sig simple-signing form.
func (c *cosignPeer) sign(key, ref string, legacy bool) {
	c.t.Helper()
	args := []string{"sign", "--key", key, "--tlog-upload=false", "--use-signing-config=false", "--allow-http-registry", "-y"}
	if legacy {
		args = append(args, "--new-bundle-format=false")
	}
	must(c.t, c.run(append(args, ref)...), "cosign sign")
}

// verify runs cosign verify --key pub --insecure-ignore-tlog and reports
// whether cosign accepted ref.
func (c *cosignPeer) verify(pub, ref string, legacy bool) (bool, result) {
	c.t.Helper()
	args := []string{"verify", "--key", pub, "--insecure-ignore-tlog", "--allow-http-registry"}
	if legacy {
		args = append(args, "--new-bundle-format=false")
	}
	r := c.run(append(args, ref)...)
	return r.code == 0, r
}

// cosignPolicy writes a signet/v1 OCI trust policy (notation refuses
// signet/v1, so it is written directly) with one statement for scope.
func (w *world) cosignPolicy(scope string, stores []string, extra map[string]any) {
	w.t.Helper()
	stmt := map[string]any{
		"name":                  "cosign",
		"registryScopes":        []string{scope},
		"signatureVerification": map[string]any{"level": "strict"},
		"trustStores":           stores,
		"trustedIdentities":     []string{"*"},
	}
	for k, v := range extra {
		stmt[k] = v
	}
	doc, _ := json.Marshal(map[string]any{"version": "signet/v1", "trustPolicies": []any{stmt}})
	if err := os.MkdirAll(w.Config(), 0o700); err != nil {
		w.t.Fatal(err)
	}
	writeFile(w.t, w.Config(), "trustpolicy.oci.json", doc)
}

// tamperBundle re-attaches the cosign bundle of from to the image to, with
// the signed statement's subject digest rewritten to to's digest (the
// signature left as it was): a forged bundle for to.
func tamperBundle(t *testing.T, repoRef string, from, to ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	repo, _, err := registry.NewRepository(repoRef+"@"+from.Digest.String(), registry.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sigs, _, err := registry.ListCosignBundles(ctx, repo, from, 0)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("cosign bundles of %s: %v %v", from.Digest, sigs, err)
	}
	b, err := registry.FetchCosignBundle(ctx, repo, sigs[0], from)
	if err != nil {
		t.Fatal(err)
	}
	var bundle map[string]any
	if err := json.Unmarshal(b, &bundle); err != nil {
		t.Fatal(err)
	}
	env := bundle["dsseEnvelope"].(map[string]any)
	stmt, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	if err != nil {
		t.Fatal(err)
	}
	forged := bytes.ReplaceAll(stmt, []byte(from.Digest.Encoded()), []byte(to.Digest.Encoded()))
	if bytes.Equal(forged, stmt) {
		t.Fatalf("the statement does not name %s: %s", from.Digest, stmt)
	}
	env["payload"] = base64.StdEncoding.EncodeToString(forged)
	nb, _ := json.Marshal(bundle)
	layer := pushBlob(t, repo, registry.MediaTypeSigstoreBundle, nb)
	cfg := pushBlob(t, repo, ocispec.MediaTypeEmptyJSON, []byte("{}"))
	m, _ := json.Marshal(ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: registry.MediaTypeSigstoreBundle,
		Config:       cfg,
		Layers:       []ocispec.Descriptor{layer},
		Subject:      &ocispec.Descriptor{MediaType: to.MediaType, Digest: to.Digest, Size: to.Size},
	})
	pushBlob(t, repo, ocispec.MediaTypeImageManifest, m)
}

func pushBlob(t *testing.T, repo *registry.Repository, mt string, data []byte) ocispec.Descriptor {
	t.Helper()
	d := content.NewDescriptorFromBytes(mt, data)
	if ok, _ := repo.Exists(context.Background(), d); !ok {
		if err := repo.Push(context.Background(), d, io.NopCloser(bytes.NewReader(data))); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// TestCosignInterop (issue 13): on a registry with the referrers API and on
// CNCF distribution v3 (referrers tag schema), images signed by the real
// cosign v3.1.3 in both forms verify with signet under a statement naming
// the key's publickey store; a key in no named store, an unsigned image
// and a forged bundle are refused; cosign verify --key agrees on every
// case. An image signed by notation v1.3.2 and by cosign verifies under a
// statement naming both kinds of store, and under minSignatures 2 only
// when both signatures are valid.
func TestCosignInterop(t *testing.T) {
	w := newWorld(t, peer.Notation(t))
	cs := newCosign(t)
	vendorKey, vendorPub := cs.keyPair("vendor")
	strangerKey, _ := cs.keyPair("stranger")
	must(t, w.Signet("cert", "add", "--type", "publickey", "--store", "vendor", vendorPub), "signet cert add --type publickey")
	w.addKey("acme", "ec-256")

	for regName, reg := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			repo := reg.Ref("cosign/app")
			w.cosignPolicy(repo, []string{"publickey:vendor"}, nil)
			image := func(name string) (string, ocispec.Descriptor) {
				r, _, err := registry.NewRepository(repo+":"+name, registry.RemoteOptions{})
				if err != nil {
					t.Fatal(err)
				}
				d := testregistry.PushImage(t, r, name, name)
				return repo + "@" + d.Digest.String(), d
			}
			bundled, _ := image("bundled")
			cs.sign(vendorKey, bundled, false)
			legacy, _ := image("legacy")
			cs.sign(vendorKey, legacy, true)
			strange, _ := image("stranger")
			cs.sign(strangerKey, strange, false)
			unsigned, _ := image("unsigned")
			source, sourceDesc := image("forge-source")
			cs.sign(vendorKey, source, false)
			forged, forgedDesc := image("forged")
			tamperBundle(t, repo, sourceDesc, forgedDesc)

			cases := []struct {
				name, ref, format string
				legacy, trusted   bool
			}{
				{name: "bundle form", ref: bundled, format: "cosignBundle", trusted: true},
				{name: "legacy tag form", ref: legacy, format: "cosignSimpleSigning", legacy: true, trusted: true},
				{name: "key in no named store", ref: strange},
				{name: "never signed", ref: unsigned},
				{name: "forged bundle", ref: forged},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					r := w.Signet("verify", "-o", "json", tc.ref)
					signetOK := r.code == 0
					if signetOK != tc.trusted || (!tc.trusted && r.code != 1) {
						t.Fatalf("signet verify: want trusted=%v: %s", tc.trusted, r)
					}
					cosignOK, cr := cs.verify(vendorPub, tc.ref, tc.legacy)
					if cosignOK != signetOK {
						t.Fatalf("cosign verify disagrees with signet (signet trusted=%v): %s", signetOK, cr)
					}
					if !tc.trusted {
						return
					}
					var out struct {
						Signatures []struct {
							Format   string
							Verified bool
							Key      *struct{ Store, SHA256Fingerprint string }
						}
					}
					if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
						t.Fatal(err)
					}
					last := out.Signatures[len(out.Signatures)-1]
					if !last.Verified || last.Format != tc.format || last.Key == nil || last.Key.Store != "publickey:vendor" || len(last.Key.SHA256Fingerprint) != 64 {
						t.Fatalf("verdict %+v", out)
					}
					l := must(t, w.Signet("list", "-o", "json", tc.ref), "signet list")
					if !strings.Contains(l.stdout, tc.format) {
						t.Errorf("signet list does not show the %s signature: %s", tc.format, l)
					}
					in := must(t, w.Signet("inspect", "-o", "json", tc.ref), "signet inspect")
					var ins struct {
						Signatures []struct {
							Format string
							Cosign *struct {
								PredicateType string
								Covers        []string
							}
						}
					}
					if err := json.Unmarshal([]byte(in.stdout), &ins); err != nil || len(ins.Signatures) != 1 {
						t.Fatalf("signet inspect: %v %s", err, in)
					}
					if c := ins.Signatures[0].Cosign; ins.Signatures[0].Format != tc.format || c == nil || len(c.Covers) != 1 || !strings.HasSuffix(tc.ref, "@"+c.Covers[0]) ||
						(!tc.legacy && c.PredicateType != "https://sigstore.dev/cosign/sign/v1") {
						t.Errorf("signet inspect: %s", in.stdout)
					}
					// The same signature in an OCI layout: the image with its
					// referrers, and for the legacy form the sha256-<hex>.sig tag.
					dir := filepath.Join(t.TempDir(), "layout")
					must(t, w.Signet("copy", "-r", "--to-oci-layout", tc.ref, dir), "signet copy -r --to-oci-layout")
					dgst := tc.ref[strings.LastIndex(tc.ref, "@")+1:]
					if tc.legacy {
						sigTag := strings.Replace(dgst, ":", "-", 1) + ".sig"
						must(t, w.Signet("copy", "--to-oci-layout", repo+":"+sigTag, dir+":"+sigTag), "signet copy of the .sig tag")
					}
					lr := must(t, w.Signet("verify", "--oci-layout", "--scope", repo, "-o", "json", dir+"@"+dgst), "signet verify --oci-layout")
					if !strings.Contains(lr.stdout, `"`+tc.format+`"`) {
						t.Errorf("layout verdict does not show a %s signature: %s", tc.format, lr.stdout)
					}
					if !tc.legacy {
						d := must(t, w.Signet("discover", "--verify", "-o", "json", tc.ref), "signet discover --verify")
						if !strings.Contains(d.stdout, registry.MediaTypeSigstoreBundle) || !strings.Contains(d.stdout, `"verdict": "verified"`) {
							t.Errorf("signet discover --verify does not verify the bundle: %s", d)
						}
					}
				})
			}

			// Both kinds of store under one statement.
			both, _ := image("both")
			must(t, w.Notation("sign", "--insecure-registry", "--key", "acme", both), "notation sign")
			half, _ := image("half")
			must(t, w.Notation("sign", "--insecure-registry", "--key", "acme", half), "notation sign")
			cs.sign(strangerKey, half, false)
			w.cosignPolicy(repo, []string{"ca:acme", "publickey:vendor"}, nil)
			must(t, w.Signet("verify", both), "signet verify (notation signature, mixed statement)")
			must(t, w.Signet("verify", bundled), "signet verify (cosign signature, mixed statement)")
			w.cosignPolicy(repo, []string{"ca:acme", "publickey:vendor"}, map[string]any{"minSignatures": 2})
			if r := w.Signet("verify", both); r.code != 1 {
				t.Fatalf("minSignatures 2 with only the notation signature: %s", r)
			}
			cs.sign(vendorKey, both, false)
			r := must(t, w.Signet("verify", "-o", "json", both), "signet verify, minSignatures 2, notation + cosign")
			if !strings.Contains(r.stdout, `"cosignBundle"`) || !strings.Contains(r.stdout, `"notary"`) {
				t.Errorf("verdict does not show both signatures: %s", r.stdout)
			}
			if r := w.Signet("verify", half); r.code != 1 {
				t.Fatalf("minSignatures 2 with a cosign signature by an untrusted key: %s", r)
			}
		})
	}
}

// BenchmarkCosignVerify compares one `signet verify` process with one
// `cosign verify --key --insecure-ignore-tlog` process on the same image,
// signed by cosign in the bundle form, on the in-process registry with the
// referrers API.
func BenchmarkCosignVerify(b *testing.B) {
	reg := testregistry.New(b, testregistry.Options{Referrers: true})
	w := &world{xdg: b.TempDir()}
	home := b.TempDir()
	cosignBin := peer.Cosign(b)
	env := []string{"HOME=" + home, "COSIGN_PASSWORD=", "TUF_ROOT=" + filepath.Join(home, "tuf")}
	run := func(bin string, env []string, args ...string) {
		b.Helper()
		if _, stderr, err := peer.Run(b, bin, env, args...); err != nil {
			b.Fatalf("%s %v: %v\n%s", bin, args, err, stderr)
		}
	}
	prefix := filepath.Join(b.TempDir(), "k")
	run(cosignBin, env, "generate-key-pair", "--output-key-prefix", prefix)
	repo := reg.Ref("bench/app")
	r, _, err := registry.NewRepository(repo+":v1", registry.RemoteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := testregistry.PushImage(b, r, "v1", "v1")
	ref := repo + "@" + d.Digest.String()
	run(cosignBin, env, "sign", "--key", prefix+".key", "--tlog-upload=false", "--use-signing-config=false", "--allow-http-registry", "-y", ref)
	signetEnv := []string{"SIGNET_CONFIG=" + w.Config()}
	run(signetBin, signetEnv, "cert", "add", "--type", "publickey", "--store", "vendor", prefix+".pub")
	doc := `{"version":"signet/v1","trustPolicies":[{"name":"c","registryScopes":["` + repo + `"],"signatureVerification":{"level":"strict"},"trustStores":["publickey:vendor"],"trustedIdentities":["*"]}]}`
	if err := os.WriteFile(filepath.Join(w.Config(), "trustpolicy.oci.json"), []byte(doc), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("signet", func(b *testing.B) {
		for b.Loop() {
			run(signetBin, signetEnv, "verify", ref)
		}
	})
	b.Run("cosign", func(b *testing.B) {
		for b.Loop() {
			run(cosignBin, env, "verify", "--key", prefix+".pub", "--insecure-ignore-tlog", "--allow-http-registry", ref)
		}
	})
}
