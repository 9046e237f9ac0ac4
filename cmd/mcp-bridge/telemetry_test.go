package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// otlpSpan is a span as an OTLP receiver sees it.
type otlpSpan struct{ name, trace, id, parent string }

// otlpReceiver is an in-process OTLP/HTTP collector.
type otlpReceiver struct {
	*httptest.Server
	mu    sync.Mutex
	spans []otlpSpan
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	rc := &otlpReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					rc.spans = append(rc.spans, otlpSpan{s.Name, hex.EncodeToString(s.TraceId),
						hex.EncodeToString(s.SpanId), hex.EncodeToString(s.ParentSpanId)})
				}
			}
		}
		rc.mu.Unlock()
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// waitSpans waits until n spans have arrived.
func (rc *otlpReceiver) waitSpans(t *testing.T, n int) []otlpSpan {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		rc.mu.Lock()
		got := append([]otlpSpan(nil), rc.spans...)
		rc.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeTraces: a two-round chat with one tool call on a remote MCP
// server, continuing the client's traceparent, gives one trace whose
// tree the OTLP receiver sees; the upstream gets the traceparent of each
// round's span, and the MCP server that of the MCP call's span, as a
// header and in _meta.
func TestServeTraces(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	rc := newOTLPReceiver(t)

	var mu sync.Mutex
	var mcpHeaders []string
	var metaTraceparent string
	srv := mcp.NewServer(&mcp.Implementation{Name: "remote", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{Name: "echo", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			mu.Lock()
			metaTraceparent, _ = req.Params.GetMeta()["traceparent"].(string)
			mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echoed"}}}, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		mcpHeaders = append(mcpHeaders, r.Header.Get("Traceparent"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)

	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "call_1", Name: "remote__echo", Arguments: `{"text":"private words"}`}),
		llmtest.TextStream("done"),
	)
	s := startServe(t, map[string]any{
		"upstream":   map[string]any{"base_url": up.URL},
		"tools":      map[string]any{"display": "none"},
		"mcpServers": map[string]any{"remote": map[string]any{"url": hs.URL}},
		"telemetry":  map[string]any{"otlp_endpoint": rc.URL},
	})

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"test-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "done") {
		t.Fatalf("chat: %d %s", resp.StatusCode, body)
	}

	spans := rc.waitSpans(t, 5)
	byName := map[string][]otlpSpan{}
	for _, sp := range spans {
		if sp.trace != traceID {
			t.Errorf("span %q in trace %s, want %s", sp.name, sp.trace, traceID)
		}
		byName[sp.name] = append(byName[sp.name], sp)
	}
	var chat otlpSpan
	var rounds []otlpSpan
	for _, sp := range byName["chat test-model"] {
		if sp.parent == "b7ad6b7169203331" {
			chat = sp
		} else {
			rounds = append(rounds, sp)
		}
	}
	tool, call := byName["execute_tool remote__echo"], byName["tools/call remote__echo"]
	if len(spans) != 5 || chat.id == "" || len(rounds) != 2 || len(tool) != 1 || len(call) != 1 {
		t.Fatalf("spans %+v: want chat > 2 rounds, chat > execute_tool > tools/call", spans)
	}
	for _, r := range rounds {
		if r.parent != chat.id {
			t.Errorf("round %s under %s, want the chat span %s", r.id, r.parent, chat.id)
		}
	}
	if tool[0].parent != chat.id || call[0].parent != tool[0].id {
		t.Errorf("tool span under %s (want %s), MCP call under %s (want %s)", tool[0].parent, chat.id, call[0].parent, tool[0].id)
	}

	// The upstream saw each round's span as the parent of its request.
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests, want 2", len(reqs))
	}
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.Header.Get("Traceparent")] = true
	}
	for _, r := range rounds {
		if tp := "00-" + traceID + "-" + r.id + "-01"; !seen[tp] {
			t.Errorf("upstream never got %s; got %v", tp, seen)
		}
	}
	// The MCP server saw the MCP call's span, as a header and in _meta.
	want := "00-" + traceID + "-" + call[0].id + "-01"
	mu.Lock()
	defer mu.Unlock()
	if metaTraceparent != want {
		t.Errorf("_meta.traceparent %q, want %q", metaTraceparent, want)
	}
	found := false
	for _, v := range mcpHeaders {
		found = found || v == want
	}
	if !found {
		t.Errorf("no MCP HTTP request carried %q; saw %q", want, mcpHeaders)
	}
}

// TestTracingSwitch checks that traces are off, and nothing is propagated,
// without configuration, and that the OpenTelemetry variables turn them on.
func TestTracingSwitch(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"} {
		t.Setenv(v, "")
	}
	if c := (&config.Config{}); tracing(c) || propagate(c) != nil {
		t.Error("traces on without configuration")
	}
	t.Setenv("OTEL_SERVICE_NAME", "bridge")
	if c := (&config.Config{}); !tracing(c) || propagate(c) == nil {
		t.Error("OTEL_SERVICE_NAME does not turn traces on")
	}
}
