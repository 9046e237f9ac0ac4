package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the CPU time (user + system) the process has used.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces and parentheses; the fields after
	// the last ')' are fixed: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("parsing /proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat times", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procRSS returns the process's resident set size in bytes (VmRSS).
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS %q", v)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// freePort returns a loopback address with a port that was free a moment
// ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// process is a server the benchmark started: the bridge or the proxy.
type process struct {
	name string
	cmd  *exec.Cmd
	// URL is the server's base URL, ending in /v1.
	URL    string
	stderr *tailBuffer
	exited chan struct{}
}

// Pid returns the process id.
func (p *process) Pid() int { return p.cmd.Process.Pid }

// start runs the command; its stderr is kept for error reports.
func startProcess(name, addr string, command string, args ...string) (*process, error) {
	cmd := exec.Command(command, args...)
	p := &process{name: name, cmd: cmd, URL: "http://" + addr + "/v1", stderr: &tailBuffer{max: 8 << 10}, exited: make(chan struct{})}
	cmd.Stdout = io.Discard
	cmd.Stderr = p.stderr
	// Should the benchmark die, take the servers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// stop asks the process to end (SIGTERM) and kills it after a grace period.
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// failure describes why the process is not usable, with its stderr.
func (p *process) failure(err error) error {
	return fmt.Errorf("%s: %w; its stderr ends with:\n%s", p.name, err, p.stderr.String())
}

// waitHTTP polls url until check accepts the answer, the process exits or
// timeout passes.
func (p *process) waitHTTP(url string, timeout time.Duration, check func(status int, body []byte) bool) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.exited:
			return p.failure(errors.New("exited while starting"))
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if check(resp.StatusCode, body) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return p.failure(fmt.Errorf("not ready after %s", timeout))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// env is what the benchmark needs to start servers: the bridge binary it
// built, its own executable (the MCP server and the proxy) and a scratch
// directory.
type env struct {
	bridgeBin string
	self      string
	dir       string
	upstream  *upstream
}

// buildBridge builds ./cmd/mcp-bridge of the module in root into dir.
func buildBridge(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "mcp-bridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/mcp-bridge")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building the bridge: %w\n%s", err, out)
	}
	return bin, nil
}

// bridgeConfig is the configuration of a benchmarked bridge: the mock
// upstream, and when tools > 0 one stdio MCP server with that many tools,
// all injected.
func (e *env) bridgeConfig(addr string, tools int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\n", addr)
	fmt.Fprintf(&b, "upstream:\n  base_url: %s\n", e.upstream.URL)
	// Every tool is injected (the scenarios measure what injecting them
	// costs) unless a scenario asks otherwise (withExposure).
	b.WriteString("tools:\n  exposure: all\n  display: status\nlimits:\n  shutdown_timeout: 2s\nlog:\n  level: warn\n")
	if tools > 0 {
		args, _ := json.Marshal(mcpServerArgs(tools))
		cmd, _ := json.Marshal(e.self)
		fmt.Fprintf(&b, "mcpServers:\n  %s:\n    command: %s\n    args: %s\n", benchServerName, cmd, args)
	}
	return b.String()
}

// startBridge starts the bridge binary with tools MCP tools and waits until
// every tool is served.
func (e *env) startBridge(tools int) (*process, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(e.dir, fmt.Sprintf("bridge-%d-%s.yaml", tools, strings.ReplaceAll(addr, ":", "_")))
	if err := os.WriteFile(cfg, []byte(e.bridgeConfig(addr, tools)), 0o644); err != nil {
		return nil, err
	}
	p, err := startProcess(fmt.Sprintf("bridge (%d tools)", tools), addr, e.bridgeBin, "-c", cfg, "serve")
	if err != nil {
		return nil, err
	}
	err = p.waitHTTP("http://"+addr+"/readyz", 60*time.Second, func(status int, body []byte) bool {
		var r struct {
			Tools int `json:"tools"`
		}
		return status == http.StatusOK && json.Unmarshal(body, &r) == nil && r.Tools == tools
	})
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// startProxy starts the bare reverse proxy in front of the mock upstream.
func (e *env) startProxy() (*process, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := startProcess("proxy", addr, e.self, "-serve-proxy", "-listen", addr, "-upstream", e.upstream.URL)
	if err != nil {
		return nil, err
	}
	err = p.waitHTTP("http://"+addr+"/v1/models", 30*time.Second, func(status int, _ []byte) bool { return status == http.StatusOK })
	if err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}
