//go:build unix

package mcpclient

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessGroup makes the command's process the leader of a process
// group of its own, so that what it starts can be stopped with it.
func setProcessGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}

// terminateGroup sends SIGTERM to the process group led by p.
func terminateGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGTERM)
}

// killGroup sends SIGKILL to the process group led by p.
func killGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}

// groupAlive reports whether a process of the group led by p is left.
// Processes that ended but were not reaped yet count.
func groupAlive(p *os.Process) bool {
	return syscall.Kill(-p.Pid, 0) == nil
}
