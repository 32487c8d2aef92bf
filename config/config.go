package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/signet-dev/signet/internal/fsutil"
)

// MaxConfigBytes bounds config.json. The file holds a few registry names
// and helper names; a megabyte is far beyond any real one and stops a
// corrupted or hostile file from exhausting memory.
const MaxConfigBytes = 1 << 20

// Signature formats config.json may name.
const (
	SignatureFormatJWS  = "jws"
	SignatureFormatCOSE = "cose"
)

// Config is config.json (§8.2), in notation's JSON shape. The zero value is
// the default configuration.
//
// Difference from notation: notation writes "insecureRegistries": null when
// the list is empty; signet omits the member. Both read either form. Members
// signet does not know are ignored on load and dropped on save.
type Config struct {
	// InsecureRegistries lists registries ("host[:port]") reached over plain
	// HTTP (CFG-3).
	InsecureRegistries []string `json:"insecureRegistries,omitempty"`
	// CredentialsStore names the docker credential helper used for every
	// registry ("docker-credential-<name>").
	CredentialsStore string `json:"credsStore,omitempty"`
	// CredentialHelpers maps a registry to its credential helper.
	CredentialHelpers map[string]string `json:"credHelpers,omitempty"`
	// SignatureFormat is the default envelope format: "jws", "cose", or ""
	// for jws. LoadConfig lowercases it, as notation does.
	SignatureFormat string `json:"signatureFormat,omitempty"`
}

// Validate checks the fields that have rules: the signature format.
func (c *Config) Validate() error {
	switch strings.ToLower(c.SignatureFormat) {
	case "", SignatureFormatJWS, SignatureFormatCOSE:
		return nil
	}
	return fmt.Errorf("%w: signatureFormat %q is not supported (use %q or %q)", ErrInvalidConfig, c.SignatureFormat, SignatureFormatJWS, SignatureFormatCOSE)
}

// ParseConfig reads config.json from r, at most MaxConfigBytes, and
// validates it. The signature format is lowercased.
func ParseConfig(r io.Reader) (*Config, error) {
	data, err := readLimited(r, MaxConfigBytes)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := decodeObject(data, &c); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.SignatureFormat = strings.ToLower(c.SignatureFormat)
	return &c, nil
}

// LoadConfig reads {CONFIG}/config.json. A missing file gives the zero
// Config; a symbolic link or a directory is rejected (CFG-1); errors are
// *FileError values naming the file.
func (d Dir) LoadConfig() (*Config, error) {
	path := d.ConfigFile()
	data, err := fsutil.ReadRegularFile(path, MaxConfigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{}, nil
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	c, err := ParseConfig(bytes.NewReader(data))
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return c, nil
}

// SaveConfig validates c and writes {CONFIG}/config.json atomically (mode
// 0600), creating the directory with mode 0700 if needed.
func (d Dir) SaveConfig(c *Config) error {
	if c == nil {
		c = &Config{}
	}
	if err := c.Validate(); err != nil {
		return &FileError{Path: d.ConfigFile(), Err: err}
	}
	return d.saveJSON(d.ConfigFile(), c)
}

// saveJSON writes v as notation does (four-space indent, final newline).
func (d Dir) saveJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return &FileError{Path: path, Err: err}
	}
	data = append(data, '\n')
	if err := fsutil.MkdirAll(d.Path); err != nil {
		return &FileError{Path: path, Err: err}
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return &FileError{Path: path, Err: err}
	}
	return nil
}

// readLimited reads r up to max bytes; more is an ErrInvalidConfig.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidConfig, max)
	}
	return data, nil
}

// decodeObject decodes one JSON object into v; anything else, or anything
// after the object, is an ErrInvalidConfig. Unknown members are ignored so
// that files written by newer tools still load.
func decodeObject(data []byte, v any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrInvalidConfig)
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: unexpected data after the JSON object", ErrInvalidConfig)
	}
	return nil
}
