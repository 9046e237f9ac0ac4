package observe

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

func newTestTracer(t *testing.T) (*Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr, err := NewTracer(&TracerOptions{Exporter: exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

// TestTracerSpanTree: a chat continuing an incoming traceparent gives one
// trace: chat > round 1, chat > execute_tool > tools/call, chat > round 2;
// the headers injected under a round or a tool call name those spans.
func TestTracerSpanTree(t *testing.T) {
	tr, exp := newTestTracer(t)
	const incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	var ctx context.Context
	h := tr.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { ctx = r.Context() }))
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	req.Header.Set("Traceparent", incoming)
	h.ServeHTTP(httptest.NewRecorder(), req)

	chat := &ChatStart{RequestID: "r1", Model: "m", Upstream: "http://up"}
	cctx := tr.ChatStarted(ctx, chat)
	var injected []string
	round := func(n int) {
		rctx := tr.RoundStarted(cctx, &RoundStart{Round: n, Model: "m"})
		hd := http.Header{}
		InjectTraceContext(rctx, hd)
		injected = append(injected, hd.Get("Traceparent"))
		tr.RoundFinished(rctx, &RoundRecord{PromptTokens: 10 * n, CompletionTokens: n})
	}
	round(1)
	// A call refused before it started ends no span.
	tr.ToolCallFinished(cctx, &ToolCallRecord{ToolCallStart: ToolCallStart{Tool: "other"}, Outcome: OutcomeDenied})
	st := &ToolCallStart{Face: FaceChat, Server: "srv", Tool: "srv__echo", CallID: "call_1",
		Arguments: json.RawMessage(`{"text":"user secret data"}`)}
	tctx := tr.ToolCallStarted(cctx, st)
	hd := http.Header{}
	InjectTraceContext(tctx, hd)
	injected = append(injected, hd.Get("Traceparent"))
	tr.ToolCallFinished(tctx, &ToolCallRecord{ToolCallStart: *st, Outcome: OutcomeOK})
	tr.ToolCallFinished(tctx, &ToolCallRecord{ToolCallStart: *st, Outcome: OutcomeOK}) // twice: ended once
	round(2)
	tr.ChatFinished(cctx, &ChatRecord{ChatStart: *chat, Rounds: 2, ToolCalls: 1, PromptTokens: 30, CompletionTokens: 3,
		Status: 200, Outcome: ChatOK})
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	spans := exp.GetSpans()
	if len(spans) != 5 {
		t.Fatalf("%d spans, want 5: %v", len(spans), spans)
	}
	byName := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		if got := s.SpanContext.TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" {
			t.Errorf("%s: trace id %s, want the incoming one", s.Name, got)
		}
		for _, a := range s.Attributes {
			if strings.Contains(a.Value.Emit(), "user secret data") {
				t.Errorf("%s: attribute %s carries the arguments", s.Name, a.Key)
			}
		}
	}
	// The chat span and the first round share the name "chat m": tell
	// them apart by their parents.
	var chatSpan tracetest.SpanStub
	var rounds []tracetest.SpanStub
	for _, s := range byName["chat m"] {
		if s.Parent.SpanID().String() == "b7ad6b7169203331" {
			chatSpan = s
		} else {
			rounds = append(rounds, s)
		}
	}
	if !chatSpan.SpanContext.IsValid() || len(rounds) != 2 {
		t.Fatalf("chat span %v, rounds %d", chatSpan.SpanContext, len(rounds))
	}
	tool, call := byName["execute_tool srv__echo"], byName["tools/call srv__echo"]
	if len(tool) != 1 || len(call) != 1 {
		t.Fatalf("tool spans %d, MCP call spans %d", len(tool), len(call))
	}
	parentOf := func(s tracetest.SpanStub) string { return s.Parent.SpanID().String() }
	chatID := chatSpan.SpanContext.SpanID().String()
	for _, r := range rounds {
		if parentOf(r) != chatID {
			t.Errorf("round's parent %s, want the chat span %s", parentOf(r), chatID)
		}
	}
	if parentOf(tool[0]) != chatID || parentOf(call[0]) != tool[0].SpanContext.SpanID().String() {
		t.Errorf("tool span's parent %s (want %s), MCP call's %s (want the tool span)", parentOf(tool[0]), chatID, parentOf(call[0]))
	}
	// What went upstream and to the MCP server names the round and the MCP call.
	want := []string{rounds[0].SpanContext.SpanID().String(), call[0].SpanContext.SpanID().String(), rounds[1].SpanContext.SpanID().String()}
	for i, tp := range injected {
		if !strings.Contains(tp, want[i]) {
			t.Errorf("traceparent %d %q, want span %s", i, tp, want[i])
		}
	}
	attrs := func(s tracetest.SpanStub) map[string]string {
		m := map[string]string{}
		for _, a := range s.Attributes {
			m[string(a.Key)] = a.Value.Emit()
		}
		return m
	}
	for span, checks := range map[*tracetest.SpanStub]map[string]string{
		&chatSpan: {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": "30",
			"gen_ai.usage.output_tokens": "3"},
		&tool[0]: {"gen_ai.tool.name": "srv__echo", "gen_ai.tool.call.id": "call_1", "mcp.server": "srv"},
		&call[0]: {"mcp.method.name": "tools/call", "mcp.server": "srv", "gen_ai.tool.name": "srv__echo"},
	} {
		got := attrs(*span)
		for k, v := range checks {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", span.Name, k, got[k], v)
			}
		}
	}
}

// TestTracerExportsOTLPHTTP: with an endpoint, spans are posted as OTLP
// protobuf to its /v1/traces.
func TestTracerExportsOTLPHTTP(t *testing.T) {
	var mu sync.Mutex
	var names []string
	var service string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.Resource.GetAttributes() {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer hs.Close()
	tr, err := NewTracer(&TracerOptions{Endpoint: hs.URL, ServiceName: "bridge-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := tr.ChatStarted(context.Background(), &ChatStart{Model: "m"})
	tr.ChatFinished(ctx, &ChatRecord{Outcome: ChatOK})
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 1 || names[0] != "chat m" || service != "bridge-test" {
		t.Errorf("received spans %q of service %q, want [chat m] of bridge-test", names, service)
	}
}
