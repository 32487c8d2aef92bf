package graph_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"oras.land/oras-go/v2/content/oci"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

// TestExportImportGraph: Export writes the whole graph as a layout tar
// (the root tagged), Import pushes it into a tag-schema registry with
// every referrer listed, and BundleRoot finds the root with and without a
// tag and refuses an archive holding two artifacts.
func TestExportImportGraph(t *testing.T) {
	ctx := context.Background()
	k := newKeys(t)
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")
	dir := t.TempDir()
	tagged := filepath.Join(dir, "tagged.tar")
	res, err := graph.Export(ctx, src, "v1", tagged, graph.ExportOptions{Recursive: true, Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Root.Digest != f.root.Digest || res.Evidence != nil {
		t.Fatalf("export: root %s, evidence %+v", res.Root.Digest, res.Evidence)
	}
	store, err := oci.NewFromTar(ctx, tagged)
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, store, f)
	byDigest := filepath.Join(dir, "digest.tar")
	if _, err := graph.Export(ctx, src, f.root.Digest.String(), byDigest, graph.ExportOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{tagged, byDigest} {
		s, err := oci.NewFromTar(ctx, file)
		if err != nil {
			t.Fatal(err)
		}
		root, err := graph.BundleRoot(ctx, file, s)
		if err != nil || root.Digest != f.root.Digest {
			t.Errorf("%s: bundle root %s, %v", filepath.Base(file), root.Digest, err)
		}
	}

	dst := distributionEndpoint.open(t, "prod/app")
	if _, err := graph.Import(ctx, byDigest, "", dst, graph.CopyOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	checkGraph(t, dst, f)

	// An archive of a layout with two unrelated images is ambiguous.
	lay := filepath.Join(t.TempDir(), "two")
	s2, err := oci.NewWithContext(ctx, lay)
	if err != nil {
		t.Fatal(err)
	}
	testregistry.PushImage(t, s2, "a", "")
	testregistry.PushImage(t, s2, "b", "")
	archive := filepath.Join(t.TempDir(), "two.tar")
	if err := registry.WriteLayoutTar(lay, archive); err != nil {
		t.Fatal(err)
	}
	ro, err := oci.NewFromTar(ctx, archive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := graph.BundleRoot(ctx, archive, ro); !errors.Is(err, signet.ErrInvalidInput) {
		t.Errorf("two artifacts: got %v, want ErrInvalidInput", err)
	}
}
