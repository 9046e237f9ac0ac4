//go:build unix

package mcpclient

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// A process group that ignores SIGTERM is killed once terminate is up:
// stopGroup does not stop at the SIGTERM it could send.
func TestStopGroupKillsWhatIgnoresTerm(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", `trap "" TERM; echo ready; exec sleep 30`)
	setProcessGroup(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = killGroup(cmd.Process) })
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the shell said %q, %v", line, err)
	}
	stopGroup(cmd.Process, 50*time.Millisecond)
	_ = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the group ended with %v, want killed by SIGKILL", cmd.ProcessState)
	}
}

// A command that does not start leaves no pipe open: of 20 failed
// starts, not one keeps its six pipe ends (a server whose command is
// missing is retried for as long as the bridge runs).
func TestStdioFailedStartClosesPipes(t *testing.T) {
	openFiles := func() int {
		fds, err := os.ReadDir("/dev/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(fds)
	}
	before := openFiles()
	for range 20 {
		tr := &stdioTransport{cmd: exec.Command("/nonexistent/mcp-server"), terminate: time.Second, maxFrame: 1 << 20}
		if _, err := tr.Connect(context.Background()); err == nil {
			t.Fatal("Connect of a missing command succeeded")
		}
	}
	// Other goroutines of the test binary may hold a few files more; 20
	// leaking starts would hold 120.
	if after := openFiles(); after-before >= 20 {
		t.Errorf("%d files open before 20 failed starts, %d after", before, after)
	}
}
