package bridge

// Tests of reading the upstream, parsing requests, sampling and defaults,
// written against mutants that survived the suite.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// chunkOf is one upstream chunk with the given delta and finish reason
// ("" for null).
func chunkOf(delta, finish string) string {
	f := "null"
	if finish != "" {
		f = `"` + finish + `"`
	}
	return `{"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":` + delta + `,"finish_reason":` + f + `}]}`
}

// TestStreamedFinishAndContentTogether checks a chunk that carries text
// and the finish reason, or text and tool calls, loses neither.
func TestStreamedFinishAndContentTogether(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Display: DisplayNone}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.Stream(chunkOf(`{"role":"assistant","content":"cut "}`, ""), chunkOf(`{"content":"off"}`, "length")),
		llmtest.Stream(chunkOf(`{"role":"assistant","content":"adding","tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"calc__add","arguments":"{}"}}]}`, "tool_calls")),
		llmtest.TextStream("sum"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "cut off" || a.finish != "length" {
		t.Errorf("content %q finish %q, want \"cut off\" and length", a.content, a.finish)
	}
	b := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if b.content != "adding\n\nsum" || len(log.all()) != 1 {
		t.Errorf("content %q, calls %v", b.content, log.all())
	}
}

// TestEveryReasoningField checks reasoning under each field name is passed
// on, also when one delta carries several.
func TestEveryReasoningField(t *testing.T) {
	h := newHarness(t, Options{}, nil,
		llmtest.Stream(chunkOf(`{"role":"assistant","reasoning_content":"a","reasoning":"b","thinking":"c"}`, ""), chunkOf(`{"content":"done"}`, "stop")),
		llmtest.JSON(200, `{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"done","reasoning_content":"a","reasoning":"b","thinking":"c"},"finish_reason":"stop"}]}`))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	got := map[string]string{}
	for _, f := range a.frames {
		choices, _ := f.data["choices"].([]any)
		for _, c := range choices {
			for _, k := range []string{"reasoning_content", "reasoning", "thinking"} {
				if s, ok := c.(map[string]any)["delta"].(map[string]any)[k].(string); ok {
					got[k] += s
				}
			}
		}
	}
	if got["reasoning_content"] != "a" || got["reasoning"] != "b" || got["thinking"] != "c" {
		t.Errorf("streamed reasoning %v", got)
	}
	_, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	m, _ := message(t, v)
	if m["reasoning_content"] != "a" || m["reasoning"] != "b" || m["thinking"] != "c" || m["content"] != "done" {
		t.Errorf("message %v", m)
	}
}

// TestUpstreamCutMidway checks a stream whose connection breaks (a read
// error, not a clean end) ends the answer with an error event.
func TestUpstreamCutMidway(t *testing.T) {
	cut := func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
		first := "data: " + chunkOf(`{"role":"assistant","content":"partial"}`, "") + "\n\n"
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Length", fmt.Sprint(len(first)+1000)) // more than is sent
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, first)
	}
	h := newHarness(t, Options{}, nil, cut)
	resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	a := collect(t, resp.Body)
	if a.errEvent == nil || !strings.Contains(fmt.Sprint(a.errEvent["message"]), "reading upstream stream") || a.done {
		t.Errorf("error event %v, done %v, frames %v", a.errEvent, a.done, a.frames)
	}
	if a.content != "partial" {
		t.Errorf("content %q", a.content)
	}
}

func TestSnippet(t *testing.T) {
	at := strings.Repeat("x", 200)
	if got := snippet([]byte(" " + at + "\n")); got != `"`+at+`"` {
		t.Errorf("200 bytes: %s", got)
	}
	if got := snippet([]byte(at + "y")); got != `"`+at+`..."` {
		t.Errorf("201 bytes: %s", got)
	}
}

// TestRequestEdgeCases checks requests the parser must read like
// encoding/json would: escaped keys, an empty role, a tool whose function
// is not an object, and the reason a body is not JSON.
func TestRequestEdgeCases(t *testing.T) {
	h := newHarness(t, Options{}, nil, llmtest.Completion("read"))
	status, v := h.postJSON(`{"\u006dodel":"m","m\u0065ssages":[{"role":"user","content":"x"}]}`)
	if status != 200 {
		t.Errorf("escaped keys: %d %v", status, v)
	}
	for _, c := range []struct{ body, param, msg string }{
		{`{"model":"m","messages":[{"role":"","content":"x"}]}`, "messages[0].role", "non-empty string"},
		{`{"model":"m","tools":[{"type":"function","function":"add"}],"messages":[{"role":"user","content":"x"}]}`, "tools[0]", "must be a tool object"},
		{`{"model":"m","messages":[`, "", "unexpected end of JSON input"},
	} {
		status, v := h.postJSON(c.body)
		e, _ := v["error"].(map[string]any)
		if status != 400 || e == nil || !strings.Contains(fmt.Sprint(e["message"]), c.msg) || (c.param != "" && e["param"] != c.param) {
			t.Errorf("%s: %d %v", c.body, status, v)
		}
	}
	for _, body := range []string{
		`{"model":"m","tools":[{"type":"function","function":null}],"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"","messages":[{"role":"user","content":"x"}]}`,
	} {
		if status, v := h.postJSON(body); status == 400 {
			t.Errorf("%s refused: %v", body, v)
		}
	}
}

// TestSamplingAnswer checks the sampling result: the upstream's model, and
// the stop reason mapped from its finish reason.
func TestSamplingAnswer(t *testing.T) {
	answer := func(model, finish string) llmtest.Reply {
		return llmtest.JSON(200, `{"id":"u","object":"chat.completion","created":1,"model":"`+model+`","choices":[{"index":0,"message":{"role":"assistant","content":"sampled"},"finish_reason":"`+finish+`"}]}`)
	}
	h := newHarness(t, Options{}, nil, answer("real", "length"), answer("", "stop"))
	c := &chatCaller{s: h.b, model: "chat-model"}
	//lint:ignore SA1019 sampling is deprecated but still served
	p := &mcp.CreateMessageParams{MaxTokens: 10, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}}
	for _, want := range []struct{ model, stop string }{{"real", "maxTokens"}, {"chat-model", "endTurn"}} {
		res, err := c.CreateMessage(t.Context(), "srv", p)
		if err != nil {
			t.Fatal(err)
		}
		if res.Model != want.model || res.StopReason != want.stop || res.Content.(*mcp.TextContent).Text != "sampled" {
			t.Errorf("result %+v, want model %s stop %s", res, want.model, want.stop)
		}
	}
}

// TestDefaults checks what New puts in place of zero options.
func TestDefaults(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	o := h.b.opts
	if o.MaxRounds != 8 || o.Deadline != 10*time.Minute || o.Display != DisplayStatus || o.Keepalive != 15*time.Second ||
		o.MaxParallel != 8 || o.MaxBodyBytes != 16<<20 || o.PendingTTL != 30*time.Minute {
		t.Errorf("defaults %+v", o)
	}
	if h.b.pending.ttl != 30*time.Minute {
		t.Errorf("pending ttl %v", h.b.pending.ttl)
	}
	if _, err := New(Options{Upstream: o.Upstream, Tools: o.Tools, Display: "fancy"}); err == nil {
		t.Error("an unknown display mode accepted")
	}
}

// versionedTools is a Tools whose tool list the test replaces.
type versionedTools struct {
	version atomic.Uint64
	tools   atomic.Pointer[[]mcpclient.Tool]
}

func (v *versionedTools) Version() uint64                   { return v.version.Load() }
func (v *versionedTools) Servers() []mcpclient.ServerStatus { return nil }
func (v *versionedTools) Call(context.Context, string, json.RawMessage) (*mcpclient.Result, error) {
	return nil, mcpclient.ErrUnknownTool
}
func (v *versionedTools) Tools() []mcpclient.Tool {
	if p := v.tools.Load(); p != nil {
		return *p
	}
	return nil
}

// TestToolCacheFollowsVersion checks the OpenAI tool list is rebuilt when
// the registry's version moves, and only then; and that a tool without a
// description is described by its title.
func TestToolCacheFollowsVersion(t *testing.T) {
	src := &versionedTools{}
	set := func(tools ...mcpclient.Tool) { src.tools.Store(&tools) }
	set(mcpclient.Tool{Name: "a__one", Title: "The one"})
	c := &toolCache{src: src}
	first := c.get(nil)
	if !strings.Contains(string(first.joined), `"description":"The one"`) {
		t.Errorf("title not used as description: %s", first.joined)
	}
	set(mcpclient.Tool{Name: "a__two", Description: "Second", Title: "ignored"})
	if c.get(nil) != first {
		t.Error("rebuilt although the version did not move")
	}
	src.version.Store(1)
	second := c.get(nil)
	if second == first || !strings.Contains(string(second.joined), `"name":"a__two"`) || !strings.Contains(string(second.joined), `"description":"Second"`) {
		t.Errorf("after the version moved: %s", second.joined)
	}
	var defs []map[string]any
	if err := json.Unmarshal(second.joined, &defs); err != nil || len(defs) != 1 {
		t.Errorf("joined tools %s: %v", second.joined, err)
	}
}

// TestHTTPErrors checks errors from the router and middleware are in the
// OpenAI shape with the right type.
func TestHTTPErrors(t *testing.T) {
	h := newHarness(t, Options{APIKeys: []string{"sekrit-key-0123456789"}}, nil)
	for _, c := range []struct {
		method, path, auth string
		status             int
		typ, msg           string
	}{
		{"GET", "/nope", "Bearer sekrit-key-0123456789", 404, "invalid_request_error", "no route for GET /nope"},
		{"GET", "/v1/models", "", 401, "authentication_error", ""},
		{"GET", "/v1/models", "Bearer ", 401, "authentication_error", ""},
	} {
		req, _ := http.NewRequestWithContext(context.Background(), c.method, h.srv.URL+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		e, _ := v["error"].(map[string]any)
		if resp.StatusCode != c.status || e == nil || e["type"] != c.typ || !strings.Contains(fmt.Sprint(e["message"]), c.msg) {
			t.Errorf("%s %s: %d %v", c.method, c.path, resp.StatusCode, v)
		}
	}
}
