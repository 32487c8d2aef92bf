package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/errdef"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/signature"
)

// graphLayoutTar writes an OCI layout as a tar: an index of two platform
// images tagged "v1", a signature on the index and one on the first
// image, and a config blob shared by both images. It returns the archive
// and every descriptor in it.
func graphLayoutTar(t *testing.T) (string, []ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	img1 := image(t, store, "one")
	img2 := image(t, store, "two")
	raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{img1, img2}})
	idx := content.NewDescriptorFromBytes(ocispec.MediaTypeImageIndex, raw)
	if err := store.Push(ctx, idx, bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if err := store.Tag(ctx, idx, "v1"); err != nil {
		t.Fatal(err)
	}
	chain := testpki.NewChain(t, "ec-256").Certs()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s1, err := PushSignature(ctx, store, idx, signature.MediaTypeJWS, []byte(`{"jws":1}`), chain, now, FormConfig)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := PushSignature(ctx, store, img1, signature.MediaTypeJWS, []byte(`{"jws":2}`), chain, now, FormArtifactType)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "layout.tar")
	if err := writeTar(dir, p); err != nil {
		t.Fatal(err)
	}
	all := []ocispec.Descriptor{idx, img1, img2, s1, s2}
	for _, m := range []ocispec.Descriptor{img1, img2, s1, s2} {
		raw, err := content.FetchAll(ctx, store, m)
		if err != nil {
			t.Fatal(err)
		}
		var man ocispec.Manifest
		if err := json.Unmarshal(raw, &man); err != nil {
			t.Fatal(err)
		}
		all = append(all, man.Config)
		all = append(all, man.Layers...)
	}
	return p, all
}

// TestLayoutTarMatchesORAS: the archive opened in place answers as
// oras-go's read-only OCI store over the same archive: the same tags and
// digests resolve to the same descriptors, every node has the same
// predecessors, every blob reads the same.
func TestLayoutTarMatchesORAS(t *testing.T) {
	ctx := context.Background()
	p, all := graphLayoutTar(t)
	ours, err := OpenLayoutTar(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := oci.NewFromTar(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{"v1", "nope", "sha256:" + strings.Repeat("0", 64), "sha256:bad"}
	for _, d := range all {
		refs = append(refs, d.Digest.String())
	}
	for _, ref := range refs {
		got, gotErr := ours.Resolve(ctx, ref)
		want, wantErr := theirs.Resolve(ctx, ref)
		if (gotErr == nil) != (wantErr == nil) || !errors.Is(gotErr, errdef.ErrNotFound) && gotErr != nil {
			t.Errorf("Resolve(%q): error %v, oras-go %v", ref, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !equalDesc(got, want) {
			t.Errorf("Resolve(%q) = %+v, oras-go %+v", ref, got, want)
		}
	}
	if _, err := ours.Resolve(ctx, ""); !errors.Is(err, errdef.ErrMissingReference) {
		t.Errorf("Resolve(\"\"): %v", err)
	}
	for _, d := range all {
		got, _ := ours.Predecessors(ctx, d)
		want, _ := theirs.Predecessors(ctx, d)
		if g, w := digests(got), digests(want); !slices.Equal(g, w) {
			t.Errorf("Predecessors(%s) = %v, oras-go %v", d.Digest, g, w)
		}
		gotData, err := content.FetchAll(ctx, ours, d)
		if err != nil {
			t.Errorf("Fetch(%s): %v", d.Digest, err)
			continue
		}
		wantData, _ := content.FetchAll(ctx, theirs, d)
		if !bytes.Equal(gotData, wantData) {
			t.Errorf("Fetch(%s) differs from oras-go", d.Digest)
		}
		if ok, err := ours.Exists(ctx, d); !ok || err != nil {
			t.Errorf("Exists(%s) = %v, %v", d.Digest, ok, err)
		}
	}
	missing := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromString("missing"), Size: 7}
	if _, err := ours.Fetch(ctx, missing); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("Fetch of a missing blob: %v", err)
	}
	if ok, err := ours.Exists(ctx, missing); ok || err != nil {
		t.Errorf("Exists of a missing blob: %v, %v", ok, err)
	}
	if got := len(ours.Manifests()); got != 5 {
		t.Errorf("Manifests() lists %d, want the 5 of index.json", got)
	}
	if sub, listed, ok := ours.ManifestLinks(all[0].Digest); !ok || sub != nil || len(listed) != 2 || listed[0].Digest != all[1].Digest {
		t.Errorf("ManifestLinks(index) = %v, %v, %v", sub, listed, ok)
	}
	if sub, listed, ok := ours.ManifestLinks(all[3].Digest); !ok || sub == nil || sub.Digest != all[0].Digest || len(listed) != 0 {
		t.Errorf("ManifestLinks(signature) = %v, %v, %v", sub, listed, ok)
	}
	if _, _, ok := ours.ManifestLinks(all[5].Digest); ok {
		t.Error("ManifestLinks of a config blob")
	}
	// The signatures are found as through oras-go.
	subject, err := ResolveManifest(ctx, ours, "v1")
	if err != nil {
		t.Fatal(err)
	}
	sigs, _, err := ListSignatures(ctx, ours, subject, 0)
	if err != nil || len(sigs) != 1 || sigs[0].Digest != all[3].Digest {
		t.Fatalf("signatures of the index: %v %v", sigs, err)
	}
}

func equalDesc(a, b ocispec.Descriptor) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func digests(ds []ocispec.Descriptor) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Digest.String())
	}
	slices.Sort(out)
	return out
}

// tarEntries reads an archive's regular files, in order.
func tarEntries(t testing.TB, p string) (names []string, data map[string][]byte) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data = map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, data
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		data[h.Name] = b
	}
}

// buildTar writes the named files, in order, as a tar.
func buildTar(t testing.TB, names []string, data map[string][]byte) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data[n]))}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data[n])
	}
	tw.Close()
	p := filepath.Join(t.TempDir(), "x.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLayoutTarRefuses: an archive that is no OCI layout, or whose
// manifests do not match their digests, does not open; index.json is
// bounded.
func TestLayoutTarRefuses(t *testing.T) {
	ctx := context.Background()
	p, all := graphLayoutTar(t)
	names, data := tarEntries(t, p)
	blob := func(d ocispec.Descriptor) string { return "blobs/sha256/" + d.Digest.Encoded() }
	tests := []struct {
		name   string
		change func(names []string, data map[string][]byte) []string
		want   string
	}{
		{"no oci-layout", func(n []string, d map[string][]byte) []string {
			return slices.DeleteFunc(n, func(s string) bool { return s == "oci-layout" })
		}, "no oci-layout"},
		{"other layout version", func(n []string, d map[string][]byte) []string {
			d["oci-layout"] = []byte(`{"imageLayoutVersion":"2.0.0"}`)
			return n
		}, "version"},
		{"no index.json", func(n []string, d map[string][]byte) []string {
			return slices.DeleteFunc(n, func(s string) bool { return s == "index.json" })
		}, "no index.json"},
		{"index.json over the limit", func(n []string, d map[string][]byte) []string {
			d["index.json"] = bytes.Repeat([]byte(" "), MaxManifestBytes+1)
			return n
		}, "over the limit"},
		{"manifest altered", func(n []string, d map[string][]byte) []string {
			m := d[blob(all[1])]
			d[blob(all[1])] = bytes.Replace(m, []byte(`"schemaVersion":2`), []byte(`"schemaVersion":3`), 1)
			return n
		}, "does not match its digest"},
		{"manifest truncated", func(n []string, d map[string][]byte) []string {
			d[blob(all[0])] = d[blob(all[0])][:10]
			return n
		}, "does not match its digest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := map[string][]byte{}
			for k, v := range data {
				d[k] = slices.Clone(v)
			}
			q := buildTar(t, tc.change(slices.Clone(names), d), d)
			_, err := OpenLayoutTar(ctx, q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	// Not a tar at all.
	q := filepath.Join(t.TempDir(), "x.tar")
	os.WriteFile(q, []byte("not a tar"), 0o600)
	if _, err := OpenLayoutTar(ctx, q); err == nil {
		t.Fatal("opened a file that is no tar")
	}
}

// TestLayoutTarMissingBlob: a manifest the index lists but the archive
// lacks is left out of the graph (as oras-go does), and fetching it says
// not found.
func TestLayoutTarMissingBlob(t *testing.T) {
	ctx := context.Background()
	p, all := graphLayoutTar(t)
	names, data := tarEntries(t, p)
	sig := "blobs/sha256/" + all[3].Digest.Encoded() // the index's signature
	q := buildTar(t, slices.DeleteFunc(names, func(s string) bool { return s == sig }), data)
	s, err := OpenLayoutTar(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	preds, _ := s.Predecessors(ctx, all[0])
	if len(preds) != 0 {
		t.Errorf("predecessors of the index: %v", preds)
	}
	if _, err := s.Fetch(ctx, all[3]); !errors.Is(err, errdef.ErrNotFound) {
		t.Errorf("Fetch: %v", err)
	}
}

// FuzzLayoutTar: any archive either does not open or answers every
// question about what it lists without panicking, reading within bounds.
func FuzzLayoutTar(f *testing.F) {
	f.Add([]byte("not a tar"))
	f.Add(seedLayoutTar())
	f.Fuzz(func(t *testing.T, b []byte) {
		ctx := context.Background()
		p := filepath.Join(t.TempDir(), "f.tar")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenLayoutTar(ctx, p)
		if err != nil {
			return
		}
		defer s.Close()
		for _, d := range s.Manifests() {
			s.Resolve(ctx, d.Digest.String())
			s.Resolve(ctx, d.Annotations[ocispec.AnnotationRefName])
			s.Predecessors(ctx, d)
			if rc, err := s.Fetch(ctx, d); err == nil {
				io.Copy(io.Discard, io.LimitReader(rc, MaxManifestBytes+1))
				rc.Close()
			}
		}
	})
}

// seedLayoutTar is a small valid layout archive: an image tagged "v1" and
// a referrer of it.
func seedLayoutTar() []byte {
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	var names []string
	add := func(mt string, b []byte) ocispec.Descriptor {
		d := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
		n := "blobs/sha256/" + d.Digest.Encoded()
		files[n] = b
		names = append(names, n)
		return d
	}
	cfg := add(ocispec.MediaTypeImageConfig, []byte(`{}`))
	layer := add(ocispec.MediaTypeImageLayer, []byte("layer"))
	mb, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}})
	img := add(ocispec.MediaTypeImageManifest, mb)
	rb, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/example", Config: ocispec.DescriptorEmptyJSON, Layers: []ocispec.Descriptor{layer}, Subject: &img})
	ref := add(ocispec.MediaTypeImageManifest, rb)
	tagged := img
	tagged.Annotations = map[string]string{ocispec.AnnotationRefName: "v1"}
	files["index.json"], _ = json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{tagged, ref}})
	names = append(names, "index.json", "oci-layout")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n]))})
		tw.Write(files[n])
	}
	tw.Close()
	return buf.Bytes()
}

// FuzzValidDigest: ValidDigest answers as go-digest's Validate.
func FuzzValidDigest(f *testing.F) {
	for _, s := range []string{
		"sha256:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64), "sha256:" + strings.Repeat("a", 63),
		"sha256:" + strings.Repeat("g", 64), "sha512:" + strings.Repeat("0", 128), "sha384:x", "", ":", "sha256:",
		string(digest.FromString("x")),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidDigest(digest.Digest(s)), digest.Digest(s).Validate() == nil; got != want {
			t.Fatalf("ValidDigest(%q) = %v, Validate says %v", s, got, want)
		}
	})
}
