package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/store/storetest"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

const (
	replicaAdminKey   = "e2e-replica-admin-0123456789"
	replicaLimitedKey = "e2e-replica-limited-0123456789"
	replicaOtherKey   = "e2e-replica-other-0123456789"
)

// replicaConfig is one replica: keys admin (no limits), limited and
// other (4 chat requests an hour each), go-sdk's conformance server
// unprefixed, the state in redisURL with policy onDown.
func replicaConfig(listen, upstream, redisURL, onDown, server string) string {
	return fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
log:
  level: warn
policies:
  limited:
    rate: {requests: 4, per: 1h}
auth:
  keys:
    - {name: admin, key: %q}
    - {name: limited, key: %q, policy: limited}
    - {name: other, key: %q, policy: limited}
state:
  redis: %s
  prefix: "e2e:"
  on_redis_down: %s
mcpServers:
  everything:
    command: %q
    prefix: ""
`, listen, upstream, replicaAdminKey, replicaLimitedKey, replicaOtherKey, redisURL, onDown, server)
}

// post sends a chat request with key and returns the status and body.
func postChat(t *testing.T, base, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// readyz returns /readyz of base, asked with the admin key.
func readyz(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/readyz", nil)
	req.Header.Set("Authorization", "Bearer "+replicaAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

// TestReplicasShareState runs two bridges built from the tree against one
// real redis-server: limits, mixed turns, the activity feed and the
// stateless MCP face work across them; a session of the other replica is
// a 404; Redis killed, each replica follows its policy (A fails open, B
// closed); Redis back, limits are shared again without a restart.
func TestReplicasShareState(t *testing.T) {
	rdb := storetest.Start(t)
	up := llmtest.NewServer(t)
	bin := buildBinary(t)
	server := everythingServer(t)
	a := startReplica(t, bin, replicaConfig(freePort(t), up.URL, rdb.URL, "fail_open", server))
	b := startReplica(t, bin, replicaConfig(freePort(t), up.URL, rdb.URL, "fail_closed", server))
	plain := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`

	t.Run("rate limit split across replicas", func(t *testing.T) {
		up.Add(llmtest.TextStream("1"), llmtest.TextStream("2"), llmtest.TextStream("3"), llmtest.TextStream("4"))
		var codes []int
		for i := range 6 {
			base := a.url
			if i%2 == 1 {
				base = b.url
			}
			code, body := postChat(t, base, replicaLimitedKey, plain)
			codes = append(codes, code)
			if code == http.StatusTooManyRequests && !strings.Contains(body, "rate_limit_exceeded") {
				t.Errorf("429 body %s", body)
			}
		}
		if fmt.Sprint(codes) != "[200 200 200 200 429 429]" {
			t.Errorf("codes %v: the combined count should refuse the 5th and 6th", codes)
		}
	})

	t.Run("mixed turn answered by A, follow-up on B", func(t *testing.T) {
		n := len(up.Requests())
		up.Add(llmtest.ToolCallStream(llmtest.Call{ID: "b1", Name: "test_simple_text", Arguments: `{}`},
			llmtest.Call{ID: "u1", Name: "ask_user", Arguments: `{}`}), llmtest.TextStream("done"))
		clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
		code, body := postChat(t, a.url, replicaAdminKey, `{"model":"m","tools":[`+clientTool+`],"messages":[{"role":"user","content":"mixed"}]}`)
		if code != 200 || !strings.Contains(body, `"tool_calls":[{"id":"u1"`) {
			t.Fatalf("A: %d %s", code, body)
		}
		follow := `{"model":"m","tools":[` + clientTool + `],"messages":[{"role":"user","content":"mixed"},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"u1","type":"function","function":{"name":"ask_user","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"u1","content":"yes"}]}`
		if code, body := postChat(t, b.url, replicaAdminKey, follow); code != 200 || !strings.Contains(body, "done") {
			t.Fatalf("B: %d %s", code, body)
		}
		msgs := up.Requests()[n+1].Messages()
		if len(msgs) != 4 || msgs[2]["tool_call_id"] != "b1" || !strings.Contains(fmt.Sprint(msgs[2]["content"]), "simple text response") {
			t.Errorf("B's upstream request lacks the bridge's half of the turn: %v", msgs)
		}
	})

	t.Run("B's feed shows A's tool call", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", b.url+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+replicaAdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		up.Add(llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "test_simple_text", Arguments: `{}`}), llmtest.TextStream("ok"))
		if code, body := postChat(t, a.url, replicaAdminKey, plain); code != 200 {
			t.Fatalf("A: %d %s", code, body)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, `"tool_call_finished"`) {
				if !strings.Contains(data, `"tool":"test_simple_text"`) {
					t.Errorf("event %s", data)
				}
				return
			}
		}
		t.Errorf("B's feed ended without A's tool call: %v", sc.Err())
	})

	t.Run("stateless MCP client alternating between replicas", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		alt := &alternate{hosts: []string{hostOf(a.url), hostOf(b.url)}, key: replicaAdminKey, seen: map[string]int{}}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: a.url + "/mcp", HTTPClient: &http.Client{Transport: alt}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" || cs.ID() != "" {
			t.Fatalf("negotiated %q, session %q", v, cs.ID())
		}
		// server/discover, one tools/list (the client keeps the list for
		// its ttlMs) and four calls: six requests, alternating.
		for range 4 {
			tools, err := cs.ListTools(ctx, nil)
			if err != nil || len(tools.Tools) == 0 {
				t.Fatalf("list: %v", err)
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"})
			if err != nil || res.IsError || res.Content[0].(*mcp.TextContent).Text != "This is a simple text response for testing." {
				t.Fatalf("call: %+v %v", res, err)
			}
		}
		alt.mu.Lock()
		defer alt.mu.Unlock()
		if alt.seen[hostOf(a.url)] < 3 || alt.seen[hostOf(b.url)] < 3 {
			t.Errorf("requests per replica %v", alt.seen)
		}
	})

	t.Run("a session of the other replica is a 404", func(t *testing.T) {
		init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`
		code, h, body := mcpPost(t, a.url, "", "", init)
		id := h.Get("Mcp-Session-Id")
		if code != 200 || id == "" {
			t.Fatalf("initialize on A: %d %q %s", code, id, body)
		}
		list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
		for _, sid := range []string{id, "no-such-session"} {
			if code, _, body := mcpPost(t, b.url, sid, "2025-11-25", list); code != http.StatusNotFound || !strings.Contains(body, "session not found") {
				t.Errorf("session %q on B: %d %s, want 404 session not found", sid, code, body)
			}
		}
		if code, _, body := mcpPost(t, a.url, id, "2025-11-25", list); code != 200 {
			t.Errorf("the session on its own replica: %d %s", code, body)
		}
	})

	t.Run("redis killed then restarted", func(t *testing.T) {
		rdb.Stop()
		up.Add(llmtest.TextStream("open"))
		// The limited key's rate is spent; failing open, A serves it anyway.
		if code, body := postChat(t, a.url, replicaLimitedKey, plain); code != 200 {
			t.Errorf("A (fail_open) with Redis down: %d %s", code, body)
		}
		code, body := postChat(t, b.url, replicaLimitedKey, plain)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "limiter_unavailable") {
			t.Errorf("B (fail_closed) with Redis down: %d %s", code, body)
		}
		if code, v := readyz(t, a.url); code != 200 || stateUp(v) != "false" {
			t.Errorf("A's readyz with Redis down: %d %v", code, v)
		}
		if code, v := readyz(t, b.url); code != 503 || stateUp(v) != "false" {
			t.Errorf("B's readyz with Redis down: %d %v", code, v)
		}
		// Unlimited keys do not need Redis, whatever the policy.
		up.Add(llmtest.TextStream("admin"))
		if code, body := postChat(t, b.url, replicaAdminKey, plain); code != 200 {
			t.Errorf("B, a key without limits, with Redis down: %d %s", code, body)
		}

		rdb.Start()
		for _, r := range []*bridge{a, b} {
			if code, v := readyz(t, r.url); code != 200 || stateUp(v) != "true" {
				t.Errorf("readyz after Redis came back: %d %v", code, v)
			}
		}
		// The feed's subscriptions come back by themselves too.
		feedSeesToolCallOf(t, b, a)
		if m := metricsOf(t, a.url); !strings.Contains(m, `mcp_bridge_state_fail_open_total{op="rate"} 1`) ||
			!strings.Contains(m, "mcp_bridge_state_redis_up 1") {
			t.Errorf("A's metrics after the outage:\n%s", grepLines(m, "mcp_bridge_state_"))
		}
		up.Add(llmtest.TextStream("1"), llmtest.TextStream("2"), llmtest.TextStream("3"), llmtest.TextStream("4"))
		var codes []int
		for i := range 6 {
			base := b.url
			if i%2 == 1 {
				base = a.url
			}
			code, _ := postChat(t, base, replicaOtherKey, plain)
			codes = append(codes, code)
		}
		if fmt.Sprint(codes) != "[200 200 200 200 429 429]" {
			t.Errorf("after Redis came back, codes %v: limits should be shared again", codes)
		}
	})
	t.Run("redis not up at start", func(t *testing.T) {
		late := storetest.Start(t)
		late.Stop()
		c := startReplica(t, bin, replicaConfig(freePort(t), up.URL, late.URL, "fail_open", server))
		if code, v := readyz(t, c.url); code != 200 || stateUp(v) != "false" {
			t.Errorf("readyz before Redis is up: %d %v", code, v)
		}
		late.Start()
		if code, v := readyz(t, c.url); code != 200 || stateUp(v) != "true" {
			t.Errorf("readyz once Redis is up: %d %v", code, v)
		}
	})
	for _, r := range []*bridge{a, b} {
		r.stop(t) // its log is read once it has exited
		if strings.Contains(r.stderr.String(), "e2e-replica-") {
			t.Errorf("a key in the log:\n%s", r.stderr.String())
		}
	}
}

// feedSeesToolCallOf subscribes to sub's /v1/events and calls a tool
// through from's MCP face (statelessly) until the subscriber sees it,
// for at most 100 calls.
func feedSeesToolCallOf(t *testing.T, sub, from *bridge) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", sub.url+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+replicaAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	seen := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"tool_call_finished"`) {
				seen <- true
				return
			}
		}
		seen <- false
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: from.url + "/mcp", HTTPClient: keyedHTTP(replicaAdminKey)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	for range 100 {
		if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "test_simple_text"}); err != nil {
			t.Fatal(err)
		}
		select {
		case ok := <-seen:
			if !ok {
				t.Fatal("the feed ended")
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Error("the other replica's feed never showed the tool call")
}

// metricsOf is base's /metrics, asked with the admin key.
func metricsOf(t *testing.T, base string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+replicaAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// stateUp is state.up of a /readyz answer, "<nil>" when there is none.
func stateUp(v map[string]any) string {
	st, _ := v["state"].(map[string]any)
	return fmt.Sprint(st["up"])
}

// startReplica starts the binary with config, waiting for /readyz with
// the admin key.
func startReplica(t *testing.T, bin, config string) *bridge {
	t.Helper()
	b := startBridgeKey(t, bin, config, replicaAdminKey)
	return b
}

func hostOf(u string) string {
	p, _ := url.Parse(u)
	return p.Host
}

// alternate sends each request to the next of hosts, with key.
type alternate struct {
	hosts []string
	key   string
	mu    sync.Mutex
	n     int
	seen  map[string]int
}

func (a *alternate) RoundTrip(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	host := a.hosts[a.n%len(a.hosts)]
	a.n++
	a.seen[host]++
	a.mu.Unlock()
	r = r.Clone(r.Context())
	r.URL.Host, r.Host = host, host
	r.Header.Set("Authorization", "Bearer "+a.key)
	return http.DefaultTransport.RoundTrip(r)
}

// mcpPost posts a JSON-RPC message to base's /mcp with the admin key and
// the session id and protocol version, when given.
func mcpPost(t *testing.T, base, session, version, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+replicaAdminKey)
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}
