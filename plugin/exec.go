package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	"github.com/signet-dev/signet/plugin/proto"
)

// Executor runs a plugin executable: the seam tests replace. The default
// (a nil Manager.Exec) runs it with os/exec.
type Executor interface {
	// Run runs the executable at path with command as its only argument
	// and stdin as its standard input, and returns what it wrote to
	// stdout and stderr. It returns a nil error only if the process ran
	// and exited with status 0.
	//
	// Run keeps at most limit bytes of each stream; when a stream exceeds
	// limit it stops the process and returns an error wrapping
	// ErrOutputTooLarge. When ctx is done it stops the process and returns
	// an error wrapping ctx.Err(). Any other failure (the executable could
	// not start, or exited non-zero) is returned with whatever stderr
	// held.
	Run(ctx context.Context, path string, command proto.Command, stdin []byte, limit int64) (stdout, stderr []byte, err error)
}

// waitDelay is how long Run waits, after the plugin exits or is killed,
// for its output pipes to close. A plugin that leaves a child process
// holding them open (and outside the process group the host kills) would
// otherwise hang the host until the child exits.
const waitDelay = 2 * time.Second

// execExecutor is the os/exec Executor. On Unix the plugin runs in its own
// process group and the whole group is killed on timeout, so children the
// plugin started die with it.
type execExecutor struct{}

var _ Executor = execExecutor{}

func (execExecutor) Run(ctx context.Context, path string, command proto.Command, stdin []byte, limit int64) ([]byte, []byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, string(command))
	cmd.Stdin = bytes.NewReader(stdin)
	stdout := &limitedBuffer{limit: limit, overflow: cancel}
	stderr := &limitedBuffer{limit: limit, overflow: cancel}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = waitDelay
	killProcessGroup(cmd)
	err := cmd.Run()
	if stdout.exceeded() || stderr.exceeded() {
		which := "stdout"
		if stderr.exceeded() {
			which = "stderr"
		}
		return nil, nil, fmt.Errorf("%w: more than %d bytes on %s", ErrOutputTooLarge, limit, which)
	}
	if err != nil && ctx.Err() != nil {
		// Killed because the caller's context ended (the overflow case
		// is handled above).
		return stdout.bytes(), stderr.bytes(), fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return stdout.bytes(), stderr.bytes(), err
}

// errLimit stops os/exec copying a stream past its limit.
var errLimit = errors.New("output limit reached")

// limitedBuffer keeps at most limit bytes. On the first write past the
// limit it records the overflow, calls overflow (which kills the plugin)
// and fails the write, which makes os/exec close the pipe.
type limitedBuffer struct {
	mu       sync.Mutex
	buf      bytes.Buffer
	limit    int64
	over     bool
	overflow func()
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.over {
		return 0, errLimit
	}
	if int64(b.buf.Len())+int64(len(p)) > b.limit {
		b.over = true
		b.overflow()
		return 0, errLimit
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) exceeded() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.over
}

func (b *limitedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}
