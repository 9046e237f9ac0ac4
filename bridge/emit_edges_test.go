package bridge

// Tests of what the answer looks like on the wire, written against mutants
// of emit.go, display.go and errors.go that survived the suite.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// flushCounter is a ResponseWriter that counts flushes and what had been
// written at each.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushedAt []int // body length at each flush
}

func (f *flushCounter) Flush() { f.flushedAt = append(f.flushedAt, f.Body.Len()) }

// TestSSEWriterFlushes checks every event is flushed as it is written, and
// that a batch is flushed once, at its end, with its first bytes flushed at
// once when they are the answer's first.
func TestSSEWriterFlushes(t *testing.T) {
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	s := newSSEWriter(w, "chatcmpl-1", 1, "m", false)
	if err := s.content("a"); err != nil {
		t.Fatal(err)
	}
	if len(w.flushedAt) != 1 || w.flushedAt[0] != w.Body.Len() {
		t.Fatalf("after one event: flushes at %v, body %d bytes", w.flushedAt, w.Body.Len())
	}
	s.startBatch()
	_ = s.content("b")
	_ = s.content("c")
	if len(w.flushedAt) != 1 {
		t.Fatalf("flushed inside a batch: %v", w.flushedAt)
	}
	if err := s.endBatch(); err != nil {
		t.Fatal(err)
	}
	if len(w.flushedAt) != 2 || w.flushedAt[1] != w.Body.Len() {
		t.Fatalf("after the batch: flushes at %v, body %d bytes", w.flushedAt, w.Body.Len())
	}
	if err := s.endBatch(); err != nil || len(w.flushedAt) != 2 {
		t.Fatalf("an empty batch flushed: %v %v", err, w.flushedAt)
	}

	w2 := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	s2 := newSSEWriter(w2, "chatcmpl-2", 1, "m", false)
	s2.startBatch()
	_ = s2.content("first")
	if len(w2.flushedAt) != 1 {
		t.Fatalf("the answer's first bytes waited for the batch: %v", w2.flushedAt)
	}
}

// TestSSEWriterKeepalive checks the timer writes a comment only when the
// answer was idle, and nothing once it is closed.
func TestSSEWriterKeepalive(t *testing.T) {
	w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
	s := newSSEWriter(w, "chatcmpl-1", 1, "m", false)
	s.interval = time.Hour
	s.timer = time.AfterFunc(time.Hour, func() {})
	s.lastSend = time.Now()
	s.keepalive() // not idle for an interval: nothing written
	if w.Body.Len() != 0 {
		t.Fatalf("keepalive while busy: %q", w.Body.String())
	}
	s.lastSend = time.Now().Add(-2 * time.Hour)
	s.keepalive()
	if w.Body.String() != ": keepalive\n\n" || len(w.flushedAt) != 1 {
		t.Fatalf("idle: body %q, flushes %v", w.Body.String(), w.flushedAt)
	}
	s.close()
	s.lastSend = time.Now().Add(-2 * time.Hour)
	s.keepalive()
	if w.Body.String() != ": keepalive\n\n" {
		t.Fatalf("keepalive after close: %q", w.Body.String())
	}
}

// TestSSEWriterTimer checks when the keepalive timer exists and that
// closing the answer stops it.
func TestSSEWriterTimer(t *testing.T) {
	for _, interval := range []time.Duration{0, -time.Second} {
		s := newSSEWriter(httptest.NewRecorder(), "chatcmpl-1", 1, "m", false)
		s.startKeepalive(interval)
		if s.timer != nil {
			t.Errorf("interval %v started a timer", interval)
		}
		s.close() // no timer to stop
		s.close()
	}
	s := newSSEWriter(httptest.NewRecorder(), "chatcmpl-1", 1, "m", false)
	s.startKeepalive(time.Hour)
	if s.timer == nil {
		t.Fatal("no timer")
	}
	s.close()
	if s.timer.Stop() {
		t.Error("close left the timer running")
	}
}

// TestAppendJSONStringBytes checks the exact bytes, where decoding would
// hide a difference: what needs no escape is written as it is, and no
// invalid UTF-8 reaches the wire.
func TestAppendJSONStringBytes(t *testing.T) {
	for in, want := range map[string]string{
		" ~":         `" ~"`,
		"\x1f\x20":   `"\u001f "`,
		"a\x7fb":     "\"a\x7fb\"",
		"\x80":       `"\ufffd"`,
		"é\xc3(":     `"é\ufffd("`,
		"日本\u2028":   `"日本\u2028"`,
		"q\"b\\\n\t": `"q\"b\\\n\t"`,
	} {
		if got := string(appendJSONString(nil, in)); got != want {
			t.Errorf("%q encodes to %s, want %s", in, got, want)
		}
	}
}

// TestDescriptions checks the status texts exactly.
func TestDescriptions(t *testing.T) {
	one := []llm.ToolCall{{Name: "calc__add"}}
	two := []llm.ToolCall{{Name: "calc__add"}, {Name: "fs__read"}}
	if got := runningDescription(one); got != "Running calc__add" {
		t.Errorf("one call: %q", got)
	}
	if got := runningDescription(two); got != "Running 2 tools: calc__add, fs__read" {
		t.Errorf("two calls: %q", got)
	}
	ok := []toolOutcome{{call: two[0]}, {call: two[1]}}
	if got := doneDescription(ok); got != "Used calc__add, fs__read" {
		t.Errorf("none failed: %q", got)
	}
	ok[1].isError = true
	if got := doneDescription(ok); got != "Used calc__add, fs__read (1 failed)" {
		t.Errorf("one failed: %q", got)
	}
}

// TestUpstreamModelShown checks the answer names the model the upstream
// says answered, streaming or not, rather than the one asked for.
func TestUpstreamModelShown(t *testing.T) {
	h := newHarness(t, Options{}, nil,
		llmtest.Stream(
			`{"id":"u","object":"chat.completion.chunk","created":1,"model":"real-model","choices":[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]}`,
			`{"id":"u","object":"chat.completion.chunk","created":1,"model":"real-model","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`),
		llmtest.JSON(200, `{"id":"u","object":"chat.completion","created":1,"model":"real-model","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}`),
		llmtest.JSON(200, `{"id":"u","object":"chat.completion","created":1,"model":"","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}]}`))
	a := h.stream(`{"model":"alias","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	for _, f := range a.frames {
		if f.data != nil && f.data["model"] != "real-model" {
			t.Errorf("chunk model %v in %q", f.data["model"], f.raw)
		}
	}
	if a.content != "hello" {
		t.Errorf("content %q", a.content)
	}
	if _, v := h.postJSON(`{"model":"alias","messages":[{"role":"user","content":"x"}]}`); v["model"] != "real-model" {
		t.Errorf("non-streaming model %v", v["model"])
	}
	if _, v := h.postJSON(`{"model":"alias","messages":[{"role":"user","content":"x"}]}`); v["model"] != "alias" {
		t.Errorf("an upstream naming no model: model %v, want the one asked for", v["model"])
	}
}

// message returns the first choice's message and finish reason of a
// non-streaming answer.
func message(t *testing.T, v map[string]any) (map[string]any, any) {
	t.Helper()
	choices, ok := v["choices"].([]any)
	if !ok || len(choices) != 1 {
		t.Fatalf("choices %v", v["choices"])
	}
	ch := choices[0].(map[string]any)
	return ch["message"].(map[string]any), ch["finish_reason"]
}

// TestNonStreamingMessageShape checks content, refusal and tool_calls of a
// non-streaming answer: content is null only when the model called tools
// without text, refusal is null unless there is one, and tool calls carry
// no stream index.
func TestNonStreamingMessageShape(t *testing.T) {
	clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
	withText := `{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"let me ask","tool_calls":[{"id":"k1","type":"function","function":{"name":"ask_user","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`
	refusal := `{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I will not"},"finish_reason":"stop"}]}`
	empty := `{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}`
	h := newHarness(t, Options{}, nil,
		llmtest.ToolCallCompletion(llmtest.Call{ID: "k1", Name: "ask_user", Arguments: `{"q":1}`}),
		llmtest.JSON(200, withText), llmtest.JSON(200, refusal), llmtest.JSON(200, empty), llmtest.Completion("plain"))
	body := `{"model":"m","tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"}]}`

	_, v := h.postJSON(body)
	m, finish := message(t, v)
	if c, ok := m["content"]; !ok || c != nil || finish != "tool_calls" {
		t.Errorf("tool calls without text: content %v (present %v), finish %v", c, ok, finish)
	}
	calls, _ := m["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("tool_calls %v", m["tool_calls"])
	}
	tc := calls[0].(map[string]any)
	if _, hasIndex := tc["index"]; hasIndex || tc["id"] != "k1" || tc["type"] != "function" ||
		tc["function"].(map[string]any)["name"] != "ask_user" || tc["function"].(map[string]any)["arguments"] != `{"q":1}` {
		t.Errorf("tool call %v", tc)
	}
	if r, ok := m["refusal"]; !ok || r != nil {
		t.Errorf("refusal %v (present %v), want null", r, ok)
	}

	_, v = h.postJSON(body)
	if m, _ := message(t, v); m["content"] != "let me ask" || len(m["tool_calls"].([]any)) != 1 {
		t.Errorf("tool calls with text: %v", m)
	}
	_, v = h.postJSON(body)
	if m, _ := message(t, v); m["refusal"] != "I will not" || m["content"] != "" {
		t.Errorf("refusal: %v", m)
	}
	_, v = h.postJSON(body)
	if m, _ := message(t, v); m["content"] != "" || m["tool_calls"] != nil {
		t.Errorf("empty answer: content %v, tool_calls %v", m["content"], m["tool_calls"])
	}
	_, v = h.postJSON(body)
	if m, _ := message(t, v); m["content"] != "plain" {
		t.Errorf("plain answer: %v", m)
	}
}

// TestStreamedRefusal checks a refusal delta reaches the client as one,
// and that what shares its chunk or message is not lost.
func TestStreamedRefusal(t *testing.T) {
	h := newHarness(t, Options{}, nil, llmtest.Stream(
		`{"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","refusal":"I will not"},"finish_reason":"content_filter"}]}`),
		llmtest.JSON(200, `{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"only this","refusal":"not that"},"finish_reason":"stop"}]}`))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	var got string
	for _, f := range a.frames {
		choices, _ := f.data["choices"].([]any) // nil for comments and [DONE]
		for _, c := range choices {
			if r, ok := c.(map[string]any)["delta"].(map[string]any)["refusal"].(string); ok {
				got += r
			}
		}
	}
	if got != "I will not" || a.finish != "content_filter" {
		t.Errorf("refusal %q finish %q", got, a.finish)
	}
	_, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if m, _ := message(t, v); m["refusal"] != "not that" || m["content"] != "only this" {
		t.Errorf("refusal with content: %v", m)
	}
}

// TestUpstreamErrorTypeAndCode checks the type and code of an upstream
// error reach the client, and what stands in for them when it sent none.
func TestUpstreamErrorTypeAndCode(t *testing.T) {
	h := newHarness(t, Options{}, nil,
		llmtest.JSON(401, map[string]any{"error": map[string]any{"message": "bad key", "type": "invalid_request_error", "code": "invalid_api_key"}}),
		llmtest.JSON(429, map[string]any{"error": map[string]any{"message": "slow down"}}))
	body := `{"model":"m","messages":[{"role":"user","content":"x"}]}`
	_, v := h.postJSON(body)
	e := v["error"].(map[string]any)
	if e["type"] != "invalid_request_error" || e["code"] != "invalid_api_key" {
		t.Errorf("with type and code: %v", e)
	}
	_, v = h.postJSON(body)
	e = v["error"].(map[string]any)
	if code, ok := e["code"]; e["type"] != "upstream_error" || !ok || code != nil {
		t.Errorf("without type and code: %v", e)
	}
}

// logBuffer is a log a test reads, safe for concurrent use.
type logBuffer struct{ syncbuf.Buffer }

// logger is a text logger into l at debug level.
func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestClientGoneIsNotAFailure checks a client that leaves is logged as
// such at debug level, not as a failed request.
func TestClientGoneIsNotAFailure(t *testing.T) {
	var logs logBuffer
	h := newHarness(t, Options{Logger: logs.logger(), Keepalive: 50 * time.Millisecond}, nil, llmtest.Hang())
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 64)); err != nil {
		t.Fatalf("no first byte: %v", err)
	}
	cancel()
	resp.Body.Close()
	h.srv.Close() // waits for the handler
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG msg=\"client went away\"") || strings.Contains(out, "chat request failed") {
		t.Errorf("logs:\n%s", out)
	}
}

// TestToolFailureLogged checks a tool call that fails is logged with its
// tool and server, its error redacted, while the model reads the error
// without the secret either.
func TestToolFailureLogged(t *testing.T) {
	var logs logBuffer
	s := mcp.NewServer(&mcp.Implementation{Name: "leaky", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "boom", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return nil, fmt.Errorf("token sekrit-token-123 rejected")
		})
	h := newHarness(t, Options{Logger: logs.logger(), Secrets: []string{"sekrit-token-123"}}, []mcpclient.ServerConfig{inMemory("leaky", s)},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "leaky__boom", Arguments: `{}`}), llmtest.TextStream("ok"))
	if a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); a.content != "ok" {
		t.Fatalf("content %q", a.content)
	}
	msgs := h.up.Requests()[1].ToolMessages()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0]["content"].(string), "Error: ") || !strings.Contains(msgs[0]["content"].(string), "rejected") {
		t.Fatalf("tool message %v", msgs)
	}
	out := logs.String()
	if !strings.Contains(out, `msg="tool call failed" tool=leaky__boom server=leaky`) {
		t.Errorf("no warning for the failed call:\n%s", out)
	}
	for _, where := range []string{out, fmt.Sprint(msgs)} {
		if strings.Contains(where, "sekrit-token-123") {
			t.Errorf("secret leaked: %s", where)
		}
	}
}
