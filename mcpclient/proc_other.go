//go:build !unix

package mcpclient

import (
	"os"
	"os/exec"
)

// setProcessGroup does nothing where there are no process groups: only
// the command's own process is stopped.
func setProcessGroup(*exec.Cmd) {}

// terminateGroup kills p: there is no SIGTERM to send.
func terminateGroup(p *os.Process) error { return p.Kill() }

// killGroup kills p.
func killGroup(p *os.Process) error { return p.Kill() }

// groupAlive reports false: without process groups, nothing is left to stop
// once the process ended.
func groupAlive(*os.Process) bool { return false }
