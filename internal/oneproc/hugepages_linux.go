package oneproc

import (
	"syscall"
	"unsafe"
)

// Transparent huge pages for a short process's heap.
//
// On the virtual machines signet is measured on, a page fault costs 13-55 µs
// (docs/benchmarks.md), and a short process such as `signet verify` takes
// hundreds of them in the Go heap alone: every size class's first span,
// goroutine stacks (a dependency's initialisation grows the main goroutine's
// stack to 256 KiB), the allocations of package initialisation. A 2 MiB
// transparent huge page is faulted in once. So initialisation asks for huge
// pages on the heap: the 2 MiB region the heap is allocating from is
// collapsed into one (MADV_COLLAPSE: the pages touched so far are copied,
// the rest of the region needs no fault any more), and the rest of the heap
// chunk the runtime has mapped (it maps 4 MiB at a time) is marked
// MADV_HUGEPAGE, so that it is faulted in whole when the heap reaches it.
// Both are requests: a kernel without them, with transparent huge pages
// off, or short of free huge pages leaves the heap as it was. A garbage
// collection that gives pages of the region back to the kernel splits the
// huge page again; a short process has none. SIGNET_HUGEPAGES=0 turns this
// off (to compare).

const (
	hugePage     = 2 << 20 // x86-64's and arm64's transparent huge page
	heapChunk    = 4 << 20 // what the Go runtime maps its heap in (pallocChunkBytes)
	madvHugePage = 14      // MADV_HUGEPAGE
	madvCollapse = 25      // MADV_COLLAPSE (Linux 6.1)
	envHugePages = "SIGNET_HUGEPAGES"
)

// heapProbe is where initialisation allocated: in the region the heap is
// allocating from (a package variable, so that it is on the heap).
var heapProbe *[64]byte

// hugeErr is why the current region was not collapsed (nil if it was).
var hugeErr error

// hugeHeap asks for huge pages on the heap region being allocated from and
// the rest of its chunk.
func hugeHeap() {
	heapProbe = new([64]byte)
	if v, _ := syscall.Getenv(envHugePages); v == "0" {
		return
	}
	base := uintptr(unsafe.Pointer(heapProbe)) &^ (hugePage - 1)
	end := (base + heapChunk) &^ (heapChunk - 1)
	if hugeErr = madvise(base, end-base, madvHugePage); hugeErr != nil {
		return // EINVAL: no transparent huge pages in this kernel
	}
	// Best effort: EINVAL before Linux 6.1; EAGAIN when no huge page is
	// free or a page of the region is busy for a moment (tried again).
	for range 3 {
		if hugeErr = madvise(base, hugePage, madvCollapse); hugeErr != syscall.EAGAIN {
			return
		}
	}
}

func madvise(addr, n uintptr, advice int) error {
	if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, addr, n, uintptr(advice)); e != 0 {
		return e
	}
	return nil
}
