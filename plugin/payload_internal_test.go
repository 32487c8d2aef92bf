package plugin

import (
	"strings"
	"testing"
)

// §7.4 generate-envelope: the signed payload may only add annotations to
// the requested targetArtifact. These cases reach the comparison directly,
// including inputs (duplicate members, invalid UTF-8) that the JWS decoder
// refuses before it, but a COSE payload (opaque bytes) does not.
func TestSamePayload(t *testing.T) {
	const want = `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:aa","mediaType":"m","platform":{"os":"linux"},"size":10}}`
	tests := []struct {
		name    string
		got     string
		wantErr string // "" when accepted
	}{
		{name: "identical", got: want},
		{name: "members reordered, white space", got: `{ "targetArtifact" : { "size":10, "mediaType":"m", "digest":"sha256:aa", "platform":{"os":"linux"}, "annotations":{"team":"a"} } }`},
		{name: "annotation added", got: `{"targetArtifact":{"annotations":{"team":"a","x":"y"},"digest":"sha256:aa","mediaType":"m","platform":{"os":"linux"},"size":10}}`},
		{name: "digest changed", got: `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:bb","mediaType":"m","platform":{"os":"linux"},"size":10}}`, wantErr: `changes "digest"`},
		{name: "size written differently", got: `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:aa","mediaType":"m","platform":{"os":"linux"},"size":1e1}}`, wantErr: `changes "size"`},
		{name: "nested member changed", got: `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:aa","mediaType":"m","platform":{"os":"windows"},"size":10}}`, wantErr: `changes "platform"`},
		{name: "member removed", got: `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:aa","mediaType":"m","size":10}}`, wantErr: `lacks the member "platform"`},
		{name: "annotations removed", got: `{"targetArtifact":{"digest":"sha256:aa","mediaType":"m","platform":{"os":"linux"},"size":10}}`, wantErr: `lacks the member "annotations"`},
		{name: "annotation value not a string", got: `{"targetArtifact":{"annotations":{"team":"a","n":1},"digest":"sha256:aa","mediaType":"m","platform":{"os":"linux"},"size":10}}`, wantErr: `annotation "n" is not a string`},
		{name: "duplicate digest, the second one the requested", got: `{"targetArtifact":{"annotations":{"team":"a"},"digest":"sha256:bb","digest":"sha256:aa","mediaType":"m","platform":{"os":"linux"},"size":10}}`, wantErr: `duplicate member "digest"`},
		{name: "invalid UTF-8", got: "{\"targetArtifact\":{\"annotations\":{\"team\":\"a\xff\"},\"digest\":\"sha256:aa\",\"mediaType\":\"m\",\"platform\":{\"os\":\"linux\"},\"size\":10}}", wantErr: "UTF-8"},
		{name: "trailing data", got: want + `{}`, wantErr: "trailing data"},
		{name: "array at top level", got: `[` + want + `]`, wantErr: "not a JSON object"},
		{name: "deeply nested", got: `{"targetArtifact":{"platform":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}}`, wantErr: "nested deeper"},
	}
	w, err := decodeStrict([]byte(want))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := samePayload(w, []byte(tc.got))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// Plugin text in error messages cannot drive a terminal and is bounded.
func TestDisplayText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "key not found", "key not found"},
		{"newlines and tabs become spaces", "line1\nline2\tx\r", "line1 line2 x"},
		{"escape sequence", "a\x1b[2Jb", "a\uFFFD[2Jb"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"bidi override", "abc\u202Edef", "abc\uFFFDdef"},
		{"genuine U+FFFD kept", "a\uFFFDb", "a\uFFFDb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := displayText(tc.in); got != tc.want {
				t.Errorf("displayText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	long := displayText(strings.Repeat("x", 10*maxDisplayedMessage))
	if len(long) > maxDisplayedMessage+len("…[truncated]") || !strings.HasSuffix(long, "…[truncated]") {
		t.Errorf("long text: %d bytes, suffix %q", len(long), long[len(long)-20:])
	}
}
