package mcpclient_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func TestStdioServer(t *testing.T) {
	r, _ := start(t, nil, mcptest.StdioServer("proc"))
	if res := call(t, r, "proc__echo", `{"text":"over stdio"}`); res.Text != "over stdio" {
		t.Fatalf("echo = %+v", res)
	}
	st := status(t, r, "proc")
	if st.State != mcpclient.StateReady || st.Transport != mcpclient.TransportStdio || st.Tools != len(mcptest.ToolNames()) {
		t.Fatalf("status = %+v", st)
	}
}

func TestStdioCrashRestart(t *testing.T) {
	logs := &syncbuf.Buffer{}
	r, ev := start(t, &mcpclient.Options{Logger: newLogger(logs)}, mcptest.StdioServer("crashy"))
	pid := call(t, r, "crashy__pid", ``).Text

	_, err := r.Call(context.Background(), "crashy__crash", nil)
	if err == nil {
		t.Fatal("a call that crashed the server returned no error")
	}
	mustContain(t, "crash error", err.Error(), `"crash"`, `"crashy"`)

	down := ev.wait(t, "crashy", mcpclient.EventDown)
	mustContain(t, "down event", down.Err, "exit status 3")
	log := logs.String()
	mustContain(t, "crash log", log, "mcp server exited", "server=crashy", `exit="exit status 3"`, mcptest.CrashMessage)

	ev.wait(t, "crashy", mcpclient.EventUp)
	if res := call(t, r, "crashy__echo", `{"text":"again"}`); res.Text != "again" {
		t.Fatalf("echo after restart = %+v", res)
	}
	if newPid := call(t, r, "crashy__pid", ``).Text; newPid == pid {
		t.Errorf("same pid %s after the restart", pid)
	}
	if st := status(t, r, "crashy"); st.Restarts != 1 || st.State != mcpclient.StateReady || st.Error != "" {
		t.Errorf("status = %+v", st)
	}
}

func TestStdioCancellationReachesServer(t *testing.T) {
	dir := t.TempDir()
	r, _ := start(t, nil, mcptest.StdioServer("proc", mcptest.EnvMarkerDir+"="+dir))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := r.Call(ctx, "proc__sleep", []byte(`{"ms":60000,"id":"c1"}`))
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), waitTimeout)
	defer wcancel()
	if err := mcptest.WaitMarker(wctx, dir, "started-c1"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if err := mcptest.WaitMarker(wctx, dir, "cancelled-c1"); err != nil {
		t.Fatal(err)
	}
}

// processGone reports whether no process has the given pid any more, or
// only one that ended and waits to be reaped: the init of some containers
// does not reap orphans.
func processGone(t *testing.T, pid string) bool {
	t.Helper()
	n, err := strconv.Atoi(pid)
	if err != nil {
		t.Fatalf("pid %q: %v", pid, err)
	}
	if errors.Is(syscall.Kill(n, 0), syscall.ESRCH) {
		return true
	}
	// /proc/PID/stat: "PID (COMM) STATE ...", where COMM may hold spaces.
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z"))
}

// startStdio starts a registry of one stdio server without the test
// cleanup's Close, and returns it with the server's pid.
func startStdio(t *testing.T, opts *mcpclient.Options, env ...string) (*mcpclient.Registry, string) {
	t.Helper()
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.StdioServer("proc", env...)}, opts)
	r.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	pid := call(t, r, "proc__pid", ``).Text
	if processGone(t, pid) {
		t.Fatalf("server process %s not running", pid)
	}
	return r, pid
}

func TestCloseEndsStdioServer(t *testing.T) {
	r, pid := startStdio(t, nil)
	begin := time.Now()
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(begin); d > 4*time.Second {
		t.Errorf("Close took %s: the server did not exit when its stdin closed", d)
	}
	if !processGone(t, pid) {
		t.Fatalf("server process %s still running after Close", pid)
	}
}

func TestCloseEscalatesToSignals(t *testing.T) {
	tests := []struct {
		hang    string
		wantErr string
	}{
		{"1", "signal: terminated"},
		{"ignore-sigterm", "signal: killed"},
	}
	for _, tt := range tests {
		t.Run(tt.hang, func(t *testing.T) {
			r, pid := startStdio(t, &mcpclient.Options{TerminateTimeout: 100 * time.Millisecond}, mcptest.EnvHangOnEOF+"="+tt.hang)
			err := r.Close()
			if err == nil {
				t.Fatal("Close of a server that ignored its stdin returned no error")
			}
			mustContain(t, "Close error", err.Error(), `"proc"`, tt.wantErr)
			if !processGone(t, pid) {
				t.Fatalf("server process %s still running after Close", pid)
			}
		})
	}
}

func TestStdioFailureShowsRedactedCause(t *testing.T) {
	logs := &syncbuf.Buffer{}
	const envSecret, configured = "env-token-value", "configured-secret-value"
	sc := mcpclient.ServerConfig{
		Name:    "broken",
		Command: "sh",
		Args: []string{"-c", `echo "starting with $TOKEN" >&2; echo "key ` + configured + ` refused" >&2; ` +
			`echo "fatal: package not found" >&2; exit 2`},
		Env: map[string]string{"TOKEN": envSecret},
	}
	r, ev := start(t, &mcpclient.Options{Logger: newLogger(logs), Secrets: []string{configured}}, sc)
	st := status(t, r, "broken")
	down := ev.wait(t, "broken", mcpclient.EventDown)
	for what, s := range map[string]string{"status error": st.Error, "down event": down.Err, "log": logs.String()} {
		mustContain(t, what, s, "fatal: package not found", "exit status 2")
		if strings.Contains(s, envSecret) || strings.Contains(s, configured) {
			t.Errorf("%s shows a secret: %s", what, s)
		}
	}
}

func TestStdioCrashLogRedacted(t *testing.T) {
	logs := &syncbuf.Buffer{}
	const envSecret = "env-token-value"
	sc := mcptest.StdioServer("crashy", "TOKEN="+envSecret)
	sc.Args = append([]string{"-c", `echo "token $TOKEN" >&2; exec "$0" "$@"`, sc.Command}, sc.Args...)
	sc.Command = "sh"
	r, ev := start(t, &mcpclient.Options{Logger: newLogger(logs)}, sc)
	if _, err := r.Call(context.Background(), "crashy__crash", nil); err == nil {
		t.Fatal("a call that crashed the server returned no error")
	}
	down := ev.wait(t, "crashy", mcpclient.EventDown)
	mustContain(t, "down event", down.Err, "exit status 3", mcptest.CrashMessage)
	log := logs.String()
	mustContain(t, "crash log", log, "mcp server exited", "token [redacted]", mcptest.CrashMessage)
	if strings.Contains(log, envSecret) || strings.Contains(down.Err, envSecret) {
		t.Errorf("the crash shows the env value: %s\n%s", down.Err, log)
	}
}

func TestRemoteFailureRedactsURL(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	logs := &syncbuf.Buffer{}
	sc := mcpclient.ServerConfig{Name: "remote", URL: "http://user:pass-word-1@" + addr + "/mcp?api_key=SECRETKEY123"}
	r, _ := start(t, &mcpclient.Options{Logger: newLogger(logs)}, sc)
	st := status(t, r, "remote")
	for what, s := range map[string]string{"status error": st.Error, "log": logs.String()} {
		mustContain(t, what, s, "http://"+addr+"/mcp", "connection refused")
		for _, secret := range []string{"SECRETKEY123", "pass-word-1", "api_key", "user:"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows %q: %s", what, secret, s)
			}
		}
	}
}

func TestRemoteCallErrorRedactsURL(t *testing.T) {
	srv := mcptest.NewServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	ts := httptest.NewServer(h)
	sc := mcpclient.ServerConfig{Name: "remote", URL: ts.URL + "/mcp?api_key=SECRETKEY123"}
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{sc}, nil)
	r.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	call(t, r, "remote__echo", `{"text":"up"}`)
	ts.CloseClientConnections()
	ts.Close()

	_, err := r.Call(ctx, "remote__echo", []byte(`{"text":"down"}`))
	if err == nil {
		t.Fatal("a call to a server that is gone did not fail")
	}
	// Closing ends the session with a request to the server, which fails.
	cerr := r.Close()
	if cerr == nil {
		t.Fatal("Close of a session whose server is gone returned no error")
	}
	for what, e := range map[string]error{"call error": err, "Close error": cerr} {
		mustContain(t, what, e.Error(), `"remote"`, strings.TrimPrefix(ts.URL, "http://"))
		if strings.Contains(e.Error(), "SECRETKEY123") {
			t.Errorf("the %s shows the URL's query: %v", what, e)
		}
	}
}
