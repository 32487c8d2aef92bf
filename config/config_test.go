package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestLoadConfigMissingIsZero(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "absent")}
	c, err := d.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*c, Config{}) {
		t.Fatalf("got %+v, want zero Config", *c)
	}
}

// A config.json as notation v1.3.2 writes it (four-space indent,
// insecureRegistries without omitempty) loads unchanged.
func TestLoadConfigNotationFile(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	notation := `{
    "insecureRegistries": [
        "localhost:5000",
        "reg.internal:8080"
    ],
    "credsStore": "desktop",
    "credHelpers": {
        "reg.example": "ecr-login"
    },
    "signatureFormat": "COSE"
}
`
	writeFile(t, d.ConfigFile(), notation)
	c, err := d.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		InsecureRegistries: []string{"localhost:5000", "reg.internal:8080"},
		CredentialsStore:   "desktop",
		CredentialHelpers:  map[string]string{"reg.example": "ecr-login"},
		SignatureFormat:    "cose", // lowercased like notation's configutil
	}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got %+v, want %+v", *c, want)
	}
	// notation's empty config.
	writeFile(t, d.ConfigFile(), "{\n    \"insecureRegistries\": null\n}\n")
	if c, err := d.LoadConfig(); err != nil || !reflect.DeepEqual(*c, Config{}) {
		t.Fatalf("empty notation config: %+v, %v", c, err)
	}
}

func TestConfigSaveLoadRoundTrip(t *testing.T) {
	d := Dir{Path: filepath.Join(t.TempDir(), "new", "cfg")}
	c := &Config{InsecureRegistries: []string{"localhost:5000"}, SignatureFormat: "jws"}
	if err := d.SaveConfig(c); err != nil {
		t.Fatal(err)
	}
	assertMode(t, d.ConfigFile(), 0o600)
	assertMode(t, d.Path, 0o700|fs.ModeDir)
	got, err := d.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("got %+v, want %+v", got, c)
	}
}

func TestParseConfigTable(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{name: "empty object", in: `{}`},
		{name: "jws", in: `{"signatureFormat":"jws"}`},
		{name: "cose upper", in: `{"signatureFormat":"COSE"}`},
		{name: "unknown member ignored", in: `{"somethingNew":1}`},
		{name: "bad format", in: `{"signatureFormat":"pgp"}`, wantErr: true},
		{name: "empty file", in: ``, wantErr: true},
		{name: "array", in: `[]`, wantErr: true},
		{name: "null", in: `null`, wantErr: true},
		{name: "trailing data", in: `{} {}`, wantErr: true},
		{name: "wrong type", in: `{"insecureRegistries":"x"}`, wantErr: true},
		{name: "truncated", in: `{"credsStore":`, wantErr: true},
		{name: "too large", in: `{"credsStore":"` + strings.Repeat("a", MaxConfigBytes) + `"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(strings.NewReader(tc.in))
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestSaveConfigRejectsBadFormat(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	if err := d.SaveConfig(&Config{SignatureFormat: "xml"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Lstat(d.ConfigFile()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("invalid config was written: %v", err)
	}
}

// CFG-1: config.json and signingkeys.json that are symlinks or directories
// are rejected, with an error naming the file.
func TestLoadRejectsSymlinkAndDirectory(t *testing.T) {
	for _, file := range []string{ConfigFileName, SigningKeysFileName} {
		load := func(d Dir) error {
			if file == ConfigFileName {
				_, err := d.LoadConfig()
				return err
			}
			_, err := d.LoadSigningKeys()
			return err
		}
		t.Run(file+" symlink", func(t *testing.T) {
			d := Dir{Path: t.TempDir()}
			real := filepath.Join(t.TempDir(), "real.json")
			writeFile(t, real, `{}`)
			if err := os.Symlink(real, filepath.Join(d.Path, file)); err != nil {
				t.Skip("symlinks unavailable")
			}
			err := load(d)
			var fe *FileError
			if err == nil || !errors.As(err, &fe) || fe.Path != filepath.Join(d.Path, file) {
				t.Fatalf("err = %v, want a FileError naming the file", err)
			}
			if !strings.Contains(err.Error(), "symbolic link") {
				t.Errorf("error %q does not say it is a symbolic link", err)
			}
		})
		t.Run(file+" directory", func(t *testing.T) {
			d := Dir{Path: t.TempDir()}
			if err := os.Mkdir(filepath.Join(d.Path, file), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := load(d); err == nil || !strings.Contains(err.Error(), "directory") {
				t.Fatalf("err = %v, want a directory error", err)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func assertMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode() & (fs.ModePerm | fs.ModeDir); got != want {
		t.Errorf("%s mode = %v, want %v", path, got, want)
	}
}
