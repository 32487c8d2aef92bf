package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/signet-dev/signet/internal/fsutil"
)

// MaxSigningKeysBytes bounds signingkeys.json. An entry is a few hundred
// bytes, so a megabyte holds thousands of keys; the limit only stops a
// corrupted or hostile file from exhausting memory.
const MaxSigningKeysBytes = 1 << 20

// KeySuite is one named signing key in signingkeys.json: either a local key
// (KeyPath and CertificatePath) or a key held by a plugin (ID and
// PluginName, with optional PluginConfig). The JSON shape is notation's,
// where the two kinds are embedded structs flattened into one object.
//
// Paths: notation and GenerateTest write absolute paths. A relative path is
// accepted and taken relative to the configuration directory (Dir.Abs), so
// a configuration directory can be moved together with its localkeys.
type KeySuite struct {
	Name            string            `json:"name"`
	KeyPath         string            `json:"keyPath,omitempty"`
	CertificatePath string            `json:"certPath,omitempty"`
	ID              string            `json:"id,omitempty"`
	PluginName      string            `json:"pluginName,omitempty"`
	PluginConfig    map[string]string `json:"pluginConfig,omitempty"`
}

// IsPlugin reports whether the key is held by a plugin.
func (k KeySuite) IsPlugin() bool { return k.PluginName != "" }

// Validate checks that the suite has a name and is exactly one kind of key.
func (k KeySuite) Validate() error {
	if k.Name == "" {
		return fmt.Errorf("%w: key name cannot be empty", ErrInvalidKey)
	}
	local := k.KeyPath != "" || k.CertificatePath != ""
	plugin := k.ID != "" || k.PluginName != "" || len(k.PluginConfig) > 0
	switch {
	case local && plugin:
		return fmt.Errorf("%w: key %q has both local files (keyPath, certPath) and plugin settings (id, pluginName, pluginConfig)", ErrInvalidKey, k.Name)
	case local:
		if k.KeyPath == "" || k.CertificatePath == "" {
			return fmt.Errorf("%w: local key %q needs both keyPath and certPath", ErrInvalidKey, k.Name)
		}
	case plugin:
		if k.ID == "" || k.PluginName == "" {
			return fmt.Errorf("%w: plugin key %q needs both id and pluginName", ErrInvalidKey, k.Name)
		}
	default:
		return fmt.Errorf("%w: key %q has neither keyPath and certPath nor id and pluginName", ErrInvalidKey, k.Name)
	}
	return nil
}

// SigningKeys is signingkeys.json (§8.2) in notation's JSON shape. The
// zero value is an empty list with no default. Methods keep the document
// valid: they either apply a change whole or return an error and change
// nothing. A SigningKeys is not safe for concurrent mutation.
type SigningKeys struct {
	// Default names the key used when none is given; "" for none.
	Default string `json:"default,omitempty"`
	// Keys in file order; names are unique and non-empty.
	Keys []KeySuite `json:"keys"`
}

// signingKeysFile distinguishes a "default" that is absent from one that is
// present but empty, which notation rejects.
type signingKeysFile struct {
	Default *string    `json:"default"`
	Keys    []KeySuite `json:"keys"`
}

// ParseSigningKeys reads signingkeys.json from r, at most
// MaxSigningKeysBytes, and validates it: key names non-empty and unique,
// "default" (when present) non-empty and naming an existing key, every key
// either local or plugin (KeySuite.Validate). Errors wrap ErrInvalidConfig.
func ParseSigningKeys(r io.Reader) (*SigningKeys, error) {
	data, err := readLimited(r, MaxSigningKeysBytes)
	if err != nil {
		return nil, err
	}
	var f signingKeysFile
	if err := decodeObject(data, &f); err != nil {
		return nil, err
	}
	s := &SigningKeys{Keys: f.Keys}
	if s.Keys == nil {
		s.Keys = []KeySuite{}
	}
	if f.Default != nil {
		if *f.Default == "" {
			return nil, fmt.Errorf("%w: default key name cannot be empty", ErrInvalidConfig)
		}
		s.Default = *f.Default
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks the rules ParseSigningKeys enforces.
func (s *SigningKeys) Validate() error {
	seen := make(map[string]bool, len(s.Keys))
	for _, k := range s.Keys {
		if err := k.Validate(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		if seen[k.Name] {
			return fmt.Errorf("%w: more than one key is named %q", ErrInvalidConfig, k.Name)
		}
		seen[k.Name] = true
	}
	if s.Default != "" && !seen[s.Default] {
		return fmt.Errorf("%w: default key %q is not in the key list", ErrInvalidConfig, s.Default)
	}
	return nil
}

// LoadSigningKeys reads {CONFIG}/signingkeys.json. A missing file gives an
// empty list; a symbolic link or directory is rejected (CFG-1). Errors are
// *FileError values naming the file.
func (d Dir) LoadSigningKeys() (*SigningKeys, error) {
	path := d.SigningKeys()
	data, err := fsutil.ReadRegularFile(path, MaxSigningKeysBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return &SigningKeys{Keys: []KeySuite{}}, nil
	}
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	s, err := ParseSigningKeys(bytes.NewReader(data))
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return s, nil
}

// SaveSigningKeys validates s and writes {CONFIG}/signingkeys.json
// atomically with mode 0600, creating the directory with mode 0700 if
// needed. An invalid s leaves the file untouched.
func (d Dir) SaveSigningKeys(s *SigningKeys) error {
	if s == nil {
		s = &SigningKeys{}
	}
	if err := s.Validate(); err != nil {
		return &FileError{Path: d.SigningKeys(), Err: err}
	}
	out := *s
	if out.Keys == nil {
		out.Keys = []KeySuite{} // notation writes "keys": [], never null
	}
	return d.saveJSON(d.SigningKeys(), &out)
}

func (s *SigningKeys) index(name string) int {
	return slices.IndexFunc(s.Keys, func(k KeySuite) bool { return k.Name == name })
}

// Add appends k, and makes it the default when makeDefault is set. It fails
// with ErrKeyExists when the name is taken and ErrInvalidKey when k is
// incomplete.
func (s *SigningKeys) Add(k KeySuite, makeDefault bool) error {
	if err := k.Validate(); err != nil {
		return err
	}
	if s.index(k.Name) >= 0 {
		return fmt.Errorf("%w: %q (choose another name, or delete it first with \"signet key delete %s\")", ErrKeyExists, k.Name, k.Name)
	}
	s.Keys = append(s.Keys, k)
	if makeDefault {
		s.Default = k.Name
	}
	return nil
}

// Remove deletes the named keys and returns their names in the order
// given (a name given twice is removed once). If any name is unknown
// nothing is removed and the error wraps ErrKeyNotFound. Removing the
// default key clears the default.
func (s *SigningKeys) Remove(names ...string) ([]string, error) {
	var removed []string
	for _, n := range names {
		if slices.Contains(removed, n) {
			continue
		}
		if s.index(n) < 0 {
			return nil, s.notFound(n)
		}
		removed = append(removed, n)
	}
	s.Keys = slices.DeleteFunc(s.Keys, func(k KeySuite) bool { return slices.Contains(removed, k.Name) })
	if slices.Contains(removed, s.Default) {
		s.Default = ""
	}
	return removed, nil
}

// SetDefault makes the named key the default.
func (s *SigningKeys) SetDefault(name string) error {
	if s.index(name) < 0 {
		return s.notFound(name)
	}
	s.Default = name
	return nil
}

// Get returns the named key, or the default key when name is "". Errors
// wrap ErrKeyNotFound or ErrNoDefaultKey and say what to do.
func (s *SigningKeys) Get(name string) (KeySuite, error) {
	if name == "" {
		if s.Default == "" {
			return KeySuite{}, fmt.Errorf("%w: name a key, or make one the default with \"signet key update --default NAME\" (run \"signet key list\" to see the keys)", ErrNoDefaultKey)
		}
		name = s.Default
	}
	i := s.index(name)
	if i < 0 {
		return KeySuite{}, s.notFound(name)
	}
	return s.Keys[i], nil
}

func (s *SigningKeys) notFound(name string) error {
	if name == "" {
		return fmt.Errorf("%w: key name cannot be empty", ErrKeyNotFound)
	}
	return fmt.Errorf("%w: %q (run \"signet key list\" to see the keys)", ErrKeyNotFound, name)
}
