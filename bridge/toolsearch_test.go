package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// toolMessageOf returns the content of the tool message answering the
// call id in an upstream request.
func toolMessageOf(r llmtest.Request, id string) string {
	for _, m := range r.Messages() {
		if m["tool_call_id"] == id {
			s, _ := m["content"].(string)
			return s
		}
	}
	return ""
}

// searchResult decodes search_tools' answer into the names found.
func searchResult(t *testing.T, text string) []string {
	t.Helper()
	var v struct {
		Tools []struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
		} `json:"tools"`
	}
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatalf("search_tools answered %q: %v", text, err)
	}
	var names []string
	for _, tl := range v.Tools {
		if len(tl.Parameters) == 0 {
			t.Errorf("%s is listed without its parameters", tl.Name)
		}
		names = append(names, tl.Name)
	}
	return names
}

// TestSearchModeFindsAndInjects: with 1,000 tools and exposure search,
// round 1 carries search_tools and the always tool only; the model
// searches "read a text file", the answer ranks fs__read_text_file in the
// top 5; round 2 carries it, the model calls it and it runs; round 3 still
// carries it. Streaming and not.
func TestSearchModeFindsAndInjects(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := "json"
		if stream {
			name = "stream"
		}
		t.Run(name, func(t *testing.T) {
			search := llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"read a text file"}`}
			read := llmtest.Call{ID: "r1", Name: "fs__read_text_file", Arguments: `{"path":"/notes.txt"}`}
			replies := []llmtest.Reply{llmtest.ToolCallCompletion(search), llmtest.ToolCallCompletion(read), llmtest.Completion("done")}
			if stream {
				replies = []llmtest.Reply{llmtest.ToolCallStream(search), llmtest.ToolCallStream(read), llmtest.TextStream("done")}
			}
			var log callLog
			h := newHarness(t, Options{Exposure: ExposureSearch, AlwaysTools: []string{"t__echo"}}, []mcpclient.ServerConfig{
				inMemory("t", mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 1000})),
				inMemory("fs", recordingServer(&log, "read_text_file", "read_media_file", "write_file", "list_directory")),
			}, replies...)
			body := `{"model":"m","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"messages":[{"role":"user","content":"what is in notes.txt?"}]}`
			var text string
			if stream {
				text = h.stream(body).content
			} else {
				status, v := h.postJSON(body)
				if status != http.StatusOK {
					t.Fatalf("status %d: %v", status, v)
				}
				text = answerText(v)
			}
			if text != "done" {
				t.Errorf("answer %q", text)
			}
			reqs := h.up.Requests()
			if len(reqs) != 3 {
				t.Fatalf("%d upstream requests, want 3", len(reqs))
			}
			if got := injectedTools(t, reqs[0]); !slices.Equal(got, []string{"search_tools", "t__echo"}) {
				t.Errorf("round 1 tools: %v", got)
			}
			found := searchResult(t, toolMessageOf(reqs[1], "s1"))
			if i := slices.Index(found, "fs__read_text_file"); i < 0 || i >= 5 {
				t.Errorf("search found %v, want fs__read_text_file in the top 5", found)
			}
			for _, r := range reqs[1:] {
				got := injectedTools(t, r)
				if len(got) > 2+8 || !slices.Contains(got, "fs__read_text_file") || got[0] != "search_tools" {
					t.Errorf("later round tools: %v", got)
				}
			}
			if calls := log.all(); len(calls) != 1 || calls[0].Tool != "read_text_file" {
				t.Errorf("tools that ran: %v", calls)
			}
		})
	}
}

// TestAutoSearchesPastOpenAILimit: 300 tools, exposure auto with a high
// threshold: an OpenAI-profile upstream (128 tools at most) gets
// search_tools and never more than 128 tools; an Ollama-profile upstream
// gets every tool.
func TestAutoSearchesPastOpenAILimit(t *testing.T) {
	cloud := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"returns its own name","limit":25}`}),
		llmtest.TextStream("a"))
	local := llmtest.NewServer(t, llmtest.Completion("c"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"gpt-*"}, Profile: route.OpenAI},
		{Name: "local", Client: upstreamClient(t, local.URL, 0, 0), Models: []string{"llama*"}, Profile: route.Ollama},
	}})
	h := newHarness(t, Options{Router: r, Exposure: ExposureAuto, SearchThreshold: 1000},
		[]mcpclient.ServerConfig{inMemory("many", mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 300}))})
	h.stream(`{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	h.postJSON(`{"model":"llama3","messages":[{"role":"user","content":"x"}]}`)

	all := len(h.reg.Tools())
	for i, req := range cloud.Requests() {
		n, names := toolCount(t, req)
		if n > 128 || !names["search_tools"] {
			t.Errorf("OpenAI request %d carried %d tools (search_tools: %v)", i, n, names["search_tools"])
		}
	}
	if n, _ := toolCount(t, cloud.Requests()[1]); n != 1+25 {
		t.Errorf("round 2 carried %d tools, want search_tools and the 25 found", n)
	}
	if n, names := toolCount(t, local.Requests()[0]); n != all || names["search_tools"] {
		t.Errorf("Ollama got %d tools (search_tools: %v), want all %d", n, names["search_tools"], all)
	}
}

// TestAutoThreshold: exposure auto searches once the caller's tools pass
// search_threshold, and injects them all up to it; exposure all never
// searches.
func TestAutoThreshold(t *testing.T) {
	servers := func() []mcpclient.ServerConfig {
		return []mcpclient.ServerConfig{inMemory("t", mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 30}))}
	}
	for _, tc := range []struct {
		exposure  string
		threshold int
		search    bool
	}{
		{ExposureAuto, 20, true},
		{ExposureAuto, 1000, false},
		{"", 20, false},
		{ExposureAll, 20, false},
	} {
		h := newHarness(t, Options{Exposure: tc.exposure, SearchThreshold: tc.threshold}, servers(), llmtest.Completion("x"))
		h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		n, names := toolCount(t, h.up.Requests()[0])
		if names["search_tools"] != tc.search || (!tc.search && n != len(h.reg.Tools())) || (tc.search && n != 1) {
			t.Errorf("exposure %q threshold %d: %d tools, search_tools %v", tc.exposure, tc.threshold, n, names["search_tools"])
		}
	}
}

// TestSearchKeepsToThePolicy: a caller never finds a tool its policy
// denies, and a client tool named search_tools turns search off.
func TestSearchKeepsToThePolicy(t *testing.T) {
	a, err := auth.New(auth.Config{
		Policies: map[string]auth.PolicyConfig{"readers": {Tools: []string{"fs__read_*"}}},
		Keys:     []auth.Key{{Name: "reader", Key: readerKey, Policy: "readers"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log callLog
	h := newHarness(t, Options{Auth: a, Exposure: ExposureSearch}, []mcpclient.ServerConfig{
		inMemory("fs", recordingServer(&log, "read_file", "write_file", "write_text_file")),
	},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"write a file"}`}),
		llmtest.Completion("done"),
		llmtest.Completion("mine"))
	status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey),
		`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	found := searchResult(t, toolMessageOf(h.up.Requests()[1], "s1"))
	if !slices.Equal(found, []string{"fs__read_file"}) {
		t.Errorf("the reader found %v, want only fs__read_file", found)
	}

	mine := `{"type":"function","function":{"name":"search_tools","parameters":{"type":"object"}}}`
	rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey),
		`{"model":"m","tools":[`+mine+`],"messages":[{"role":"user","content":"x"}]}`)
	if got := injectedTools(t, h.up.Requests()[2]); !slices.Equal(got, []string{"search_tools", "fs__read_file"}) {
		t.Errorf("with the client's own search_tools: %v", got)
	}
}

// TestSearchToolErrors: arguments without a query, and a query that finds
// nothing, are answers the model can read; nothing is injected. The
// observers count the first as a tool error, the second as a call that
// went well.
func TestSearchToolErrors(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Exposure: ExposureSearch, APIKeys: []string{obsKey}, Observer: observe.NewMetrics(nil)},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "read_file"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"limit":3}`},
			llmtest.Call{ID: "s2", Name: "search_tools", Arguments: `{"query":"zyzzyva"}`}),
		llmtest.Completion("done"))
	keyed(t, "POST", h.srv.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`).Body.Close()
	reqs := h.up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream requests, want 2", len(reqs))
	}
	fams := scrape(t, h)
	for outcome, want := range map[string]float64{observe.OutcomeToolError: 1, observe.OutcomeOK: 1} {
		if got := value(fams, "mcp_bridge_tool_calls_total", map[string]string{"face": "chat", "outcome": outcome}); got != want {
			t.Errorf("tool calls with outcome %s: %v, want %v", outcome, got, want)
		}
	}
	if msg := toolMessageOf(reqs[1], "s1"); !strings.HasPrefix(msg, "Error:") || !strings.Contains(msg, "query") {
		t.Errorf("no query: %q", msg)
	}
	if msg := toolMessageOf(reqs[1], "s2"); !strings.Contains(msg, "No tool matches") {
		t.Errorf("nothing found: %q", msg)
	}
	if got := injectedTools(t, reqs[1]); !slices.Equal(got, []string{"search_tools"}) {
		t.Errorf("round 2 tools: %v", got)
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Read a file. Then more.", "Read a file."},
		{"First line\nsecond line", "First line"},
		{"v1.2 is a version", "v1.2 is a version"},
		{strings.Repeat("é", 200), strings.Repeat("é", 98) + "…"},
	} {
		if got := oneLine(tc.in, maxSummaryBytes); got != tc.want {
			t.Errorf("oneLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestInjectedDefinitionsAreLean: definitions are compact JSON without
// HTML escapes, and the same tools give the same bytes.
func TestInjectedDefinitionsAreLean(t *testing.T) {
	tools := []mcpclient.Tool{
		{Name: "fs__read", Server: "fs", Description: "Reads <path> & returns it.",
			InputSchema: json.RawMessage("{\n  \"type\": \"object\",\n  \"properties\": {\"path\": {\"type\": \"string\"}}\n}")},
		{Name: "fs__write", Server: "fs", Title: "Write"},
	}
	a, b := buildToolset(1, tools, nil), buildToolset(2, slices.Clone(tools), nil)
	if string(a.joined) != string(b.joined) {
		t.Errorf("the same tools gave different bytes:\n%s\n%s", a.joined, b.joined)
	}
	want := `[{"type":"function","function":{"name":"fs__read","description":"Reads <path> & returns it.",` +
		`"parameters":{"type":"object","properties":{"path":{"type":"string"}}}}},` +
		`{"type":"function","function":{"name":"fs__write","description":"Write","parameters":{"type":"object","properties":{}}}}]`
	if string(a.joined) != want {
		t.Errorf("definitions:\n%s\nwant\n%s", a.joined, want)
	}
}

// approveAll asks for approval of every tool.
type approveAll struct{}

func (approveAll) NeedsApproval(string) bool { return true }
func (approveAll) Approved(ctx context.Context, _ ...string) context.Context {
	return ctx
}

// TestSearchNeedsNoApproval: an approval rule that takes every tool does
// not stop search_tools, which runs nothing.
func TestSearchNeedsNoApproval(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Exposure: ExposureSearch, Approver: approveAll{}}, []mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "read_file"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"read a file"}`}),
		llmtest.Completion("done"))
	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusOK || answerText(v) != "done" || len(h.up.Requests()) != 2 {
		t.Errorf("%d %v after %d upstream requests", status, v, len(h.up.Requests()))
	}
}

// TestSearchFindsToolsPastTheProfileLimit: under an OpenAI-profile
// upstream, a tool past the 128 the profile would take in all mode is
// found and injected all the same.
func TestSearchFindsToolsPastTheProfileLimit(t *testing.T) {
	cloud := llmtest.NewServer(t,
		llmtest.ToolCallCompletion(llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"write the weekly report"}`}),
		llmtest.ToolCallCompletion(llmtest.Call{ID: "w1", Name: "zz__write_report", Arguments: `{}`}),
		llmtest.Completion("done"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"gpt-*"}, Profile: route.OpenAI},
	}})
	var log callLog
	h := newHarness(t, Options{Router: r, Exposure: ExposureAuto}, []mcpclient.ServerConfig{
		inMemory("many", mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 300})),
		inMemory("zz", recordingServer(&log, "write_report")),
	})
	if status, v := h.postJSON(`{"model":"gpt-5","messages":[{"role":"user","content":"x"}]}`); status != http.StatusOK || answerText(v) != "done" {
		t.Fatalf("%d %v", status, v)
	}
	reqs := cloud.Requests()
	if found := searchResult(t, toolMessageOf(reqs[1], "s1")); len(found) == 0 || found[0] != "zz__write_report" {
		t.Errorf("search found %v", found)
	}
	if _, names := toolCount(t, reqs[1]); !names["zz__write_report"] {
		t.Errorf("round 2 does not carry the tool found")
	}
	if calls := log.all(); len(calls) != 1 {
		t.Errorf("tools that ran: %v", calls)
	}
}

// TestSearchInAResumedRound: a round paused for approval that also
// searched keeps what the search found once it resumes: the next round
// carries the tool.
func TestSearchInAResumedRound(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Exposure: ExposureSearch, Approver: approveAll{}},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "read_file", "write_file"))},
		llmtest.ToolCallCompletion(
			llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"read a file"}`},
			llmtest.Call{ID: "w1", Name: "fs__write_file", Arguments: `{}`}),
		llmtest.Completion("done"))
	user := `{"role":"user","content":"x"}`
	status, v := h.postJSON(`{"model":"m","messages":[` + user + `]}`)
	question := answerText(v)
	code := approvalCodeRE.FindStringSubmatch(question)
	if status != http.StatusOK || code == nil {
		t.Fatalf("%d %q", status, question)
	}
	q, _ := json.Marshal(question)
	status, v = h.postJSON(`{"model":"m","messages":[` + user + `,{"role":"assistant","content":` + string(q) + `},{"role":"user","content":"approve ` + code[1] + `"}]}`)
	if status != http.StatusOK || answerText(v) != "done" {
		t.Fatalf("after approval: %d %v", status, v)
	}
	reqs := h.up.Requests()
	if _, names := toolCount(t, reqs[len(reqs)-1]); !names["fs__read_file"] {
		t.Errorf("the round after the resumed one does not carry the tool its search found: %v", names)
	}
}
