package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// notationSigningKeys is signingkeys.json as notation v1.3.2 writes it
// (json.Encoder with a four-space indent, embedded X509KeyPair and
// ExternalKey flattened into each key object).
const notationSigningKeys = `{
    "default": "wabbit-networks.io",
    "keys": [
        {
            "name": "wabbit-networks.io",
            "keyPath": "/home/u/.config/notation/localkeys/wabbit-networks.io.key",
            "certPath": "/home/u/.config/notation/localkeys/wabbit-networks.io.crt"
        },
        {
            "name": "akv",
            "id": "https://vault.example/keys/k/1",
            "pluginName": "azure-kv",
            "pluginConfig": {
                "self_signed": "true"
            }
        }
    ]
}
`

// §8.2: a notation-written signingkeys.json loads unchanged, and saving it
// back produces the same bytes.
func TestSigningKeysNotationFileRoundTrip(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	writeFile(t, d.SigningKeys(), notationSigningKeys)
	s, err := d.LoadSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	want := &SigningKeys{
		Default: "wabbit-networks.io",
		Keys: []KeySuite{
			{Name: "wabbit-networks.io", KeyPath: "/home/u/.config/notation/localkeys/wabbit-networks.io.key", CertificatePath: "/home/u/.config/notation/localkeys/wabbit-networks.io.crt"},
			{Name: "akv", ID: "https://vault.example/keys/k/1", PluginName: "azure-kv", PluginConfig: map[string]string{"self_signed": "true"}},
		},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	if err := d.SaveSigningKeys(s); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(d.SigningKeys())
	if string(got) != notationSigningKeys {
		t.Fatalf("saved file differs from notation's:\n%s", got)
	}
}

func TestLoadSigningKeysMissingIsEmpty(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "absent")}
	s, err := d.LoadSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	if s.Default != "" || len(s.Keys) != 0 {
		t.Fatalf("got %+v", s)
	}
	if _, err := s.Get(""); !errors.Is(err, ErrNoDefaultKey) {
		t.Fatalf("Get default on empty = %v", err)
	}
}

// §8.2 signingkeys.json rules: names non-empty and unique; default non-empty
// and existing; each key local or plugin, not both, not half.
func TestParseSigningKeysTable(t *testing.T) {
	local := `{"name":"a","keyPath":"/k","certPath":"/c"}`
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{name: "empty object", in: `{}`},
		{name: "empty keys", in: `{"keys":[]}`},
		{name: "null keys", in: `{"keys":null}`},
		{name: "one local", in: `{"keys":[` + local + `]}`},
		{name: "default set", in: `{"default":"a","keys":[` + local + `]}`},
		{name: "relative paths", in: `{"keys":[{"name":"r","keyPath":"localkeys/r.key","certPath":"localkeys/r.crt"}]}`},
		{name: "plugin without config", in: `{"keys":[{"name":"p","id":"i","pluginName":"x"}]}`},
		{name: "unknown member ignored", in: `{"keys":[],"future":true}`},
		{name: "empty name", in: `{"keys":[{"name":"","keyPath":"/k","certPath":"/c"}]}`, wantErr: ErrInvalidKey},
		{name: "missing name", in: `{"keys":[{"keyPath":"/k","certPath":"/c"}]}`, wantErr: ErrInvalidKey},
		{name: "duplicate names", in: `{"keys":[` + local + `,` + local + `]}`, wantErr: ErrInvalidConfig},
		{name: "default not found", in: `{"default":"b","keys":[` + local + `]}`, wantErr: ErrInvalidConfig},
		{name: "default empty string", in: `{"default":"","keys":[` + local + `]}`, wantErr: ErrInvalidConfig},
		{name: "default without keys", in: `{"default":"a"}`, wantErr: ErrInvalidConfig},
		{name: "key path only", in: `{"keys":[{"name":"a","keyPath":"/k"}]}`, wantErr: ErrInvalidKey},
		{name: "cert path only", in: `{"keys":[{"name":"a","certPath":"/c"}]}`, wantErr: ErrInvalidKey},
		{name: "plugin without id", in: `{"keys":[{"name":"p","pluginName":"x"}]}`, wantErr: ErrInvalidKey},
		{name: "id without plugin", in: `{"keys":[{"name":"p","id":"i"}]}`, wantErr: ErrInvalidKey},
		{name: "config only", in: `{"keys":[{"name":"p","pluginConfig":{"a":"b"}}]}`, wantErr: ErrInvalidKey},
		{name: "local and plugin", in: `{"keys":[{"name":"a","keyPath":"/k","certPath":"/c","id":"i","pluginName":"x"}]}`, wantErr: ErrInvalidKey},
		{name: "name only", in: `{"keys":[{"name":"a"}]}`, wantErr: ErrInvalidKey},
		{name: "not an object", in: `[]`, wantErr: ErrInvalidConfig},
		{name: "empty input", in: ``, wantErr: ErrInvalidConfig},
		{name: "trailing garbage", in: `{"keys":[]}x`, wantErr: ErrInvalidConfig},
		{name: "wrong type", in: `{"keys":{}}`, wantErr: ErrInvalidConfig},
		{name: "default wrong type", in: `{"default":1}`, wantErr: ErrInvalidConfig},
		{name: "too large", in: `{"keys":[],"pad":"` + strings.Repeat("x", MaxSigningKeysBytes) + `"}`, wantErr: ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSigningKeys(strings.NewReader(tc.in))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if s.Keys == nil {
					t.Error("Keys is nil, want an empty slice")
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestSigningKeysMutations(t *testing.T) {
	a := KeySuite{Name: "a", KeyPath: "/a.key", CertificatePath: "/a.crt"}
	b := KeySuite{Name: "b", ID: "kid", PluginName: "p"}
	c := KeySuite{Name: "c", KeyPath: "/c.key", CertificatePath: "/c.crt"}
	s := &SigningKeys{}
	if err := s.Add(a, false); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(b, true); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(c, false); err != nil {
		t.Fatal(err)
	}
	if s.Default != "b" {
		t.Fatalf("default = %q", s.Default)
	}
	if err := s.Add(KeySuite{Name: "a", KeyPath: "/x", CertificatePath: "/y"}, true); !errors.Is(err, ErrKeyExists) {
		t.Fatalf("duplicate add: %v", err)
	}
	if err := s.Add(KeySuite{Name: "half", KeyPath: "/x"}, true); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("invalid add: %v", err)
	}
	if s.Default != "b" || len(s.Keys) != 3 {
		t.Fatalf("failed adds changed the list: %+v", s)
	}
	if k, err := s.Get(""); err != nil || k.Name != "b" {
		t.Fatalf("Get default = %+v, %v", k, err)
	}
	if k, err := s.Get("c"); err != nil || !reflect.DeepEqual(k, c) {
		t.Fatalf("Get c = %+v, %v", k, err)
	}
	_, err := s.Get("zz")
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), "signet key list") {
		t.Fatalf("Get unknown = %v, want ErrKeyNotFound with a hint", err)
	}
	if err := s.SetDefault("zz"); !errors.Is(err, ErrKeyNotFound) || s.Default != "b" {
		t.Fatalf("SetDefault unknown = %v, default %q", err, s.Default)
	}
	if err := s.SetDefault("a"); err != nil || s.Default != "a" {
		t.Fatalf("SetDefault a = %v, default %q", err, s.Default)
	}
	// Remove is all or nothing.
	if _, err := s.Remove("c", "zz"); !errors.Is(err, ErrKeyNotFound) || len(s.Keys) != 3 {
		t.Fatalf("Remove with unknown = %v, keys %d", err, len(s.Keys))
	}
	removed, err := s.Remove("a", "c", "a")
	if err != nil || !reflect.DeepEqual(removed, []string{"a", "c"}) {
		t.Fatalf("Remove = %v, %v", removed, err)
	}
	if s.Default != "" {
		t.Errorf("removing the default key left default %q", s.Default)
	}
	if !reflect.DeepEqual(s.Keys, []KeySuite{b}) {
		t.Errorf("keys = %+v", s.Keys)
	}
	if _, err := s.Get(""); !errors.Is(err, ErrNoDefaultKey) {
		t.Errorf("Get default after removal = %v", err)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("result invalid: %v", err)
	}
}

// §8.2: signingkeys.json is written with mode 0600 in a 0700 directory; an
// invalid document is refused and leaves the old file intact.
func TestSaveSigningKeysModesAndAtomicity(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "fresh")}
	s := &SigningKeys{}
	if err := s.Add(KeySuite{Name: "a", KeyPath: "/a.key", CertificatePath: "/a.crt"}, true); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveSigningKeys(s); err != nil {
		t.Fatal(err)
	}
	assertMode(t, d.SigningKeys(), 0o600)
	assertMode(t, d.Path, 0o700|fs.ModeDir)
	before, _ := os.ReadFile(d.SigningKeys())

	bad := &SigningKeys{Default: "ghost", Keys: s.Keys}
	if err := d.SaveSigningKeys(bad); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("save invalid = %v", err)
	}
	after, _ := os.ReadFile(d.SigningKeys())
	if !bytes.Equal(before, after) {
		t.Fatal("invalid save changed the file")
	}
	entries, _ := os.ReadDir(d.Path)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only signingkeys.json", len(entries))
	}
	// An empty list is written as "keys": [] like notation, never null.
	if err := d.SaveSigningKeys(&SigningKeys{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(d.SigningKeys()); !bytes.Contains(got, []byte(`"keys": []`)) {
		t.Fatalf("empty list saved as %s", got)
	}
}

func TestLoadSigningKeysInvalidNamesFile(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	writeFile(t, d.SigningKeys(), `{"default":"x","keys":[]}`)
	_, err := d.LoadSigningKeys()
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != d.SigningKeys() || !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseSigningKeys(f *testing.F) {
	f.Add([]byte(notationSigningKeys))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{"default":"","keys":[]}`))
	f.Add([]byte(`{"keys":[{"name":"a","keyPath":"k","certPath":"c"},{"name":"a","id":"i","pluginName":"p"}]}`))
	f.Add([]byte(`{"keys":[{"name":"p","id":"i","pluginName":"x","pluginConfig":{}}]}`))
	f.Add([]byte(`{"keys":[{"name":"\u0000"}]} `))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSigningKeys(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) && !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error %v wraps neither ErrInvalidConfig nor ErrInvalidKey", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted document does not validate: %v", err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSigningKeys(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		if !reflect.DeepEqual(normalize(s), normalize(again)) {
			t.Fatalf("round trip changed the document:\n%+v\n%+v", s, again)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"insecureRegistries":["a"],"credsStore":"x","credHelpers":{"r":"h"},"signatureFormat":"COSE"}`))
	f.Add([]byte(`{"insecureRegistries":null}`))
	f.Add([]byte(`{"signatureFormat":"pgp"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
	})
}

// normalize treats an empty pluginConfig like an absent one (omitempty).
func normalize(s *SigningKeys) *SigningKeys {
	out := &SigningKeys{Default: s.Default}
	for _, k := range s.Keys {
		if len(k.PluginConfig) == 0 {
			k.PluginConfig = nil
		}
		out.Keys = append(out.Keys, k)
	}
	return out
}
