package trustpolicy

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Trust policy file names, relative to the configuration directory (§8.2).
const (
	// FileOCI is the OCI trust policy (specification; CLI v2).
	FileOCI = "trustpolicy.oci.json"
	// FileOCILegacy is the OCI trust policy name of CLI v1.x, read when
	// FileOCI does not exist.
	FileOCILegacy = "trustpolicy.json"
	// FileBlob is the blob trust policy.
	FileBlob = "trustpolicy.blob.json"
)

// LoadOCI reads the OCI trust policy from configDir: FileOCI, or FileOCILegacy
// when FileOCI does not exist. It returns the document and the path read.
// A policy file that is a symlink or not a regular file is an error (TP-13,
// CFG-1), and FileOCILegacy is then not tried. When neither file exists the
// error wraps ErrPolicyNotFound. Errors name the file.
func LoadOCI(configDir string) (*Document, string, error) {
	var tried []string
	for _, name := range []string{FileOCI, FileOCILegacy} {
		path := filepath.Join(configDir, name)
		f, err := openPolicy(path)
		if errors.Is(err, fs.ErrNotExist) {
			tried = append(tried, path)
			continue
		}
		if err != nil {
			return nil, path, err
		}
		d, err := ParseOCI(f)
		f.Close()
		if err != nil {
			return nil, path, fmt.Errorf("oci trust policy %s: %w", path, err)
		}
		return d, path, nil
	}
	return nil, "", fmt.Errorf("%w: neither %s nor %s exists", ErrPolicyNotFound, tried[0], tried[1])
}

// LoadBlob reads FileBlob from configDir with the rules of LoadOCI.
func LoadBlob(configDir string) (*BlobDocument, string, error) {
	path := filepath.Join(configDir, FileBlob)
	f, err := openPolicy(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, fmt.Errorf("%w: %s does not exist", ErrPolicyNotFound, path)
	}
	if err != nil {
		return nil, path, err
	}
	defer f.Close()
	d, err := ParseBlob(f)
	if err != nil {
		return nil, path, fmt.Errorf("blob trust policy %s: %w", path, err)
	}
	return d, path, nil
}

// openPolicy opens path for reading when it is a regular file and not a
// symlink. The file opened is compared with the one inspected, so a swap
// between the two calls is detected. A missing file gives an error
// satisfying errors.Is(err, fs.ErrNotExist).
func openPolicy(path string) (*os.File, error) {
	before, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	if !before.Mode().IsRegular() {
		return nil, &PolicyError{Msg: fmt.Sprintf("%s is not a regular file (symlinks and directories are not supported)", path)}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trust policy %s: %w", path, err)
	}
	after, err := f.Stat()
	if err != nil || !os.SameFile(before, after) {
		f.Close()
		return nil, &PolicyError{Msg: fmt.Sprintf("%s changed while it was opened", path)}
	}
	return f, nil
}
