package config

import "errors"

// Sentinel errors. Callers test them with errors.Is.
var (
	// ErrInvalidConfig: config.json or signingkeys.json is malformed or
	// breaks a rule (CFG-1, §8.2).
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrKeyNotFound: no signing key has the requested name.
	ErrKeyNotFound = errors.New("signing key not found")
	// ErrKeyExists: a signing key with the name already exists.
	ErrKeyExists = errors.New("signing key already exists")
	// ErrNoDefaultKey: no key name was given and no default key is set.
	ErrNoDefaultKey = errors.New("no default signing key is set")
	// ErrInvalidKey: a key suite is neither a complete local key nor a
	// complete plugin key.
	ErrInvalidKey = errors.New("invalid signing key")
	// ErrNoConfigDir: the configuration directory cannot be determined from
	// the environment.
	ErrNoConfigDir = errors.New("cannot determine the configuration directory")
)

// FileError reports a configuration file that cannot be read, parsed or
// written. It names the file; Err is the cause.
type FileError struct {
	// Path is the file's path.
	Path string
	// Err is the cause: an fs error, or an error wrapping ErrInvalidConfig.
	Err error
}

var _ error = (*FileError)(nil)

func (e *FileError) Error() string { return "configuration file " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }
