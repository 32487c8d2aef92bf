package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode"
)

// FuzzSamePayload runs the generate-envelope payload comparison on
// arbitrary signed payloads against a fixed request: no panic, and any
// accepted payload keeps the requested digest, size and annotation.
func FuzzSamePayload(f *testing.F) {
	const want = `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:aa","mediaType":"m","size":10}}`
	for _, seed := range []string{
		want,
		`{"targetArtifact":{"annotations":{"team":"a","x":"y"},"digest":"sha256:aa","mediaType":"m","size":10}}`,
		`{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:aa","digest":"sha256:bb","mediaType":"m","size":10}}`,
		`{"targetArtifact":{"digest":"sha256:aa","mediaType":"m","size":10.0}}`,
		`{"targetArtifact":[]}`, `[]`, `{}`, `{"targetArtifact":{"annotations":null}}`,
	} {
		f.Add([]byte(seed))
	}
	w, err := decodeStrict([]byte(want))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, got []byte) {
		if err := samePayload(w, got); err != nil {
			return
		}
		g, err := decodeStrict(got)
		if err != nil {
			t.Fatalf("accepted a payload decodeStrict refuses: %v", err)
		}
		ta, _ := targetArtifact(g)
		ann, _ := ta["annotations"].(map[string]any)
		if ta["digest"] != "sha256:aa" || ta["size"] == nil || ta["size"].(interface{ String() string }).String() != "10" || ann["team"] != "a" {
			t.Fatalf("accepted %s", got)
		}
	})
}

// FuzzClassifyStderr interprets arbitrary stderr of a failed plugin
// (PROC-2): no panic; the result is a *PluginError or wraps
// ErrExecutable or ErrMalformedResponse; its message is one line without
// control characters.
func FuzzClassifyStderr(f *testing.F) {
	for _, seed := range []string{
		``, ` `, `{"errorCode":"ACCESS_DENIED","errorMessage":"no"}`, `{"errorCode":""}`,
		"panic: \x1b[31m boom\n", `{"errorCode":"X","errorMessage":"a\u001b[2Jb\nc"}`, `null`,
	} {
		f.Add([]byte(seed))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, stderr []byte) {
		err := classify(ctx, ctx, 0, errors.New("exit status 1"), stderr)
		var pe *PluginError
		if !errors.As(err, &pe) && !errors.Is(err, ErrExecutable) && !errors.Is(err, ErrMalformedResponse) {
			t.Fatalf("classify = %v (%T)", err, err)
		}
		msg := (&Error{Plugin: "p", Command: "describe-key", Err: err}).Error()
		if strings.IndexFunc(msg, unicode.IsControl) >= 0 {
			t.Fatalf("message has control characters: %q", msg)
		}
	})
}
