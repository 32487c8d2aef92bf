package oneproc

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// thpMode is the kernel's transparent huge page setting ("always",
// "madvise" or "never"), or "" where it cannot be read.
func thpMode(t *testing.T) string {
	data, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	if i, j := bytes.IndexByte(data, '['), bytes.IndexByte(data, ']'); i >= 0 && j > i {
		return string(data[i+1 : j])
	}
	return ""
}

// hugeKiB is the AnonHugePages of the mapping that holds addr, from
// /proc/self/smaps.
func hugeKiB(t *testing.T, addr uintptr) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "AnonHugePages:") {
			n, err := strconv.Atoi(strings.Fields(line)[1])
			if err != nil {
				t.Fatalf("smaps line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("no mapping of %#x in /proc/self/smaps (%v)", addr, sc.Err())
	return 0
}

// mappingRange parses the "LO-HI perms ..." header line of an smaps entry.
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, found := strings.Cut(line, " ")
	l, h, dash := strings.Cut(r, "-")
	if !found || !dash {
		return 0, 0, false
	}
	a, err1 := strconv.ParseUint(l, 16, 64)
	b, err2 := strconv.ParseUint(h, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(a), uintptr(b), true
}

// TestHugeHeap: after initialisation the heap region the process allocated
// from is backed by a transparent huge page (where the kernel offers them
// on request), and SIGNET_HUGEPAGES=0 leaves it on small pages (checked in
// a child process of this test binary).
func TestHugeHeap(t *testing.T) {
	mode := thpMode(t)
	if os.Getenv("ONEPROC_CHILD") == "huge" {
		fmt.Printf("%d\n%v\n", hugeKiB(t, uintptr(unsafe.Pointer(heapProbe))), hugeErr)
		return
	}
	if mode != "madvise" && mode != "always" {
		t.Skipf("transparent huge pages are %q on this kernel: nothing to ask for", mode)
	}
	child := func(env ...string) (int, string) {
		t.Helper()
		c := exec.Command(os.Args[0], "-test.run=^TestHugeHeap$")
		// GOGC=off: a collection could give pages back and split the
		// huge page before the child looks.
		c.Env = append(os.Environ(), append([]string{"ONEPROC_CHILD=huge", "GOGC=off"}, env...)...)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		lines := strings.SplitN(string(out), "\n", 3)
		n, err := strconv.Atoi(lines[0])
		if err != nil || len(lines) < 2 {
			t.Fatalf("child printed %q", out)
		}
		return n, lines[1]
	}
	if n, collapse := child(); n < 2048 {
		t.Errorf("heap mapping has %d KiB of huge pages after initialisation, want at least 2048 (collapse: %s)", n, collapse)
	}
	if mode == "madvise" {
		if n, _ := child(envHugePages + "=0"); n != 0 {
			t.Errorf("with %s=0 the heap mapping has %d KiB of huge pages, want 0", envHugePages, n)
		}
	}
}
