package bridge

// Tests of the tool loop written against mutants that once survived the
// suite: each checks a result a plausible wrong change would alter, not
// only that the loop completes.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// failingServer has tools whose results report a failure (isError): "full"
// answers "disk full", "said" answers "error: already said", and "fine"
// succeeds with "fine".
func failingServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "failing", Version: "1"}, nil)
	for name, r := range map[string]struct {
		text    string
		isError bool
	}{"full": {"disk full", true}, "said": {"error: already said", true}, "fine": {"fine", false}} {
		s.AddTool(&mcp.Tool{Name: name, InputSchema: json.RawMessage(`{"type":"object"}`)},
			func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{IsError: r.isError, Content: []mcp.Content{&mcp.TextContent{Text: r.text}}}, nil
			})
	}
	return s
}

// toolRecords returns the mcp_tool_calls of a non-streaming answer.
func toolRecords(t *testing.T, v map[string]any) []map[string]any {
	t.Helper()
	raw, ok := v["mcp_tool_calls"].([]any)
	if !ok {
		t.Fatalf("no mcp_tool_calls array in %v", v)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// TestToolErrorResultIsAnError checks that a result with isError reaches
// the model as an error ("Error: " once, never twice), is recorded as one
// in mcp_tool_calls and counted as failed in the status event, while a
// successful result of the same round is none of these.
func TestToolErrorResultIsAnError(t *testing.T) {
	calls := []llmtest.Call{
		{ID: "c1", Name: "disk__full", Arguments: `{}`},
		{ID: "c2", Name: "disk__said", Arguments: `{}`},
		{ID: "c3", Name: "disk__fine", Arguments: `{}`},
	}
	h := newHarness(t, Options{Display: DisplayStatus}, []mcpclient.ServerConfig{inMemory("disk", failingServer())},
		llmtest.ToolCallCompletion(calls...), llmtest.Completion("noted"),
		llmtest.ToolCallStream(calls...), llmtest.TextStream("noted"))

	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, v)
	}
	want := []struct {
		content string
		isError bool
	}{{"Error: disk full", true}, {"error: already said", true}, {"fine", false}}
	msgs := h.up.Requests()[1].ToolMessages()
	if len(msgs) != len(want) {
		t.Fatalf("%d tool messages, want %d", len(msgs), len(want))
	}
	for i, w := range want {
		if msgs[i]["content"] != w.content {
			t.Errorf("tool message %d = %q, want %q", i, msgs[i]["content"], w.content)
		}
	}
	recs := toolRecords(t, v)
	if len(recs) != len(want) {
		t.Fatalf("%d mcp_tool_calls, want %d", len(recs), len(want))
	}
	for i, w := range want {
		if got, ok := recs[i]["is_error"].(bool); !ok || got != w.isError {
			t.Errorf("mcp_tool_calls[%d].is_error = %v, want %v", i, recs[i]["is_error"], w.isError)
		}
	}

	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if len(a.statuses) != 2 {
		t.Fatalf("statuses %v", a.statuses)
	}
	if d := a.statuses[1]["data"].(map[string]any)["description"]; d != "Used disk__full, disk__said, disk__fine (2 failed)" {
		t.Errorf("done status %q", d)
	}
	if a.content != "noted" {
		t.Errorf("content %q", a.content)
	}
}

// pairServer has a tool "pair" that, once called, waits until another
// call runs beside it (or 5 s pass), then holds on a little so that every
// call able to start does. It records the most calls seen at once.
type pairServer struct {
	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	calls       int
	changed     chan struct{} // closed and replaced whenever inFlight changes
}

func newPairServer() (*pairServer, *mcp.Server) {
	ps := &pairServer{changed: make(chan struct{})}
	s := mcp.NewServer(&mcp.Implementation{Name: "pair", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "pair", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			ps.enter(1)
			defer ps.enter(-1)
			timeout := time.After(5 * time.Second)
			for {
				ps.mu.Lock()
				n, changed := ps.inFlight, ps.changed
				ps.mu.Unlock()
				if n >= 2 {
					break
				}
				select {
				case <-changed:
				case <-timeout:
					return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "alone"}}}, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "paired"}}}, nil
		})
	return ps, s
}

// enter adds d to the calls in flight and wakes the waiting calls.
func (ps *pairServer) enter(d int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if d > 0 {
		ps.calls++
	}
	ps.inFlight += d
	ps.maxInFlight = max(ps.maxInFlight, ps.inFlight)
	close(ps.changed)
	ps.changed = make(chan struct{})
}

// counts returns the calls made and the most that ran at once.
func (ps *pairServer) counts() (calls, maxInFlight int) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.calls, ps.maxInFlight
}

// TestMaxParallelBound checks tools.max_parallel: six calls of a round
// with a bound of 2 run two at a time, never more, and all of them run.
func TestMaxParallelBound(t *testing.T) {
	ps, srv := newPairServer()
	var calls []llmtest.Call
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		calls = append(calls, llmtest.Call{ID: id, Name: "pair__pair", Arguments: `{}`})
	}
	h := newHarness(t, Options{MaxParallel: 2}, []mcpclient.ServerConfig{inMemory("pair", srv)},
		llmtest.ToolCallStream(calls...), llmtest.TextStream("done"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "done" {
		t.Fatalf("content %q", a.content)
	}
	made, most := ps.counts()
	if most != 2 {
		t.Errorf("at most %d calls ran at once, want 2 (tools.max_parallel)", most)
	}
	if made != len(calls) {
		t.Errorf("%d calls ran, want %d", made, len(calls))
	}
	if n := len(h.up.Requests()[1].ToolMessages()); n != len(calls) {
		t.Errorf("%d tool messages, want %d", n, len(calls))
	}
}

// TestToolCallRecords checks every member of each mcp_tool_calls entry:
// the call's id and name, the server that ran it (absent for a tool
// nobody has), the arguments as JSON, is_error and the duration.
func TestToolCallRecords(t *testing.T) {
	var log callLog
	_, slow := newSlowServer()
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{
		inMemory("calc", recordingServer(&log, "add")),
		inMemory("slow", slow),
		inMemory("disk", failingServer()),
	},
		llmtest.ToolCallCompletion(
			llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1,"b":[2]}`},
			llmtest.Call{ID: "c2", Name: "slow__wait", Arguments: `{"ms":60}`},
			llmtest.Call{ID: "c3", Name: "disk__full", Arguments: `{}`},
			llmtest.Call{ID: "c4", Name: "calc__nope", Arguments: `not json`}),
		llmtest.Completion("all recorded"))
	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, v)
	}
	recs := toolRecords(t, v)
	want := []struct {
		id, name, server, args string
		isError                bool
		minMS                  float64
	}{
		{"c1", "calc__add", "calc", `{"a":1,"b":[2]}`, false, 0},
		{"c2", "slow__wait", "slow", `{"ms":60}`, false, 60},
		{"c3", "disk__full", "disk", `{}`, true, 0},
		{"c4", "calc__nope", "", `"not json"`, true, 0},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d mcp_tool_calls, want %d: %v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		if r["id"] != w.id || r["name"] != w.name {
			t.Errorf("entry %d: id %v name %v, want %s %s", i, r["id"], r["name"], w.id, w.name)
		}
		if server, ok := r["server"]; w.server == "" && ok || w.server != "" && server != w.server {
			t.Errorf("entry %d: server %v, want %q", i, r["server"], w.server)
		}
		args, _ := json.Marshal(r["arguments"])
		var wantArgs any
		_ = json.Unmarshal([]byte(w.args), &wantArgs)
		if wa, _ := json.Marshal(wantArgs); string(args) != string(wa) {
			t.Errorf("entry %d: arguments %s, want %s", i, args, wa)
		}
		if got, ok := r["is_error"].(bool); !ok || got != w.isError {
			t.Errorf("entry %d: is_error %v, want %v", i, r["is_error"], w.isError)
		}
		ms, ok := r["duration_ms"].(float64)
		if !ok || ms < w.minMS {
			t.Errorf("entry %d: duration_ms %v, want a number of at least %v", i, r["duration_ms"], w.minMS)
		}
	}
}

// TestDeadlineDuringUpstreamRequest checks that the deadline expiring
// while the upstream has not answered (nothing sent to the client yet)
// ends the request with the sentence that explains it, streaming or not,
// as a 504 rather than a 200 that looks like an answer, and cancels the
// upstream request.
func TestDeadlineDuringUpstreamRequest(t *testing.T) {
	const want = "Stopped: the answer was not complete after 300ms (tools.deadline)"
	for _, stream := range []bool{true, false} {
		h := newHarness(t, Options{Deadline: 300 * time.Millisecond, Keepalive: -1}, nil, llmtest.Hang())
		status, v := h.postJSON(fmt.Sprintf(`{"model":"m","stream":%v,"messages":[{"role":"user","content":"x"}]}`, stream))
		e, _ := v["error"].(map[string]any)
		if msg, _ := e["message"].(string); status != http.StatusGatewayTimeout || !strings.HasPrefix(msg, want) || e["code"] != "deadline_exceeded" {
			t.Errorf("stream=%v: status %d: %v, want 504 with %q", stream, status, v, want)
		}
		select {
		case <-h.up.Requests()[0].Canceled:
		case <-time.After(10 * time.Second):
			t.Errorf("stream=%v: upstream request not cancelled at the deadline", stream)
		}
	}
}

// TestDeadlineDuringToolCallNonStreaming checks the deadline expiring
// while a tool runs, for a non-streaming request: the sentence names the
// tools, the call is cancelled, and no further round starts.
func TestDeadlineDuringToolCallNonStreaming(t *testing.T) {
	ss, srv := newSlowServer()
	h := newHarness(t, Options{Deadline: 300 * time.Millisecond}, []mcpclient.ServerConfig{inMemory("slow", srv)},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{}`}), llmtest.Completion("too late"))
	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != 200 {
		t.Fatalf("status %d: %v", status, v)
	}
	ch := v["choices"].([]any)[0].(map[string]any)
	if c := ch["message"].(map[string]any)["content"]; c != "Stopped: the tools did not finish within 300ms (tools.deadline)." || ch["finish_reason"] != "stop" {
		t.Errorf("content %q finish %v", c, ch["finish_reason"])
	}
	select {
	case <-ss.cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the tool call was not cancelled at the deadline")
	}
	if n := len(h.up.Requests()); n != 1 {
		t.Errorf("upstream got %d requests, want 1", n)
	}
}

// TestClientDisconnectCancelsEveryTool checks that a client leaving while
// several tools run cancels each of them, streaming or not, and that no
// further round goes upstream.
func TestClientDisconnectCancelsEveryTool(t *testing.T) {
	const n = 3
	for _, stream := range []string{"true", "false"} {
		ss, srv := newSlowServer()
		var calls []llmtest.Call
		for _, id := range []string{"a", "b", "c"} {
			calls = append(calls, llmtest.Call{ID: id, Name: "slow__wait", Arguments: `{}`})
		}
		h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("slow", srv)},
			llmtest.ToolCallStream(calls...), llmtest.TextStream("never"))
		ctx, cancel := context.WithCancel(context.Background())
		done := h.chatInBackground(ctx, `{"model":"m","stream":`+stream+`,"messages":[{"role":"user","content":"x"}]}`)
		for i := 0; i < n; i++ {
			select {
			case <-ss.started:
			case <-time.After(10 * time.Second):
				t.Fatalf("stream=%s: %d of %d tools started", stream, i, n)
			}
		}
		cancel()
		for i := 0; i < n; i++ {
			select {
			case <-ss.cancelled:
			case <-time.After(10 * time.Second):
				t.Fatalf("stream=%s: %d of %d calls cancelled", stream, i, n)
			}
		}
		<-done
		// The handler has returned once the server is closed.
		h.srv.Close()
		if got := len(h.up.Requests()); got != 1 {
			t.Errorf("stream=%s: upstream got %d requests after the client left, want 1", stream, got)
		}
	}
}

// TestFinishReason checks the upstream's finish reason reaches the client,
// and that "stop" stands in for none, or for "tool_calls" without calls.
func TestFinishReason(t *testing.T) {
	answer := func(finish string) llmtest.Reply {
		f := `"` + finish + `"`
		if finish == "" {
			f = "null"
		}
		return llmtest.JSON(200, `{"id":"u","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":`+f+`}]}`)
	}
	cases := []struct{ upstream, want string }{{"length", "length"}, {"content_filter", "content_filter"}, {"", "stop"}, {"tool_calls", "stop"}, {"stop", "stop"}}
	var replies []llmtest.Reply
	for _, c := range cases {
		replies = append(replies, answer(c.upstream))
	}
	h := newHarness(t, Options{}, nil, replies...)
	for _, c := range cases {
		_, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		if _, finish := message(t, v); finish != c.want {
			t.Errorf("upstream finish %q: client got %v, want %q", c.upstream, finish, c.want)
		}
	}
}

// TestToolChoiceLaterRounds checks which tool_choice later rounds send: a
// forced choice (a name or "required") becomes "auto", "none" and "auto"
// stay, and an absent one stays absent.
func TestToolChoiceLaterRounds(t *testing.T) {
	var log callLog
	cases := []struct{ sent, later string }{
		{`{"type":"function","function":{"name":"calc__add"}}`, `"auto"`},
		{`"required"`, `"auto"`},
		{`"none"`, `"none"`},
		{`"auto"`, `"auto"`},
		{`null`, `null`},
		{``, ``},
	}
	for _, c := range cases {
		h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
			llmtest.ToolCallCompletion(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}), llmtest.Completion("done"))
		choice := ""
		if c.sent != "" {
			choice = `"tool_choice":` + c.sent + `,`
		}
		if status, v := h.postJSON(`{"model":"m",` + choice + `"messages":[{"role":"user","content":"x"}]}`); status != 200 {
			t.Fatalf("%s: status %d %v", c.sent, status, v)
		}
		reqs := h.up.Requests()
		if got := string(reqs[0].Fields["tool_choice"]); got != c.sent {
			t.Errorf("%s: round 1 sent %s", c.sent, got)
		}
		if got := string(reqs[1].Fields["tool_choice"]); got != c.later {
			t.Errorf("%s: round 2 sent %s, want %s", c.sent, got, c.later)
		}
	}
}

// TestWithIncludeUsage checks the stream_options sent upstream ask for
// usage and keep the client's other members.
func TestWithIncludeUsage(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   `{"include_usage":true}`,
		"null":                               `{"include_usage":true}`,
		`"junk"`:                             `{"include_usage":true}`,
		`{"include_usage":false}`:            `{"include_usage":true}`,
		`{"x":1}`:                            `{"x":1,"include_usage":true}`,
		`{"include_usage":false,"y":[true]}`: `{"include_usage":true,"y":[true]}`,
	} {
		var so json.RawMessage
		if in != "" {
			so = json.RawMessage(in)
		}
		if got := string(withIncludeUsage(so)); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// TestEncodeArray checks the messages array is encoded as JSON.
func TestEncodeArray(t *testing.T) {
	for _, c := range []struct {
		items []json.RawMessage
		want  string
	}{{nil, `[]`}, {[]json.RawMessage{json.RawMessage(`1`)}, `[1]`}, {[]json.RawMessage{json.RawMessage(`{"a":1}`), json.RawMessage(`"b"`)}, `[{"a":1},"b"]`}} {
		if got := string(encodeArray(c.items)); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}

// TestSameSlice checks sameSlice tells the same slice from an equal one.
func TestSameSlice(t *testing.T) {
	a := []int{1, 2}
	if !sameSlice(a, a) || sameSlice(a, []int{1, 2}) || sameSlice(a, a[:1]) || !sameSlice[int](nil, nil) || !sameSlice(a[:0], []int{}) {
		t.Error("sameSlice is wrong")
	}
}

// TestDisplayDetailsRound checks that in details mode the tool messages
// still go upstream and the next round's text follows the blocks.
func TestDisplayDetailsRound(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Display: DisplayDetails}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1}`}, llmtest.Call{ID: "c2", Name: "calc__add", Arguments: `{"a":2}`}),
		llmtest.TextStream("three"))
	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if strings.Count(a.content, "<details ") != 2 || !strings.HasSuffix(a.content, "</details>\n\nthree") {
		t.Errorf("content %q", a.content)
	}
	msgs := h.up.Requests()[1].ToolMessages()
	if len(msgs) != 2 || msgs[0]["tool_call_id"] != "c1" || msgs[1]["tool_call_id"] != "c2" {
		t.Errorf("tool messages %v", msgs)
	}
}
