package signet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/signet-dev/signet/internal/fsutil"
)

// TagBindingRecord is one accepted tag binding: the digest the tag named
// and the binding's time.
type TagBindingRecord struct {
	Digest string    `json:"digest"`
	Time   time.Time `json:"time"`
}

// TagBindingState remembers, per repository and tag, the newest tag
// binding accepted (rollback protection of tagBinding,
// docs/policy-extensions.md).
type TagBindingState interface {
	// Accept compares b with the newest binding recorded for repository
	// and tag. When b is older than it and names another digest, Accept
	// returns it and an error wrapping ErrTagRollback and records nothing.
	// Otherwise it records b if b is newer, and returns the previous
	// record (nil when there was none).
	Accept(ctx context.Context, repository, tag string, b TagBindingRecord) (*TagBindingRecord, error)
}

// FileTagBindings keeps tag binding state in a directory (the CLI uses
// {CACHE}/tagbinding). Each (repository, tag) has a subdirectory named by
// the SHA-256 of "repository\x00tag"; every accepted binding that is newer
// than the newest recorded one is written there as a new file, atomically
// (temporary file, then rename), named by its time so that the newest is
// the greatest name. Records are never rewritten in place, so concurrent
// processes cannot lose each other's updates: the newest of a set of files
// does not depend on the order they were written in, and two concurrent
// verifications behave as if run one after the other. Older records are
// removed after a newer one is written. Safe for concurrent use by
// goroutines and processes.
type FileTagBindings struct {
	// Dir is the state directory; created (0700) on first write.
	Dir string
}

// maxTagRecordBytes bounds one record file: a digest and a time.
const maxTagRecordBytes = 4 << 10

// maxTagRecordFiles bounds the record files read per (repository, tag);
// more means something other than signet writes there.
const maxTagRecordFiles = 1024

var _ TagBindingState = (*FileTagBindings)(nil)

// Accept implements TagBindingState.
func (f *FileTagBindings) Accept(ctx context.Context, repository, tag string, b TagBindingRecord) (*TagBindingRecord, error) {
	if f.Dir == "" {
		return nil, errors.New("tag binding state: no directory")
	}
	sum := sha256.Sum256([]byte(repository + "\x00" + tag))
	dir := filepath.Join(f.Dir, hex.EncodeToString(sum[:]))
	prev, prevName, others, err := newestRecord(dir)
	if err != nil {
		return nil, err
	}
	b.Time = b.Time.UTC()
	if prev != nil && b.Time.Before(prev.Time) && b.Digest != prev.Digest {
		return prev, fmt.Errorf("%w: %s:%s", ErrTagRollback, repository, tag)
	}
	if prev != nil && !b.Time.After(prev.Time) {
		return prev, nil
	}
	if err := fsutil.MkdirAll(dir); err != nil {
		return prev, fmt.Errorf("tag binding state: %w", err)
	}
	data, err := json.Marshal(struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		TagBindingRecord
	}{repository, tag, b})
	if err != nil {
		return prev, err
	}
	name := recordName(b)
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, name), data, 0o600); err != nil {
		return prev, fmt.Errorf("tag binding state: %w", err)
	}
	// Older records are no longer needed: the newest is never removed,
	// since every removed file has a newer one that stays.
	for _, o := range append(others, prevName) {
		if o != "" && o < name {
			_ = os.Remove(filepath.Join(dir, o))
		}
	}
	return prev, nil
}

// recordName orders records by time: 20 digits of Unix nanoseconds (a
// time before 1970 is written as 0), then the digest's hex (or, for a
// digest that is not ALGORITHM:HEX, the SHA-256 of it: a name never holds
// a path separator).
func recordName(b TagBindingRecord) string {
	ns := b.Time.UnixNano()
	if ns < 0 {
		ns = 0
	}
	_, hexPart, _ := strings.Cut(b.Digest, ":")
	if hexPart == "" || len(hexPart) > 128 || strings.Trim(hexPart, "0123456789abcdefABCDEF") != "" {
		sum := sha256.Sum256([]byte(b.Digest))
		hexPart = hex.EncodeToString(sum[:])
	}
	return fmt.Sprintf("%020d-%s.json", ns, hexPart)
}

// newestRecord reads the record with the greatest name in dir; it returns
// its name and the names of the other records.
func newestRecord(dir string) (*TagBindingRecord, string, []string, error) {
	// A record may be removed between listing and reading by a process
	// that wrote a newer one: list again, a few times.
	for range 8 {
		r, name, others, err := readNewest(dir)
		if !errors.Is(err, fs.ErrNotExist) {
			return r, name, others, err
		}
	}
	return nil, "", nil, fmt.Errorf("tag binding state %s keeps changing", dir)
}

func readNewest(dir string) (*TagBindingRecord, string, []string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil, nil
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("tag binding state: %w", err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".json") && e.Type().IsRegular() {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, "", nil, nil
	}
	if len(names) > maxTagRecordFiles {
		return nil, "", nil, fmt.Errorf("tag binding state %s holds %d records, over the limit of %d", dir, len(names), maxTagRecordFiles)
	}
	slices.Sort(names)
	newest := names[len(names)-1]
	data, err := fsutil.ReadRegularFile(filepath.Join(dir, newest), maxTagRecordBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil, err
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("tag binding state: %w", err)
	}
	r, err := parseRecord(data)
	if err != nil {
		return nil, "", nil, fmt.Errorf("tag binding state %s is corrupt (%v): remove it to start over", filepath.Join(dir, newest), err)
	}
	return r, newest, names[:len(names)-1], nil
}

// parseRecord decodes one record file (at most maxTagRecordBytes).
func parseRecord(data []byte) (*TagBindingRecord, error) {
	if len(data) > maxTagRecordBytes {
		return nil, fmt.Errorf("record is over %d bytes", maxTagRecordBytes)
	}
	var r TagBindingRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if _, hexPart, ok := strings.Cut(r.Digest, ":"); !ok || hexPart == "" {
		return nil, fmt.Errorf("digest %q is not ALGORITHM:HEX", r.Digest)
	}
	if r.Time.IsZero() {
		return nil, errors.New("time is missing")
	}
	return &r, nil
}
