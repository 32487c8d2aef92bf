package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/peer"
	"github.com/signet-dev/signet/internal/testregistry"
)

// reqTrace is a reverse proxy in front of a registry that records every
// request it forwards (method, a short form of the path, status, start and
// end): request counts and serial round trips do not move with the
// machine's load the way wall times do.
type reqTrace struct {
	name string
	mu   sync.Mutex
	reqs []tracedReq
}

type tracedReq struct {
	registry, method, path string
	status                 int
	start, end             time.Time
}

// traceRegistry starts a loopback proxy to r and returns it as a registry
// (references name the proxy). The Host header is passed on unchanged, so
// the URLs a registry builds from it (upload locations) lead back through
// the proxy.
func traceRegistry(b testing.TB, name string, r *testregistry.Registry, t *reqTrace) *testregistry.Registry {
	b.Helper()
	u, err := url.Parse(r.URL)
	if err != nil {
		b.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		p.ServeHTTP(sw, req)
		t.mu.Lock()
		t.reqs = append(t.reqs, tracedReq{registry: name, method: req.Method, path: shortPath(req.URL.Path), status: sw.status, start: start, end: time.Now()})
		t.mu.Unlock()
	}))
	b.Cleanup(srv.Close)
	return &testregistry.Registry{Host: strings.TrimPrefix(srv.URL, "http://"), URL: srv.URL}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// shortPath keeps what says what a request is: /v2/<repo>/manifests/<ref>
// becomes manifests/<first 12 characters of ref>, and so on.
func shortPath(p string) string {
	for _, kind := range []string{"/manifests/", "/blobs/uploads/", "/blobs/", "/referrers/", "/tags/list"} {
		if i := strings.Index(p, kind); i >= 0 {
			ref := p[i+len(kind):]
			if j := strings.IndexAny(ref, ":-"); j >= 0 && len(ref) > j+9 {
				ref = ref[:j+9]
			}
			return strings.Trim(kind, "/") + "/" + ref
		}
	}
	return p
}

func (t *reqTrace) take() []tracedReq {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.reqs
	t.reqs = nil
	sort.Slice(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

// kinds counts requests by registry, method and kind of path.
func kinds(reqs []tracedReq) map[string]int {
	m := map[string]int{}
	for _, r := range reqs {
		kind, _, _ := strings.Cut(r.path, "/")
		if r.method == http.MethodGet && strings.HasPrefix(r.path, "manifests/sha256-") {
			kind = "tagindex"
		}
		m[r.registry+" "+r.method+" "+kind]++
	}
	return m
}

// serialDepth is the longest chain of requests each started after the
// previous one ended: the round trips on the critical path.
func serialDepth(reqs []tracedReq) int {
	// reqs sorted by start; depth[i] = 1 + max depth[j] with end_j <= start_i.
	depth := make([]int, len(reqs))
	best := 0
	for i, r := range reqs {
		depth[i] = 1
		for j := range i {
			if !reqs[j].end.After(r.start) && depth[j]+1 > depth[i] {
				depth[i] = depth[j] + 1
			}
		}
		best = max(best, depth[i])
	}
	return best
}

// spanOf is the time from the first request's start to the last one's end.
func spanOf(reqs []tracedReq) time.Duration {
	if len(reqs) == 0 {
		return 0
	}
	end := reqs[0].end
	for _, r := range reqs {
		if r.end.After(end) {
			end = r.end
		}
	}
	return end.Sub(reqs[0].start)
}

// BenchmarkCopyRequests runs each copy of BenchmarkCopyRecursive once per
// iteration through tracing proxies in front of the source and the
// destination, and reports the requests each tool sent (mean), the
// longest serial chain of them (mean; round trips on the critical path, an
// upper bound: requests queued behind a concurrency limit count too) and
// the median time from the first request's start to the last one's end
// (process start-up and the work before the first request left out).
// With -v it logs every request of the last iteration.
func BenchmarkCopyRequests(b *testing.B) {
	g := setupGraph(b)
	oras := peer.Oras(b)
	for _, kind := range []string{registryGGCR, registryDistribution} {
		b.Run(kind, func(b *testing.B) {
			tr := &reqTrace{}
			src := traceRegistry(b, "src", g.src, tr)
			// go-containerregistry keeps one blob store for all its
			// repositories: each copy into it gets a registry of its own,
			// so that every tool uploads every blob.
			var dist *testregistry.Registry
			if kind == registryDistribution {
				dist = traceRegistry(b, "dst", testregistry.Distribution(b, testregistry.DistributionOptions{}), tr)
			}
			dstFor := func() *testregistry.Registry {
				if dist != nil {
					return dist
				}
				return traceRegistry(b, "dst", testregistry.New(b, testregistry.Options{Referrers: true}), tr)
			}
			root := strings.Replace(g.root, g.src.Host, src.Host, 1)
			type tool struct {
				name string
				bin  string
				args func(dst string) []string
			}
			tools := []tool{
				{"signet", g.signet, func(d string) []string { return []string{"copy", "-r", root, d} }},
				{"signet-verify", g.signet, func(d string) []string { return []string{"copy", "-r", "--verify", root, d} }},
				{"oras", oras, func(d string) []string {
					return []string{"cp", "-r", "--from-plain-http", "--to-plain-http", root, d}
				}},
			}
			if base := os.Getenv(envBaseline); base != "" {
				tools = append(tools,
					tool{"base", base, func(d string) []string { return []string{"copy", "-r", root, d} }},
					tool{"base-verify", base, func(d string) []string { return []string{"copy", "-r", "--verify", root, d} }})
			}
			count := map[string]int{}
			span := map[string][]time.Duration{}
			depth := map[string]int{}
			ocsp := map[string]int{}
			crl := map[string]int{}
			last := map[string][]tracedReq{}
			i := 0
			for b.Loop() {
				i++
				for _, t := range tools {
					tr.take()
					ocsp0, crl0 := len(g.pki.OCSP.Requests()), g.pki.CRLs.Total()
					g.run(b, t.bin, t.args(dstFor().Ref(fmt.Sprintf("prod/%s-%d", t.name, i)))...)
					reqs := tr.take()
					ocsp[t.name] += len(g.pki.OCSP.Requests()) - ocsp0
					crl[t.name] += g.pki.CRLs.Total() - crl0
					count[t.name] += len(reqs)
					depth[t.name] += serialDepth(reqs)
					span[t.name] = append(span[t.name], spanOf(reqs))
					last[t.name] = reqs
				}
			}
			for _, t := range tools {
				b.ReportMetric(float64(count[t.name])/float64(i), t.name+"-reqs")
				b.ReportMetric(float64(depth[t.name])/float64(i), t.name+"-serial")
				b.ReportMetric(ms(median(span[t.name])), t.name+"-span-ms")
				if strings.Contains(t.name, "verify") {
					b.ReportMetric(float64(ocsp[t.name])/float64(i), t.name+"-ocsp")
					b.ReportMetric(float64(crl[t.name])/float64(i), t.name+"-crl")
				}
				if testing.Verbose() {
					reqs := last[t.name]
					k := kinds(reqs)
					keys := make([]string, 0, len(k))
					for key := range k {
						keys = append(keys, key)
					}
					sort.Strings(keys)
					var sb strings.Builder
					fmt.Fprintf(&sb, "%s: %d requests, serial depth %d\n", t.name, len(reqs), serialDepth(reqs))
					for _, key := range keys {
						fmt.Fprintf(&sb, "  %-28s %d\n", key, k[key])
					}
					t0 := reqs[0].start
					for _, r := range reqs {
						fmt.Fprintf(&sb, "  %6.1f %6.1f %s %-6s %-40s %d\n", ms(r.start.Sub(t0)), ms(r.end.Sub(t0)), r.registry, r.method, r.path, r.status)
					}
					b.Log(sb.String())
				}
			}
		})
	}
}
