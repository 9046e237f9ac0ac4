// Package e2e runs the built mcp-bridge binary end to end: real npm MCP
// servers over stdio, a scripted upstream, and the openai npm SDK as the
// client. Install the Node packages first: npm ci --prefix e2e.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// need reports a missing prerequisite: a failure in CI, a skip elsewhere,
// each saying what to run.
func need(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: %v (run: %s)", what, err, installHint(what))
	}
	t.Skipf("%s: %v (run: %s)", what, err, installHint(what))
}

// installHint is the command that installs what a missing file needs.
func installHint(what string) string {
	if strings.HasPrefix(what, "conformance/") {
		return "npm ci --prefix e2e/conformance"
	}
	return "npm ci --prefix e2e"
}

// TestMain says, in a line that a plain "go test ./..." shows, which
// end-to-end tests will be skipped for want of their npm packages.
func TestMain(m *testing.M) {
	if os.Getenv("CI") == "" {
		for _, dir := range []string{"node_modules", "conformance/node_modules"} {
			if _, err := os.Stat(dir); err != nil {
				fmt.Fprintf(os.Stderr, "e2e: %s is missing, so the tests that need it will be skipped; run: %s (or task deps)\n",
					"e2e/"+dir, installHint(dir))
			}
		}
	}
	os.Exit(m.Run())
}

// needNode checks that node is on the PATH and that every file (a path
// under e2e/, such as an npm package's entry point) is installed.
func needNode(t *testing.T, files ...string) {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, "node", err)
	for _, f := range files {
		_, err := os.Stat(f)
		need(t, f, err)
	}
}

// npmServer is the absolute path of the entry point of an npm MCP server
// package (server-everything, server-filesystem).
func npmServer(name string) string {
	p, _ := filepath.Abs(filepath.Join("node_modules/@modelcontextprotocol", name, "dist/index.js"))
	return p
}

// npmServersYAML is the mcpServers section of server-everything
// (prefix everything) and server-filesystem serving dataDir (prefix fs).
func npmServersYAML(dataDir string) string {
	return fmt.Sprintf(`mcpServers:
  everything:
    command: node
    args: [%q, "stdio"]
  fs:
    command: node
    args: [%q, %q]
`, npmServer("server-everything"), npmServer("server-filesystem"), dataDir)
}

// bridge is a running mcp-bridge process.
type bridge struct {
	url    string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	exited chan error
}

// buildBinary compiles cmd/mcp-bridge once per test binary.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mcp-bridge")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/mcp-bridge").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startBridge runs the binary with config and waits until every server is
// ready.
func startBridge(t *testing.T, bin, config string) *bridge {
	t.Helper()
	return startBridgeKey(t, bin, config, "")
}

// startBridgeKey is startBridge asking /readyz with key.
func startBridgeKey(t *testing.T, bin, config, key string) *bridge {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "mcp-bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var addr string
	for _, line := range strings.Split(config, "\n") {
		if v, ok := strings.CutPrefix(line, "listen: "); ok {
			addr = strings.TrimSpace(v)
		}
	}
	return launchBridge(t, exec.Command(bin, "serve", "-c", cfgPath), "http://"+addr, key)
}

// launchBridge starts cmd (a serve command listening at url), stops it when
// the test ends, and waits until /readyz answers 200, asked with key when
// the bridge has keys.
func launchBridge(t *testing.T, cmd *exec.Cmd, url, key string) *bridge {
	t.Helper()
	b := &bridge{cmd: cmd, url: url, stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	b.cmd.Stderr = b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.exited <- b.cmd.Wait() }()
	t.Cleanup(func() {
		if b.cmd.ProcessState == nil {
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
		if t.Failed() {
			t.Logf("bridge log:\n%s", b.stderr.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest("GET", b.url+"/readyz", nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return b
			}
			if time.Now().After(deadline) {
				t.Fatalf("bridge not ready: %s", body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("bridge not reachable: %v", err)
		}
		select {
		case err := <-b.exited:
			t.Fatalf("bridge exited: %v\n%s", err, b.stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and expects a clean exit.
func (b *bridge) stop(t *testing.T) {
	t.Helper()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.exited:
		if err != nil {
			t.Errorf("bridge exit: %v\n%s", err, b.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("bridge did not stop within 30 s of SIGTERM")
	}
}

// sdkResult is what client.mjs prints.
type sdkResult struct {
	Content      string           `json:"content"`
	Finish       string           `json:"finish"`
	Usage        map[string]int   `json:"usage"`
	Deltas       int              `json:"deltas"`
	MCPToolCalls []map[string]any `json:"mcp_tool_calls"`
	Error        string           `json:"error"`
}

// runClient runs the openai SDK client against the bridge.
func runClient(t *testing.T, url, mode, prompt string) sdkResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "client.mjs", mode, prompt)
	cmd.Env = append(os.Environ(), "BRIDGE_URL="+url+"/v1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res sdkResult
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); jerr != nil {
		t.Fatalf("client output %q (%v): %s", out, err, stderr.String())
	}
	if res.Error != "" || err != nil {
		t.Fatalf("client failed: %s (%v) %s", res.Error, err, stderr.String())
	}
	return res
}

// echoResults is a final upstream answer that quotes the tool results it
// was sent, so the client sees them too.
func echoResults() llmtest.Reply {
	return func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
		var parts []string
		for _, m := range req.ToolMessages() {
			parts = append(parts, fmt.Sprint(m["content"]))
		}
		reply := llmtest.TextStream("Results: ", strings.Join(parts, " | "))
		if !strings.Contains(string(req.Fields["stream"]), "true") {
			reply = llmtest.Completion("Results: " + strings.Join(parts, " | "))
		}
		reply(w, r, req)
	}
}

func TestOpenAISDKEndToEnd(t *testing.T) {
	needNode(t, npmServer("server-everything"), npmServer("server-filesystem"), "node_modules/openai/package.json")
	dataDir := t.TempDir()
	bin := buildBinary(t)

	for _, mode := range []string{"stream", "create"} {
		t.Run(mode, func(t *testing.T) {
			file := filepath.Join(dataDir, mode+".txt")
			note := "hello from the " + mode + " test"
			writeArgs, _ := json.Marshal(map[string]string{"path": file, "content": note})
			readArgs, _ := json.Marshal(map[string]string{"path": file})
			toolStream := llmtest.ToolCallStream
			if mode == "create" {
				toolStream = llmtest.ToolCallCompletion
			}
			up := llmtest.NewServer(t,
				toolStream(llmtest.Call{Name: "everything__get-sum", Arguments: `{"a":2,"b":3}`},
					llmtest.Call{Name: "fs__write_file", Arguments: string(writeArgs)}),
				toolStream(llmtest.Call{Name: "fs__read_text_file", Arguments: string(readArgs)}),
				echoResults())
			b := startBridge(t, bin, fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
tools:
  display: status
`, freePort(t), up.URL)+npmServersYAML(dataDir))

			res := runClient(t, b.url, mode, "Add 2 and 3, and keep a note.")

			reqs := up.Requests()
			if len(reqs) != 3 {
				t.Fatalf("upstream got %d requests, want 3", len(reqs))
			}
			first := reqs[1].ToolMessages()
			if len(first) != 2 {
				t.Fatalf("round 1 tool messages: %v", first)
			}
			if sum := fmt.Sprint(first[0]["content"]); !strings.Contains(sum, "5") || strings.HasPrefix(sum, "Error") {
				t.Errorf("get-sum of 2 and 3 gave %q", sum)
			}
			if got, err := os.ReadFile(file); err != nil || string(got) != note {
				t.Errorf("file written by the tool: %q, %v", got, err)
			}
			second := reqs[2].ToolMessages() // the whole conversation so far
			if len(second) != 3 || !strings.Contains(fmt.Sprint(second[2]["content"]), note) {
				t.Errorf("read_text_file gave %v", second)
			}

			if res.Finish != "stop" || !strings.Contains(res.Content, note) || !strings.Contains(res.Content, "5") {
				t.Errorf("SDK answer: %+v", res)
			}
			if mode == "stream" {
				if res.Deltas < 2 {
					t.Errorf("SDK saw %d content deltas", res.Deltas)
				}
				if res.Usage["total_tokens"] != 45 {
					t.Errorf("usage %v, want 3 rounds of 15 tokens", res.Usage)
				}
			} else if len(res.MCPToolCalls) != 3 {
				t.Errorf("mcp_tool_calls %v", res.MCPToolCalls)
			}
			b.stop(t)
		})
	}
}

// TestSamplingThroughChat has the model call server-everything's
// trigger-sampling-request: the server's sampling request is answered by
// the upstream, and the answer reaches the client.
func TestSamplingThroughChat(t *testing.T) {
	everything := npmServer("server-everything")
	needNode(t, everything, "node_modules/openai/package.json")

	const sampled = "a haiku about bridges, sampled upstream"
	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{Name: "everything__trigger-sampling-request", Arguments: `{"prompt":"write a haiku","maxTokens":50}`}),
		llmtest.Completion(sampled), // the sampling request
		echoResults())
	b := startBridge(t, buildBinary(t), fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
sampling:
  model: sampler
mcpServers:
  everything:
    command: node
    args: [%q, "stdio"]
`, freePort(t), up.URL, everything))

	res := runClient(t, b.url, "stream", "Write a haiku with the sampling tool.")
	if !strings.Contains(res.Content, sampled) {
		t.Errorf("answer %q lacks the sampled text", res.Content)
	}
	reqs := up.Requests()
	if len(reqs) != 3 {
		t.Fatalf("upstream got %d requests, want 3 (tool call, sampling, answer)", len(reqs))
	}
	var sr struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Messages  []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(reqs[1].Body, &sr); err != nil || sr.Model != "sampler" || sr.MaxTokens != 50 ||
		len(sr.Messages) == 0 || !strings.Contains(sr.Messages[len(sr.Messages)-1].Content, "write a haiku") {
		t.Errorf("sampling request %s", reqs[1].Body)
	}
	if msgs := reqs[2].ToolMessages(); len(msgs) != 1 || !strings.Contains(fmt.Sprint(msgs[0]["content"]), sampled) {
		t.Errorf("tool message %v", msgs)
	}
	b.stop(t)
}
