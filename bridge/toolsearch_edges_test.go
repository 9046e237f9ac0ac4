package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestAlwaysToolsFollowTheGlobs checks the tools always injected are
// matched again for other globs, and kept for the same ones.
func TestAlwaysToolsFollowTheGlobs(t *testing.T) {
	ts := &toolset{tools: []mcpclient.Tool{{Name: "fs__read"}, {Name: "fs__write"}, {Name: "web__fetch"}}}
	fs := ts.always([]string{"fs__*"})
	if !slices.Equal(fs, []string{"fs__read", "fs__write"}) {
		t.Errorf("fs__*: %v", fs)
	}
	if again := ts.always([]string{"fs__*"}); unsafe.SliceData(again) != unsafe.SliceData(fs) {
		t.Error("the same globs were matched again instead of reusing their list")
	}
	if web := ts.always([]string{"web__*"}); !slices.Equal(web, []string{"web__fetch"}) {
		t.Errorf("web__* after fs__*: %v", web)
	}
}

// TestSearchDoc checks a tool is indexed under its server's own name,
// the prefix it is exposed under when that differs, and its parameters.
func TestSearchDoc(t *testing.T) {
	d := searchDoc(mcpclient.Tool{Name: "gh__create_issue", Original: "create_issue", Server: "github",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"title":{"description":"The title"}}}`)})
	if d.Name != "create_issue" || d.Server != "github gh" || len(d.Params) != 1 || d.Params[0].Name != "title" || d.Params[0].Description != "The title" {
		t.Errorf("renamed tool: %+v", d)
	}
	d = searchDoc(mcpclient.Tool{Name: "github__list", Server: "github", InputSchema: json.RawMessage(`{"type":"object"}`)})
	if d.Name != "github__list" || d.Server != "github" || len(d.Params) != 0 {
		t.Errorf("tool without an original name: %+v", d)
	}
	if p := schemaParams(json.RawMessage(`not json`)); p != nil {
		t.Errorf("parameters of a broken schema: %v", p)
	}
}

// TestAutoSearchesPastTheThreshold checks exposure auto injects every
// tool up to search_threshold and searches from one more.
func TestAutoSearchesPastTheThreshold(t *testing.T) {
	s := &Server{opts: Options{Exposure: ExposureAuto, SearchThreshold: 3}}
	for n, want := range map[int]bool{2: false, 3: false, 4: true} {
		if got := s.searching(&toolset{tools: make([]mcpclient.Tool, n)}, &chatRequest{}, nil); got != want {
			t.Errorf("%d tools: searching %v, want %v", n, got, want)
		}
	}
}

// TestAutoSearchesPastTheProfileLimit checks exposure auto searches once
// the caller's tools and the client's together pass an upstream
// profile's MaxTools, and not when they only reach it.
func TestAutoSearchesPastTheProfileLimit(t *testing.T) {
	s := &Server{opts: Options{Exposure: ExposureAuto, SearchThreshold: 1000}}
	ts := &toolset{tools: make([]mcpclient.Tool, 3)}
	cr := &chatRequest{clientTools: []json.RawMessage{json.RawMessage(`{}`)}}
	for limit, want := range map[int]bool{5: false, 4: false, 3: true} {
		cands := []route.Candidate{{Profile: &route.Profile{MaxTools: limit}}}
		if got := s.searching(ts, cr, cands); got != want {
			t.Errorf("3 tools and 1 of the client's, limit %d: searching %v, want %v", limit, got, want)
		}
	}
}

// TestSearchToolsFollowTheProfile checks the tools sent with search_tools
// are those of the upstream's profile: an always tool's schema loses the
// keywords the profile refuses.
func TestSearchToolsFollowTheProfile(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "n", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{Name: "count", Description: "Counts.",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"n":{"type":"integer","exclusiveMinimum":0}}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{}, nil
		})
	cloud := llmtest.NewServer(t, llmtest.Completion("done"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"*"},
			Profile: &route.Profile{Name: "strict", Refused: []string{"exclusiveMinimum"}}},
	}})
	h := newHarness(t, Options{Router: r, Exposure: ExposureSearch, AlwaysTools: []string{"n__count"}},
		[]mcpclient.ServerConfig{inMemory("n", srv)})
	if status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != http.StatusOK {
		t.Fatalf("%d %v", status, v)
	}
	tools := string(cloud.Requests()[0].Fields["tools"])
	if !strings.Contains(tools, `"n__count"`) || !strings.Contains(tools, `"search_tools"`) || strings.Contains(tools, "exclusiveMinimum") {
		t.Errorf("tools sent: %s", tools)
	}
}

// TestSearchToolsWithinTheProfileLimit checks search mode sends no more
// tools than the profile's MaxTools: the client's, search_tools, then
// as many always tools as are left room for.
func TestSearchToolsWithinTheProfileLimit(t *testing.T) {
	var log callLog
	cloud := llmtest.NewServer(t, llmtest.Completion("done"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"*"},
			Profile: &route.Profile{Name: "three", MaxTools: 3}},
	}})
	h := newHarness(t, Options{Router: r, Exposure: ExposureSearch, AlwaysTools: []string{"n__*"}},
		[]mcpclient.ServerConfig{inMemory("n", recordingServer(&log, "a", "b", "c", "d"))})
	clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
	if status, v := h.postJSON(`{"model":"m","tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"}]}`); status != http.StatusOK {
		t.Fatalf("%d %v", status, v)
	}
	n, names := toolCount(t, cloud.Requests()[0])
	if n != 3 || !names["ask_user"] || !names["search_tools"] || !names["n__a"] {
		t.Errorf("%d tools sent: %v, want ask_user, search_tools and n__a", n, names)
	}
}

// TestOneLineKeepsExactlyMax checks a summary of exactly max bytes is
// kept whole, and one byte more is cut and marked.
func TestOneLineKeepsExactlyMax(t *testing.T) {
	s := strings.Repeat("a", maxSummaryBytes)
	if got := oneLine(s, maxSummaryBytes); got != s {
		t.Errorf("%d bytes shown as %d ending %q", len(s), len(got), got[len(got)-4:])
	}
	if got := oneLine(s+"b", maxSummaryBytes); len(got) != maxSummaryBytes || !strings.HasSuffix(got, "…") {
		t.Errorf("%d bytes shown as %d ending %q", len(s)+1, len(got), got[len(got)-4:])
	}
}

// TestSearchLimitZeroMeansTheDefault checks a search_tools call with a
// limit of 0 (or none) gets the default number of tools, not none.
func TestSearchLimitZeroMeansTheDefault(t *testing.T) {
	ts := &toolset{}
	for i := range 12 {
		ts.tools = append(ts.tools, mcpclient.Tool{Name: fmt.Sprintf("fs__read_file_%d", i), Server: "fs", Description: "Reads a text file."})
	}
	r := &run{ts: ts}
	for _, args := range []string{`{"query":"read a text file","limit":0}`, `{"query":"read a text file"}`} {
		if _, found, isErr := r.searchCall(llm.ToolCall{Arguments: args}); isErr || len(found) != defaultSearchLimit {
			t.Errorf("%s: %d tools found, want %d", args, len(found), defaultSearchLimit)
		}
	}
}
