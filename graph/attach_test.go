package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
)

func TestParseFileRef(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    graph.File
		wantErr bool
	}{
		{name: "plain", in: "sbom.json", want: graph.File{Path: "sbom.json"}},
		{name: "media type", in: "sbom.json:application/spdx+json", want: graph.File{Path: "sbom.json", MediaType: "application/spdx+json"}},
		{name: "colon in name with media type", in: "a:b.txt:text/plain", want: graph.File{Path: "a:b.txt", MediaType: "text/plain"}},
		{name: "colon in name without media type", in: "a:b.txt", wantErr: true},
		{name: "empty media type", in: "sbom.json:", wantErr: true},
		{name: "no file", in: ":text/plain", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "media type with parameter", in: "f:text/plain;charset=utf-8", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graph.ParseFileRef(tc.in)
			if tc.wantErr {
				if !errors.Is(err, graph.ErrInvalidAttach) {
					t.Fatalf("err = %v, want ErrInvalidAttach", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    map[string]string
		wantErr bool
	}{
		{name: "none", in: nil, want: nil},
		{name: "pairs", in: []string{"a=1", "b=x=y", "c="}, want: map[string]string{"a": "1", "b": "x=y", "c": ""}},
		{name: "no equals", in: []string{"a"}, wantErr: true},
		{name: "empty key", in: []string{"=v"}, wantErr: true},
		{name: "duplicate", in: []string{"a=1", "a=2"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := graph.ParseAnnotations(tc.in)
			if tc.wantErr {
				if !errors.Is(err, graph.ErrInvalidAttach) {
					t.Fatalf("err = %v, want ErrInvalidAttach", err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// The manifest Attach writes: OCI 1.1 artifact guidance, oras's layer
// titles and default media type, created annotation, subject.
func TestAttachManifest(t *testing.T) {
	s := remote(t, testregistry.New(t, testregistry.Options{Referrers: true}).Host, registry.ReferrersAuto)
	ctx := context.Background()
	image := testregistry.PushImage(t, s, "app", "v1")
	sbom := writeFile(t, "sbom.spdx.json", `{"spdxVersion":"SPDX-2.3"}`)
	notes := writeFile(t, "notes.txt", "release notes")
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	desc, err := graph.Attach(ctx, s, image, graph.AttachOptions{
		ArtifactType: typeSBOM,
		Files:        []graph.File{{Path: sbom, MediaType: "application/spdx+json"}, {Path: notes}},
		Annotations:  map[string]string{"build": "42"},
		Now:          func() time.Time { return when },
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := content.FetchAll(ctx, s, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.MediaType != ocispec.MediaTypeImageManifest, m.ArtifactType != typeSBOM:
		t.Errorf("mediaType %q artifactType %q", m.MediaType, m.ArtifactType)
	case m.Config.MediaType != ocispec.MediaTypeEmptyJSON || m.Config.Digest != ocispec.DescriptorEmptyJSON.Digest:
		t.Errorf("config = %+v, want the empty descriptor", m.Config)
	case m.Subject == nil || m.Subject.Digest != image.Digest || m.Subject.Size != image.Size || m.Subject.MediaType != image.MediaType:
		t.Errorf("subject = %+v, want %+v", m.Subject, image)
	case len(m.Layers) != 2:
		t.Fatalf("%d layers, want 2", len(m.Layers))
	}
	if l := m.Layers[0]; l.MediaType != "application/spdx+json" || l.Annotations[ocispec.AnnotationTitle] != "sbom.spdx.json" {
		t.Errorf("layer 0 = %+v", l)
	}
	if l := m.Layers[1]; l.MediaType != graph.DefaultFileMediaType || l.Annotations[ocispec.AnnotationTitle] != "notes.txt" {
		t.Errorf("layer 1 = %+v", l)
	}
	if m.Annotations["build"] != "42" || m.Annotations[ocispec.AnnotationCreated] != "2026-03-04T05:06:07Z" {
		t.Errorf("annotations = %v", m.Annotations)
	}
	if desc.ArtifactType != typeSBOM || desc.Annotations["build"] != "42" {
		t.Errorf("returned descriptor %+v", desc)
	}
	layer, err := content.FetchAll(ctx, s, m.Layers[1])
	if err != nil || string(layer) != "release notes" {
		t.Errorf("layer content %q, %v", layer, err)
	}
}

// Annotations only: the empty layer, as the image spec asks of an artifact
// without files. A given created annotation is kept.
func TestAttachAnnotationsOnly(t *testing.T) {
	s := remote(t, testregistry.New(t, testregistry.Options{}).Host, registry.ReferrersAuto)
	ctx := context.Background()
	image := testregistry.PushImage(t, s, "app", "v1")
	desc, err := graph.Attach(ctx, s, image, graph.AttachOptions{
		ArtifactType: "application/vnd.example.approval",
		Annotations:  map[string]string{"approved-by": "qa", ocispec.AnnotationCreated: "2020-01-01T00:00:00Z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := content.FetchAll(ctx, s, desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) != 1 || m.Layers[0].Digest != ocispec.DescriptorEmptyJSON.Digest {
		t.Errorf("layers = %+v, want the empty descriptor", m.Layers)
	}
	if m.Annotations[ocispec.AnnotationCreated] != "2020-01-01T00:00:00Z" {
		t.Errorf("created = %q", m.Annotations[ocispec.AnnotationCreated])
	}
}

func TestAttachRefuses(t *testing.T) {
	s := remote(t, testregistry.New(t, testregistry.Options{Referrers: true}).Host, registry.ReferrersAuto)
	ctx := context.Background()
	image := testregistry.PushImage(t, s, "app", "v1")
	f := writeFile(t, "a.json", "{}")
	tests := []struct {
		name string
		opts graph.AttachOptions
	}{
		{name: "no artifact type", opts: graph.AttachOptions{Files: []graph.File{{Path: f}}}},
		{name: "bad artifact type", opts: graph.AttachOptions{ArtifactType: "sbom", Files: []graph.File{{Path: f}}}},
		{name: "nothing to attach", opts: graph.AttachOptions{ArtifactType: typeSBOM}},
		{name: "bad media type", opts: graph.AttachOptions{ArtifactType: typeSBOM, Files: []graph.File{{Path: f, MediaType: "json"}}}},
		{name: "duplicate title", opts: graph.AttachOptions{ArtifactType: typeSBOM, Files: []graph.File{{Path: f}, {Path: writeFile(t, "a.json", "other")}}}},
		{name: "directory", opts: graph.AttachOptions{ArtifactType: typeSBOM, Files: []graph.File{{Path: t.TempDir()}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := graph.Attach(ctx, s, image, tc.opts); !errors.Is(err, graph.ErrInvalidAttach) {
				t.Fatalf("err = %v, want ErrInvalidAttach", err)
			}
		})
	}
	// Nothing was attached.
	root, err := graph.Walk(ctx, s, image, graph.Options{})
	if err != nil || len(root.Referrers) != 0 {
		t.Fatalf("referrers after refusals: %v, %v", root, err)
	}
}
