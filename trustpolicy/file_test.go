package trustpolicy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// ociNamed is a valid OCI document whose single statement has the name.
func ociNamed(name string) string {
	return `{"version":"1.0","trustPolicies":[{"name":"` + name + `","registryScopes":["*"],` +
		`"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["*"]}]}`
}

// TestLoadOCI covers the file rules of TP-13 and §8.2: trustpolicy.oci.json
// first, legacy trustpolicy.json as fallback, no symlinks or directories.
func TestLoadOCI(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string)
		wantFile string // file read on success
		wantName string // statement name read
		wantErr  error
		msg      string
	}{
		{
			name:     "oci file",
			setup:    func(t *testing.T, dir string) { write(t, filepath.Join(dir, FileOCI), ociNamed("new")) },
			wantFile: FileOCI, wantName: "new",
		},
		{
			name:     "legacy fallback",
			setup:    func(t *testing.T, dir string) { write(t, filepath.Join(dir, FileOCILegacy), ociNamed("legacy")) },
			wantFile: FileOCILegacy, wantName: "legacy",
		},
		{
			name: "oci file preferred over legacy",
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, FileOCI), ociNamed("new"))
				write(t, filepath.Join(dir, FileOCILegacy), ociNamed("legacy"))
			},
			wantFile: FileOCI, wantName: "new",
		},
		{
			name:    "neither file",
			setup:   func(*testing.T, string) {},
			wantErr: ErrPolicyNotFound, msg: FileOCILegacy,
		},
		{
			name:    "blob policy alone is not an OCI policy",
			setup:   func(t *testing.T, dir string) { write(t, filepath.Join(dir, FileBlob), specBlobExample) },
			wantErr: ErrPolicyNotFound,
		},
		{
			name: "symlinked oci file rejected without fallback",
			setup: func(t *testing.T, dir string) {
				target := filepath.Join(t.TempDir(), "policy.json")
				write(t, target, ociNamed("linked"))
				if err := os.Symlink(target, filepath.Join(dir, FileOCI)); err != nil {
					t.Skip("symlinks unavailable:", err)
				}
				write(t, filepath.Join(dir, FileOCILegacy), ociNamed("legacy"))
			},
			wantErr: ErrInvalidPolicy, msg: "not a regular file",
		},
		{
			name: "symlinked legacy file rejected",
			setup: func(t *testing.T, dir string) {
				target := filepath.Join(t.TempDir(), "policy.json")
				write(t, target, ociNamed("linked"))
				if err := os.Symlink(target, filepath.Join(dir, FileOCILegacy)); err != nil {
					t.Skip("symlinks unavailable:", err)
				}
			},
			wantErr: ErrInvalidPolicy, msg: "not a regular file",
		},
		{
			name: "dangling symlink rejected",
			setup: func(t *testing.T, dir string) {
				if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, FileOCI)); err != nil {
					t.Skip("symlinks unavailable:", err)
				}
			},
			wantErr: ErrInvalidPolicy, msg: "not a regular file",
		},
		{
			name: "directory rejected",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, FileOCI), 0o700); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: ErrInvalidPolicy, msg: "not a regular file",
		},
		{
			name: "malformed oci file names the file, no fallback",
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, FileOCI), "{\n\"version\": \"1.0\",\n")
				write(t, filepath.Join(dir, FileOCILegacy), ociNamed("legacy"))
			},
			wantErr: ErrInvalidPolicy, msg: FileOCI + ": trust policy: malformed JSON",
		},
		{
			name: "invalid legacy file names the file",
			setup: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, FileOCILegacy), `{"version":"1.0","trustPolicies":[]}`)
			},
			wantErr: ErrInvalidPolicy, msg: FileOCILegacy + ": trust policy: trustPolicies",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			d, path, err := LoadOCI(dir)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || d != nil {
					t.Fatalf("LoadOCI() = %v, %q, %v; want %v", d, path, err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("error %q does not mention %q", err, tc.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOCI() = %v", err)
			}
			if path != filepath.Join(dir, tc.wantFile) || d.TrustPolicies[0].Name != tc.wantName {
				t.Errorf("LoadOCI() read %q (statement %q), want %q (%q)", path, d.TrustPolicies[0].Name, tc.wantFile, tc.wantName)
			}
		})
	}
}

func TestLoadBlob(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, FileBlob), specBlobExample)
		d, path, err := LoadBlob(dir)
		if err != nil || path != filepath.Join(dir, FileBlob) || len(d.TrustPolicies) != 3 {
			t.Fatalf("LoadBlob() = %v, %q, %v", d, path, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, FileOCI), ociNamed("oci"))
		if _, _, err := LoadBlob(dir); !errors.Is(err, ErrPolicyNotFound) {
			t.Fatalf("LoadBlob() = %v, want ErrPolicyNotFound", err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "real.json")
		write(t, target, specBlobExample)
		if err := os.Symlink(target, filepath.Join(dir, FileBlob)); err != nil {
			t.Skip("symlinks unavailable:", err)
		}
		if _, _, err := LoadBlob(dir); !isInvalid(err) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("LoadBlob() = %v, want symlink rejected", err)
		}
	})
	t.Run("invalid names the file", func(t *testing.T) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, FileBlob), `{"version":"1.0","trustPolicies":[{"name":"g","globalPolicy":true,"signatureVerification":{"level":"skip"}}]}`)
		_, _, err := LoadBlob(dir)
		if !isInvalid(err) || !strings.Contains(err.Error(), FileBlob) || !strings.Contains(err.Error(), "global policy") {
			t.Fatalf("LoadBlob() = %v", err)
		}
	})
	t.Run("unreadable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads everything")
		}
		dir := t.TempDir()
		write(t, filepath.Join(dir, FileBlob), specBlobExample)
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		_, _, err := LoadBlob(dir)
		if err == nil || errors.Is(err, ErrPolicyNotFound) {
			t.Fatalf("LoadBlob() = %v, want a permission error", err)
		}
	})
}
