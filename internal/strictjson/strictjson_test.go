package strictjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{name: "object", in: `{"a":1,"b":[true,null,"x"]}`},
		{name: "duplicate member", in: `{"a":1,"a":2}`, wantErr: `duplicate member "a"`},
		{name: "nested duplicate", in: `{"x":{"a":1,"a":1}}`, wantErr: `duplicate member "a"`},
		{name: "trailing data", in: `{} {}`, wantErr: "trailing data"},
		{name: "too deep", in: strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2), wantErr: "nested deeper"},
		{name: "truncated", in: `{"a":`, wantErr: "EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if n, ok := v.(map[string]any)["a"].(json.Number); !ok || n.String() != "1" {
					t.Errorf("number kept as text: %#v", v)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
	if _, err := DecodeObject([]byte(`[1]`)); err == nil {
		t.Error("an array decoded as an object")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"targetArtifact":{"digest":"sha256:00","size":1}}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`1e700`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		// What decodes strictly also decodes with encoding/json (numbers as
		// json.Number, as here: 1e700 is valid JSON but no float64).
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var w any
		if err := dec.Decode(&w); err != nil {
			t.Fatalf("strict accepted what encoding/json refuses: %q: %v (%#v)", data, err, v)
		}
	})
}
