package bridge

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// upstreamClient is a client of base with no retries of its own and the
// given first-byte and stall timeouts (0: the defaults).
func upstreamClient(t *testing.T, base string, firstByte, stall time.Duration) *llm.Client {
	t.Helper()
	c, err := llm.NewClient(llm.Options{BaseURL: base, MaxRetries: -1, FirstByteTimeout: firstByte, StallTimeout: stall})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newRouter(t *testing.T, opts route.Options) *route.Router {
	t.Helper()
	r, err := route.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// refusedURL is a base URL where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/v1"
}

func modelOf(r llmtest.Request) string {
	var m string
	_ = json.Unmarshal(r.Fields["model"], &m)
	return m
}

// TestUpstreamsRouteByGlobAndAlias: three upstreams; each model reaches
// the one whose globs take it, an alias sends its own model name, and a
// model nobody takes is a 404 model_not_found naming it.
func TestUpstreamsRouteByGlobAndAlias(t *testing.T) {
	local := llmtest.NewServer(t, llmtest.Completion("from local"))
	gpu := llmtest.NewServer(t, llmtest.Completion("from gpu"))
	cloud := llmtest.NewServer(t, llmtest.Completion("from cloud"), llmtest.Completion("smart"))
	r := newRouter(t, route.Options{
		Upstreams: []route.Upstream{
			{Name: "local", Client: upstreamClient(t, local.URL, 0, 0), Models: []string{"llama*", "qwen*"}},
			{Name: "gpu", Client: upstreamClient(t, gpu.URL, 0, 0), Models: []string{"Qwen/*"}},
			{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"gpt-*"}},
		},
		Aliases: map[string][]route.Target{"smart": {{Upstream: "cloud", Model: "gpt-5"}, {Upstream: "gpu", Model: "Qwen/Qwen3-32B"}}},
	})
	h := newHarness(t, Options{Router: r}, nil)
	for _, c := range []struct{ model, want string }{
		{"llama3", "from local"}, {"Qwen/Qwen3-32B", "from gpu"}, {"gpt-4o", "from cloud"}, {"smart", "smart"},
	} {
		status, v := h.postJSON(`{"model":"` + c.model + `","messages":[{"role":"user","content":"hi"}]}`)
		if status != 200 || answerText(v) != c.want {
			t.Errorf("%s: %d %v", c.model, status, v)
		}
	}
	if reqs := cloud.Requests(); len(reqs) != 2 || modelOf(reqs[1]) != "gpt-5" {
		t.Errorf("the alias did not send its model: %d requests", len(reqs))
	}
	status, v := h.postJSON(`{"model":"mistral","messages":[{"role":"user","content":"hi"}]}`)
	e, _ := v["error"].(map[string]any)
	if status != 404 || e["code"] != "model_not_found" || e["param"] != "model" || !strings.Contains(e["message"].(string), `"mistral"`) {
		t.Errorf("unknown model: %d %v", status, v)
	}
	if n := len(local.Requests()) + len(gpu.Requests()) + len(cloud.Requests()); n != 4 {
		t.Errorf("%d upstream requests, want 4", n)
	}
}

func answerText(v map[string]any) string {
	choices, _ := v["choices"].([]any)
	if len(choices) == 0 {
		return ""
	}
	msg, _ := choices[0].(map[string]any)["message"].(map[string]any)
	s, _ := msg["content"].(string)
	return s
}

// TestUpstreamsFailover: for each way an upstream fails before its first
// byte, in streaming and non-streaming mode, the answer comes from the
// next upstream and the tool round in between runs once. A refused
// connection fails the first round (the second stays on the upstream that
// answered it); the others fail the second round, after the first upstream
// answered the first with a tool call.
func TestUpstreamsFailover(t *testing.T) {
	for _, kind := range []string{"refused", "500", "429", "timeout"} {
		for _, stream := range []bool{false, true} {
			name := kind + "/json"
			if stream {
				name = kind + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				toolCall, text := llmtest.ToolCallCompletion(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1}`}), llmtest.Completion("done")
				if stream {
					toolCall, text = llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1}`}), llmtest.TextStream("done")
				}
				var fail llmtest.Reply
				switch kind {
				case "500":
					fail = llmtest.Error(500, "boom")
				case "429":
					fail = llmtest.RateLimited(30)
				case "timeout":
					fail = llmtest.Silent()
				}
				primaryURL := refusedURL(t)
				var primary *llmtest.Server
				backup := llmtest.NewServer(t)
				if kind == "refused" {
					backup.Add(toolCall, text)
				} else {
					primary = llmtest.NewServer(t, toolCall, fail)
					primaryURL = primary.URL
					backup.Add(text)
				}
				r := newRouter(t, route.Options{Upstreams: []route.Upstream{
					{Name: "primary", Client: upstreamClient(t, primaryURL, 300*time.Millisecond, 0)},
					{Name: "backup", Client: upstreamClient(t, backup.URL, 0, 0), Priority: 2},
				}})
				var log callLog
				h := newHarness(t, Options{Router: r}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
				body := `{"model":"m","stream":` + map[bool]string{true: "true", false: "false"}[stream] + `,"messages":[{"role":"user","content":"add"}]}`
				var content string
				if stream {
					a := h.stream(body)
					if a.errEvent != nil {
						t.Fatalf("error event %v", a.errEvent)
					}
					content = a.content
				} else {
					status, v := h.postJSON(body)
					if status != 200 {
						t.Fatalf("status %d: %v", status, v)
					}
					content = answerText(v)
				}
				if content != "done" || len(log.all()) != 1 {
					t.Errorf("content %q, %d tool calls", content, len(log.all()))
				}
				wantBackup := 1
				if kind == "refused" {
					wantBackup = 2
				} else if n := len(primary.Requests()); n != 2 {
					t.Errorf("primary got %d requests, want 2", n)
				}
				reqs := backup.Requests()
				if len(reqs) != wantBackup {
					t.Fatalf("backup got %d requests, want %d", len(reqs), wantBackup)
				}
				if tm := reqs[len(reqs)-1].ToolMessages(); len(tm) != 1 {
					t.Errorf("the last round lacks the tool result: %v", tm)
				}
			})
		}
	}
}

// TestUpstreamsNoFailoverAfterTheFirstByte: an upstream that goes silent
// once its answer has begun ends the answer with an error; the other
// upstream is not asked for a second answer.
func TestUpstreamsNoFailoverAfterTheFirstByte(t *testing.T) {
	// Some text, then silence.
	textThenHang := func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
	for _, stream := range []bool{true, false} {
		primary := llmtest.NewServer(t, textThenHang)
		backup := llmtest.NewServer(t, llmtest.TextStream("second answer"))
		r := newRouter(t, route.Options{Upstreams: []route.Upstream{
			{Name: "primary", Client: upstreamClient(t, primary.URL, 0, 200*time.Millisecond)},
			{Name: "backup", Client: upstreamClient(t, backup.URL, 0, 0), Priority: 2},
		}})
		h := newHarness(t, Options{Router: r}, nil)
		if stream {
			a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
			if a.errEvent == nil || a.content != "Hel" {
				t.Errorf("stream: error %v, content %q", a.errEvent, a.content)
			}
		} else {
			status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
			if status != http.StatusGatewayTimeout {
				t.Errorf("json: %d %v", status, v)
			}
		}
		if n := len(backup.Requests()); n != 0 {
			t.Errorf("stream %v: backup got %d requests", stream, n)
		}
	}
}

// TestUpstreamsBreaker: after two failures the primary is skipped; once
// its cool-down has passed one request probes it, and its answer closes
// the breaker.
func TestUpstreamsBreaker(t *testing.T) {
	primary := llmtest.NewServer(t, llmtest.Error(502, "down"), llmtest.Error(502, "down"), llmtest.Completion("p"), llmtest.Completion("p"))
	backup := llmtest.NewServer(t, llmtest.Completion("b"), llmtest.Completion("b"), llmtest.Completion("b"), llmtest.Completion("b"))
	const cooldown = 300 * time.Millisecond
	r := newRouter(t, route.Options{
		Upstreams: []route.Upstream{
			{Name: "primary", Client: upstreamClient(t, primary.URL, 0, 0)},
			{Name: "backup", Client: upstreamClient(t, backup.URL, 0, 0), Priority: 2},
		},
		BreakerFailures: 2, BreakerCooldown: cooldown,
	})
	h := newHarness(t, Options{Router: r}, nil)
	ask := func() string {
		t.Helper()
		status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		if status != 200 {
			t.Fatalf("status %d: %v", status, v)
		}
		return answerText(v)
	}
	for i := range 4 {
		if got := ask(); got != "b" {
			t.Fatalf("request %d answered %q", i, got)
		}
	}
	if n := len(primary.Requests()); n != 2 {
		t.Fatalf("primary got %d requests with its breaker open, want 2", n)
	}
	time.Sleep(2 * cooldown)
	for i := range 2 {
		if got := ask(); got != "p" {
			t.Errorf("after the cool-down, request %d answered %q", i, got)
		}
	}
	if n := len(primary.Requests()); n != 4 {
		t.Errorf("primary got %d requests in all, want 4", n)
	}
}

// TestUpstreamsWeightedRoundRobin: 3:1 weights share 80 requests within
// a tolerance of 2.
func TestUpstreamsWeightedRoundRobin(t *testing.T) {
	const n = 80
	a, b := llmtest.NewServer(t), llmtest.NewServer(t)
	for range n {
		a.Add(llmtest.Completion("a"))
		b.Add(llmtest.Completion("b"))
	}
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "a", Client: upstreamClient(t, a.URL, 0, 0), Weight: 3},
		{Name: "b", Client: upstreamClient(t, b.URL, 0, 0), Weight: 1},
	}})
	h := newHarness(t, Options{Router: r}, nil)
	for range n {
		if status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`); status != 200 {
			t.Fatalf("status %d: %v", status, v)
		}
	}
	na, nb := len(a.Requests()), len(b.Requests())
	if na+nb != n || na < n*3/4-2 || na > n*3/4+2 {
		t.Errorf("a got %d, b %d; want about %d and %d", na, nb, n*3/4, n/4)
	}
}

// TestUpstreamsModelsWithAHangingUpstream: /v1/models answers while one
// upstream's list never comes, with the others' models (owned by their
// upstream) and the aliases.
func TestUpstreamsModelsWithAHangingUpstream(t *testing.T) {
	local := llmtest.NewServer(t)
	local.SetModels("llama3", "qwen3")
	cloud := llmtest.NewServer(t)
	cloud.SetModels("gpt-5")
	release := make(chan struct{})
	hangs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hangs.Close)
	t.Cleanup(func() { close(release) }) // runs first: the answer never came while the test ran
	r := newRouter(t, route.Options{
		Upstreams: []route.Upstream{
			{Name: "local", Client: upstreamClient(t, local.URL, 0, 0)},
			{Name: "hangs", Client: upstreamClient(t, hangs.URL+"/v1", 0, 0)},
			{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0)},
		},
		Aliases:       map[string][]route.Target{"fast": {{Upstream: "local", Model: "qwen3"}}},
		ModelsTimeout: 200 * time.Millisecond,
	})
	h := newHarness(t, Options{Router: r, DisableBuiltinModel: true}, nil)
	resp, err := http.Get(h.srv.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v llm.ModelList
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range v.Data {
		got = append(got, m.ID+"@"+m.OwnedBy)
	}
	if want := "llama3@local qwen3@local gpt-5@cloud fast@mcp-bridge"; strings.Join(got, " ") != want {
		t.Errorf("models %v, want %s", got, want)
	}
}

// toolCount returns how many tools an upstream request carried, and their
// names.
func toolCount(t *testing.T, r llmtest.Request) (int, map[string]bool) {
	t.Helper()
	var tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(r.Fields["tools"], &tools); err != nil {
		t.Fatalf("tools: %v", err)
	}
	names := map[string]bool{}
	for _, tl := range tools {
		names[tl.Function.Name] = true
	}
	return len(tools), names
}

// TestUpstreamsOpenAIProfileCaps128Tools: with 210 tools, an OpenAI-profile
// upstream gets 128, the client's own tools among them, and the log names
// what was left out; an Ollama-profile upstream gets all.
func TestUpstreamsOpenAIProfileCaps128Tools(t *testing.T) {
	cloud := llmtest.NewServer(t, llmtest.Completion("a"), llmtest.Completion("b"))
	local := llmtest.NewServer(t, llmtest.Completion("c"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"gpt-*"}, Profile: route.OpenAI},
		{Name: "local", Client: upstreamClient(t, local.URL, 0, 0), Models: []string{"llama*"}, Profile: route.Ollama},
	}})
	var logs syncbuf.Buffer
	h := newHarness(t, Options{Router: r, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		[]mcpclient.ServerConfig{inMemory("many", mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 200}))})
	h.postJSON(`{"model":"gpt-5","messages":[{"role":"user","content":"x"}]}`)
	clientTool := `{"type":"function","function":{"name":"mine","parameters":{"type":"object"}}}`
	h.postJSON(`{"model":"gpt-5","tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"}]}`)
	h.postJSON(`{"model":"llama3","messages":[{"role":"user","content":"x"}]}`)

	all := len(h.reg.Tools())
	if all <= 128 {
		t.Fatalf("only %d tools", all)
	}
	n, _ := toolCount(t, cloud.Requests()[0])
	n2, names := toolCount(t, cloud.Requests()[1])
	if n != 128 || n2 != 128 || !names["mine"] {
		t.Errorf("OpenAI got %d and %d tools (client's kept: %v), want 128", n, n2, names["mine"])
	}
	if n, _ := toolCount(t, local.Requests()[0]); n != all {
		t.Errorf("Ollama got %d tools, want %d", n, all)
	}
	out := logs.String()
	last := h.reg.Tools()[all-1].Name
	if !strings.Contains(out, "left out") || !strings.Contains(out, "profile=openai") || !strings.Contains(out, last) {
		t.Errorf("the log does not say which tools were left out:\n%s", out)
	}
	// The profile's toolset is built once for both requests, not per
	// request; the client's own tool costs the second one more room,
	// which that request's line names.
	if n := strings.Count(out, "does not take every tool"); n != 1 {
		t.Errorf("the OpenAI toolset was built %d times, want once", n)
	}
	if n := strings.Count(out, "the client's tools leave no room"); n != 1 {
		t.Errorf("%d lines about the client's tools, want 1", n)
	}
}

// TestUpstreamsLlamaCPPStreamFallback: a llama.cpp-profile upstream that
// refuses to stream with tools answers whole, round after round, and the
// client still gets a stream.
func TestUpstreamsLlamaCPPStreamFallback(t *testing.T) {
	up := llmtest.NewServer(t,
		llmtest.Error(500, "Cannot use tools with stream"),
		llmtest.ToolCallCompletion(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1}`}),
		llmtest.Completion("sum is 1"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "llama", Client: upstreamClient(t, up.URL, 0, 0), Profile: route.LlamaCPP},
	}})
	var log callLog
	h := newHarness(t, Options{Router: r}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	a := h.stream(`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"add"}]}`)
	if a.errEvent != nil || a.content != "sum is 1" || len(log.all()) != 1 || a.usage == nil {
		t.Errorf("answer %q, error %v, %d calls, usage %v", a.content, a.errEvent, len(log.all()), a.usage)
	}
	var modes []string
	for _, req := range up.Requests() {
		modes = append(modes, string(req.Fields["stream"])+"/"+map[bool]string{true: "options", false: "-"}[req.Fields["stream_options"] != nil])
	}
	if got := strings.Join(modes, " "); got != "true/options false/- false/-" {
		t.Errorf("upstream requests: %s", got)
	}
}

// TestUpstreamsSamplingIsRouted: a server's sampling request for an alias
// reaches the alias's upstream with the alias's model.
func TestUpstreamsSamplingIsRouted(t *testing.T) {
	cloud := llmtest.NewServer(t, llmtest.Completion("sampled"))
	other := llmtest.NewServer(t)
	r := newRouter(t, route.Options{
		Upstreams: []route.Upstream{
			{Name: "other", Client: upstreamClient(t, other.URL, 0, 0), Models: []string{"x*"}},
			{Name: "cloud", Client: upstreamClient(t, cloud.URL, 0, 0), Models: []string{"gpt-*"}},
		},
		Aliases: map[string][]route.Target{"smart": {{Upstream: "cloud", Model: "gpt-5"}}},
	})
	h := newHarness(t, Options{Router: r, SamplingModel: "smart"}, nil)
	res, err := (&chatCaller{s: h.b.view(), model: "xmodel"}).CreateMessage(t.Context(), "srv", &mcp.CreateMessageParams{MaxTokens: 10, Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Content; got == nil || len(cloud.Requests()) != 1 || modelOf(cloud.Requests()[0]) != "gpt-5" || len(other.Requests()) != 0 {
		t.Errorf("result %+v; cloud %d requests, other %d", res, len(cloud.Requests()), len(other.Requests()))
	}
}

// TestUpstreamsLaterRoundsStayOnTheAnsweringUpstream: after the first
// round failed over, the next round goes to the upstream that answered,
// not back to the first choice.
func TestUpstreamsLaterRoundsStayOnTheAnsweringUpstream(t *testing.T) {
	primary := llmtest.NewServer(t, llmtest.Error(500, "boom"), llmtest.Completion("from the primary"))
	backup := llmtest.NewServer(t, llmtest.ToolCallCompletion(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}), llmtest.Completion("from the backup"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "primary", Client: upstreamClient(t, primary.URL, 0, 0)},
		{Name: "backup", Client: upstreamClient(t, backup.URL, 0, 0), Priority: 2},
	}})
	var log callLog
	h := newHarness(t, Options{Router: r}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"add"}]}`)
	if status != 200 || answerText(v) != "from the backup" || len(primary.Requests()) != 1 || len(backup.Requests()) != 2 {
		t.Errorf("%d %q; primary %d requests, backup %d", status, answerText(v), len(primary.Requests()), len(backup.Requests()))
	}
}

// TestUpstreamsMetricsNameTheUpstreams: every attempt of a failover is
// counted under the upstream's name.
func TestUpstreamsMetricsNameTheUpstreams(t *testing.T) {
	primary := llmtest.NewServer(t, llmtest.Error(503, "busy"))
	backup := llmtest.NewServer(t, llmtest.Completion("ok"))
	r := newRouter(t, route.Options{Upstreams: []route.Upstream{
		{Name: "primary", Client: upstreamClient(t, primary.URL, 0, 0)},
		{Name: "backup", Client: upstreamClient(t, backup.URL, 0, 0), Priority: 2},
	}})
	h := newHarness(t, Options{Router: r, APIKeys: []string{obsKey}, Observer: observe.NewMetrics(nil)}, nil)
	resp := keyed(t, "POST", h.srv.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	fams := scrape(t, h)
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"upstream": "primary", "code": "503"}, 1},
		{map[string]string{"upstream": "backup", "code": "200"}, 1},
	} {
		if got := value(fams, "mcp_bridge_upstream_requests_total", c.labels); got != c.want {
			t.Errorf("upstream requests %v = %v, want %v", c.labels, got, c.want)
		}
	}
}
