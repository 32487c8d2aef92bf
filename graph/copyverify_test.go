package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/graph"
	"github.com/signet-dev/signet/internal/testregistry"
	"github.com/signet-dev/signet/registry"
	"github.com/signet-dev/signet/signature"
)

// copyVerify is a verified copy's options trusting k everywhere.
func copyVerify(t *testing.T, k *keys, all bool) *graph.VerifyOptions {
	t.Helper()
	return &graph.VerifyOptions{VerifyOCIOptions: k.verifyOptions(t), SourceScope: "build.example/app", DestinationScope: "prod.example/app", All: all}
}

// nodeByDigest finds a node's verification.
func nodeByDigest(t *testing.T, v *graph.Verification, d digest.Digest) graph.NodeVerification {
	t.Helper()
	for _, n := range v.Nodes {
		if n.Digest == d {
			return n
		}
	}
	t.Fatalf("node %s is not in the verification report", d)
	return graph.NodeVerification{}
}

// unsignedFixtureNodes are the fixture's manifests without a signature:
// the SBOM of each of the 4 platform manifests and the scan report.
func fixtureSBOMs(f *fixture) (signed ocispec.Descriptor, unsigned []ocispec.Descriptor) {
	hasSig := map[digest.Digest]bool{}
	isSig := map[digest.Digest]bool{}
	for _, r := range f.referrers {
		if r.ArtifactType == signature.ArtifactType {
			isSig[r.Digest] = true
			hasSig[f.subjects[r.Digest].Digest] = true
		}
	}
	for _, r := range f.referrers {
		if isSig[r.Digest] {
			continue
		}
		if hasSig[r.Digest] {
			signed = r
		} else {
			unsigned = append(unsigned, r)
		}
	}
	return signed, unsigned
}

// TestCopyVerifyGraph (issue 10 item 4): a verified copy verifies every
// signed manifest of the graph at both ends (the index, the 4 platform
// manifests, the signed SBOM), each by its own signatures, and reports
// the unsigned SBOMs and scan report without failing; from and into
// registries with and without the referrers API and layouts.
func TestCopyVerifyGraph(t *testing.T) {
	k := newKeys(t)
	for _, tc := range []struct {
		name     string
		src, dst endpoint
	}{
		{"referrers API to referrers API", ggcrEndpoint(true), ggcrEndpoint(true)},
		{"referrers API to tag schema (ggcr)", ggcrEndpoint(true), ggcrEndpoint(false)},
		{"referrers API to distribution", ggcrEndpoint(true), distributionEndpoint},
		{"referrers API to layout", ggcrEndpoint(true), layoutEndpoint},
		{"distribution to referrers API", distributionEndpoint, ggcrEndpoint(true)},
		{"layout to tag schema (ggcr)", layoutEndpoint, ggcrEndpoint(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := tc.src.open(t, "build/app")
			f := buildFixture(t, src, k, "app")
			signedSBOM, unsigned := fixtureSBOMs(f)
			d := tc.dst.open(t, "prod/app")
			res, err := graph.Copy(ctx, src, "v1", d, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
			if err != nil {
				t.Fatal(err)
			}
			checkGraph(t, d, f)
			v := res.Verification
			// 1 index + 4 platform manifests + 5 SBOMs + 1 scan report.
			if len(v.Nodes) != 11 || v.Nodes[0].Digest != f.root.Digest || v.Nodes[0].Kind != graph.KindRoot {
				t.Fatalf("%d nodes verified (want 11, the root first): %+v", len(v.Nodes), v.Nodes)
			}
			required := 0
			for _, n := range v.Nodes {
				if !n.Required {
					continue
				}
				required++
				if n.Signatures != 1 || n.Verdict != string(signet.VerdictTrusted) || n.Error != "" {
					t.Errorf("node %s %s: %d signatures, verdict %s %s", n.Kind, n.Digest, n.Signatures, n.Verdict, n.Error)
				}
				if n.Source == nil || n.Source.Verdict != signet.VerdictTrusted || n.Destination == nil || n.Destination.Verdict != signet.VerdictTrusted {
					t.Errorf("node %s: source %+v destination %+v, want trusted at both ends", n.Digest, n.Source, n.Destination)
				}
				if n.Kind == graph.KindReferrer && n.ArtifactType != typeSPDX {
					t.Errorf("signed referrer %s has artifact type %q", n.Digest, n.ArtifactType)
				}
			}
			if required != 6 {
				t.Errorf("%d nodes verified, want 6 (index, 4 platform manifests, signed SBOM)", required)
			}
			if n := nodeByDigest(t, v, signedSBOM.Digest); !n.Required {
				t.Errorf("the signed SBOM was not verified: %+v", n)
			}
			for _, u := range unsigned {
				n := nodeByDigest(t, v, u.Digest)
				if n.Required || n.Verdict != graph.VerdictUnsigned || n.Signatures != 0 || n.Source != nil || n.Destination != nil {
					t.Errorf("unsigned referrer %s: %+v", u.Digest, n)
				}
			}
			if v.Source != v.Nodes[0].Source || v.Destination != v.Nodes[0].Destination || v.Refused {
				t.Errorf("the root's outcomes are not the first node's, or refused: %+v", v)
			}
			// The JSON report carries each node's verdict.
			raw, _ := json.Marshal(res)
			for _, want := range []string{`"verdict":"unsigned"`, `"required":true`, `"signatures":1`} {
				if !bytes.Contains(raw, []byte(want)) {
					t.Errorf("JSON report lacks %s", want)
				}
			}

			// --verify-all: the unsigned SBOMs and scan report fail the
			// copy, each named.
			_, err = graph.Copy(ctx, src, "v1", d, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, true)})
			var ve *graph.VerifyError
			if !errors.As(err, &ve) || ve.End != graph.EndSource || len(ve.Nodes) != len(unsigned) || !errors.Is(err, signet.ErrNoSignature) || !errors.Is(err, signet.ErrNotTrusted) {
				t.Fatalf("verify all: %v, want the %d unsigned nodes named at the source", err, len(unsigned))
			}
			for _, u := range unsigned {
				if !strings.Contains(err.Error(), u.Digest.String()) {
					t.Errorf("verify all: %s not named in %v", u.Digest, err)
				}
			}
		})
	}
}

// noSignaturePush is a target into which SignOCI signs without storing
// the signature manifest, so that a test can alter the envelope first.
type noSignaturePush struct{ pushTarget }

func (n noSignaturePush) Push(ctx context.Context, d ocispec.Descriptor, r io.Reader) error {
	if d.MediaType == ocispec.MediaTypeImageManifest {
		return nil
	}
	return n.pushTarget.Push(ctx, d, r)
}

// signTampered signs subject with k, alters one character of the JWS
// signature value and stores the result as subject's one signature.
func signTampered(t *testing.T, tgt pushTarget, k *keys, subject ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	s, err := signet.SignOCI(ctx, noSignaturePush{tgt}, subject.Digest.String(), signet.SignOCIOptions{SignOptions: signet.SignOptions{Signer: k.signer}})
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(s.Envelope, &env); err != nil {
		t.Fatalf("the envelope is not JWS JSON: %v", err)
	}
	sig := []byte(env["signature"].(string))
	if sig[5] == 'A' {
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	env["signature"] = string(sig)
	tampered, _ := json.Marshal(env)
	m, err := registry.PushSignature(ctx, tgt, subject, s.MediaType, tampered, s.Chain, s.SigningTime, registry.FormConfig)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCopyVerifyGraphRefused: a referrer whose signature is not trusted
// (another key) or was tampered with stops the copy at the source, with
// the node named, and nothing is written to the destination.
func TestCopyVerifyGraphRefused(t *testing.T) {
	k := newKeys(t)
	for _, tc := range []struct {
		name string
		sign func(t *testing.T, src pushTarget, sbom ocispec.Descriptor)
		want string
	}{
		{"SBOM signed by an untrusted key", func(t *testing.T, src pushTarget, sbom ocispec.Descriptor) { newKeys(t).sign(t, src, sbom) }, "authenticity"},
		{"tampered signature on the SBOM", func(t *testing.T, src pushTarget, sbom ocispec.Descriptor) { signTampered(t, src, k, sbom) }, "integrity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			src := ggcrEndpoint(false).open(t, "build/app")
			f := buildFixture(t, src, k, "app")
			_, unsigned := fixtureSBOMs(f)
			sbom := unsigned[0]
			tc.sign(t, src, sbom)
			w := &writes{}
			reg := testregistry.New(t, testregistry.Options{Referrers: true, Middleware: w.middleware})
			dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
			res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
			var ve *graph.VerifyError
			if !errors.As(err, &ve) || ve.End != graph.EndSource || !errors.Is(err, signet.ErrNotTrusted) {
				t.Fatalf("got %v, want a *VerifyError at the source wrapping ErrNotTrusted", err)
			}
			if len(ve.Nodes) != 1 || ve.Nodes[0].Digest != sbom.Digest || ve.Checked != 7 {
				t.Errorf("failed nodes %+v of %d, want the SBOM %s of 7", ve.Nodes, ve.Checked, sbom.Digest)
			}
			if !strings.Contains(err.Error(), sbom.Digest.String()) || !strings.Contains(err.Error(), typeSPDX) {
				t.Errorf("the error does not name the SBOM and its type: %v", err)
			}
			n := nodeByDigest(t, res.Verification, sbom.Digest)
			if n.Verdict != string(signet.VerdictNotTrusted) || n.Source == nil || !strings.Contains(n.Source.Signatures[0].Error, tc.want) {
				t.Errorf("SBOM verdict %s, source %+v, want a %s failure", n.Verdict, n.Source, tc.want)
			}
			if !res.Verification.Refused || res.Verification.Destination != nil {
				t.Errorf("verification %+v, want refused", res.Verification)
			}
			if ws := w.list(); len(ws) != 0 {
				t.Errorf("a refused copy wrote to the destination: %v", ws)
			}
		})
	}
}

// alteredBlob serves one blob altered (as a registry whose storage was
// tampered with would): a real registry always serves what was pushed.
func alteredBlob(d digest.Digest) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+d.String()) {
				h.ServeHTTP(w, r)
				return
			}
			rec := &bufferedResponse{header: http.Header{}}
			h.ServeHTTP(rec, r)
			body := rec.body.Bytes()
			if len(body) > 0 {
				body[len(body)/2] ^= 1
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.code)
			_, _ = w.Write(body)
		})
	}
}

type bufferedResponse struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = code }

// TestCopyVerifyGraphDestination: the signed SBOM is verified at the
// destination too: when the destination serves its signature envelope
// altered, the copy fails there (exit 1, not I/O) naming the SBOM, after
// every node arrived.
func TestCopyVerifyGraphDestination(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")
	signedSBOM, _ := fixtureSBOMs(f)
	// The envelope of the SBOM's signature.
	var envelope digest.Digest
	for _, r := range f.referrers {
		if f.subjects[r.Digest].Digest != signedSBOM.Digest {
			continue
		}
		raw, err := content.FetchAll(ctx, src, r)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		envelope = m.Layers[0].Digest
	}
	reg := testregistry.New(t, testregistry.Options{Middleware: alteredBlob(envelope)})
	dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
	var ve *graph.VerifyError
	if !errors.As(err, &ve) || ve.End != graph.EndDestination || !errors.Is(err, signet.ErrNotTrusted) {
		t.Fatalf("got %v, want a *VerifyError at the destination", err)
	}
	if len(ve.Nodes) != 1 || ve.Nodes[0].Digest != signedSBOM.Digest {
		t.Errorf("failed nodes %+v, want the signed SBOM %s", ve.Nodes, signedSBOM.Digest)
	}
	v := res.Verification
	if v.Arrived != v.Expected || v.Destination == nil || v.Destination.Verdict != signet.VerdictTrusted {
		t.Errorf("arrived %d of %d, root at the destination %+v", v.Arrived, v.Expected, v.Destination)
	}
	n := nodeByDigest(t, v, signedSBOM.Digest)
	if n.Source == nil || n.Source.Verdict != signet.VerdictTrusted || n.Verdict != string(signet.VerdictNotTrusted) {
		t.Errorf("SBOM: source %+v, verdict %s", n.Source, n.Verdict)
	}
}

// TestCopyVerifyPlatform (issue 10 item 4 with --platform): what is
// verified is what is copied, the platform manifest, by its own
// signatures. Signed, it is copied with its referrers (not the index's
// signature); when only the index is signed the copy is refused before
// anything is written, saying so (ErrPlatformUnsigned), as notation would
// refuse the copy at the destination.
func TestCopyVerifyPlatform(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	t.Run("platform manifest signed", func(t *testing.T) {
		src := ggcrEndpoint(true).open(t, "build/app")
		f := buildFixture(t, src, k, "app")
		dst := distributionEndpoint.open(t, "prod/app")
		res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Platform: "linux/arm64", Verify: copyVerify(t, k, false)})
		if err != nil {
			t.Fatal(err)
		}
		v := res.Verification
		if res.Root.Digest == f.root.Digest || v.Nodes[0].Digest != res.Root.Digest {
			t.Fatalf("root %s: the platform manifest must be the root", res.Root.Digest)
		}
		if v.Source.Verdict != signet.VerdictTrusted || v.Destination.Verdict != signet.VerdictTrusted {
			t.Errorf("platform manifest: source %s, destination %s", v.Source.Verdict, v.Destination.Verdict)
		}
		// The platform manifest and its SBOM (unsigned); the index is
		// neither copied nor verified.
		if len(v.Nodes) != 2 || v.Nodes[1].Verdict != graph.VerdictUnsigned {
			t.Errorf("nodes %+v, want the platform manifest and its unsigned SBOM", v.Nodes)
		}
		if ok, _ := dst.Exists(ctx, f.root); ok {
			t.Error("the index was copied")
		}
	})
	t.Run("only the index signed", func(t *testing.T) {
		src := ggcrEndpoint(true).open(t, "build/app")
		root := testregistry.PushIndex(t, src, "app", "v1", platforms...)
		k.sign(t, src, root)
		w := &writes{}
		reg := testregistry.New(t, testregistry.Options{Referrers: true, Middleware: w.middleware})
		dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
		res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Platform: "linux/amd64", Verify: copyVerify(t, k, false)})
		if !errors.Is(err, graph.ErrPlatformUnsigned) || !errors.Is(err, signet.ErrNotTrusted) || !strings.Contains(err.Error(), root.Digest.String()) {
			t.Fatalf("got %v, want ErrPlatformUnsigned naming the index", err)
		}
		if !res.Verification.Refused {
			t.Error("not refused")
		}
		if ws := w.list(); len(ws) != 0 {
			t.Errorf("a refused copy wrote to the destination: %v", ws)
		}
		// The whole index verifies and is copied.
		if _, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)}); err != nil {
			t.Errorf("copy of the whole index: %v", err)
		}
	})
	t.Run("unsigned index and platform", func(t *testing.T) {
		src := ggcrEndpoint(true).open(t, "build/app")
		testregistry.PushIndex(t, src, "app", "v1", platforms...)
		dst := layoutEndpoint.open(t, "")
		_, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Platform: "linux/amd64", Verify: copyVerify(t, k, false)})
		if !errors.Is(err, signet.ErrNoSignature) || errors.Is(err, graph.ErrPlatformUnsigned) {
			t.Errorf("got %v, want ErrNoSignature without the index note", err)
		}
	})
}

// TestCopyVerifyAllNeedsRecursive: VerifyOptions.All without Recursive is
// invalid input.
func TestCopyVerifyAllNeedsRecursive(t *testing.T) {
	k := newKeys(t)
	src := newLayout(t)
	testregistry.PushImage(t, src, "app", "v1")
	_, err := graph.Copy(context.Background(), src, "v1", newLayout(t), graph.CopyOptions{Verify: copyVerify(t, k, true)})
	if !errors.Is(err, signet.ErrInvalidInput) {
		t.Errorf("got %v, want ErrInvalidInput", err)
	}
}

// staleIndex makes a registry answer the first two reads of each
// referrers tag index after its first write as if it had no index yet:
// what a reader sees while a concurrent writer's read-modify-write, begun
// before ours, has dropped our entries (until our convergence adds them
// again). dropped counts the reads answered so.
type staleIndex struct {
	mu      sync.Mutex
	left    map[string]int
	dropped int
}

func (s *staleIndex) middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, tag, ok := strings.Cut(r.URL.Path, "/manifests/")
		if !ok || !strings.HasPrefix(tag, "sha256-") {
			h.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		if s.left == nil {
			s.left = map[string]int{}
		}
		left, written := s.left[tag]
		switch {
		case r.Method == http.MethodPut && !written:
			s.left[tag] = 2
		case r.Method == http.MethodGet && left > 0:
			s.left[tag]--
			s.dropped++
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
			return
		}
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// TestCopyVerifyStaleIndex: a verified copy into the referrers tag schema
// checks the destination while the indexes it wrote converge; when that
// check sees an index without its entries (a concurrent writer's update
// dropped them for a while), the check is made again once the indexes
// have converged, and the copy succeeds with every node arrived and
// verified there.
func TestCopyVerifyStaleIndex(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	src := ggcrEndpoint(true).open(t, "build/app")
	f := buildFixture(t, src, k, "app")
	stale := &staleIndex{}
	reg := testregistry.New(t, testregistry.Options{Middleware: stale.middleware})
	dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, dst, f)
	v := res.Verification
	if v.Arrived != v.Expected {
		t.Errorf("arrived %d of %d", v.Arrived, v.Expected)
	}
	for _, n := range v.Nodes {
		if n.Required && (n.Destination == nil || n.Destination.Verdict != signet.VerdictTrusted) {
			t.Errorf("node %s at the destination: %+v %s", n.Digest, n.Destination, n.Error)
		}
	}
	stale.mu.Lock()
	defer stale.mu.Unlock()
	if stale.dropped == 0 {
		t.Error("no read of a referrers index was answered stale: the test checks nothing")
	}
}

// TestCopyVerifyRefusedSlowly: the transfer starts while the graph is
// still being verified at the source, only looking up what the
// destination has; when a node fails late (its signature envelope served
// after the rest of the graph could have been copied), nothing has been
// written to the destination.
func TestCopyVerifyRefusedSlowly(t *testing.T) {
	k := newKeys(t)
	ctx := context.Background()
	var slow atomic.Value // the envelope served late: "/blobs/<digest>"
	slow.Store("")
	srcReg := testregistry.New(t, testregistry.Options{Middleware: func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := slow.Load().(string); p != "" && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, p) {
				time.Sleep(500 * time.Millisecond)
			}
			h.ServeHTTP(w, r)
		})
	}})
	src := openRepo(t, srcReg.Ref("build/app"), registry.RemoteOptions{})
	f := buildFixture(t, src, k, "app")
	_, unsigned := fixtureSBOMs(f)
	sig := signTampered(t, src, k, unsigned[0])
	raw, err := content.FetchAll(ctx, src, sig)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	slow.Store("/blobs/" + m.Layers[0].Digest.String())
	w := &writes{}
	var reads atomic.Int64
	reg := testregistry.New(t, testregistry.Options{Referrers: true, Middleware: func(h http.Handler) http.Handler {
		return w.middleware(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			reads.Add(1)
			h.ServeHTTP(rw, r)
		}))
	}})
	dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
	res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
	var ve *graph.VerifyError
	if !errors.As(err, &ve) || ve.End != graph.EndSource || !errors.Is(err, signet.ErrNotTrusted) {
		t.Fatalf("got %v, want a *VerifyError at the source wrapping ErrNotTrusted", err)
	}
	if !res.Verification.Refused {
		t.Errorf("verification %+v, want refused", res.Verification)
	}
	if ws := w.list(); len(ws) != 0 {
		t.Errorf("a refused copy wrote to the destination: %v", ws)
	}
	if reads.Load() == 0 {
		t.Error("the destination was not looked at while the source was verified: the test checks nothing")
	}
}

// TestCopyVerifyMissingBelowPresent: after a verified copy, the nodes the
// copy pushed or found at the destination count as there (the registry
// acknowledged each push after checking its digest, or answered the
// lookup), and every node the copy did not visit, what is below a manifest
// the destination had, is looked up: a blob lost below such a manifest is
// reported missing (ErrIncomplete), with the referrers API and the tag
// schema.
func TestCopyVerifyMissingBelowPresent(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			k := newKeys(t)
			ctx := context.Background()
			src := ggcrEndpoint(true).open(t, "build/app")
			f := buildFixture(t, src, k, "app")
			idx, err := registry.FetchIndex(ctx, src, f.root)
			if err != nil {
				t.Fatal(err)
			}
			pm := idx.Manifests[1]
			raw, err := content.FetchAll(ctx, src, pm)
			if err != nil {
				t.Fatal(err)
			}
			var m ocispec.Manifest
			if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) == 0 {
				t.Fatalf("platform manifest: %v", err)
			}
			layer := m.Layers[0].Digest
			var lost atomic.Bool
			reg := testregistry.New(t, testregistry.Options{Referrers: referrers, Middleware: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if lost.Load() && strings.HasSuffix(r.URL.Path, "/blobs/"+layer.String()) {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusNotFound)
						io.WriteString(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`)
						return
					}
					h.ServeHTTP(w, r)
				})
			}})
			dst := openRepo(t, reg.Ref("prod/app"), registry.RemoteOptions{})
			// The platform manifest is at the destination, then its layer
			// is lost.
			if _, err := graph.Copy(ctx, src, pm.Digest.String(), dst, graph.CopyOptions{}); err != nil {
				t.Fatal(err)
			}
			lost.Store(true)
			res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
			if !errors.Is(err, graph.ErrIncomplete) || !errors.Is(err, signet.ErrIO) {
				t.Fatalf("got %v, want ErrIncomplete", err)
			}
			var missing []digest.Digest
			for _, n := range res.Nodes {
				if n.State != graph.StateArrived {
					missing = append(missing, n.Digest)
					if n.State != graph.StateMissing {
						t.Errorf("node %s: state %s", n.Digest, n.State)
					}
				}
			}
			if len(missing) != 1 || missing[0] != layer {
				t.Errorf("nodes not arrived %v, want the lost layer %s", missing, layer)
			}
			if v := res.Verification; v.Arrived != v.Expected-1 {
				t.Errorf("arrived %d of %d", v.Arrived, v.Expected)
			}
		})
	}
}

// TestCopyVerifyReadsRootOnce: a verified copy reads the root manifest
// from the source once (its resolution), the root's verification there
// included, with and without the referrers API.
func TestCopyVerifyReadsRootOnce(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers=%v", referrers), func(t *testing.T) {
			k := newKeys(t)
			ctx := context.Background()
			var rootReads atomic.Int64
			var rootPath atomic.Value
			rootPath.Store("")
			srcReg := testregistry.New(t, testregistry.Options{Referrers: referrers, Middleware: func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if p := rootPath.Load().(string); p != "" && (strings.HasSuffix(r.URL.Path, "/manifests/v1") || strings.HasSuffix(r.URL.Path, p)) {
						rootReads.Add(1)
					}
					h.ServeHTTP(w, r)
				})
			}})
			src := openRepo(t, srcReg.Ref("build/app"), registry.RemoteOptions{})
			f := buildFixture(t, src, k, "app")
			src = openRepo(t, srcReg.Ref("build/app"), registry.RemoteOptions{})
			rootPath.Store("/manifests/" + f.root.Digest.String())
			dst := ggcrEndpoint(true).open(t, "prod/app")
			res, err := graph.Copy(ctx, src, "v1", dst, graph.CopyOptions{Recursive: true, Verify: copyVerify(t, k, false)})
			if err != nil {
				t.Fatal(err)
			}
			if v := res.Verification; v.Source == nil || v.Source.Verdict != signet.VerdictTrusted {
				t.Fatalf("root at the source: %+v", v.Source)
			}
			if n := rootReads.Load(); n != 1 {
				t.Errorf("the root manifest was read %d times from the source, want 1", n)
			}
		})
	}
}
