package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigDirectory: the configuration directory comes from SIGNET_CONFIG,
// else $XDG_CONFIG_HOME/signet, else $HOME/.config/signet; with none of
// them signet fails with 2 and says what to set (docs/configuration.md).
func TestConfigDirectory(t *testing.T) {
	tmp := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		dir  string // where generate-test must write; "" means it fails
	}{
		{name: "SIGNET_CONFIG wins", env: map[string]string{"SIGNET_CONFIG": filepath.Join(tmp, "a"), "XDG_CONFIG_HOME": filepath.Join(tmp, "xdg"), "HOME": filepath.Join(tmp, "home")}, dir: filepath.Join(tmp, "a")},
		{name: "XDG_CONFIG_HOME", env: map[string]string{"XDG_CONFIG_HOME": filepath.Join(tmp, "xdg"), "HOME": filepath.Join(tmp, "home")}, dir: filepath.Join(tmp, "xdg", "signet")},
		{name: "HOME", env: map[string]string{"HOME": filepath.Join(tmp, "home")}, dir: filepath.Join(tmp, "home", ".config", "signet")},
		{name: "nothing set", env: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &cli{t: t, env: tt.env}
			r := c.run("cert", "generate-test", "--key-type", "ec-256", "k")
			if tt.dir == "" {
				checkFailure(t, r, exitUsage, "find the configuration directory", "set SIGNET_CONFIG")
				return
			}
			if r.code != exitOK {
				t.Fatalf("want exit 0\n%s", r)
			}
			if _, err := os.Stat(filepath.Join(tt.dir, "signingkeys.json")); err != nil {
				t.Errorf("signingkeys.json not in %s: %v", tt.dir, err)
			}
		})
	}
}

// TestSignatureFormatDefault: --signature-format, else config.json
// signatureFormat, else jws (docs/cli.md). The blob signature file is
// FILE.jws.sig holding a JWS JSON envelope (JWS-10) or FILE.cose.sig holding
// a tagged COSE_Sign1 (COSE-7).
func TestSignatureFormatDefault(t *testing.T) {
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	tests := []struct {
		name    string
		config  string // config.json content; "" means no file
		flag    string
		want    string // signature file extension written
		wantErr string
	}{
		{name: "no config.json", want: ".jws.sig"},
		{name: "config.json without signatureFormat", config: `{"insecureRegistries":[]}`, want: ".jws.sig"},
		{name: "config.json cose", config: `{"signatureFormat":"cose"}`, want: ".cose.sig"},
		{name: "flag over config.json", config: `{"signatureFormat":"cose"}`, flag: "jws", want: ".jws.sig"},
		{name: "flag is case-insensitive", flag: "COSE", want: ".cose.sig"},
		{name: "unsupported config.json value", config: `{"signatureFormat":"pgp"}`, wantErr: `signatureFormat "pgp" is not supported`},
		{name: "malformed config.json", config: `{`, wantErr: "config.json"},
		// The flag is all that is needed: config.json is not read.
		{name: "flag with a malformed config.json", config: `{`, flag: "cose", want: ".cose.sig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(c.path("config.json"))
			if tt.config != "" {
				writeFile(t, c.cfg, "config.json", []byte(tt.config))
			}
			dir := t.TempDir()
			blob := writeFile(t, dir, "b", []byte(tt.name))
			args := []string{"blob", "sign", "--signature-directory", dir}
			if tt.flag != "" {
				args = append(args, "--signature-format", tt.flag)
			}
			r := c.run(append(args, blob)...)
			if tt.wantErr != "" {
				checkFailure(t, r, exitUsage, tt.wantErr, "")
				return
			}
			if r.code != exitOK {
				t.Fatalf("want exit 0\n%s", r)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 || entries[1].Name() != "b"+tt.want {
				t.Fatalf("directory holds %v, want b and b%s", entries, tt.want)
			}
			env, err := os.ReadFile(filepath.Join(dir, "b"+tt.want))
			if err != nil {
				t.Fatal(err)
			}
			// A JWS JSON serialization is an object; a COSE_Sign1 message
			// starts with CBOR tag 18 (0xd2).
			if isCOSE := len(env) > 0 && env[0] == 0xd2; isCOSE != (tt.want == ".cose.sig") || !isCOSE && !bytes.HasPrefix(env, []byte("{")) {
				t.Errorf("%s holds %q..., not the envelope its suffix names", entries[1].Name(), env[:min(len(env), 8)])
			}
		})
	}
}

// TestBlobSignDefaultDirectory: without --signature-directory the signature
// goes to the current directory, not next to the file (docs/cli.md, as
// notation does).
func TestBlobSignDefaultDirectory(t *testing.T) {
	c := newCLI(t)
	c.must("cert", "generate-test", "--key-type", "ec-256", "--default", "demo")
	src, cwd := t.TempDir(), t.TempDir()
	blob := writeFile(t, src, "b.txt", []byte("here"))
	t.Chdir(cwd)
	r := c.must("blob", "sign", "--signature-format", "cose", blob)
	if !strings.Contains(r.stdout, "Signature file written to b.txt.cose.sig") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if _, err := os.Stat(filepath.Join(cwd, "b.txt.cose.sig")); err != nil {
		t.Errorf("not in the current directory: %v", err)
	}
	if _, err := os.Stat(blob + ".cose.sig"); err == nil {
		t.Error("written next to the file")
	}
	c.blobPolicy(global(statement("p", "strict", []string{"ca:demo"}, []string{"*"})))
	c.must("blob", "verify", "--signature", "b.txt.cose.sig", blob)
}
