package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// stdioConfig writes a config whose only MCP server, "GitHub", is this
// test binary over stdio, with upstream as the upstream URL ("" for the
// default).
func stdioConfig(t *testing.T, upstream string) string {
	t.Helper()
	cfg := map[string]any{"mcpServers": map[string]any{"GitHub": stdioServer("GitHub")}}
	if upstream != "" {
		cfg["upstream"] = map[string]any{"base_url": upstream}
	}
	return writeJSONConfig(t, cfg)
}

func TestVersion(t *testing.T) {
	stdout, _, err := runCmd(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if fields := strings.Fields(stdout); len(fields) != 2 || fields[0] != "mcp-bridge" {
		t.Errorf("version printed %q, want \"mcp-bridge VERSION\"", stdout)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		stdout, _, err := runCmd(t, arg)
		if err != nil {
			t.Errorf("%s: %v", arg, err)
		}
		mustContain(t, arg, stdout, "Usage:", "serve", "tools", "call", "check")
	}
}

func TestUnknownCommand(t *testing.T) {
	stdout, stderr, err := runCmd(t, "srve")
	if err == nil {
		t.Fatal("unknown command: no error")
	}
	mustContain(t, "error", err.Error(), `"srve"`)
	mustContain(t, "stderr", stderr, "Usage:")
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if _, ok := exitStatus(err); ok {
		t.Errorf("error %v is an exitError: main would print nothing", err)
	}
}

func TestConfigFlagWithoutFile(t *testing.T) {
	_, stderr, err := runCmd(t, "-c")
	if err == nil {
		t.Fatal("-c without a file: no error")
	}
	mustContain(t, "error", err.Error(), "-c")
	mustContain(t, "stderr", stderr, "Usage:")
}

func TestConfigFlagForms(t *testing.T) {
	up := llmtest.NewServer(t)
	path := writeJSONConfig(t, map[string]any{"upstream": map[string]any{"base_url": up.URL}})
	for _, args := range [][]string{
		{"-c", path, "check"},
		{"-c=" + path, "check"},
		{"--config", path, "check"},
		{"--config=" + path, "check"},
		{"-config", path, "check"},
		{"-config=" + path, "check"},
		{"check", "-c", path},
		{"check", "-c=" + path},
		{"check", "--config", path},
		{"check", "-config=" + path},
		{"-c", "/nonexistent/first.yaml", "check", "-c", path}, // the last one wins
	} {
		stdout, stderr, err := runCmd(t, args...)
		if err != nil {
			t.Errorf("%q: %v\nstderr: %s", args, err, stderr)
			continue
		}
		mustContain(t, fmt.Sprintf("%q printed", args), stdout, "config: "+path+"\n")
	}
}

func TestServeRefusesExposedListen(t *testing.T) {
	// The context is already done: should the refusal ever regress, serve
	// stops at once instead of serving on every interface.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(t *testing.T, args ...string) {
		t.Helper()
		var stdout, stderr syncbuf.Buffer
		err := run(ctx, args, &stdout, &stderr)
		if err == nil {
			t.Fatal("serve on 0.0.0.0 without keys: no error")
		}
		mustContain(t, "error", err.Error(), "0.0.0.0:9090", "api_keys", "disabled: true")
	}

	t.Run("file", func(t *testing.T) {
		path := writeFile(t, t.TempDir(), "bridge.yaml", "listen: 0.0.0.0:9090\n")
		check(t, "-c", path, "serve")
		check(t, "-c", path) // serve is the default command
	})
	t.Run("MCP_BRIDGE_LISTEN", func(t *testing.T) {
		t.Chdir(t.TempDir())
		t.Setenv("MCP_BRIDGE_LISTEN", "0.0.0.0:9090")
		check(t, "serve")
	})
}

func TestServeConfigError(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", "tools:\n  display: loud\n")
	_, _, err := runCmd(t, "serve", "-c", path)
	if err == nil {
		t.Fatal("invalid config: no error")
	}
	mustContain(t, "error", err.Error(), path, "tools.display")
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := writeJSONConfig(t, map[string]any{"listen": ln.Addr().String()})
	_, _, err = runCmd(t, "-c", path, "serve")
	if err == nil {
		t.Fatal("listening on a taken port: no error")
	}
	mustContain(t, "error", err.Error(), "listening on "+ln.Addr().String())
}

func TestToolsCommand(t *testing.T) {
	path := stdioConfig(t, "")

	t.Run("table", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, "-c", path, "tools")
		if err != nil {
			t.Fatalf("tools: %v\nstderr: %s", err, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 1+len(mcptest.ToolNames()) {
			t.Errorf("tools printed %d lines, want a header and %d tools:\n%s", len(lines), len(mcptest.ToolNames()), stdout)
		}
		mustContain(t, "header", lines[0], "NAME", "SERVER", "DESCRIPTION")
		for _, name := range mcptest.ToolNames() {
			mustContain(t, "tools", stdout, "GitHub__"+name+" ")
		}
		for _, l := range lines[1:] {
			if f := strings.Fields(l); len(f) < 2 || f[1] != "GitHub" {
				t.Errorf("line %q: want the server GitHub in the second column", l)
			}
		}
		mustContain(t, "tools", stdout, "Returns its text.")
	})

	t.Run("YAML with ${VAR}", func(t *testing.T) {
		sc := mcptest.StdioServer("GitHub")
		t.Setenv("MCPTEST_EXE", sc.Command)
		yamlPath := writeFile(t, t.TempDir(), "mcp-bridge.yaml", fmt.Sprintf(`mcpServers:
  GitHub:
    command: ${MCPTEST_EXE}
    args: [%q]
    env: {%s: %q, GORACE: %q}
`, sc.Args[0], mcptest.EnvStdio, sc.Env[mcptest.EnvStdio], sc.Env["GORACE"]))
		stdout, stderr, err := runCmd(t, "tools", "-c", yamlPath)
		if err != nil {
			t.Fatalf("tools: %v\nstderr: %s", err, stderr)
		}
		mustContain(t, "tools", stdout, "GitHub__echo ")
	})

	t.Run("json", func(t *testing.T) {
		// --json after the command, -c after that.
		stdout, stderr, err := runCmd(t, "tools", "--json", "-c", path)
		if err != nil {
			t.Fatalf("tools --json: %v\nstderr: %s", err, stderr)
		}
		var tools []struct {
			Name        string         `json:"name"`
			Server      string         `json:"server"`
			Tool        string         `json:"tool"`
			Description string         `json:"description"`
			InputSchema map[string]any `json:"input_schema"`
		}
		if err := json.Unmarshal([]byte(stdout), &tools); err != nil {
			t.Fatalf("tools --json printed invalid JSON: %v\n%s", err, stdout)
		}
		if len(tools) != len(mcptest.ToolNames()) {
			t.Errorf("%d tools, want %d", len(tools), len(mcptest.ToolNames()))
		}
		var found bool
		for _, tool := range tools {
			if tool.Server != "GitHub" || tool.Name != "GitHub__"+tool.Tool || tool.InputSchema["type"] != "object" {
				t.Errorf("tool %+v: want server GitHub, name GitHub__<tool> and an object schema", tool)
			}
			if tool.Name == "GitHub__add" {
				found = true
				props, _ := tool.InputSchema["properties"].(map[string]any)
				if props["a"] == nil || props["b"] == nil || tool.Description != "Adds two numbers." {
					t.Errorf("GitHub__add = %+v, want properties a and b and its description", tool)
				}
			}
		}
		if !found {
			t.Errorf("no GitHub__add in %s", stdout)
		}
	})
}

func TestCallCommand(t *testing.T) {
	path := stdioConfig(t, "")

	t.Run("add", func(t *testing.T) {
		for _, args := range [][]string{
			{"-c", path, "call", "GitHub__add", `{"a":2,"b":3}`},
			{"call", "GitHub__add", `{"a":2,"b":3}`, "-c", path},
			{"call", "-c", path, "GitHub__add", `{"a":2,"b":3}`},
			{"--config=" + path, "call", "GitHub__add", `{"a":2,"b":3}`},
		} {
			stdout, stderr, err := runCmd(t, args...)
			if err != nil {
				t.Fatalf("%q: %v\nstderr: %s", args, err, stderr)
			}
			if got := strings.TrimSpace(stdout); got != "2 + 3 = 5" {
				t.Errorf("%q printed %q, want \"2 + 3 = 5\"", args, stdout)
			}
		}
	})

	t.Run("no arguments", func(t *testing.T) {
		stdout, _, err := runCmd(t, "-c", path, "call", "GitHub__pid")
		if pid, perr := strconv.Atoi(strings.TrimSpace(stdout)); err != nil || perr != nil || pid == os.Getpid() {
			t.Errorf("call GitHub__pid = %q, %v; want the stdio server's pid", stdout, err)
		}
	})

	t.Run("unknown tool", func(t *testing.T) {
		_, _, err := runCmd(t, "-c", path, "call", "GitHub__nope", "{}")
		if err == nil {
			t.Fatal("no error")
		}
		mustContain(t, "error", err.Error(), "GitHub__nope", "mcp-bridge tools")
	})

	t.Run("invalid JSON", func(t *testing.T) {
		_, _, err := runCmd(t, "-c", path, "call", "GitHub__add", `{"a":2,`)
		if err == nil {
			t.Fatal("no error")
		}
		mustContain(t, "error", err.Error(), "not valid JSON", `{"a":2,`)
	})

	t.Run("arguments not an object", func(t *testing.T) {
		_, _, err := runCmd(t, "-c", path, "call", "GitHub__add", `[2, 3]`)
		if err == nil {
			t.Fatal("no error")
		}
		mustContain(t, "error", err.Error(), "GitHub__add", "array")
	})

	t.Run("usage", func(t *testing.T) {
		_, _, err := runCmd(t, "-c", path, "call")
		if err == nil {
			t.Fatal("call without a tool: no error")
		}
		mustContain(t, "error", err.Error(), "usage", "call TOOL")
	})

	t.Run("tool error", func(t *testing.T) {
		stdout, _, err := runCmd(t, "-c", path, "call", "GitHub__fail", `{"message":"disk full"}`)
		if status, ok := exitStatus(err); !ok || status != 1 {
			t.Fatalf("call GitHub__fail: error %v, want exit status 1", err)
		}
		if strings.TrimSpace(stdout) != "disk full" {
			t.Errorf("call GitHub__fail printed %q, want the tool's message", stdout)
		}
	})
}

func TestCheckCommand(t *testing.T) {
	up := llmtest.NewServer(t)
	up.SetModels("model-a", "model-b")

	t.Run("ok", func(t *testing.T) {
		stdout, stderr, err := runCmd(t, "check", "-c", stdioConfig(t, up.URL))
		if err != nil {
			t.Fatalf("check: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
		mustContain(t, "report", stdout, "upstream: "+up.URL+": ok, 2 models", "GitHub", "ready")
		if !strings.HasSuffix(stdout, "\nok\n") {
			t.Errorf("report = %q, want it to end with ok", stdout)
		}
	})

	t.Run("server fails", func(t *testing.T) {
		path := writeJSONConfig(t, map[string]any{
			"upstream": map[string]any{"base_url": up.URL},
			"mcpServers": map[string]any{
				"GitHub": stdioServer("GitHub"),
				"Broken": map[string]any{"command": "/nonexistent/mcp-bridge-test-server"},
			},
		})
		stdout, _, err := runCmd(t, "-c", path, "check")
		if status, ok := exitStatus(err); !ok || status == 0 {
			t.Fatalf("check: error %v, want a non-zero exit status\n%s", err, stdout)
		}
		var broken string
		for _, l := range strings.Split(stdout, "\n") {
			if strings.HasPrefix(l, "Broken ") {
				broken = l
			}
		}
		mustContain(t, "Broken's line", broken, "stdio", "failed")
		mustContain(t, "report", stdout, "1 problem(s)")
	})

	t.Run("the cause of a failure is shown", func(t *testing.T) {
		const cause = "npm error 404 Not Found - GET https://registry.npmjs.org/@modelcontextprotocol%2fdoes-not-exist"
		path := writeJSONConfig(t, map[string]any{
			"upstream": map[string]any{"base_url": up.URL},
			"mcpServers": map[string]any{
				"Missing": map[string]any{"command": "sh", "args": []string{"-c", "echo '" + cause + "' >&2; exit 1"}},
			},
		})
		stdout, _, err := runCmd(t, "-c", path, "check")
		if status, ok := exitStatus(err); !ok || status == 0 {
			t.Fatalf("check: error %v, want a non-zero exit status\n%s", err, stdout)
		}
		mustContain(t, "report", stdout, "exit status 1", cause)
	})

	t.Run("openapi spec warnings", func(t *testing.T) {
		spec := writeFile(t, t.TempDir(), "api.yaml", `openapi: 3.1.0
info: {title: api, version: "1"}
paths:
  /ok: {get: {operationId: fine, responses: {"200": {description: ok}}}}
  /upload:
    post:
      operationId: upload
      requestBody: {required: true, content: {multipart/form-data: {schema: {type: object}}}}
      responses: {"200": {description: ok}}
`)
		path := writeJSONConfig(t, map[string]any{
			"upstream":       map[string]any{"base_url": up.URL},
			"openapiServers": map[string]any{"Api": map[string]any{"spec": spec, "base_url": "http://127.0.0.1:1"}},
		})
		stdout, stderr, err := runCmd(t, "-c", path, "check")
		if err != nil {
			t.Fatalf("check: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
		}
		mustContain(t, "report", stdout, `warning: openapi server "Api": operation upload (POST /upload): skipped: the request body (multipart/form-data) is not JSON`,
			"Api", "ready", "\nok\n")
	})

	t.Run("upstream down", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String() + "/v1"
		ln.Close() // nothing listens there now
		path := writeJSONConfig(t, map[string]any{"upstream": map[string]any{"base_url": url, "api_key": "sk-secret-key"}})
		stdout, _, err := runCmd(t, "-c", path, "check")
		if status, ok := exitStatus(err); !ok || status == 0 {
			t.Fatalf("check: error %v, want a non-zero exit status\n%s", err, stdout)
		}
		mustContain(t, "report", stdout, "upstream: "+url+": ", "1 problem(s)")
		if strings.Contains(stdout, "sk-secret-key") {
			t.Errorf("report shows the upstream key:\n%s", stdout)
		}
	})

	t.Run("exposed", func(t *testing.T) {
		path := writeJSONConfig(t, map[string]any{"listen": "0.0.0.0:9090", "upstream": map[string]any{"base_url": up.URL}})
		stdout, _, err := runCmd(t, "-c", path, "check")
		if status, ok := exitStatus(err); !ok || status == 0 {
			t.Fatalf("check: error %v, want a non-zero exit status\n%s", err, stdout)
		}
		mustContain(t, "report", stdout, "problem: ", "api_keys", "1 problem(s)")
	})
}

// freeAddr returns a 127.0.0.1 address that nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// streamChunk is an upstream chat.completion.chunk with delta and
// finishReason (raw JSON).
func streamChunk(delta, finishReason string) string {
	return `{"id":"chatcmpl-slow","object":"chat.completion.chunk","created":1700000000,"model":"test-model",` +
		`"choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + finishReason + `}]}`
}

// slowStream streams "Hello", closes started, waits for release, then
// streams ", world" and the end of the answer.
func slowStream(started chan<- struct{}, release <-chan struct{}) llmtest.Reply {
	return func(w http.ResponseWriter, r *http.Request, _ llmtest.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		send := func(data string) {
			fmt.Fprintf(w, "data: %s\n\n", data)
			rc.Flush()
		}
		send(streamChunk(`{"role":"assistant","content":""}`, "null"))
		send(streamChunk(`{"content":"Hello"}`, "null"))
		close(started)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		send(streamChunk(`{"content":", world"}`, "null"))
		send(streamChunk(`{}`, `"stop"`))
		send("[DONE]")
	}
}

// serving is a serve command running in the background.
type serving struct {
	addr   string
	cancel context.CancelFunc // what SIGTERM does
	done   chan error         // receives run's result
	stderr *syncbuf.Buffer
}

// startServe runs serve with cfg, listening on a free 127.0.0.1 port, and
// waits until it is healthy and its MCP servers are ready.
func startServe(t *testing.T, cfg map[string]any) *serving {
	t.Helper()
	s := &serving{addr: freeAddr(t), done: make(chan error, 1), stderr: &syncbuf.Buffer{}}
	cfg["listen"] = s.addr
	path := writeJSONConfig(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var stdout syncbuf.Buffer
	go func() { s.done <- run(ctx, []string{"-c", path, "serve"}, &stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			t.Logf("serve's log:\n%s", s.stderr.String())
		}
	})
	s.waitOK(t, "/healthz")
	s.waitOK(t, "/readyz")
	return s
}

// waitOK polls path until it answers 200, failing the test if serve ends
// or the deadline passes first.
func (s *serving) waitOK(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		resp, err := http.Get("http://" + s.addr + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve returned before %s answered: %v", path, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer 200 within %s (last: %v)", path, waitTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shutDown cancels serve's context and waits until new connections are
// refused, which shows that shutdown has begun.
func (s *serving) shutDown(t *testing.T) {
	t.Helper()
	s.cancel()
	deadline := time.Now().Add(waitTimeout)
	for !refused(s.addr) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections %s after shutdown began", s.addr, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wait returns run's result, failing the test if it takes longer than
// waitTimeout.
func (s *serving) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(waitTimeout):
		t.Fatalf("serve did not return within %s", waitTimeout)
		return nil
	}
}

// chatStream is a streaming chat request in flight.
type chatStream struct {
	// events receives the data of each event, and is closed at the end of
	// the stream.
	events chan string
	// err is what ended the stream, when not its end; set before events
	// is closed.
	err error
}

// chat posts a streaming chat request and returns at once, so that the
// request can be under way before the bridge sends the response's header.
func (s *serving) chat(t *testing.T) *chatStream {
	t.Helper()
	st := &chatStream{events: make(chan string, 100)}
	client := &http.Client{Transport: &http.Transport{}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(func() {
		cancel()
		client.CloseIdleConnections()
	})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"test-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	go func() {
		defer close(st.events)
		resp, err := client.Do(req)
		if err != nil {
			st.err = err
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			st.err = fmt.Errorf("status %d", resp.StatusCode)
			return
		}
		body := bufio.NewReader(resp.Body)
		for {
			line, err := body.ReadString('\n')
			if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data: "); ok {
				st.events <- data
			}
			if err != nil {
				if err != io.EOF {
					st.err = err
				}
				return
			}
		}
	}()
	return st
}

// refused reports whether a new connection to addr is refused.
func refused(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	conn.Close()
	return false
}

// transcript accumulates a client's view of a chat stream.
type transcript struct {
	content strings.Builder
	last    string // the data of the last event
}

// add records the data of one event.
func (tr *transcript) add(t *testing.T, data string) {
	t.Helper()
	tr.last = data
	if data == "[DONE]" {
		return
	}
	var chunk struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(data), &chunk); err != nil {
		t.Fatalf("event %q: %v", data, err)
	}
	if len(chunk.Choices) > 0 {
		tr.content.WriteString(chunk.Choices[0].Delta.Content)
	}
}

// readUntil reads events until the content contains want.
func (tr *transcript) readUntil(t *testing.T, st *chatStream, want string) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for !strings.Contains(tr.content.String(), want) {
		select {
		case data, ok := <-st.events:
			if !ok {
				t.Fatalf("stream ended before %q (%v); content %q", want, st.err, tr.content.String())
			}
			tr.add(t, data)
		case <-timeout:
			t.Fatalf("no %q within %s; content %q", want, waitTimeout, tr.content.String())
		}
	}
}

// readAll reads events until the end of the stream.
func (tr *transcript) readAll(t *testing.T, st *chatStream) {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case data, ok := <-st.events:
			if !ok {
				return
			}
			tr.add(t, data)
		case <-timeout:
			t.Fatalf("stream did not end within %s; content %q", waitTimeout, tr.content.String())
		}
	}
}

// toolResult returns the content of the only tool message of req.
func toolResult(t *testing.T, req llmtest.Request) string {
	t.Helper()
	msgs := req.ToolMessages()
	if len(msgs) != 1 {
		t.Fatalf("upstream request has %d tool messages, want 1", len(msgs))
	}
	s, ok := msgs[0]["content"].(string)
	if !ok {
		t.Fatalf("tool message content = %#v, want a string", msgs[0]["content"])
	}
	return s
}

func TestServeGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseUpstream := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseUpstream)
	// The model first asks for the MCP server's pid, then answers slowly.
	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "call_pid", Name: "GitHub__pid", Arguments: "{}"}),
		slowStream(started, release),
	)
	s := startServe(t, map[string]any{
		"upstream":   map[string]any{"base_url": up.URL},
		"tools":      map[string]any{"display": "none"},
		"limits":     map[string]any{"shutdown_timeout": "10s"},
		"mcpServers": map[string]any{"GitHub": stdioServer("GitHub")},
	})

	// Wait until the client has the first words: the stream is in flight.
	stream := s.chat(t)
	var tr transcript
	tr.readUntil(t, stream, "Hello")
	<-started
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests, want 2", len(reqs))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(toolResult(t, reqs[1])))
	if err != nil || pid == os.Getpid() {
		t.Fatalf("pid tool result %q: want the stdio server's pid", toolResult(t, reqs[1]))
	}

	// SIGTERM, in effect: new connections are refused at once, while the
	// stream in flight goes on.
	s.shutDown(t)
	select {
	case err := <-s.done:
		t.Fatalf("serve returned with a stream in flight: %v", err)
	default:
	}

	releaseUpstream()
	tr.readAll(t, stream)
	if stream.err != nil {
		t.Errorf("stream: %v", stream.err)
	}
	if tr.content.String() != "Hello, world" || tr.last != "[DONE]" {
		t.Errorf("client got content %q ending in %q, want \"Hello, world\" ending in [DONE]", tr.content.String(), tr.last)
	}

	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	if !refused(s.addr) {
		t.Errorf("%s accepts connections after serve returned", s.addr)
	}
	// The MCP server was closed before serve returned.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stdio server %d after serve returned: kill -0 = %v, want ESRCH", pid, err)
	}
	mustContain(t, "log", s.stderr.String(), "shutting down", "stopped")
}

func TestServeShutdownLetsToolCallsFinish(t *testing.T) {
	// A tool call under way at shutdown runs to its end: the MCP servers
	// are closed only after the requests are drained.
	markers := t.TempDir()
	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "call_sleep", Name: "GitHub__sleep", Arguments: `{"ms":300,"id":"s1"}`}),
		llmtest.TextStream("done"),
	)
	srv := mcptest.StdioServer("GitHub", mcptest.EnvMarkerDir+"="+markers)
	s := startServe(t, map[string]any{
		"upstream": map[string]any{"base_url": up.URL},
		"tools":    map[string]any{"display": "none"},
		"mcpServers": map[string]any{
			"GitHub": map[string]any{"command": srv.Command, "args": srv.Args, "env": srv.Env},
		},
	})

	stream := s.chat(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := mcptest.WaitMarker(ctx, markers, mcptest.SleepStarted+"-s1"); err != nil {
		t.Fatal(err)
	}
	s.shutDown(t)

	var tr transcript
	tr.readAll(t, stream)
	if stream.err != nil {
		t.Errorf("stream: %v", stream.err)
	}
	if tr.content.String() != "done" || tr.last != "[DONE]" {
		t.Errorf("client got content %q ending in %q, want \"done\" ending in [DONE]", tr.content.String(), tr.last)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests, want 2", len(reqs))
	}
	if got := toolResult(t, reqs[1]); got != "slept 300ms" {
		t.Errorf("tool result = %q, want \"slept 300ms\"", got)
	}
	if _, err := os.Stat(filepath.Join(markers, mcptest.SleepCancelled+"-s1")); err == nil {
		t.Error("the sleep call was cancelled")
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	// A stream that outlives limits.shutdown_timeout is cut, and serve
	// still returns.
	started, never := make(chan struct{}), make(chan struct{})
	up := llmtest.NewServer(t, slowStream(started, never))
	s := startServe(t, map[string]any{
		"upstream": map[string]any{"base_url": up.URL},
		"limits":   map[string]any{"shutdown_timeout": "100ms"},
	})
	stream := s.chat(t)
	var tr transcript
	tr.readUntil(t, stream, "Hello")
	<-started

	s.shutDown(t)
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	tr.readAll(t, stream) // the stream ends
	if tr.last == "[DONE]" || tr.content.String() != "Hello" {
		t.Errorf("client got content %q ending in %q, want the stream cut after Hello", tr.content.String(), tr.last)
	}
	select {
	case <-up.Requests()[0].Canceled:
	case <-time.After(waitTimeout):
		t.Error("the upstream request was not cancelled")
	}
	mustContain(t, "log", s.stderr.String(), "still running at the shutdown deadline")
}

func TestServeShutdownEndsEventFeed(t *testing.T) {
	// The activity feed never ends by itself: shutdown must end it rather
	// than wait for limits.shutdown_timeout.
	up := llmtest.NewServer(t)
	s := startServe(t, map[string]any{
		"upstream": map[string]any{"base_url": up.URL},
		"limits":   map[string]any{"shutdown_timeout": "1h"},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/v1/events", nil)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("/v1/events: status %d, content type %q", resp.StatusCode, ct)
	}

	s.shutDown(t)
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("reading the feed to its end: %v", err)
	}
}
