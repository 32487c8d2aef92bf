//go:build !linux

package oneproc

func hugeHeap() {}
