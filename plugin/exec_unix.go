//go:build unix

package plugin

import (
	"os/exec"
	"syscall"
)

// killProcessGroup makes cmd start a new process group and makes its
// context cancellation kill the whole group with SIGKILL.
func killProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group ID is the plugin's PID. Kill the group, then the
		// plugin itself in case it left the group.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if perr := cmd.Process.Kill(); err != nil {
			return perr
		}
		return nil
	}
}
