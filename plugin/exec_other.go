//go:build !unix

package plugin

import "os/exec"

// killProcessGroup keeps os/exec's default: cancellation kills the plugin
// process only.
func killProcessGroup(*exec.Cmd) {}
