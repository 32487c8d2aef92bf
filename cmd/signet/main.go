// Command signet signs and verifies OCI artifacts and blobs with Notary
// Project signatures. Every command is a thin shell over the signet library.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/signet-dev/signet/internal/oneproc"
)

func main() {
	// SIGNET_CPUPROFILE=FILE writes a CPU profile of the run (a debugging
	// aid for performance work; docs/benchmarks.md).
	if p := os.Getenv("SIGNET_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	// The process started on one processor (internal/oneproc): what
	// `version` and a verify of one reference do is sequential, and
	// anything else gets the processors back now; a verify of several
	// references gets them back once it has counted them.
	if len(os.Args) < 2 || (os.Args[1] != "verify" && os.Args[1] != "version") {
		oneproc.Restore()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Parallel: oneproc.Restore})
	stop()
	if code != 0 {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}
