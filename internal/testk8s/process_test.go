package testk8s

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envListen makes the test binary the server of Serve's tests: it listens
// on the address it names and answers 200 to every request, or prints why
// it cannot listen and exits with status 1.
const envListen = "TESTK8S_LISTEN"

func TestMain(m *testing.M) {
	if addr := os.Getenv(envListen); addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		http.Serve(l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeTB records Fatalf instead of ending the goroutine; Serve returns
// right after it.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }

// TestServe starts the helper server on an address another server holds
// (a lost port: "bind: address already in use"), or on one it cannot
// listen on at all, and checks which failures Serve starts again.
func TestServe(t *testing.T) {
	// Taken answers 503 at once, so that the readiness check of a server
	// that lost its port fails fast.
	taken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer taken.Close()
	takenAddr := strings.TrimPrefix(taken.URL, "http://")
	cases := []struct {
		name       string
		addr       func(attempt int) string
		wantStarts int
		wantFatal  string // "": ready
	}{
		{name: "lost port: started again on another", addr: func(attempt int) string {
			if attempt == 1 {
				return takenAddr
			}
			return FreeAddr(t)
		}, wantStarts: 2},
		{name: "port lost every time: given up", addr: func(int) string { return takenAddr },
			wantStarts: startAttempts, wantFatal: "address already in use"},
		{name: "other failure: not started again", addr: func(int) string { return "127.0.0.1:no-port" },
			wantStarts: 1, wantFatal: "exited (exit status 1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTB{TB: t}
			var started []*Process
			p := Serve(ft, 30*time.Second, func() (*Process, func() error) {
				addr := tc.addr(len(started) + 1)
				p := StartProcess(t, filepath.Join(t.TempDir(), "server.log"), []string{envListen + "=" + addr}, os.Args[0])
				started = append(started, p)
				return p, func() error { return httpOK(http.DefaultClient, "http://"+addr+"/") }
			})
			if len(started) != tc.wantStarts {
				t.Errorf("started %d times, want %d", len(started), tc.wantStarts)
			}
			for i, q := range started[:len(started)-1] {
				if !q.LostPort() {
					t.Errorf("start %d: LostPort() = false for a server that was started again; log:\n%s", i+1, q.LogTail())
				}
			}
			if tc.wantFatal == "" {
				if ft.fatal != "" || p != started[len(started)-1] || p.Exited() || p.LostPort() {
					t.Fatalf("Serve = %v (exited %v, lost port %v), failed with %q; want the last server, running", p, p != nil && p.Exited(), p != nil && p.LostPort(), ft.fatal)
				}
				return
			}
			if p != nil || !strings.Contains(ft.fatal, tc.wantFatal) {
				t.Errorf("Serve = %v, failed with %q; want nil, a failure naming %q", p, ft.fatal, tc.wantFatal)
			}
		})
	}
}
