package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// calcServer is a real MCP server with a tool "add" that adds a and b,
// recording its calls into log.
func calcServer(log *callLog) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "calc", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "add", Description: "Adds two numbers.\nBoth are required.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"]}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var args map[string]any
			_ = json.Unmarshal(req.Params.Arguments, &args)
			log.add(recorded{Tool: "add", Args: args})
			a, _ := args["a"].(float64)
			b, _ := args["b"].(float64)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprint(a + b)}}}, nil
		})
	return s
}

// builtinChat is a chat request to the built-in model saying text.
func builtinChat(stream bool, text string) string {
	t, _ := json.Marshal(text)
	return fmt.Sprintf(`{"model":%q,"stream":%v,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":%s}]}`,
		BuiltinModel, stream, t)
}

// TestBuiltinModelCallsTool checks that "/calc__add {...}" runs the real
// tool once through the loop, with no upstream request, and that the
// answer is its result, with status events and the usage of both rounds.
func TestBuiltinModelCallsTool(t *testing.T) {
	// A call's estimate: len("calc__add")+len(`{"a":2,"b":3}`) = 22 bytes,
	// 5 tokens; the answer "5": 1 token.
	const wantCompletion = 5 + 1
	t.Run("stream", func(t *testing.T) {
		var log callLog
		h := newHarness(t, Options{Display: DisplayStatus}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log))})
		a := h.stream(builtinChat(true, `/calc__add {"a":2,"b":3}`))
		if a.content != "5" || a.finish != "stop" {
			t.Errorf("content %q, finish %q", a.content, a.finish)
		}
		if calls := log.all(); len(calls) != 1 || !reflect.DeepEqual(calls[0].Args, map[string]any{"a": 2.0, "b": 3.0}) {
			t.Errorf("calls %v", calls)
		}
		if len(a.statuses) != 2 || !strings.Contains(fmt.Sprint(a.statuses[0]), "calc__add") || a.statuses[1]["data"].(map[string]any)["done"] != true {
			t.Errorf("statuses %v", a.statuses)
		}
		if a.usage == nil || a.usage["completion_tokens"] != float64(wantCompletion) || a.usage["prompt_tokens"].(float64) < 2 ||
			a.usage["total_tokens"] != a.usage["prompt_tokens"].(float64)+wantCompletion {
			t.Errorf("usage %v", a.usage)
		}
		for _, f := range a.frames {
			if f.data != nil && f.data["model"] != BuiltinModel {
				t.Errorf("model %v in %q", f.data["model"], f.raw)
			}
		}
		if n := len(h.up.Requests()); n != 0 {
			t.Errorf("the upstream got %d requests", n)
		}
	})
	t.Run("json", func(t *testing.T) {
		var log callLog
		h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log))})
		status, v := h.postJSON(builtinChat(false, `/calc__add {"a":2,"b":3}`))
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, v)
		}
		ch := v["choices"].([]any)[0].(map[string]any)
		if ch["message"].(map[string]any)["content"] != "5" || ch["finish_reason"] != "stop" || v["model"] != BuiltinModel {
			t.Errorf("answer %v", v)
		}
		u := v["usage"].(map[string]any)
		if u["completion_tokens"] != float64(wantCompletion) {
			t.Errorf("usage %v", u)
		}
		mc := v["mcp_tool_calls"].([]any)
		if len(mc) != 1 || mc[0].(map[string]any)["name"] != "calc__add" {
			t.Errorf("mcp_tool_calls %v", mc)
		}
		if calls := log.all(); len(calls) != 1 {
			t.Errorf("calls %v", calls)
		}
		if n := len(h.up.Requests()); n != 0 {
			t.Errorf("the upstream got %d requests", n)
		}
	})
}

// TestBuiltinModelShortNameAndParts checks that a tool's short name is
// enough when unique, that text parts are read, and that no arguments
// mean {}.
func TestBuiltinModelShortNameAndParts(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log)), inMemory("rec", recordingServer(&log, "echo"))})
	a := h.stream(fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"/add{\"a\":1,\"b\":1}"}]}]}`, BuiltinModel))
	if a.content != "2" {
		t.Errorf("content %q", a.content)
	}
	b := h.stream(builtinChat(true, "/rec__echo"))
	if b.content != "echo got {}" {
		t.Errorf("content %q", b.content)
	}
	if calls := log.all(); len(calls) != 2 {
		t.Errorf("calls %v", calls)
	}
}

// TestBuiltinModelHelp checks the help text: what the model is, its
// syntax and the tools with the first line of their description; and the
// sentence when there are no tools.
func TestBuiltinModelHelp(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log)), inMemory("rec", recordingServer(&log, "echo"))})
	for _, say := range []string{"hello", "/help", "  "} {
		a := h.stream(builtinChat(true, say))
		for _, want := range []string{BuiltinModel, "/TOOL {JSON arguments}", "for example `/calc__add {}`", "Tools (2):", "- `calc__add`: Adds two numbers.\n", "- `rec__echo`: records echo\n"} {
			if !strings.Contains(a.content, want) {
				t.Errorf("%q: help lacks %q:\n%s", say, want, a.content)
			}
		}
		if strings.Contains(a.content, "Both are required") || strings.Contains(a.content, "no tool named") || a.finish != "stop" {
			t.Errorf("%q: help %q, finish %q", say, a.content, a.finish)
		}
	}
	if calls := log.all(); len(calls) != 0 {
		t.Errorf("calls %v", calls)
	}

	empty := newHarness(t, Options{}, nil)
	a := empty.stream(builtinChat(true, "hello"))
	if !strings.Contains(a.content, "No tools are configured") || !strings.Contains(a.content, "mcpServers") ||
		!strings.Contains(a.content, "for example `/everything__echo {\"message\":\"hi\"}`") {
		t.Errorf("help without tools: %q", a.content)
	}
}

// TestBuiltinModelHelpBounded checks that the help text lists at most 50
// tools and counts the rest.
func TestBuiltinModelHelpBounded(t *testing.T) {
	var tools []*builtinTool
	for i := range 60 {
		bt := &builtinTool{}
		bt.Function.Name = fmt.Sprintf("s__t%02d", i)
		bt.Function.Description = strings.Repeat("x", 300)
		tools = append(tools, bt)
	}
	h := helpText(tools, "")
	if n := strings.Count(h, "\n- `s__t"); n != 50 {
		t.Errorf("%d tools listed", n)
	}
	if !strings.Contains(h, "Tools (60):") || !strings.Contains(h, "- ... and 10 more\n") || strings.Contains(h, "s__t50") {
		t.Errorf("help:\n%s", h)
	}
	if !strings.Contains(h, "`s__t00`: "+strings.Repeat("x", 120)+"...\n") {
		t.Errorf("description not cut:\n%s", h[:400])
	}
}

// TestBuiltinModelBadArguments checks that arguments that are not a JSON
// object get an explanation and no call.
func TestBuiltinModelBadArguments(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log))})
	cases := []struct{ say, want string }{
		{`/calc__add {"a":`, "not valid JSON: unexpected end of JSON input"},
		{`/calc__add {a:1}`, "not valid JSON: invalid character 'a'"},
		{`/calc__add [1]`, "must be a JSON object, got an array"},
		{`/calc__add 3`, "must be a JSON object, got a number"},
	}
	for _, c := range cases {
		for _, stream := range []bool{true, false} {
			var content, finish string
			if stream {
				a := h.stream(builtinChat(true, c.say))
				content, finish = a.content, a.finish
			} else {
				_, v := h.postJSON(builtinChat(false, c.say))
				ch := v["choices"].([]any)[0].(map[string]any)
				content, finish = ch["message"].(map[string]any)["content"].(string), ch["finish_reason"].(string)
			}
			for _, want := range []string{"The arguments of `calc__add` were not used", c.want, `/calc__add {"name": "value"}`, `"required":["a","b"]`} {
				if !strings.Contains(content, want) {
					t.Errorf("%s (stream %v): answer lacks %q:\n%s", c.say, stream, want, content)
				}
			}
			if finish != "stop" {
				t.Errorf("finish %q", finish)
			}
		}
	}
	if calls := log.all(); len(calls) != 0 {
		t.Errorf("calls %v", calls)
	}
}

// TestBuiltinModelUnknownTool checks that a name no tool has, or a short
// name several tools have, gets the help text with a note and no call.
func TestBuiltinModelUnknownTool(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("a", recordingServer(&log, "add")), inMemory("b", recordingServer(&log, "add"))})
	a := h.stream(builtinChat(true, `/nope {"x":1}`))
	if !strings.HasPrefix(a.content, "There is no tool named `nope`.\n\n") || !strings.Contains(a.content, "Tools (2):") {
		t.Errorf("unknown tool: %q", a.content)
	}
	b := h.stream(builtinChat(true, `/add {}`))
	if !strings.HasPrefix(b.content, "`add` could be any of `a__add`, `b__add`: give the whole name.") || !strings.Contains(b.content, "Tools (2):") {
		t.Errorf("ambiguous tool: %q", b.content)
	}
	if calls := log.all(); len(calls) != 0 {
		t.Errorf("calls %v", calls)
	}
}

// TestBuiltinModelClientTool checks that a client's own tool named by the
// command is returned to the client, as the loop does for any model.
func TestBuiltinModelClientTool(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log))})
	a := h.stream(fmt.Sprintf(`{"model":%q,"stream":true,"tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"}}}],`+
		`"messages":[{"role":"user","content":"/get_time {\"tz\":\"UTC\"}"}]}`, BuiltinModel))
	if a.finish != "tool_calls" || len(a.toolCalls) == 0 {
		t.Fatalf("finish %q, calls %v", a.finish, a.toolCalls)
	}
	fn := a.toolCalls[0].(map[string]any)["function"].(map[string]any)
	if fn["name"] != "get_time" || fn["arguments"] != `{"tz":"UTC"}` {
		t.Errorf("call %v", fn)
	}
	// The client answers with its result; the model says it.
	b := h.stream(fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"/get_time"},`+
		`{"role":"assistant","tool_calls":[{"id":"k1","type":"function","function":{"name":"get_time","arguments":"{}"}}]},`+
		`{"role":"tool","tool_call_id":"k1","content":[{"type":"text","text":"noon"}]}]}`, BuiltinModel))
	if b.content != "noon" || b.finish != "stop" {
		t.Errorf("content %q, finish %q", b.content, b.finish)
	}
}

// deadUpstream returns a client of an upstream that refuses connections.
func deadUpstream(t *testing.T) *llm.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/v1"
	ln.Close()
	client, err := llm.NewClient(llm.Options{BaseURL: dead, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// listModels returns the ids /v1/models lists, and its status.
func listModels(t *testing.T, url string) (int, []string) {
	t.Helper()
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Object string      `json:"object"`
		Data   []llm.Model `json:"data"`
	}
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("models: %s", data)
	}
	var ids []string
	for _, m := range v.Data {
		ids = append(ids, m.ID)
		if m.ID == BuiltinModel && (m.OwnedBy != "mcp-bridge" || m.Object != "model" || m.Created == 0) {
			t.Errorf("built-in model entry %+v", m)
		}
	}
	if resp.StatusCode == http.StatusOK && v.Object != "list" {
		t.Errorf("object %q", v.Object)
	}
	return resp.StatusCode, ids
}

// TestBuiltinModelListed checks /v1/models lists the built-in model after
// the upstream's, and alone when the upstream is down, where it still
// answers chats.
func TestBuiltinModelListed(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	h.up.SetModels("llama3", "qwen3")
	if status, ids := listModels(t, h.srv.URL); status != 200 || !reflect.DeepEqual(ids, []string{"llama3", "qwen3", BuiltinModel}) {
		t.Errorf("models %d %v", status, ids)
	}

	var log callLog
	reg := mcpclient.NewRegistry([]mcpclient.ServerConfig{inMemory("calc", calcServer(&log))}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg.Start(ctx)
	defer reg.Close()
	if err := reg.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	b, err := New(Options{Upstream: deadUpstream(t), Tools: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	for range 3 {
		if status, ids := listModels(t, srv.URL); status != 200 || !reflect.DeepEqual(ids, []string{BuiltinModel}) {
			t.Errorf("models with the upstream down: %d %v", status, ids)
		}
	}
	// Clients poll /v1/models: the warning is said once, not per poll.
	if n := strings.Count(logs.String(), "did not list its models"); n != 1 {
		t.Errorf("%d warnings for 3 polls: %s", n, logs.String())
	}
	dh := &harness{t: t, srv: srv}
	if a := dh.stream(builtinChat(true, `/calc__add {"a":40,"b":2}`)); a.content != "42" {
		t.Errorf("chat with the upstream down: %q", a.content)
	}
	if status, v := dh.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != http.StatusBadGateway {
		t.Errorf("another model with the upstream down: %d %v", status, v)
	}
}

// TestBuiltinModelDisabled checks that with DisableBuiltinModel the model
// is not listed and its requests reach the upstream.
func TestBuiltinModelDisabled(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{DisableBuiltinModel: true}, []mcpclient.ServerConfig{inMemory("calc", calcServer(&log))},
		llmtest.TextStream("from upstream"))
	h.up.SetModels("llama3")
	if status, ids := listModels(t, h.srv.URL); status != 200 || !reflect.DeepEqual(ids, []string{"llama3"}) {
		t.Errorf("models %d %v", status, ids)
	}
	a := h.stream(builtinChat(true, `/calc__add {"a":2,"b":3}`))
	if a.content != "from upstream" {
		t.Errorf("content %q", a.content)
	}
	reqs := h.up.Requests()
	if len(reqs) != 1 || string(reqs[0].Fields["model"]) != `"`+BuiltinModel+`"` {
		t.Errorf("upstream requests %v", reqs)
	}
	if calls := log.all(); len(calls) != 0 {
		t.Errorf("calls %v", calls)
	}

	reg := mcpclient.NewRegistry(nil, nil)
	b, err := New(Options{Upstream: deadUpstream(t), Tools: reg, DisableBuiltinModel: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	if status, _ := listModels(t, srv.URL); status != http.StatusBadGateway {
		t.Errorf("models with the upstream down: %d", status)
	}
}

// TestBuiltinModelWire checks raw details of the built-in model's answers
// that a decoder would hide: the tool call's head then its arguments, an
// empty finish delta, a usage chunk with "choices":[], [DONE] last.
func TestBuiltinModelWire(t *testing.T) {
	body := `{"model":"mcp-bridge/tools","stream":true,"stream_options":{"include_usage":true},` +
		`"tools":[{"type":"function","function":{"name":"calc__add","description":"Adds."}}],` +
		`"messages":[{"role":"user","content":"/calc__add {\"a\":1}"}]}`
	resp, err := builtinModel{}.ChatCompletionsBuffers(context.Background(), net.Buffers{[]byte(body[:20]), []byte(body[20:])})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("response %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	data, _ := io.ReadAll(resp.Body)
	frames := strings.Split(strings.TrimSuffix(string(data), "\n\n"), "\n\n")
	if len(frames) != 6 {
		t.Fatalf("%d frames:\n%s", len(frames), data)
	}
	wants := []string{
		`"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]`,
		`"delta":{"tool_calls":[{"index":0,"id":"call_`,
		`"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":1}"}}]},"finish_reason":null`,
		`"delta":{},"finish_reason":"tool_calls"`,
		`"choices":[],"usage":{"prompt_tokens":` + fmt.Sprint(len(body)/4) + `,"completion_tokens":4,"total_tokens":` + fmt.Sprint(len(body)/4+4) + `}`,
		`data: [DONE]`,
	}
	for i, w := range wants {
		if !strings.Contains(frames[i], w) {
			t.Errorf("frame %d = %s\nwant it to contain %s", i, frames[i], w)
		}
		if i < 5 && !strings.Contains(frames[i], `"model":"mcp-bridge/tools"`) {
			t.Errorf("frame %d has no model: %s", i, frames[i])
		}
	}
	if !strings.Contains(frames[1], `"type":"function","function":{"name":"calc__add","arguments":""}`) {
		t.Errorf("tool call head %s", frames[1])
	}

	resp, err = builtinModel{}.ChatCompletionsBuffers(context.Background(), net.Buffers{[]byte(strings.Replace(body, `"stream":true`, `"stream":false`, 1))})
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(resp.Body)
	c, err := llm.ParseCompletion(data)
	if err != nil || resp.Header.Get("Content-Type") != "application/json" || len(c.Choices) != 1 || c.Choices[0].FinishReason != "tool_calls" ||
		len(c.Choices[0].Message.ToolCalls) != 1 || c.Choices[0].Message.ToolCalls[0].Arguments != `{"a":1}` || c.Object != "chat.completion" {
		t.Errorf("completion %s (%v)", data, err)
	}
}

func TestParseCommand(t *testing.T) {
	cases := []struct {
		in, name, args string
		ok             bool
	}{
		{`/calc__add {"a":1}`, "calc__add", `{"a":1}`, true},
		{"  /calc__add\n{\"a\":1}  ", "calc__add", `{"a":1}`, true},
		{`/calc__add{"a":1}`, "calc__add", `{"a":1}`, true},
		{`/calc__add[1]`, "calc__add", `[1]`, true},
		{`/now`, "now", "", true},
		{`/`, "", "", false},
		{`/ x`, "", "", false},
		{`hello /x`, "", "", false},
		{``, "", "", false},
	}
	for _, c := range cases {
		name, args, ok := parseCommand(c.in)
		if name != c.name || args != c.args || ok != c.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %v", c.in, name, args, ok)
		}
	}
}

// TestToolResults checks the answer after a tool round: the tool messages
// after the last assistant message, joined.
func TestToolResults(t *testing.T) {
	msgs := []builtinMessage{
		{Role: "user", Content: json.RawMessage(`"/x"`)},
		{Role: "assistant"},
		{Role: "tool", Content: json.RawMessage(`"old"`)},
		{Role: "assistant"},
		{Role: "tool", Content: json.RawMessage(`"one"`)},
		{Role: "tool", Content: json.RawMessage(`[{"type":"text","text":"two"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"three"}]`)},
	}
	if got := toolResults(msgs); got != "one\n\ntwo\nthree" {
		t.Errorf("toolResults = %q", got)
	}
}
