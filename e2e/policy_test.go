package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// The keys of the policy tests: 16 characters or more, as the README asks.
const (
	readerKey  = "e2e-reader-key-0123456789"
	adminKey   = "e2e-admin-key-0123456789"
	limitedKey = "e2e-limited-key-0123456789"
)

// policyConfig is a bridge with server-everything and server-filesystem
// (serving dataDir) and three keys: reader (fs read and list tools, llama
// models), admin (no policy: everything) and limited (two requests a
// minute).
func policyConfig(listen, upstream, dataDir string) string {
	return fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
policies:
  readers:
    servers: ["fs"]
    tools: ["fs__read_*", "fs__list_*"]
    models: ["llama*"]
  limited:
    rate: {requests: 2, per: 1m}
auth:
  keys:
    - {name: reader, key: %q, policy: readers}
    - {name: admin, key: %q}
    - {name: limited, key: %q, policy: limited}
`, listen, upstream, readerKey, adminKey, limitedKey) + npmServersYAML(dataDir)
}

// readerMayUse reports whether the readers policy allows the tool.
func readerMayUse(name string) bool {
	return strings.HasPrefix(name, "fs__read_") || strings.HasPrefix(name, "fs__list_")
}

// policyRequest is what policy_client.mjs is asked to send.
type policyRequest struct {
	Key     string            `json:"key"`
	Model   string            `json:"model"`
	Prompt  string            `json:"prompt,omitempty"`
	Stream  bool              `json:"stream,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Repeat  int               `json:"repeat,omitempty"`
}

// policyAnswer is what policy_client.mjs reports of one request: the
// answer, or the APIError the SDK raised.
type policyAnswer struct {
	Status  int               `json:"status"`
	Content string            `json:"content"`
	Finish  string            `json:"finish"`
	Type    string            `json:"type"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Headers map[string]string `json:"headers"`
}

// runPolicyClient sends req through the openai SDK (policy_client.mjs)
// and returns one answer per request sent.
func runPolicyClient(t *testing.T, url string, req policyRequest) []policyAnswer {
	t.Helper()
	spec, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "policy_client.mjs", string(spec))
	cmd.Env = append(os.Environ(), "BRIDGE_URL="+url+"/v1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var answers []policyAnswer
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &answers); jerr != nil || err != nil {
		t.Fatalf("policy client: %s (%v, %v) %s", out, err, jerr, stderr.String())
	}
	return answers
}

// injectedTools are the names of the tools a chat request sent upstream
// carried.
func injectedTools(t *testing.T, r llmtest.Request) []string {
	t.Helper()
	var tools []struct {
		Function struct{ Name string } `json:"function"`
	}
	if raw, ok := r.Fields["tools"]; ok {
		if err := json.Unmarshal(raw, &tools); err != nil {
			t.Fatalf("upstream tools %s: %v", raw, err)
		}
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Function.Name)
	}
	slices.Sort(names)
	return names
}

// keyedHTTP is a client that sends key as a bearer token with every
// request.
func keyedHTTP(key string) *http.Client {
	return &http.Client{Transport: bearer(key)}
}

type bearer string

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// mcpSession connects the go-sdk MCP client to the bridge with key,
// over streamable HTTP (path /mcp) or the legacy SSE transport (/sse).
func mcpSession(t *testing.T, url, path, key string) *mcp.ClientSession {
	t.Helper()
	// The SSE transport's stream lives as long as the context Connect is
	// given: that context ends with the test, and only the wait for the
	// connection is bounded.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	timer := time.AfterFunc(20*time.Second, cancel)
	defer timer.Stop()
	var tr mcp.Transport = &mcp.StreamableClientTransport{Endpoint: url + path, HTTPClient: keyedHTTP(key)}
	if path == "/sse" {
		tr = &mcp.SSEClientTransport{Endpoint: url + path, HTTPClient: keyedHTTP(key)}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-policy", Version: "1"}, nil)
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connecting to %s: %v", path, err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// mcpToolNames lists the tools of a session, sorted.
func mcpToolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var names []string
	for tl, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// restCall sends method path with key and returns the status and body.
func restCall(t *testing.T, url, key, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := keyedHTTP(key).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// operations are the operationIds of an OpenAPI document, sorted.
func operations(t *testing.T, doc string) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatalf("openapi.json: %v: %.300s", err, doc)
	}
	var ops []string
	for _, methods := range d.Paths {
		for _, op := range methods {
			ops = append(ops, op.OperationID)
		}
	}
	slices.Sort(ops)
	return ops
}

// absent fails the test when path exists.
func absent(t *testing.T, path, what string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s: %s exists (or cannot be checked: %v)", what, path, err)
	}
}

// TestPolicyEndToEnd runs the built binary with real npm MCP servers and
// keys of three policies, and checks what each key may see and run through
// every face with real clients: chat through the openai SDK, /mcp and /sse
// through the go-sdk client, /openapi.json and /tools over HTTP.
func TestPolicyEndToEnd(t *testing.T) {
	needNode(t, npmServer("server-everything"), npmServer("server-filesystem"), "node_modules/openai/package.json")
	dataDir := t.TempDir()
	const secret = "what the readers may read"
	readable := filepath.Join(dataDir, "readable.txt")
	if err := os.WriteFile(readable, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	readArgs := fmt.Sprintf(`{"path":%q}`, readable)
	writeArgs := func(path string) string { return fmt.Sprintf(`{"path":%q,"content":"written"}`, path) }

	bin := buildBinary(t)
	up := llmtest.NewServer(t)
	config := policyConfig(freePort(t), up.URL, dataDir)
	b := startBridge(t, bin, config)

	// Every tool of the two servers, as the binary lists them.
	cfgPath := filepath.Join(t.TempDir(), "mcp-bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	listing, err := exec.CommandContext(ctx, bin, "tools", "--json", "-c", cfgPath).Output()
	if err != nil {
		t.Fatalf("mcp-bridge tools: %v", err)
	}
	var listed []struct{ Name string }
	if err := json.Unmarshal(listing, &listed); err != nil {
		t.Fatal(err)
	}
	var all, readerTools []string
	for _, tl := range listed {
		all = append(all, tl.Name)
		if readerMayUse(tl.Name) {
			readerTools = append(readerTools, tl.Name)
		}
	}
	slices.Sort(all)
	slices.Sort(readerTools)
	for _, want := range []string{"fs__read_text_file", "fs__list_directory", "fs__write_file", "everything__get-sum"} {
		if !slices.Contains(all, want) {
			t.Fatalf("the servers do not offer %s: %v", want, all)
		}
	}

	// since returns the upstream requests received after the first n.
	since := func(n int) []llmtest.Request { return up.Requests()[n:] }

	t.Run("reader chat", func(t *testing.T) {
		n := len(up.Requests())
		forbidden := filepath.Join(dataDir, "by-chat.txt")
		up.Add(llmtest.ToolCallStream(
			llmtest.Call{Name: "fs__read_text_file", Arguments: readArgs},
			llmtest.Call{Name: "fs__write_file", Arguments: writeArgs(forbidden)}),
			echoResults())
		res := runPolicyClient(t, b.url, policyRequest{Key: readerKey, Model: "llama3", Stream: true, Prompt: "Read the note, then write one."})
		if len(res) != 1 || res[0].Status != http.StatusOK || res[0].Finish != "stop" {
			t.Fatalf("SDK answer: %+v", res)
		}
		reqs := since(n)
		if len(reqs) != 2 {
			t.Fatalf("upstream got %d requests, want 2", len(reqs))
		}
		if got := injectedTools(t, reqs[0]); !slices.Equal(got, readerTools) {
			t.Errorf("the reader's request carried the tools %v\nwant %v", got, readerTools)
		}
		msgs := reqs[1].ToolMessages()
		if len(msgs) != 2 {
			t.Fatalf("tool messages %v", msgs)
		}
		if got := fmt.Sprint(msgs[0]["content"]); !strings.Contains(got, secret) {
			t.Errorf("read_text_file gave %q", got)
		}
		if got := fmt.Sprint(msgs[1]["content"]); !strings.Contains(got, "not permitted") {
			t.Errorf("write_file gave %q, want a refusal", got)
		}
		if !strings.Contains(res[0].Content, secret) || !strings.Contains(res[0].Content, "not permitted") {
			t.Errorf("SDK answer %q", res[0].Content)
		}
		absent(t, forbidden, "the reader's write through chat")
	})

	for _, path := range []string{"/mcp", "/sse"} {
		t.Run("reader "+path[1:], func(t *testing.T) {
			cs := mcpSession(t, b.url, path, readerKey)
			if got := mcpToolNames(t, cs); !slices.Equal(got, readerTools) {
				t.Errorf("the reader's tools/list: %v\nwant %v", got, readerTools)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			forbidden := filepath.Join(dataDir, "by-"+path[1:]+".txt")
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs__write_file", Arguments: map[string]any{"path": forbidden, "content": "written"}})
			if err == nil && !res.IsError {
				t.Errorf("the reader called fs__write_file: %+v", res.Content)
			}
			absent(t, forbidden, "the reader's write through "+path)
			res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "fs__read_text_file", Arguments: map[string]any{"path": readable}})
			if err != nil || res.IsError || len(res.Content) == 0 {
				t.Fatalf("the reader's fs__read_text_file: %v %+v", err, res)
			}
			if tc, ok := res.Content[0].(*mcp.TextContent); !ok || !strings.Contains(tc.Text, secret) {
				t.Errorf("the reader's fs__read_text_file gave %+v", res.Content[0])
			}
		})
	}

	t.Run("reader openapi", func(t *testing.T) {
		status, doc := restCall(t, b.url, readerKey, "GET", "/openapi.json", "")
		if status != http.StatusOK {
			t.Fatalf("/openapi.json: %d %.300s", status, doc)
		}
		if got := operations(t, doc); !slices.Equal(got, readerTools) {
			t.Errorf("the reader's document has the operations %v\nwant %v", got, readerTools)
		}
		forbidden := filepath.Join(dataDir, "by-rest.txt")
		status, body := restCall(t, b.url, readerKey, "POST", "/tools/fs__write_file", writeArgs(forbidden))
		if status != http.StatusForbidden || !strings.Contains(body, `"tool_not_permitted"`) {
			t.Errorf("the reader's POST /tools/fs__write_file: %d %s", status, body)
		}
		absent(t, forbidden, "the reader's write through /tools")
		status, body = restCall(t, b.url, readerKey, "POST", "/tools/fs__read_text_file", readArgs)
		if status != http.StatusOK || !strings.Contains(body, secret) {
			t.Errorf("the reader's POST /tools/fs__read_text_file: %d %s", status, body)
		}
	})

	t.Run("admin", func(t *testing.T) {
		n := len(up.Requests())
		byChat := filepath.Join(dataDir, "admin-chat.txt")
		up.Add(llmtest.ToolCallCompletion(llmtest.Call{Name: "fs__write_file", Arguments: writeArgs(byChat)}), echoResults())
		res := runPolicyClient(t, b.url, policyRequest{Key: adminKey, Model: "gpt-4o", Prompt: "Write a note."})
		if len(res) != 1 || res[0].Status != http.StatusOK {
			t.Fatalf("SDK answer: %+v", res)
		}
		reqs := since(n)
		if len(reqs) != 2 {
			t.Fatalf("upstream got %d requests, want 2", len(reqs))
		}
		if got := injectedTools(t, reqs[0]); !slices.Equal(got, all) {
			t.Errorf("the admin's request carried the tools %v\nwant %v", got, all)
		}
		if got, err := os.ReadFile(byChat); err != nil || string(got) != "written" {
			t.Errorf("the admin's write through chat: %q, %v (tool messages %v)", got, err, reqs[1].ToolMessages())
		}

		for _, path := range []string{"/mcp", "/sse"} {
			if got := mcpToolNames(t, mcpSession(t, b.url, path, adminKey)); !slices.Equal(got, all) {
				t.Errorf("the admin's tools/list over %s: %v\nwant %v", path, got, all)
			}
		}
		status, doc := restCall(t, b.url, adminKey, "GET", "/openapi.json", "")
		if got := operations(t, doc); status != http.StatusOK || !slices.Equal(got, all) {
			t.Errorf("the admin's document: %d, operations %v\nwant %v", status, got, all)
		}
		byREST := filepath.Join(dataDir, "admin-rest.txt")
		if status, body := restCall(t, b.url, adminKey, "POST", "/tools/fs__write_file", writeArgs(byREST)); status != http.StatusOK {
			t.Errorf("the admin's POST /tools/fs__write_file: %d %s", status, body)
		}
		if got, err := os.ReadFile(byREST); err != nil || string(got) != "written" {
			t.Errorf("the admin's write through /tools: %q, %v", got, err)
		}
	})

	t.Run("model not permitted", func(t *testing.T) {
		n := len(up.Requests())
		for _, stream := range []bool{false, true} {
			res := runPolicyClient(t, b.url, policyRequest{Key: readerKey, Model: "gpt-4o", Stream: stream})
			if len(res) != 1 || res[0].Status != http.StatusForbidden || res[0].Type != "permission_error" || res[0].Code != "model_not_permitted" {
				t.Errorf("the reader asking for gpt-4o (stream %v): %+v", stream, res)
			}
		}
		if reqs := since(n); len(reqs) != 0 {
			t.Errorf("the refused request reached the upstream %d times", len(reqs))
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		res := runPolicyClient(t, b.url, policyRequest{Key: "e2e-unknown-key-0123456789", Model: "llama3"})
		if len(res) != 1 || res[0].Status != http.StatusUnauthorized || res[0].Code != "invalid_api_key" {
			t.Errorf("an unknown key: %+v", res)
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		n := len(up.Requests())
		up.Add(llmtest.Completion("first"), llmtest.Completion("second"))
		// The first request as it comes, then two that ask for no tools.
		res := runPolicyClient(t, b.url, policyRequest{Key: limitedKey, Model: "gpt-4o"})
		res = append(res, runPolicyClient(t, b.url, policyRequest{Key: limitedKey, Model: "gpt-4o", Repeat: 2,
			Headers: map[string]string{"X-MCP-Tools": "none"}})...)
		if len(res) != 3 {
			t.Fatalf("answers %+v", res)
		}
		for i, want := range []string{"first", "second"} {
			a := res[i]
			if a.Status != http.StatusOK || a.Content != want {
				t.Errorf("request %d: %+v", i+1, a)
			}
			if a.Headers["x-ratelimit-limit-requests"] != "2" || a.Headers["x-ratelimit-remaining-requests"] != fmt.Sprint(1-i) {
				t.Errorf("request %d: rate headers %v", i+1, a.Headers)
			}
		}
		third := res[2]
		if third.Status != http.StatusTooManyRequests || third.Type != "rate_limit_error" || third.Code != "rate_limit_exceeded" {
			t.Errorf("the third request: %+v", third)
		}
		if ra, err := strconv.Atoi(third.Headers["retry-after"]); err != nil || ra < 1 || ra > 60 ||
			third.Headers["x-ratelimit-limit-requests"] != "2" || third.Headers["x-ratelimit-remaining-requests"] != "0" ||
			third.Headers["x-ratelimit-reset-requests"] == "" {
			t.Errorf("the third request's headers: %v", third.Headers)
		}
		reqs := since(n)
		if len(reqs) != 2 {
			t.Fatalf("upstream got %d requests, want 2", len(reqs))
		}
		if got := injectedTools(t, reqs[0]); !slices.Equal(got, all) {
			t.Errorf("the limited key's request carried the tools %v\nwant %v", got, all)
		}
		if raw, ok := reqs[1].Fields["tools"]; ok {
			t.Errorf("the request with X-MCP-Tools: none carried tools: %.300s", raw)
		}
	})

	b.stop(t)
	for _, key := range []string{readerKey, adminKey, limitedKey} {
		if strings.Contains(b.stderr.String(), key) {
			t.Errorf("the bridge's log shows a key")
		}
	}
}
