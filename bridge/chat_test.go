package bridge

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// fixtureServers serve every tool the upstream transcripts call, as real
// MCP servers recording into log.
func fixtureServers(log *callLog) []mcpclient.ServerConfig {
	return []mcpclient.ServerConfig{
		inMemory("calc", recordingServer(log, "add")),
		inMemory("weather", recordingServer(log, "get_current_weather", "get_weather")),
		inMemory("time", recordingServer(log, "now")),
		inMemory("fs", recordingServer(log, "read_file")),
	}
}

// TestTranscripts replays every upstream transcript: the calls in its
// "# want:" line run against real MCP sessions, their results go back
// upstream under the right ids, and the loop completes.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("../llm/testdata/upstream/*.sse")
	if err != nil || len(files) < 7 {
		t.Fatalf("transcripts: %v, %d found", err, len(files))
	}
	for _, file := range files {
		for _, stream := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/stream=%v", filepath.Base(file), stream), func(t *testing.T) {
				body, want, err := llmtest.LoadTranscript(file)
				if err != nil {
					t.Fatal(err)
				}
				var log callLog
				replies := []llmtest.Reply{llmtest.SSE(body)}
				if len(want) > 0 {
					replies = append(replies, llmtest.TextStream("All ", "done."))
				}
				h := newHarness(t, Options{}, fixtureServers(&log), replies...)
				req := fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"go"}]}`, stream)

				var content string
				if stream {
					a := h.stream(req)
					content = a.content
					if a.finish != "stop" {
						t.Errorf("finish = %q", a.finish)
					}
				} else {
					status, v := h.postJSON(req)
					if status != 200 {
						t.Fatalf("status %d: %v", status, v)
					}
					msg := v["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
					content, _ = msg["content"].(string)
					if n := len(v["mcp_tool_calls"].([]any)); n != len(want) {
						t.Errorf("mcp_tool_calls has %d entries, want %d", n, len(want))
					}
				}

				calls := log.all()
				if len(calls) != len(want) {
					t.Fatalf("MCP servers got %d calls, want %d: %+v", len(calls), len(want), calls)
				}
				reqs := h.up.Requests()
				if len(want) == 0 {
					if len(reqs) != 1 {
						t.Fatalf("upstream got %d requests, want 1", len(reqs))
					}
					if !strings.Contains(content, "Hello!") {
						t.Errorf("content = %q", content)
					}
					return
				}
				if len(reqs) != 2 {
					t.Fatalf("upstream got %d requests, want 2", len(reqs))
				}
				toolMsgs := reqs[1].ToolMessages()
				if len(toolMsgs) != len(want) {
					t.Fatalf("second request has %d tool messages, want %d", len(toolMsgs), len(want))
				}
				for i, w := range want {
					_, tool, _ := strings.Cut(w.Name, "__")
					var wantArgs map[string]any
					if err := json.Unmarshal([]byte(w.Arguments), &wantArgs); err != nil {
						t.Fatal(err)
					}
					if calls[i].Tool != tool && !containsCall(calls, tool, wantArgs) {
						t.Errorf("call %d: tool %q, want %q", i, calls[i].Tool, tool)
					}
					if !containsCall(calls, tool, wantArgs) {
						t.Errorf("no call of %s with %v among %+v", tool, wantArgs, calls)
					}
					m := toolMsgs[i]
					if m["tool_call_id"] != w.ID {
						t.Errorf("tool message %d answers %v, want %q", i, m["tool_call_id"], w.ID)
					}
					if c, _ := m["content"].(string); !strings.HasPrefix(c, tool+" got ") {
						t.Errorf("tool message %d content = %q", i, c)
					}
				}
				// The assistant message that asked for the calls precedes them.
				msgs := reqs[1].Messages()
				asst := msgs[len(msgs)-len(want)-1]
				if asst["role"] != "assistant" || len(asst["tool_calls"].([]any)) != len(want) {
					t.Errorf("assistant message = %v", asst)
				}
				if !strings.Contains(content, "All done.") {
					t.Errorf("content = %q", content)
				}
			})
		}
	}
}

func containsCall(calls []recorded, tool string, args map[string]any) bool {
	for _, c := range calls {
		if c.Tool == tool && reflect.DeepEqual(c.Args, args) {
			return true
		}
	}
	return false
}

// TestPassThrough checks that a request that uses no tools reaches the
// upstream as sent, plus only the injected tools (and, when streaming,
// the usage request).
func TestPassThrough(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.Completion("hi"), llmtest.TextStream("hi"))

	sent := `{"model":"llama3","messages":[{"role":"user","content":"hi"}],"temperature":0,"top_k":40,"min_p":0.05,"stop":"\n","x_vendor":{"a":[1,2.50,"z"]},"seed":0}`
	status, _ := h.postJSON(sent)
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	got := h.up.Requests()[0].Body
	var tools json.RawMessage
	want := map[string]json.RawMessage{}
	if err := json.Unmarshal([]byte(sent), &want); err != nil {
		t.Fatal(err)
	}
	var gotFields map[string]json.RawMessage
	if err := json.Unmarshal(got, &gotFields); err != nil {
		t.Fatal(err)
	}
	tools = gotFields["tools"]
	delete(gotFields, "tools")
	for k, v := range want {
		if string(gotFields[k]) != string(v) {
			t.Errorf("field %s: upstream got %s, client sent %s", k, gotFields[k], v)
		}
	}
	if len(gotFields) != len(want) {
		t.Errorf("upstream got fields %v, want %v", keys(gotFields), keys(want))
	}
	// Byte for byte: the client's body with ,"tools":[...] appended.
	if wantBody := sent[:len(sent)-1] + `,"tools":` + string(tools) + `}`; string(got) != wantBody {
		t.Errorf("upstream body\n got %s\nwant %s", got, wantBody)
	}
	var defs []map[string]any
	if err := json.Unmarshal(tools, &defs); err != nil || len(defs) != 1 || defs[0]["function"].(map[string]any)["name"] != "calc__add" {
		t.Errorf("injected tools = %s", tools)
	}

	streamed := `{"model":"llama3","stream":true,"messages":[{"role":"user","content":"hi"}],"temperature":0,"stop":"\n"}`
	h.stream(streamed)
	got = h.up.Requests()[1].Body
	gotFields = nil
	_ = json.Unmarshal(got, &gotFields)
	if string(gotFields["stream_options"]) != `{"include_usage":true}` {
		t.Errorf("stream_options = %s", gotFields["stream_options"])
	}
	if string(gotFields["temperature"]) != "0" || string(gotFields["stop"]) != `"\n"` {
		t.Errorf("fields changed: %s", got)
	}
}

func keys(m map[string]json.RawMessage) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	return k
}

// TestNoToolsNoArray checks that with no tools anywhere no "tools" member
// is added (some servers reject an empty array).
func TestNoToolsNoArray(t *testing.T) {
	h := newHarness(t, Options{}, nil, llmtest.Completion("hi"))
	sent := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	if status, _ := h.postJSON(sent); status != 200 {
		t.Fatalf("status %d", status)
	}
	if got := string(h.up.Requests()[0].Body); got != sent {
		t.Errorf("upstream got %s, want %s", got, sent)
	}
}

// TestBadRequests checks each malformed request gets a 400 in the OpenAI
// error shape, naming the problem, and that the bridge keeps serving.
func TestBadRequests(t *testing.T) {
	h := newHarness(t, Options{MaxBodyBytes: 1 << 10}, nil, llmtest.Completion("still here"))
	cases := []struct {
		name, body, param, msg string
		status                 int
	}{
		{"malformed JSON", `{"model":"m",`, "", "not valid JSON", 400},
		{"empty body", ``, "", "empty", 400},
		{"array body", `[1,2]`, "", "must be a JSON object, got an array", 400},
		{"string body", `"hi"`, "", "must be a JSON object, got a string", 400},
		{"messages missing", `{"model":"m"}`, "messages", "'messages' is required", 400},
		{"messages null", `{"model":"m","messages":null}`, "messages", "'messages' is required", 400},
		{"messages wrong type", `{"model":"m","messages":"hi"}`, "messages", "must be an array", 400},
		{"messages empty", `{"model":"m","messages":[]}`, "messages", "at least one", 400},
		{"message not object", `{"model":"m","messages":[1]}`, "messages[0]", "must be an object", 400},
		{"message without role", `{"model":"m","messages":[{"content":"x"}]}`, "messages[0].role", "role", 400},
		{"stream wrong type", `{"model":"m","stream":"yes","messages":[{"role":"user","content":"x"}]}`, "stream", "must be a boolean", 400},
		{"model wrong type", `{"model":5,"messages":[{"role":"user","content":"x"}]}`, "model", "must be a string", 400},
		{"tools wrong type", `{"model":"m","tools":{},"messages":[{"role":"user","content":"x"}]}`, "tools", "must be an array", 400},
		{"oversized", `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 2000) + `"}]}`, "", "larger than the limit", 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, v := h.postJSON(c.body)
			if status != c.status {
				t.Fatalf("status %d, want %d: %v", status, c.status, v)
			}
			e, ok := v["error"].(map[string]any)
			if !ok {
				t.Fatalf("no error object: %v", v)
			}
			if msg, _ := e["message"].(string); !strings.Contains(msg, c.msg) {
				t.Errorf("message %q does not contain %q", msg, c.msg)
			}
			if e["type"] != "invalid_request_error" {
				t.Errorf("type = %v", e["type"])
			}
			if c.param != "" && e["param"] != c.param {
				t.Errorf("param = %v, want %q", e["param"], c.param)
			}
			for _, k := range []string{"message", "type", "param", "code"} {
				if _, ok := e[k]; !ok {
					t.Errorf("error lacks %q", k)
				}
			}
		})
	}
	if n := len(h.up.Requests()); n != 0 {
		t.Fatalf("bad requests reached the upstream %d times", n)
	}
	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != 200 || !strings.Contains(fmt.Sprint(v), "still here") {
		t.Fatalf("bridge stopped serving: %d %v", status, v)
	}
}

// TestStreamWire checks raw wire details a struct round trip would hide.
func TestStreamWire(t *testing.T) {
	h := newHarness(t, Options{}, nil, llmtest.TextStream("Hel", "lo"))
	resp := h.post(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	frames := readFrames(t, resp.Body)
	n := len(frames)
	if n < 4 {
		t.Fatalf("only %d frames", n)
	}
	if !frames[n-1].done {
		t.Errorf("last frame %q, want [DONE]", frames[n-1].raw)
	}
	usage := frames[n-2]
	if !strings.Contains(usage.raw, `"choices":[]`) || !strings.Contains(usage.raw, `"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}`) {
		t.Errorf("usage frame %q", usage.raw)
	}
	fin := frames[n-3]
	if !strings.Contains(fin.raw, `"delta":{}`) || !strings.Contains(fin.raw, `"finish_reason":"stop"`) {
		t.Errorf("finish frame %q", fin.raw)
	}
	if !strings.Contains(frames[0].raw, `"role":"assistant"`) || !strings.Contains(frames[0].raw, `"finish_reason":null`) {
		t.Errorf("first frame %q", frames[0].raw)
	}
	for _, f := range frames[1 : n-1] {
		if strings.Contains(f.raw, `"role"`) {
			t.Errorf("role repeated in %q", f.raw)
		}
	}
}

// TestUsageOnlyWhenAsked checks that the usage chunk is sent only to
// clients that asked for it, and that it sums every round.
func TestUsageSummedOverRounds(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1}`}),
		llmtest.ToolCallStream(llmtest.Call{ID: "c2", Name: "calc__add", Arguments: `{"a":2}`}),
		llmtest.TextStream("3"),
		llmtest.TextStream("no usage"))
	a := h.stream(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`)
	if a.usage == nil || a.usage["total_tokens"] != float64(45) || a.usage["prompt_tokens"] != float64(30) {
		t.Errorf("usage = %v, want 3 rounds of 10+5", a.usage)
	}
	b := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if b.usage != nil {
		t.Errorf("usage sent unasked: %v", b.usage)
	}
}

// TestReasoningPassedThrough checks reasoning deltas reach the client as
// they arrived, and that rounds' texts are separated.
func TestReasoningAndRoundSeparation(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Display: DisplayNone}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.Stream(
			`{"id":"u1","object":"chat.completion.chunk","created":1,"model":"r1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"think"},"finish_reason":null}]}`,
			`{"id":"u1","object":"chat.completion.chunk","created":1,"model":"r1","choices":[{"index":0,"delta":{"content":"Let me add."},"finish_reason":null}]}`,
			`{"id":"u1","object":"chat.completion.chunk","created":1,"model":"r1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"calc__add","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`),
		llmtest.Stream(
			`{"id":"u2","object":"chat.completion.chunk","created":2,"model":"r1","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":" more"},"finish_reason":null}]}`,
			`{"id":"u2","object":"chat.completion.chunk","created":2,"model":"r1","choices":[{"index":0,"delta":{"content":"It is 5."},"finish_reason":"stop"}]}`))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.reasoning != "think more" {
		t.Errorf("reasoning = %q", a.reasoning)
	}
	if a.content != "Let me add.\n\nIt is 5." {
		t.Errorf("content = %q", a.content)
	}
	if a.ids["u1"] || a.ids["u2"] {
		t.Errorf("upstream ids leaked: %v", a.ids)
	}
	for _, f := range a.frames {
		if strings.Contains(f.raw, "calc__add") {
			t.Errorf("bridge tool call forwarded: %q", f.raw)
		}
	}
	// The assistant message of round 1 carries its text and reasoning.
	msgs := h.up.Requests()[1].Messages()
	asst := msgs[1]
	if asst["content"] != "Let me add." || asst["reasoning_content"] != "think" {
		t.Errorf("assistant message = %v", asst)
	}
}

// TestClientToolsReturned checks the client's own tools: kept in the
// request, called by the model, returned to the client as tool_calls.
func TestClientToolsReturned(t *testing.T) {
	var log callLog
	clientTool := `{"type":"function","function":{"name":"get_time","description":"client side","parameters":{"type":"object","properties":{}}}}`
	clash := `{"type":"function","function":{"name":"calc__add","description":"the client's own add","parameters":{"type":"object"}}}`
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add", "sub"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "k1", Name: "get_time", Arguments: `{}`}),
		llmtest.ToolCallCompletion(llmtest.Call{ID: "k2", Name: "calc__add", Arguments: `{"a":1}`}))

	a := h.stream(`{"model":"m","stream":true,"tools":[` + clientTool + `,` + clash + `],"messages":[{"role":"user","content":"x"}]}`)
	if a.finish != "tool_calls" || len(a.toolCalls) != 1 {
		t.Fatalf("finish %q, tool calls %v", a.finish, a.toolCalls)
	}
	tc := a.toolCalls[0].(map[string]any)
	if tc["id"] != "k1" || tc["function"].(map[string]any)["name"] != "get_time" || tc["index"] != float64(0) || tc["type"] != "function" {
		t.Errorf("tool call = %v", tc)
	}
	var tools []map[string]any
	_ = json.Unmarshal(h.up.Requests()[0].Fields["tools"], &tools)
	var names []string
	for _, tl := range tools {
		names = append(names, tl["function"].(map[string]any)["name"].(string))
	}
	if want := []string{"get_time", "calc__add", "calc__sub"}; !reflect.DeepEqual(names, want) {
		t.Errorf("tools sent upstream %v, want %v", names, want)
	}
	if desc := tools[1]["function"].(map[string]any)["description"]; desc != "the client's own add" {
		t.Errorf("name clash not resolved for the client: %v", desc)
	}

	// The clashing name belongs to the client: returned, not run.
	status, v := h.postJSON(`{"model":"m","tools":[` + clash + `],"messages":[{"role":"user","content":"x"}]}`)
	choice := v["choices"].([]any)[0].(map[string]any)
	if status != 200 || choice["finish_reason"] != "tool_calls" {
		t.Fatalf("%d %v", status, v)
	}
	if n := len(log.all()); n != 0 {
		t.Errorf("bridge ran %d calls of a client tool", n)
	}
}

// TestMixedTurn checks a round that calls a client tool and a bridge
// tool: the bridge's runs, the client's is returned, and the follow-up
// request gets the bridge's half spliced back in.
func TestMixedTurn(t *testing.T) {
	var log callLog
	clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "b1", Name: "calc__add", Arguments: `{"a":2}`}, llmtest.Call{ID: "u1", Name: "ask_user", Arguments: `{"q":"?"}`}),
		llmtest.TextStream("final"))
	a := h.stream(`{"model":"m","stream":true,"tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"}]}`)
	if a.finish != "tool_calls" || len(a.toolCalls) != 1 || a.toolCalls[0].(map[string]any)["id"] != "u1" {
		t.Fatalf("finish %q, calls %v", a.finish, a.toolCalls)
	}
	if calls := log.all(); len(calls) != 1 || calls[0].Args["a"] != float64(2) {
		t.Fatalf("bridge calls %v", calls)
	}
	follow := `{"model":"m","stream":true,"tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"u1","type":"function","function":{"name":"ask_user","arguments":"{\"q\":\"?\"}"}}]},` +
		`{"role":"tool","tool_call_id":"u1","content":"yes"}]}`
	b := h.stream(follow)
	if b.content != "final" {
		t.Errorf("content %q", b.content)
	}
	msgs := h.up.Requests()[1].Messages()
	if len(msgs) != 4 {
		t.Fatalf("upstream got %d messages, want 4: %v", len(msgs), msgs)
	}
	asst := msgs[1]
	if calls := asst["tool_calls"].([]any); len(calls) != 2 {
		t.Errorf("assistant message not restored: %v", asst)
	}
	if msgs[2]["tool_call_id"] != "b1" || !strings.HasPrefix(msgs[2]["content"].(string), "add got") {
		t.Errorf("bridge tool message = %v", msgs[2])
	}
	if msgs[3]["tool_call_id"] != "u1" || msgs[3]["content"] != "yes" {
		t.Errorf("client tool message = %v", msgs[3])
	}
}

// TestDisplayStatus checks Open WebUI status events around tool calls.
func TestDisplayStatus(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Display: DisplayStatus}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}), llmtest.TextStream("ok"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if len(a.statuses) != 2 {
		t.Fatalf("statuses %v", a.statuses)
	}
	first, last := a.statuses[0]["data"].(map[string]any), a.statuses[1]["data"].(map[string]any)
	if a.statuses[0]["type"] != "status" || first["done"] != false || !strings.Contains(first["description"].(string), "calc__add") {
		t.Errorf("first status %v", a.statuses[0])
	}
	if last["done"] != true {
		t.Errorf("last status %v", a.statuses[1])
	}
	for _, f := range a.frames {
		if strings.Contains(f.raw, `"event"`) && !strings.Contains(f.raw, `"choices":[]`) {
			t.Errorf("status chunk with choices: %q", f.raw)
		}
	}
}

// TestDisplayDetails checks the <details> blocks, and that they are
// stripped when the client sends the answer back.
func TestDisplayDetails(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Display: DisplayDetails}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":"<1>"}`}), llmtest.TextStream("ok"),
		llmtest.TextStream("again"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if !strings.HasPrefix(a.content, `<details type="tool_calls" done="true" id="c1" name="calc__add" arguments="{&#34;a&#34;:&#34;&lt;1&gt;&#34;}"`) ||
		!strings.HasSuffix(a.content, "</details>\n\nok") {
		t.Errorf("content = %q", a.content)
	}
	if len(a.statuses) != 0 {
		t.Errorf("statuses in details mode: %v", a.statuses)
	}
	prior, _ := json.Marshal(a.content)
	h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":` + string(prior) + `},{"role":"user","content":"more"}]}`)
	msgs := h.up.Requests()[2].Messages()
	if msgs[1]["content"] != "ok" {
		t.Errorf("details not stripped: %q", msgs[1]["content"])
	}
}

// TestUpstreamErrors checks each upstream failure before the first byte
// becomes an HTTP error in the OpenAI shape, and the bridge keeps serving.
func TestUpstreamErrors(t *testing.T) {
	cases := []struct {
		name   string
		reply  llmtest.Reply
		status int
		msg    string
	}{
		{"401", llmtest.JSON(401, map[string]any{"error": map[string]any{"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}), 401, "Incorrect API key"},
		{"429", llmtest.JSON(429, map[string]any{"error": map[string]any{"message": "Rate limit reached", "type": "rate_limit_error"}}), 429, "Rate limit"},
		{"500", llmtest.JSON(500, map[string]any{"error": map[string]any{"message": "boom"}}), 502, "boom"},
		{"unknown model", llmtest.JSON(404, map[string]any{"error": map[string]any{"message": "model 'nope' not found"}}), 404, "not found"},
		{"not JSON at first event", llmtest.SSE([]byte("data: <html>oops</html>\n\n")), 502, "not JSON"},
	}
	for _, c := range cases {
		for _, stream := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/stream=%v", c.name, stream), func(t *testing.T) {
				h := newHarness(t, Options{}, nil, c.reply, llmtest.Completion("recovered"))
				status, v := h.postJSON(fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"x"}]}`, stream))
				if status != c.status {
					t.Fatalf("status %d, want %d: %v", status, c.status, v)
				}
				e := v["error"].(map[string]any)
				if !strings.Contains(e["message"].(string), c.msg) {
					t.Errorf("message %q", e["message"])
				}
				status, v = h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
				if status != 200 {
					t.Fatalf("not serving after failure: %d %v", status, v)
				}
			})
		}
	}
}

// TestUpstreamDown checks an unreachable upstream is a 502 naming it.
func TestUpstreamDown(t *testing.T) {
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
	reg := mcpclient.NewRegistry(nil, nil)
	b, err := New(Options{Upstream: client, Tools: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b.Handler())
	defer srv.Close()
	h := &harness{t: t, srv: srv}
	for _, stream := range []string{"true", "false"} {
		status, v := h.postJSON(`{"model":"m","stream":` + stream + `,"messages":[{"role":"user","content":"x"}]}`)
		if status != http.StatusBadGateway {
			t.Fatalf("status %d: %v", status, v)
		}
		if e := v["error"].(map[string]any); !strings.Contains(e["message"].(string), "unreachable: dial tcp "+strings.TrimPrefix(strings.TrimSuffix(dead, "/v1"), "http://")) ||
			!strings.Contains(e["message"].(string), "connection refused") || e["code"] != "upstream_unreachable" {
			t.Errorf("error %v", e)
		}
	}
}

// TestBrokenStreamMidway checks a non-JSON line after the first byte ends
// the stream with an error event, and the bridge keeps serving.
func TestBrokenStreamMidway(t *testing.T) {
	h := newHarness(t, Options{}, nil,
		llmtest.SSE([]byte("data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"partial\"},\"finish_reason\":null}]}\n\ndata: {not json\n\n")),
		llmtest.TextStream("fine"))
	resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	a := collect(t, resp.Body)
	if a.errEvent == nil || !strings.Contains(a.errEvent["message"].(string), "not JSON") {
		t.Fatalf("no error event: %v", a.frames)
	}
	if a.content != "partial" || a.done {
		t.Errorf("content %q, done %v", a.content, a.done)
	}
	if b := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); b.content != "fine" {
		t.Errorf("after failure: %q", b.content)
	}
}

// TestUnknownToolAndBadArguments checks that a tool the model invented and
// arguments that are not JSON become tool messages the model can read.
func TestUnknownToolAndBadArguments(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(
			llmtest.Call{ID: "c1", Name: "calc__nope", Arguments: `{}`},
			llmtest.Call{ID: "c2", Name: "calc__add", Arguments: `{"a":`},
			llmtest.Call{ID: "c3", Name: "calc__add", Arguments: `[1]`},
			llmtest.Call{ID: "c4", Name: "calc__add", Arguments: ``}),
		llmtest.TextStream("sorry"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "sorry" {
		t.Errorf("content %q", a.content)
	}
	msgs := h.up.Requests()[1].ToolMessages()
	if len(msgs) != 4 {
		t.Fatalf("%d tool messages", len(msgs))
	}
	want := []string{`no tool named "calc__nope"`, "arguments must be a JSON object (got invalid JSON)", "arguments must be a JSON object (got an array)", "add got {}"}
	for i, w := range want {
		if c := msgs[i]["content"].(string); !strings.Contains(c, w) {
			t.Errorf("tool message %d = %q, want it to contain %q", i, c, w)
		}
	}
	if calls := log.all(); len(calls) != 1 {
		t.Errorf("calls made: %v", calls)
	}
}

func TestModels(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	h.up.SetModels("llama3", "qwen3")
	resp, err := http.Get(h.srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Object != "list" || len(v.Data) != 3 || v.Data[2].ID != BuiltinModel || v.Data[0].ID != "llama3" || v.Data[0].Created == 0 || v.Data[0].OwnedBy == "" {
		t.Errorf("models %+v", v)
	}
}

func TestAuth(t *testing.T) {
	h := newHarness(t, Options{APIKeys: []string{"sekrit-key"}}, nil, llmtest.Completion("a"), llmtest.Completion("b"))
	body := `{"model":"m","messages":[{"role":"user","content":"x"}]}`
	for _, c := range []struct {
		header, value string
		status        int
	}{
		{"", "", 401},
		{"Authorization", "Bearer wrong", 401},
		{"Authorization", "Bearer sekrit-key", 200},
		{"X-Api-Key", "sekrit-key", 200},
	} {
		req, _ := http.NewRequest("POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if c.header != "" {
			req.Header.Set(c.header, c.value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %q: status %d, want %d: %s", c.header, c.value, resp.StatusCode, c.status, data)
		}
	}
	resp, err := http.Get(h.srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz needs no key: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
}

// TestForcedToolChoiceRelaxed checks a forced tool_choice is sent as the
// client wrote it in the first round only, so the model can answer.
func TestForcedToolChoiceRelaxed(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}), llmtest.TextStream("done"))
	a := h.stream(`{"model":"m","stream":true,"tool_choice":"required","messages":[{"role":"user","content":"x"}]}`)
	if a.content != "done" {
		t.Fatalf("content %q", a.content)
	}
	reqs := h.up.Requests()
	if got := string(reqs[0].Fields["tool_choice"]); got != `"required"` {
		t.Errorf("round 1 tool_choice %s", got)
	}
	if got := string(reqs[1].Fields["tool_choice"]); got != `"auto"` {
		t.Errorf("round 2 tool_choice %s", got)
	}
}

// TestStreamAnsweredWithJSON checks an upstream that answers a streaming
// request with one JSON object still gives the client a valid stream.
func TestStreamAnsweredWithJSON(t *testing.T) {
	h := newHarness(t, Options{}, nil, llmtest.Completion("whole answer"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "whole answer" || a.finish != "stop" {
		t.Errorf("content %q finish %q", a.content, a.finish)
	}
}

// TestAnswerWithoutContentType checks an upstream that names no content
// type is read by what it sends: an event stream or one JSON object.
func TestAnswerWithoutContentType(t *testing.T) {
	raw := func(body string) llmtest.Reply {
		return func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
			w.Header()["Content-Type"] = nil // no sniffing by net/http either
			_, _ = io.WriteString(w, body)
		}
	}
	h := newHarness(t, Options{}, nil,
		raw("data: {\"id\":\"u\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"streamed\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"),
		raw("\n {\"id\":\"u\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"whole\"},\"finish_reason\":\"stop\"}]}"))
	if a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); a.content != "streamed" {
		t.Errorf("stream: %q", a.content)
	}
	if a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); a.content != "whole" {
		t.Errorf("object: %q", a.content)
	}
}
