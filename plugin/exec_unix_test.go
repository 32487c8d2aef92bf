//go:build unix

package plugin_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signet-dev/signet/plugin"
)

// pids returns the PIDs the hanging test plugin recorded next to its
// executable.
func pids(t *testing.T, m *plugin.Manager, name string) []int {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(m.Dir, name, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, de := range des {
		pid, err := strconv.Atoi(de.Name())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pid)
	}
	return out
}

// gone waits up to two seconds for pid to end. A killed child that the
// plugin orphaned is reparented to PID 1 and stays a zombie until PID 1
// reaps it, which in a container may take a while; a zombie has ended.
func gone(pid int) bool {
	for i := 0; i < 200; i++ {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			// pid (comm) state ...: comm may hold spaces, so look after ")".
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i:], []byte(") Z")) {
				return true
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// A plugin that never answers is killed when Manager.Timeout passes
// (notation has no timeout and hangs), together with the child process it
// started, which holds its stdout open.
func TestTimeoutKillsPlugin(t *testing.T) {
	for _, mode := range []string{"hang", "hangchild"} {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, "com.example.raw")
			m.Timeout = 500 * time.Millisecond
			start := time.Now()
			_, err := describeKey(t, m, mode)
			elapsed := time.Since(start)
			if !errors.Is(err, plugin.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
			if !strings.Contains(err.Error(), `plugin "com.example.raw" describe-key: plugin call timed out: no answer within 500ms`) {
				t.Errorf("message = %q", err)
			}
			// Timeout plus process start; far below the 2 s wait for
			// pipes that a surviving child would cost.
			if elapsed > 1800*time.Millisecond {
				t.Errorf("call took %s with a 500ms timeout", elapsed)
			}
			want := 1
			if mode == "hangchild" {
				want = 2
			}
			ps := pids(t, m, "com.example.raw")
			if len(ps) != want {
				t.Fatalf("recorded pids %v, want %d", ps, want)
			}
			for _, pid := range ps {
				if !gone(pid) {
					t.Errorf("process %d still runs", pid)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		})
	}
}
