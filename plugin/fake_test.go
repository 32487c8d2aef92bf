package plugin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/signet-dev/signet/plugin"
	"github.com/signet-dev/signet/plugin/proto"
)

// recorder is an Executor that records each request and answers from a
// table: responses (stdout, exit 0) or failures (stderr, exit 1). A
// command in neither fails with a plugin ERROR.
type recorder struct {
	mu        sync.Mutex
	responses map[proto.Command]string
	failures  map[proto.Command]string
	commands  []proto.Command
	requests  []string
	limits    []int64
}

func (r *recorder) Run(_ context.Context, _ string, command proto.Command, stdin []byte, limit int64) ([]byte, []byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commands = append(r.commands, command)
	r.requests = append(r.requests, string(stdin))
	r.limits = append(r.limits, limit)
	if out, ok := r.responses[command]; ok {
		return []byte(out), nil, nil
	}
	if stderr, ok := r.failures[command]; ok {
		return nil, []byte(stderr), errors.New("exit status 1")
	}
	return nil, []byte(`{"errorCode":"ERROR","errorMessage":"not recorded"}`), errors.New("exit status 1")
}

// fakeManager installs a placeholder executable for name (discovery
// checks the file; the recorder never runs it) and uses exec.
func fakeManager(t *testing.T, name string, exec plugin.Executor) *plugin.Manager {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	mkdir(t, filepath.Join(dir, name))
	if err := os.WriteFile(filepath.Join(dir, name, plugin.ExecutableName(name)), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &plugin.Manager{Dir: dir, Exec: exec}
}

// PROC-3: the executor is given the per-stream limit: one byte under
// 64 MiB by default, the Manager's value when set, never more than the
// default. An invalid request never reaches the executor.
func TestExecutorSeam(t *testing.T) {
	const md = `{"name":"com.example.rec","description":"d","version":"1.0.0","url":"u","supportedContractVersions":["1.0"],"capabilities":["SIGNATURE_GENERATOR.RAW"]}`
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		maxOutput int64
		want      int64
	}{
		{"default", 0, 64<<20 - 1},
		{"smaller", 4096, 4096},
		{"larger is capped", 1 << 30, 64<<20 - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{responses: map[proto.Command]string{proto.CommandGetMetadata: md}}
			m := fakeManager(t, "com.example.rec", rec)
			m.MaxOutput = tc.maxOutput
			p, err := m.Get(ctx, "com.example.rec")
			if err != nil {
				t.Fatal(err)
			}
			if rec.limits[0] != tc.want {
				t.Errorf("limit = %d, want %d", rec.limits[0], tc.want)
			}
			if _, err := p.DescribeKey(ctx, &proto.DescribeKeyRequest{}); !errors.Is(err, plugin.ErrInvalidRequest) {
				t.Errorf("DescribeKey without keyId = %v, want ErrInvalidRequest", err)
			}
			if _, err := p.DescribeKey(ctx, &proto.DescribeKeyRequest{ContractVersion: "2.0", KeyID: "k"}); !errors.Is(err, plugin.ErrInvalidRequest) {
				t.Errorf("DescribeKey with contract version 2.0 = %v, want ErrInvalidRequest", err)
			}
			if len(rec.commands) != 1 {
				t.Errorf("commands run: %v", rec.commands)
			}
		})
	}
}

// PROC-6: get-plugin-metadata runs on every workflow and its answer is not
// cached: each Get and each VerificationPlugin (one per signing or
// verification) runs it again, and sees what the plugin says now (here a
// new version, then a capability dropped).
func TestMetadataNotCached(t *testing.T) {
	const name = "com.example.rec"
	md := func(version, capability string) string {
		return `{"name":"` + name + `","description":"d","version":"` + version + `","url":"u","supportedContractVersions":["1.0"],"capabilities":["` + capability + `"]}`
	}
	ctx := context.Background()
	rec := &recorder{responses: map[proto.Command]string{proto.CommandGetMetadata: md("1.0.0", string(proto.CapabilityTrustedIdentityVerifier))}}
	m := fakeManager(t, name, rec)
	count := func() int {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, c := range rec.commands {
			if c == proto.CommandGetMetadata {
				n++
			}
		}
		return n
	}
	p, err := m.VerificationPlugin(ctx, name, "1.0.0")
	if err != nil || p.Metadata().Version != "1.0.0" || count() != 1 {
		t.Fatalf("first verification: %v, %d metadata calls", err, count())
	}
	rec.mu.Lock()
	rec.responses[proto.CommandGetMetadata] = md("2.0.0", string(proto.CapabilityTrustedIdentityVerifier))
	rec.mu.Unlock()
	if p, err = m.VerificationPlugin(ctx, name, "2.0.0"); err != nil || p.Metadata().Version != "2.0.0" || count() != 2 {
		t.Fatalf("second verification saw version %v (%v), %d metadata calls; want 2.0.0 from a new call", p, err, count())
	}
	rec.mu.Lock()
	rec.responses[proto.CommandGetMetadata] = md("2.0.0", string(proto.CapabilitySignatureGenerator))
	rec.mu.Unlock()
	if _, err := m.VerificationPlugin(ctx, name, ""); !errors.Is(err, plugin.ErrUnsupportedCapability) || count() != 3 {
		t.Fatalf("third verification: %v after %d metadata calls; want the dropped capability seen", err, count())
	}
	if p, err = m.Get(ctx, name); err != nil || !p.HasCapability(proto.CapabilitySignatureGenerator) || count() != 4 {
		t.Fatalf("signing workflow: %v, %d metadata calls", err, count())
	}
}
