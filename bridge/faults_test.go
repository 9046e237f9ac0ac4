package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// slowServer has a tool "wait" that sleeps for its "ms" argument (or until
// cancelled), tracking how many calls run at once and which were cancelled.
type slowServer struct {
	inFlight, maxInFlight atomic.Int32
	started               chan struct{}
	cancelled             chan struct{}
}

func newSlowServer() (*slowServer, *mcp.Server) {
	ss := &slowServer{started: make(chan struct{}, 16), cancelled: make(chan struct{}, 16)}
	s := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "wait", InputSchema: json.RawMessage(`{"type":"object","properties":{"ms":{"type":"integer"}}}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args struct{ MS int }
			_ = json.Unmarshal(req.Params.Arguments, &args)
			n := ss.inFlight.Add(1)
			defer ss.inFlight.Add(-1)
			for {
				m := ss.maxInFlight.Load()
				if n <= m || ss.maxInFlight.CompareAndSwap(m, n) {
					break
				}
			}
			ss.started <- struct{}{}
			d := time.Duration(args.MS) * time.Millisecond
			if args.MS == 0 {
				d = time.Hour
			}
			select {
			case <-time.After(d):
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "waited"}}}, nil
			case <-ctx.Done():
				ss.cancelled <- struct{}{}
				return nil, ctx.Err()
			}
		})
	return ss, s
}

func TestParallelToolCallsRunConcurrently(t *testing.T) {
	ss, srv := newSlowServer()
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("slow", srv)},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{"ms":500}`}, llmtest.Call{ID: "b", Name: "slow__wait", Arguments: `{"ms":500}`}),
		llmtest.TextStream("both done"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "both done" {
		t.Fatalf("content %q", a.content)
	}
	if got := ss.maxInFlight.Load(); got != 2 {
		t.Errorf("at most %d calls ran at once, want 2", got)
	}
	for _, m := range h.up.Requests()[1].ToolMessages() {
		if m["content"] != "waited" {
			t.Errorf("tool message %v", m)
		}
	}
}

func TestHangingToolTimesOut(t *testing.T) {
	ss, srv := newSlowServer()
	cfg := inMemory("slow", srv)
	cfg.Timeout = 200 * time.Millisecond
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{cfg},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{}`}),
		llmtest.TextStream("it hung"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "it hung" {
		t.Fatalf("content %q", a.content)
	}
	msgs := h.up.Requests()[1].ToolMessages()
	if len(msgs) != 1 || !strings.Contains(msgs[0]["content"].(string), "timed out") {
		t.Fatalf("tool messages %v", msgs)
	}
	select {
	case <-ss.cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the server never saw the timed-out call cancelled")
	}
}

// TestStdioServerKilledMidCall kills a real stdio server during a call: the
// call becomes a tool error, the server comes back, the next call works.
func TestStdioServerKilledMidCall(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "proc__crash", Arguments: `{}`}),
		llmtest.TextStream("it crashed"),
		llmtest.ToolCallStream(llmtest.Call{ID: "b", Name: "proc__echo", Arguments: `{"text":"back"}`}),
		llmtest.TextStream("it is back"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "it crashed" {
		t.Fatalf("content %q", a.content)
	}
	msgs := h.up.Requests()[1].ToolMessages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0]["content"].(string), "Error:") {
		t.Fatalf("tool message after crash: %v", msgs)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		st := h.reg.Servers()[0]
		if st.State == "ready" && st.Restarts >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not restarted: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"y"}]}`)
	if b.content != "it is back" {
		t.Fatalf("content %q", b.content)
	}
	msgs = h.up.Requests()[3].ToolMessages()
	if len(msgs) != 1 || !strings.Contains(msgs[0]["content"].(string), "back") || strings.HasPrefix(msgs[0]["content"].(string), "Error") {
		t.Fatalf("tool message after restart: %v", msgs)
	}
}

// chatInBackground posts body to the chat route with ctx and reads the
// answer until it ends or ctx is cancelled; the channel closes then.
func (h *harness) chatInBackground(ctx context.Context, body string) <-chan struct{} {
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			buf := make([]byte, 1024)
			for {
				if _, err := resp.Body.Read(buf); err != nil {
					break
				}
			}
			resp.Body.Close()
		}
	}()
	return done
}

// TestClientDisconnectCancelsTool checks that a client leaving while a
// tool runs cancels the call on the MCP server.
func TestClientDisconnectCancelsTool(t *testing.T) {
	ss, srv := newSlowServer()
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("slow", srv)},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{}`}))
	ctx, cancel := context.WithCancel(context.Background())
	done := h.chatInBackground(ctx, `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	select {
	case <-ss.started:
	case <-time.After(10 * time.Second):
		t.Fatal("tool never started")
	}
	cancel()
	select {
	case <-ss.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the MCP server never saw the call cancelled")
	}
	<-done
	if n := len(h.up.Requests()); n != 1 {
		t.Errorf("upstream got %d requests after the client left, want 1", n)
	}
}

// TestClientDisconnectCancelsUpstream checks that a client leaving while
// the upstream streams cancels the upstream request.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	// The upstream sends nothing the client would see: a keepalive is the
	// first byte, soon rather than after the default 15 s.
	h := newHarness(t, Options{Keepalive: 50 * time.Millisecond}, nil, llmtest.Hang())
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatalf("no first chunk: %v", err)
	}
	cancel()
	resp.Body.Close()
	reqs := h.up.WaitRequests(1, 5*time.Second)
	select {
	case <-reqs[0].Canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("upstream request not cancelled")
	}
}

// TestMaxRounds checks a model that never stops calling tools is ended
// with a clear final message after max_rounds.
func TestMaxRounds(t *testing.T) {
	var log callLog
	var replies []llmtest.Reply
	for i := 0; i < 10; i++ {
		replies = append(replies, llmtest.ToolCallStream(llmtest.Call{ID: "c", Name: "calc__add", Arguments: `{}`}))
	}
	for _, stream := range []bool{true, false} {
		h := newHarness(t, Options{MaxRounds: 3}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))}, replies...)
		body := `{"model":"m","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"messages":[{"role":"user","content":"x"}]}`
		var content, finish string
		if stream {
			a := h.stream(body)
			content, finish = a.content, a.finish
		} else {
			status, v := h.postJSON(body)
			if status != 200 {
				t.Fatalf("status %d", status)
			}
			ch := v["choices"].([]any)[0].(map[string]any)
			content, finish = ch["message"].(map[string]any)["content"].(string), ch["finish_reason"].(string)
		}
		if !strings.Contains(content, "after 3 rounds") || !strings.Contains(content, "tools.max_rounds") {
			t.Errorf("content %q", content)
		}
		if finish != "stop" {
			t.Errorf("finish %q", finish)
		}
		if n := len(h.up.Requests()); n != 3 {
			t.Errorf("upstream got %d requests, want 3", n)
		}
	}
}

// TestDeadline checks the loop's deadline ends a request whose tools hang.
func TestDeadline(t *testing.T) {
	_, srv := newSlowServer()
	h := newHarness(t, Options{Deadline: 300 * time.Millisecond}, []mcpclient.ServerConfig{inMemory("slow", srv)},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{}`}))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if !strings.Contains(a.content, "tools.deadline") || a.finish != "stop" {
		t.Errorf("content %q finish %q", a.content, a.finish)
	}
}

// TestKeepalive checks comments are sent while tools run.
func TestKeepalive(t *testing.T) {
	_, srv := newSlowServer()
	h := newHarness(t, Options{Keepalive: 50 * time.Millisecond, Display: DisplayNone}, []mcpclient.ServerConfig{inMemory("slow", srv)},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{"ms":400}`}), llmtest.TextStream("ok"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	n := 0
	for _, f := range a.frames {
		if f.comment {
			if f.raw != ": keepalive" {
				t.Errorf("comment %q", f.raw)
			}
			n++
		}
	}
	if n < 2 {
		t.Errorf("%d keepalives in 400 ms at a 50 ms interval", n)
	}
}

// TestConcurrentRequests runs many requests at once through one bridge to
// shake out races (run with -race).
func TestConcurrentRequests(t *testing.T) {
	var log callLog
	var replies []llmtest.Reply
	const n = 20
	for i := 0; i < n; i++ {
		replies = append(replies, llmtest.Completion("hello"))
	}
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))}, replies...)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json",
				strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- resp.Status
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
