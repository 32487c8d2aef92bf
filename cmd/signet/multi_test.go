package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
)

// TestVerifyManyReferences: several references in one call, one verdict
// each, exit 1 when any is not trusted (issue 4 item 4).
func TestVerifyManyReferences(t *testing.T) {
	w := newOCIWorld(t)
	signed := []string{}
	for range 3 {
		dir, dg := newLayout(t)
		ref := dir + "@" + dg.String()
		w.c.must("sign", "--oci-layout", ref)
		signed = append(signed, ref)
	}
	args := append([]string{"verify", "--oci-layout", "--scope", "example.com/app"}, signed...)
	r := w.c.must(args...)
	if n := strings.Count(r.stdout, "Successfully verified"); n != 3 {
		t.Fatalf("%d verdicts, want 3\n%s", n, r)
	}
	// One unsigned reference among them: exit 1, the others still trusted.
	all := append(append([]string{}, signed...), w.byDigest())
	r = w.c.run(append([]string{"verify", "--oci-layout", "--scope", "example.com/app", "-o", "json"}, all...)...)
	if r.code != exitNotTrusted {
		t.Fatalf("want exit 1\n%s", r)
	}
	var outs []map[string]any
	jsonOut(t, r, &outs)
	if len(outs) != 4 {
		t.Fatalf("%d verdicts", len(outs))
	}
	for i, o := range outs {
		want := "trusted"
		if i == 3 {
			want = "notTrusted"
		}
		if o["verdict"] != want {
			t.Errorf("verdict %d = %v, want %s", i, o["verdict"], want)
		}
	}
	// A reference that cannot be read gets an error verdict, in its place.
	r = w.c.run("verify", "--oci-layout", "--scope", "example.com/app", "-o", "json", signed[0], t.TempDir()+"/none@"+w.dg.String())
	jsonOut(t, r, &outs)
	if r.code != exitIO || len(outs) != 2 || outs[0]["verdict"] != "trusted" || outs[1]["verdict"] != "error" {
		t.Fatalf("exit %d, %v", r.code, outs)
	}
}

// TestSignManyAndRecursive: several references in one sign call; an index
// signed recursively (index and each platform manifest) and by --platform.
func TestSignManyAndRecursive(t *testing.T) {
	w := newOCIWorld(t)
	dir2, dg2 := newLayout(t)
	r := w.c.must("sign", "--oci-layout", "-o", "json", w.byDigest(), dir2+"@"+dg2.String())
	var results []map[string]any
	jsonOut(t, r, &results)
	if len(results) != 2 {
		t.Fatalf("%s", r)
	}

	idx, children := addIndex(t, w.layout, "linux/amd64", "linux/arm64", "linux/s390x", "windows/amd64")
	r = w.c.must("sign", "--oci-layout", "--recursive", "-o", "json", w.layout+":multi")
	var one struct {
		Reference string
		Children  []map[string]any
	}
	jsonOut(t, r, &one)
	if !strings.HasSuffix(one.Reference, idx.String()) || len(one.Children) != 4 {
		t.Fatalf("recursive: %s", r)
	}
	for _, c := range append(children, idx) {
		w.c.must("verify", "--oci-layout", "--scope", "example.com/app", w.layout+"@"+c.String())
	}

	dir3, _ := newLayout(t)
	idx3, children3 := addIndex(t, dir3, "linux/amd64", "linux/arm64")
	w.c.must("sign", "--oci-layout", "--platform", "linux/arm64", dir3+":multi")
	w.c.must("verify", "--oci-layout", "--scope", "example.com/app", dir3+"@"+children3[1].String())
	if r := w.c.run("verify", "--oci-layout", "--scope", "example.com/app", dir3+"@"+idx3.String()); r.code != exitNotTrusted {
		t.Errorf("the index was signed too: %s", r)
	}
	checkFailure(t, w.c.run("sign", "--oci-layout", "--platform", "linux/ppc64le", dir3+":multi"), exitUsage, "no manifest for platform linux/ppc64le", "")
	checkFailure(t, w.c.run("sign", "--oci-layout", "--platform", "linux/amd64", "--recursive", dir3+":multi"), exitUsage, "exclude each other", "")
}

// addIndex adds an index of one image per platform to the layout at dir,
// tagged "multi", and returns its digest and its children's digests.
func addIndex(t *testing.T, dir string, platforms ...string) (digestString, []digestString) {
	t.Helper()
	ctx := context.Background()
	store, err := oci.NewWithContext(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	push := func(mt string, data []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mt, data)
		if ok, _ := store.Exists(ctx, d); !ok {
			if err := store.Push(ctx, d, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	var kids []ocispec.Descriptor
	var digests []digestString
	for _, p := range platforms {
		os, arch, _ := strings.Cut(p, "/")
		cfg := push(ocispec.MediaTypeImageConfig, []byte(`{"os":"`+os+`","architecture":"`+arch+`"}`))
		raw, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}})
		m := push(ocispec.MediaTypeImageManifest, raw)
		m.Platform = &ocispec.Platform{OS: os, Architecture: arch}
		kids = append(kids, m)
		digests = append(digests, digestString(m.Digest))
	}
	raw, _ := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: kids})
	d := push(ocispec.MediaTypeImageIndex, raw)
	if err := store.Tag(ctx, d, "multi"); err != nil {
		t.Fatal(err)
	}
	return digestString(d.Digest), digests
}

type digestString string

func (d digestString) String() string { return string(d) }
