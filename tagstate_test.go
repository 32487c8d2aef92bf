package signet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func digestN(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func TestFileTagBindings(t *testing.T) {
	ctx := context.Background()
	s := &FileTagBindings{Dir: filepath.Join(t.TempDir(), "tagbinding")}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		name     string
		repo     string
		digest   string
		at       time.Time
		wantPrev string // digest of the previous record, "" for none
		rollback bool
	}{
		{name: "first binding", repo: "r/a", digest: digestN(1), at: t0},
		{name: "newer binding of another digest", repo: "r/a", digest: digestN(2), at: t0.Add(time.Hour), wantPrev: digestN(1)},
		{name: "older binding of another digest is a rollback", repo: "r/a", digest: digestN(1), at: t0, wantPrev: digestN(2), rollback: true},
		{name: "older binding of the same digest is fine", repo: "r/a", digest: digestN(2), at: t0, wantPrev: digestN(2)},
		{name: "same time, another digest, is not older", repo: "r/a", digest: digestN(3), at: t0.Add(time.Hour), wantPrev: digestN(2)},
		{name: "another tag is independent", repo: "r/b", digest: digestN(1), at: t0},
		{name: "re-signed old digest is newest", repo: "r/a", digest: digestN(1), at: t0.Add(2 * time.Hour), wantPrev: digestN(2)},
		{name: "the older digest is now a rollback", repo: "r/a", digest: digestN(2), at: t0.Add(time.Hour), wantPrev: digestN(1), rollback: true},
	}
	for _, st := range steps {
		prev, err := s.Accept(ctx, st.repo, "v1", TagBindingRecord{Digest: st.digest, Time: st.at})
		if errors.Is(err, ErrTagRollback) != st.rollback || err != nil && !st.rollback {
			t.Fatalf("%s: err %v", st.name, err)
		}
		got := ""
		if prev != nil {
			got = prev.Digest
		}
		if got != st.wantPrev {
			t.Fatalf("%s: previous %q, want %q", st.name, got, st.wantPrev)
		}
	}
	// Older records are pruned: one file per (repository, tag).
	dirs, _ := os.ReadDir(s.Dir)
	for _, d := range dirs {
		files, _ := os.ReadDir(filepath.Join(s.Dir, d.Name()))
		if len(files) != 1 {
			t.Errorf("%s holds %d files", d.Name(), len(files))
		}
		if info, _ := os.Stat(filepath.Join(s.Dir, d.Name())); info.Mode().Perm() != 0o700 {
			t.Errorf("directory mode %v", info.Mode())
		}
	}
	// A corrupt record is reported, not ignored.
	if err := os.WriteFile(filepath.Join(s.Dir, dirs[0].Name(), "99999999999999999999-x.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Accept(ctx, "r/a", "v1", TagBindingRecord{Digest: digestN(1), Time: t0}); err == nil {
		_, err = s.Accept(ctx, "r/b", "v1", TagBindingRecord{Digest: digestN(1), Time: t0})
		if err == nil {
			t.Error("corrupt record accepted")
		}
	}
}

// TestFileTagBindingsConcurrent: goroutines and processes accepting
// bindings at once lose no update: the newest binding ever accepted is
// what remains, and anything older for another digest is then a rollback.
func TestFileTagBindingsConcurrent(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const procs, goroutines, each = 3, 4, 25
	var cmds []*exec.Cmd
	for p := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTagStateHelperProcess$")
		cmd.Env = append(os.Environ(), "SIGNET_TAGSTATE_DIR="+dir, "SIGNET_TAGSTATE_PROC="+strconv.Itoa(p))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	acceptMany(t, dir, procs, goroutines, each, t0)
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper process: %v", err)
		}
	}
	// The newest binding written by anyone is (procs, goroutines-1, each-1).
	newest := bindingTime(t0, procs, goroutines-1, each-1)
	s := &FileTagBindings{Dir: dir}
	prev, err := s.Accept(context.Background(), "r/a", "v1", TagBindingRecord{Digest: digestN(0), Time: newest.Add(-time.Nanosecond)})
	if !errors.Is(err, ErrTagRollback) || prev == nil || !prev.Time.Equal(newest) {
		t.Fatalf("after concurrent accepts: %v %+v, want the newest %v", err, prev, newest)
	}
}

func bindingTime(t0 time.Time, proc, g, i int) time.Time {
	return t0.Add(time.Duration(i*1000+g*10+proc) * time.Second)
}

// acceptMany accepts, from goroutines goroutines, each bindings at
// increasing times, interleaved with those of other processes.
func acceptMany(t testing.TB, dir string, proc, goroutines, each int, t0 time.Time) {
	s := &FileTagBindings{Dir: dir}
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				b := TagBindingRecord{Digest: digestN(proc*100000 + g*1000 + i + 1), Time: bindingTime(t0, proc, g, i)}
				if _, err := s.Accept(context.Background(), "r/a", "v1", b); err != nil && !errors.Is(err, ErrTagRollback) {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestTagStateHelperProcess is run by TestFileTagBindingsConcurrent as a
// separate process.
func TestTagStateHelperProcess(t *testing.T) {
	dir := os.Getenv("SIGNET_TAGSTATE_DIR")
	if dir == "" {
		t.Skip("helper process of TestFileTagBindingsConcurrent")
	}
	p, _ := strconv.Atoi(os.Getenv("SIGNET_TAGSTATE_PROC"))
	acceptMany(t, dir, p, 4, 25, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

// FuzzTagBindingRecord: a record file from the cache directory, which
// another process or a user may have written, never panics, and a record
// it accepts names a digest and a time.
func FuzzTagBindingRecord(f *testing.F) {
	for _, s := range []string{
		`{"repository":"r/a","tag":"v1","digest":"sha256:` + fmt.Sprintf("%064x", 1) + `","time":"2026-01-01T00:00:00Z"}`,
		`{"digest":"sha256:","time":"2026-01-01T00:00:00Z"}`,
		`{"digest":"sha256:ab","time":"0001-01-01T00:00:00Z"}`,
		`{"digest":"x","time":"2026-13-01T00:00:00Z"}`, `{`, ``, `null`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseRecord(data)
		if err != nil {
			return
		}
		if r.Time.IsZero() || !strings.Contains(r.Digest, ":") || len(data) > maxTagRecordBytes {
			t.Fatalf("accepted %+v from %q", r, data)
		}
		if name := recordName(*r); !strings.HasSuffix(name, ".json") || strings.ContainsAny(name, `/\:`) || name != filepath.Base(name) {
			t.Fatalf("record name %q", name)
		}
	})
}
