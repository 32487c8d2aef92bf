package plugin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-dev/signet/internal/testpki"
	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
)

// describeKey installs the raw test plugin and runs describe-key for key
// "k1" with pluginConfig mode (empty for a good call).
func describeKey(t *testing.T, m *plugin.Manager, mode string) (*proto.DescribeKeyResponse, error) {
	t.Helper()
	keys, _ := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256"})
	p, err := m.Get(context.Background(), "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{"keydir": keys}
	if mode != "" {
		cfg["mode"] = mode
	}
	return p.DescribeKey(context.Background(), &proto.DescribeKeyRequest{KeyID: "k1", PluginConfig: cfg})
}

// Discovery is bounded too: a plugin whose get-plugin-metadata hangs
// fails Get with ErrTimeout.
func TestTimeoutInGet(t *testing.T) {
	m := newManager(t, "com.example.hang")
	m.Timeout = 300 * time.Millisecond
	_, err := m.Get(context.Background(), "com.example.hang")
	if !errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("Get = %v, want ErrTimeout", err)
	}
}

// The caller's context ending is reported as the context's error, not as
// the plugin's timeout.
func TestCallerContextEnds(t *testing.T) {
	m := newManager(t, "com.example.raw")
	keys, _ := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256"})
	p, err := m.Get(context.Background(), "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = p.DescribeKey(ctx, &proto.DescribeKeyRequest{KeyID: "k1", PluginConfig: map[string]string{"keydir": keys, "mode": "hang"}})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, plugin.ErrTimeout) {
		t.Fatalf("err = %v, want context.DeadlineExceeded only", err)
	}
}

// PROC-3: output beyond the limit kills the plugin and fails the call.
// The plugin writes 100 MiB; the host keeps at most the limit.
func TestOutputLimit(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		maxOutput int64
	}{
		{name: "100 MiB on stdout, default limit (64 MiB - 1)", mode: "flood"},
		{name: "100 MiB on stdout, 1 MiB limit", mode: "flood", maxOutput: 1 << 20},
		{name: "100 MiB on stderr, 1 MiB limit", mode: "floodstderr", maxOutput: 1 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, "com.example.raw")
			m.MaxOutput = tc.maxOutput
			start := time.Now()
			_, err := describeKey(t, m, tc.mode)
			if !errors.Is(err, plugin.ErrOutputTooLarge) {
				t.Fatalf("err = %v, want ErrOutputTooLarge", err)
			}
			t.Logf("refused after %s: %v", time.Since(start), err)
		})
	}
}

// PROC-1, PROC-2: failures are interpreted from stderr, by error code.
func TestPluginFailures(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		wantErr error
		wantMsg string
	}{
		{name: "crash: exit 2, empty stderr", mode: "crash", wantErr: plugin.ErrExecutable, wantMsg: "exit status 2, and nothing on stderr"},
		{name: "garbage on stdout", mode: "garbage", wantErr: plugin.ErrMalformedResponse, wantMsg: "not valid JSON"},
		{name: "trailing data after the response", mode: "trailing", wantErr: plugin.ErrMalformedResponse},
		{name: "exit 0 with nothing on stdout", mode: "exit0stderr", wantErr: plugin.ErrMalformedResponse, wantMsg: "message is empty"},
		{name: "stderr is not JSON", mode: "stderrgarbage", wantErr: plugin.ErrMalformedResponse, wantMsg: "stderr is not a JSON error response: panic: runtime error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t, "com.example.raw")
			resp, err := describeKey(t, m, tc.mode)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("DescribeKey = %+v, %v; want %v", resp, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q does not contain %q", err, tc.wantMsg)
			}
			if strings.ContainsAny(err.Error(), "\x1b\n") {
				t.Errorf("message carries control characters: %q", err)
			}
		})
	}
}

// §7.5: each error code becomes a *PluginError with a clear meaning; the
// plugin's message is repeated without control characters.
func TestPluginErrorCodes(t *testing.T) {
	tests := []struct {
		code      proto.ErrorCode
		meaning   string
		retryable bool
	}{
		{proto.ErrorCodeValidation, "rejected the request as invalid", false},
		{proto.ErrorCodeUnsupportedContractVersion, "does not support plugin contract version 1.0", false},
		{proto.ErrorCodeAccessDenied, "denied access", false},
		{proto.ErrorCodeTimeout, "timed out (retrying may succeed)", true},
		{proto.ErrorCodeThrottled, "throttled (retry later)", true},
		{proto.ErrorCodeGeneric, "the plugin failed", false},
		{"SOMETHING_NEW", "unknown error code", false},
	}
	m := newManager(t, "com.example.raw")
	for _, tc := range tests {
		t.Run(string(tc.code), func(t *testing.T) {
			_, err := describeKey(t, m, "error-"+string(tc.code))
			var pe *plugin.PluginError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *PluginError", err)
			}
			if pe.Code != tc.code || pe.Message != "key vault said no\x1b[2J" || pe.Metadata["requestId"] != "r-42" {
				t.Errorf("PluginError = %+v", pe)
			}
			if pe.Retryable() != tc.retryable {
				t.Errorf("Retryable = %v", pe.Retryable())
			}
			msg := err.Error()
			want := `plugin "com.example.raw" describe-key: `
			if !strings.HasPrefix(msg, want) || !strings.Contains(msg, tc.meaning) ||
				!strings.Contains(msg, "key vault said no") || !strings.HasSuffix(msg, "("+string(tc.code)+")") {
				t.Errorf("message = %q", msg)
			}
			if strings.Contains(msg, "\x1b") {
				t.Errorf("message carries an escape sequence: %q", msg)
			}
		})
	}
	// A plugin-reported failure for an unknown key (the plugin's own
	// validation) arrives the same way.
	keys, _ := keyDir(t, map[string]testpki.KeyType{"k1": "ec-256"})
	p, err := m.Get(context.Background(), "com.example.raw")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.DescribeKey(context.Background(), &proto.DescribeKeyRequest{KeyID: "nope", PluginConfig: map[string]string{"keydir": keys}})
	var pe *plugin.PluginError
	if !errors.As(err, &pe) || pe.Code != proto.ErrorCodeValidation || !strings.Contains(pe.Message, `unknown keyId "nope"`) {
		t.Errorf("unknown key: %v", err)
	}
}
