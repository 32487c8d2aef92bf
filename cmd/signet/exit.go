package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"sync"

	"github.com/signet-dev/signet"
	"github.com/signet-dev/signet/internal/exitcode"
	"github.com/signet-dev/signet/truststore"
	"github.com/signet-dev/signet/verifier"
)

// Exit codes, the same for every command (docs/exit-codes.md).
const (
	exitOK         = exitcode.OK
	exitNotTrusted = exitcode.NotTrusted
	exitUsage      = exitcode.Usage
	exitIO         = exitcode.IO
)

// UsageError marks bad usage or invalid input: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErr(err error) error { return &UsageError{Err: err} }

// hintError carries a line that tells the user what to do next.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return &hintError{err: err, hint: hint} }

// exitCode classifies err at the edge (STYLE B2.5): usage errors, then
// the library's errors as every signet command classifies them.
func exitCode(err error) int {
	var ue *UsageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitcode.Of(err)
}

// inputFileErr classifies an error about a file the user named on the
// command line: one that does not exist or may not be read is an I/O
// failure (3); anything else, such as content that is not a certificate or
// a key, is invalid input (2).
func inputFileErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w: %w", signet.ErrIO, err)
	}
	return usageErr(err)
}

// pinValue matches a PKCS#11 URI's pin-value attribute (RFC 7512), which
// a key ID may carry: never printed. Compiled on first use (an error
// message), not at every start-up.
var pinValue = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)(pin-value=)[^&;"'\s]*`) })

// redact hides secrets a message may quote.
func redact(msg string) string { return pinValue().ReplaceAllString(msg, "${1}REDACTED") }

func reportError(w io.Writer, err error) {
	msg := redact(err.Error())
	fmt.Fprintf(w, "Error: %s\n", strings.TrimSpace(msg))
	var he *hintError
	hint := ""
	if errors.As(err, &he) {
		hint = he.hint
	}
	if hint == "" {
		hint = trustStoreHint(err)
	}
	if hint != "" {
		fmt.Fprintf(w, "Hint: %s\n", redact(hint))
	}
}

// trustStoreHint says how to repair a trust store the trust policy names
// and that could not be used (TS-6); "" for other errors.
func trustStoreHint(err error) string {
	var tse *verifier.TrustStoreError
	if !errors.As(err, &tse) {
		return ""
	}
	ref := string(tse.Type) + ":" + tse.Name
	add := fmt.Sprintf("'signet cert add --type %s --store %s FILE'", tse.Type, tse.Name)
	var se *truststore.StoreError
	errors.As(err, &se)
	switch {
	case errors.Is(err, truststore.ErrStoreNotFound):
		return fmt.Sprintf("create the trust store with %s, or remove %q from the trustStores of trust policy statement %q", add, ref, tse.Statement)
	case errors.Is(err, truststore.ErrEmptyStore):
		return fmt.Sprintf("add the trusted root certificate with %s, or remove %q from the trustStores of trust policy statement %q", add, ref, tse.Statement)
	case se != nil && se.File != "":
		return fmt.Sprintf("replace or remove the file %q of the trust store ('signet cert list --type %s --store %s' lists the store, 'signet cert delete' removes a file)", se.File, tse.Type, tse.Name)
	}
	return fmt.Sprintf("check the trust store %q ('signet cert list --type %s --store %s')", ref, tse.Type, tse.Name)
}
