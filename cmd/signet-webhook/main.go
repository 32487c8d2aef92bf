// Command signet-webhook is signet's Kubernetes admission webhook: it
// verifies every container image of Pods and workload templates with
// signet's verifier before the API server admits them. The decisions live
// in package admission; this command reads flags, serves TLS (reloading the
// certificate when its files change), reads namespace labels through the
// Kubernetes API, logs JSON and shuts down gracefully.
//
// Flags are listed in docs/webhook.md. Exit codes: 0 after a clean
// shutdown, 2 bad flags or configuration, 1 anything else.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
