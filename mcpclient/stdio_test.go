package mcpclient_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// serverEnv starts sc with the test server's environment dump on and
// returns the environment the server saw.
func serverEnv(t *testing.T, sc mcpclient.ServerConfig) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "env")
	sc.Env[mcptest.EnvDumpEnv] = file
	start(t, nil, sc)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

func TestStdioEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-parent-secret")
	t.Setenv("MCP_BRIDGE_KEY", "bridge-key")
	t.Setenv("NODE_EXTRA", "node")
	t.Setenv("PASS_ME", "passed")
	t.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+"/marker-dir")

	t.Run("safe set and own env only", func(t *testing.T) {
		env := serverEnv(t, mcptest.StdioServer("env", "OWN=own-value"))
		if env["OWN"] != "own-value" || !strings.HasSuffix(env["PATH"], "/marker-dir") {
			t.Errorf("the server lacks its own env or PATH: %v", env)
		}
		safe := []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
			"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "OWN", "GORACE", mcptest.EnvStdio, mcptest.EnvDumpEnv}
		for k := range env {
			if !slices.Contains(safe, k) && !strings.HasPrefix(k, "LC_") {
				t.Errorf("the server sees %s, which is neither in the safe set nor its own", k)
			}
		}
	})
	t.Run("passthrough", func(t *testing.T) {
		sc := mcptest.StdioServer("env")
		sc.EnvPassthrough = []string{"PASS_ME", "NODE_*"}
		env := serverEnv(t, sc)
		if env["PASS_ME"] != "passed" || env["NODE_EXTRA"] != "node" {
			t.Errorf("passthrough variables missing: %v", env)
		}
		if _, ok := env["OPENAI_API_KEY"]; ok {
			t.Errorf("the server sees OPENAI_API_KEY")
		}
	})
	t.Run("inherit", func(t *testing.T) {
		sc := mcptest.StdioServer("env")
		sc.InheritEnv = true
		env := serverEnv(t, sc)
		if env["OPENAI_API_KEY"] != "sk-parent-secret" || env["MCP_BRIDGE_KEY"] != "bridge-key" || env["PASS_ME"] != "passed" {
			t.Errorf("inherit_env did not pass the whole environment: %v", env)
		}
	})
}

// withGrandchild wraps the test server's command in a shell that first
// starts a long sleep in the background, which writes its pid to the
// returned file.
func withGrandchild(t *testing.T, sc mcpclient.ServerConfig) (mcpclient.ServerConfig, string) {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "pid")
	sc.Env["PID_FILE"] = pidFile
	sc.Args = append([]string{"-c", `sleep 3000 & echo $! >"$PID_FILE"; exec "$0" "$@"`, sc.Command}, sc.Args...)
	sc.Command = "sh"
	return sc, pidFile
}

// readPid reads the pid written to file.
func readPid(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// waitGone waits until the process pid is gone, for at most waitTimeout.
// closeLeavesNoSleeper starts a registry of sc, whose background sleep
// writes its pid to pidFile, checks the sleep runs, closes the registry
// and waits for the sleep (what) to be gone.
func closeLeavesNoSleeper(t *testing.T, sc mcpclient.ServerConfig, pidFile, what string) {
	t.Helper()
	r := mcpclient.NewRegistry([]mcpclient.ServerConfig{sc}, &mcpclient.Options{TerminateTimeout: 100 * time.Millisecond})
	r.Start(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	sleeper := readPid(t, pidFile)
	if processGone(t, sleeper) {
		t.Fatalf("the background sleep %s is not running", sleeper)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitGone(t, sleeper, what)
}

func waitGone(t *testing.T, pid, what string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !processGone(t, pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %s) still running", what, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStdioProcessGroupStopped(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		sc, pidFile := withGrandchild(t, mcptest.StdioServer("grp"))
		closeLeavesNoSleeper(t, sc, pidFile, "the server's background sleep after Close")
	})
	t.Run("crash", func(t *testing.T) {
		sc, pidFile := withGrandchild(t, mcptest.StdioServer("grp"))
		r, ev := start(t, &mcpclient.Options{TerminateTimeout: 100 * time.Millisecond}, sc)
		sleeper := readPid(t, pidFile)
		if _, err := r.Call(context.Background(), "grp__crash", nil); err == nil {
			t.Fatal("a call that crashed the server returned no error")
		}
		ev.wait(t, "grp", mcpclient.EventDown)
		waitGone(t, sleeper, "the crashed server's background sleep")
		ev.wait(t, "grp", mcpclient.EventUp)
		if next := readPid(t, pidFile); next == sleeper || processGone(t, next) {
			t.Errorf("the restarted server's sleep %s (the first was %s) is not running", next, sleeper)
		}
	})
}

func TestStdioLargeResult(t *testing.T) {
	// 20 MB is more than go-sdk's CommandTransport reads in one line.
	r, _ := start(t, &mcpclient.Options{MaxResultBytes: 1000}, mcptest.StdioServer("big"))
	pid := call(t, r, "big__pid", ``).Text
	// Writing and reading 20 MB under -race on a loaded 2-core runner
	// has taken more than waitTimeout; this call's bound is its own.
	ctx, cancel := context.WithTimeout(context.Background(), 6*waitTimeout)
	defer cancel()
	res, err := r.Call(ctx, "big__big", []byte(`{"bytes":20000000}`))
	if err != nil {
		t.Fatalf("Call(big__big): %v", err)
	}
	if !strings.HasPrefix(res.Text, strings.Repeat("x", 1000)) || len(res.Text) > 1200 {
		t.Errorf("result of %d bytes, want 1000 x and a note: %.100q...", len(res.Text), res.Text)
	}
	if st := status(t, r, "big"); st.Restarts != 0 || st.State != mcpclient.StateReady {
		t.Errorf("status = %+v, want ready without restarts", st)
	}
	if got := call(t, r, "big__pid", ``).Text; got != pid {
		t.Errorf("pid %s after the call, was %s: the server restarted", got, pid)
	}
}

func TestStdioFrameLimit(t *testing.T) {
	dir := t.TempDir()
	logs := &syncbuf.Buffer{}
	r, _ := start(t, &mcpclient.Options{MaxFrameBytes: 1 << 20, Logger: newLogger(logs)},
		mcptest.StdioServer("big", mcptest.EnvMarkerDir+"="+dir))
	pid := call(t, r, "big__pid", ``).Text

	// A call in flight on the same session while the answer over the limit
	// arrives.
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_, err := r.Call(ctx, "big__sleep", []byte(`{"ms":3000,"id":"s1"}`))
		errc <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), waitTimeout)
	defer wcancel()
	if err := mcptest.WaitMarker(wctx, dir, "started-s1"); err != nil {
		t.Fatal(err)
	}

	_, err := r.Call(wctx, "big__big", []byte(`{"bytes":2097152}`))
	if err == nil {
		t.Fatal("a 2 MiB answer over a 1 MiB frame limit did not fail its call")
	}
	mustContain(t, "error", err.Error(), "the server's answer is larger than the 1048576-byte frame limit", `"big"`)
	if err := <-errc; err != nil {
		t.Errorf("the concurrent call failed: %v", err)
	}
	if res := call(t, r, "big__big", `{"bytes":1000}`); len(res.Text) != 1000 {
		t.Errorf("a small answer after the large one: %d bytes", len(res.Text))
	}
	if st := status(t, r, "big"); st.Restarts != 0 || st.State != mcpclient.StateReady {
		t.Errorf("status = %+v, want ready without restarts", st)
	}
	if got := call(t, r, "big__pid", ``).Text; got != pid {
		t.Errorf("pid %s after the call, was %s: the server restarted", got, pid)
	}
	mustContain(t, "log", logs.String(), "larger than the frame limit", "limit=1048576")
}
