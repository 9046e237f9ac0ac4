// Package storetest runs a real redis-server for tests: on a free
// loopback port, without persistence, stopped when the test ends.
package storetest

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is a running redis-server. Stop, Start, Pause and Resume let a
// test take it away and bring it back on the same address. Make it with
// Start; the zero Server is not usable.
type Server struct {
	// Addr is host:port on loopback.
	Addr string
	// URL is redis://Addr/0.
	URL string

	t    testing.TB
	bin  string
	dir  string
	args []string // extra redis-server arguments
	cmd  *exec.Cmd
}

// Need returns the path of redis-server. Missing, it fails the test when
// CI is set (nothing is skipped there) and skips it elsewhere, saying
// how to install it.
func Need(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	const hint = "redis-server is missing (Debian: apt-get install -y redis-server)"
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: %v", hint, err)
	}
	t.Skipf("%s: %v", hint, err)
	return ""
}

// Start runs a redis-server for the test on a free loopback port, with
// args added to its command line (e.g. "--requirepass", "pw").
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: Need(t), dir: t.TempDir(), args: args}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
	s.URL = "redis://" + s.Addr + "/0"
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start starts the server again on its address, after Stop, and waits
// until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "yes")
	s.cmd.Args = append(s.cmd.Args, s.args...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	ready := make(chan bool, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found {
				log.WriteString(sc.Text() + "\n")
			}
			if !found && strings.Contains(sc.Text(), "Ready to accept connections") {
				found = true
				ready <- true
			}
		}
		if !found {
			ready <- false
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			s.t.Fatalf("redis-server on %s did not start:\n%s", s.Addr, log.String())
		}
	case <-time.After(30 * time.Second):
		s.t.Fatalf("redis-server on %s not ready after 30 s", s.Addr)
	}
}

// Stop kills the server (as a crash would) and waits for it.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the process without closing its connections (a Redis that
// hangs); Resume lets it go on.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		s.t.Fatalf("redis-server on %s is not running", s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}
