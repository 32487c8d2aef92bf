package testk8s

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Timeouts of the processes' own waits.
const (
	// stopTimeout is how long a process may take to exit after SIGTERM
	// before it is killed.
	stopTimeout = 20 * time.Second
	// startAttempts is how many times Serve starts a server that lost its
	// port to another process (FreeAddr cannot reserve a port: the
	// machine is shared).
	startAttempts = 3
	// maxLogTail is how much of a log LogTail returns.
	maxLogTail = 8 << 10
)

// Process is a child process writing its stdout and stderr into a file,
// stopped when the test ends.
type Process struct {
	Name    string // the binary's base name, for messages
	LogPath string // its stdout and stderr

	t        testing.TB
	cmd      *exec.Cmd
	exited   chan struct{}
	err      error // Wait's result, once exited is closed
	stopOnce sync.Once
}

// StartProcess starts bin with args, its output in logPath (created anew)
// and an environment of PATH, HOME (logPath's directory) and env, and stops
// it when the test ends.
func StartProcess(t testing.TB, logPath string, env []string, bin string, args ...string) *Process {
	t.Helper()
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{Name: filepath.Base(bin), LogPath: logPath, t: t, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(logPath)}, env...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.Name, err)
	}
	go func() { p.err = p.cmd.Wait(); logf.Close(); close(p.exited) }()
	t.Cleanup(p.Stop)
	return p
}

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Err is how the process ended (Wait's result): nil for exit status 0 and
// while it runs.
func (p *Process) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Stop sends SIGTERM, kills the process when it has not exited
// stopTimeout later, and waits for it to end.
func (p *Process) Stop() {
	p.stopOnce.Do(func() {
		if p.Exited() {
			return
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			p.t.Logf("%s did not exit within %s of SIGTERM: killed", p.Name, stopTimeout)
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// WaitReady polls ready until it succeeds, the process exits or timeout
// passes; the error then holds the end of the log.
func (p *Process) WaitReady(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited (%v):\n%s", p.Name, p.err, p.LogTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %s (%v):\n%s", p.Name, timeout, err, p.LogTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// LogTail is the end of the process's log, for failure messages.
func (p *Process) LogTail() string {
	data, _ := os.ReadFile(p.LogPath)
	if len(data) > maxLogTail {
		data = data[len(data)-maxLogTail:]
	}
	return string(data)
}

// LostPort reports whether the process exited because another process took
// a port it was to listen on first.
func (p *Process) LostPort() bool {
	if !p.Exited() {
		return false
	}
	data, _ := os.ReadFile(p.LogPath)
	return bytes.Contains(data, []byte("address already in use"))
}

// Serve starts a server with start, which picks its ports with FreeAddr
// and returns the process and its readiness check, and waits timeout at
// most for it to be ready. A server that lost a port to another process is
// stopped and started again (on other ports), startAttempts times in all.
// It fails the test when the server does not get ready.
func Serve(t testing.TB, timeout time.Duration, start func() (*Process, func() error)) *Process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, ready := start()
		err := p.WaitReady(timeout, ready)
		if err == nil {
			return p
		}
		p.Stop()
		if !p.LostPort() || attempt == startAttempts {
			t.Fatalf("%s did not start: %v", p.Name, err)
			return nil
		}
		t.Logf("%s lost its port to another process: starting it again on another", p.Name)
	}
}

// FreeAddr is a 127.0.0.1:PORT nothing listened on a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// httpOK is a readiness check: GET url answers 200.
func httpOK(hc *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// WriteFile writes data to path, making its directory, and returns path.
func WriteFile(t testing.TB, path string, data []byte, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	return path
}
