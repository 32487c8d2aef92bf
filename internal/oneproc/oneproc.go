// Package oneproc starts a process on one processor. A program imports it
// for its side effect, early: its initialisation sets GOMAXPROCS to 1,
// unless the GOMAXPROCS environment variable is set (which then wins), so
// that a short process starts no thread and fills no allocation cache for
// a second processor, each of which costs page faults and CPU time out of
// proportion to a run of a few milliseconds (docs/benchmarks.md). A
// command that has parallel work calls Restore first. On Linux it also asks
// for transparent huge pages on the heap (hugepages_linux.go).
//
// It imports only the runtime and syscall so that it is initialised
// before the packages that allocate most at initialisation.
package oneproc

import (
	"runtime"
	"sync"
	"syscall"
)

var (
	mu      sync.Mutex
	lowered bool
)

func init() {
	hugeHeap()
	if _, set := syscall.Getenv("GOMAXPROCS"); !set {
		runtime.GOMAXPROCS(1)
		lowered = true
	}
}

// Restore gives the process the runtime's default GOMAXPROCS again (the
// processors its CPU affinity and cgroup allow, updated as they change),
// if the initialisation lowered it. It is safe for concurrent use.
func Restore() {
	mu.Lock()
	defer mu.Unlock()
	if lowered {
		runtime.SetDefaultGOMAXPROCS()
		lowered = false
	}
}
