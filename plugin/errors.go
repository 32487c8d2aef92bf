package plugin

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/signet-dev/signet/plugin/proto"
)

// Sentinel errors. Callers test them with errors.Is; each is wrapped in an
// *Error that names the plugin and the command.
var (
	// ErrNotFound: no plugin directory or executable of that name
	// (PLG-2, VPLG-1).
	ErrNotFound = errors.New("plugin not found")
	// ErrInvalidPlugin: the candidate breaks a rule of PLG-3, PLG-4 or
	// PROC-5 (symbolic link, not a regular file, not executable, metadata
	// name differs from the directory name, contract version 1.0 not
	// supported) or has an unusable name.
	ErrInvalidPlugin = errors.New("invalid plugin")
	// ErrExecutable: the plugin could not be started, or it exited
	// non-zero with nothing on stderr (PROC-2, the reference's "executable
	// file error").
	ErrExecutable = errors.New("plugin executable failed")
	// ErrTimeout: the call ran longer than Manager.Timeout and the plugin
	// was killed.
	ErrTimeout = errors.New("plugin call timed out")
	// ErrOutputTooLarge: the plugin wrote more than Manager.MaxOutput
	// bytes to stdout or stderr and was killed (PROC-3).
	ErrOutputTooLarge = errors.New("plugin output too large")
	// ErrMalformedResponse: stdout is not a valid response, or stderr of a
	// failed call is not a valid error response (PROC-1, PROC-2).
	ErrMalformedResponse = errors.New("malformed plugin response")
	// ErrInvalidResponse: the response is well formed but the host refuses
	// it: it does not answer the request (keyId, envelope type,
	// capabilities), its signature or envelope does not verify, or the
	// envelope signs something other than the payload given (§7.4).
	ErrInvalidResponse = errors.New("plugin response rejected")
	// ErrUnsupportedCapability: the plugin does not declare the capability
	// the call needs (CAP-1, VPLG-3, VPLG-5).
	ErrUnsupportedCapability = errors.New("plugin lacks a required capability")
	// ErrVersion: the plugin's version is below the signature's
	// verificationPluginMinVersion, or either is not SemVer (VPLG-2).
	ErrVersion = errors.New("plugin version is not acceptable")
	// ErrInvalidRequest: the caller's request is incomplete or malformed;
	// the plugin was not run.
	ErrInvalidRequest = errors.New("invalid plugin request")
)

// Error reports a failure involving a named plugin: discovery, running a
// command, or the host's checks of its response. Err wraps one of the
// sentinels above, a *PluginError (the plugin reported the failure), or
// the caller's context error.
type Error struct {
	// Plugin is the plugin name.
	Plugin string
	// Command is the command that failed; empty for discovery checks made
	// before any command ran.
	Command proto.Command
	// Err is the cause.
	Err error
}

var _ error = (*Error)(nil)

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("plugin ")
	b.WriteString(quote(e.Plugin))
	if e.Command != "" {
		b.WriteString(" ")
		b.WriteString(string(e.Command))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// PluginError is an error the plugin itself reported: the JSON error
// response it wrote to stderr before exiting non-zero (PROC-1). The host
// interprets it by Code, never by exit code (PROC-2).
type PluginError struct {
	// Code is the errorCode as the plugin sent it; an unknown code is kept
	// and treated like ERROR.
	Code proto.ErrorCode
	// Message is the errorMessage, as sent (it may be empty).
	Message string
	// Metadata is the errorMetadata, as sent.
	Metadata map[string]string
}

var _ error = (*PluginError)(nil)

// maxDisplayedMessage bounds how much of a plugin's own text an error
// message repeats: stderr may hold up to MaxOutput bytes, but a terminal
// line needs a few hundred. The full text stays in PluginError.Message.
const maxDisplayedMessage = 4 << 10

// Error explains the code and repeats the plugin's message, with control
// characters replaced so that a hostile plugin cannot drive the terminal.
func (e *PluginError) Error() string {
	s := codeMeaning(e.Code)
	if e.Message != "" {
		s += ": " + displayText(e.Message)
	}
	return s + " (" + displayText(string(e.Code)) + ")"
}

// Retryable reports whether the code says a later retry may succeed
// (TIMEOUT, THROTTLED).
func (e *PluginError) Retryable() bool {
	return e.Code == proto.ErrorCodeTimeout || e.Code == proto.ErrorCodeThrottled
}

// codeMeaning turns an error code into a sentence for users (digest §7.5).
func codeMeaning(c proto.ErrorCode) string {
	switch c {
	case proto.ErrorCodeValidation:
		return "the plugin rejected the request as invalid (check the key ID and plugin configuration)"
	case proto.ErrorCodeUnsupportedContractVersion:
		return "the plugin does not support plugin contract version " + proto.ContractVersion
	case proto.ErrorCodeAccessDenied:
		return "the plugin was denied access to the key or to a service it uses"
	case proto.ErrorCodeTimeout:
		return "the plugin's operation timed out (retrying may succeed)"
	case proto.ErrorCodeThrottled:
		return "the plugin's requests were throttled (retry later)"
	case proto.ErrorCodeGeneric:
		return "the plugin failed"
	}
	return "the plugin failed with an unknown error code"
}

// displayText makes untrusted plugin text safe for one line of a terminal:
// invalid UTF-8 and control characters (including newlines and escape
// sequences) become U+FFFD or a space, and the result is cut at
// maxDisplayedMessage bytes.
func displayText(s string) string {
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= maxDisplayedMessage {
			b.WriteString("…[truncated]")
			break
		}
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune(utf8.RuneError)
		case r == '\n' || r == '\t' || r == '\r':
			b.WriteByte(' ')
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.In(r, unicode.Bidi_Control):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func quote(s string) string { return `"` + displayText(s) + `"` }
