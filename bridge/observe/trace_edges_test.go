package observe

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTracerSampleRatioZeroMeansAll: with no SampleRatio, a trace started
// here (no traceparent) is sampled; so is one with a ratio above 1.
func TestTracerSampleRatioZeroMeansAll(t *testing.T) {
	for _, ratio := range []float64{0, 2} {
		exp := tracetest.NewInMemoryExporter()
		tr, err := NewTracer(&TracerOptions{Exporter: exp, SampleRatio: ratio})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		ctx := context.Background()
		for range 4 {
			tr.ChatFinished(tr.ChatStarted(ctx, &ChatStart{Model: "m"}), &ChatRecord{Outcome: ChatOK})
		}
		if err := tr.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(exp.GetSpans()); n != 4 {
			t.Errorf("ratio %v: %d of 4 root traces sampled", ratio, n)
		}
	}
}

// resourceOf returns the resource attributes of the spans of a tracer
// made with opts.
func resourceOf(t *testing.T, opts TracerOptions) map[string]string {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	opts.Exporter = exp
	tr, err := NewTracer(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	ctx := context.Background()
	tr.ChatFinished(tr.ChatStarted(ctx, &ChatStart{Model: "m"}), &ChatRecord{Outcome: ChatOK})
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	out := map[string]string{}
	for _, kv := range spans[0].Resource.Attributes() {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// TestTracerResource: the service is named "mcp-bridge", unless
// OTEL_SERVICE_NAME names it, unless TracerOptions.ServiceName does;
// OTEL_RESOURCE_ATTRIBUTES are added; service.version is the Version,
// left out when there is none.
func TestTracerResource(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	got := resourceOf(t, TracerOptions{})
	if got["service.name"] != "mcp-bridge" {
		t.Errorf("service.name %q, want mcp-bridge", got["service.name"])
	}
	if v, ok := got["service.version"]; ok {
		t.Errorf("service.version %q without a Version", v)
	}

	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	if got := resourceOf(t, TracerOptions{})["service.name"]; got != "from-env" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's from-env", got)
	}
	got = resourceOf(t, TracerOptions{ServiceName: "configured", Version: "1.2.3"})
	if got["service.name"] != "configured" || got["service.version"] != "1.2.3" || got["deployment.environment"] != "test" {
		t.Errorf("resource %v, want the configured name and version, and the environment's attributes", got)
	}
}

// TestTracerStatusAndKind: a span is marked an error only when what it
// stands for failed (a chat in error, an upstream round that failed other
// than by cancellation, a tool call whose outcome is not ok); a tool call
// is the server side of its span on the MCP and OpenAPI faces and an
// internal step of a chat.
func TestTracerStatusAndKind(t *testing.T) {
	tr, exp := newTestTracer(t)
	ctx := context.Background()
	for _, o := range []string{ChatOK, ChatError} {
		tr.ChatFinished(tr.ChatStarted(ctx, &ChatStart{Model: "chat-" + o}), &ChatRecord{Outcome: o})
	}
	for i, err := range []error{nil, errors.New("upstream 500"), context.Canceled} {
		tr.RoundFinished(tr.RoundStarted(ctx, &RoundStart{Model: fmt.Sprint("round-", i)}), &RoundRecord{Err: err})
	}
	for _, c := range []struct{ face, outcome string }{{FaceChat, OutcomeOK}, {FaceMCP, OutcomeOK}, {FaceMCP, OutcomeToolError}} {
		st := &ToolCallStart{Face: c.face, Tool: c.face + "-" + c.outcome}
		tr.ToolCallFinished(tr.ToolCallStarted(ctx, st), &ToolCallRecord{ToolCallStart: *st, Outcome: c.outcome})
	}
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	type want struct {
		code codes.Code
		kind trace.SpanKind
	}
	wants := map[string]want{
		"chat chat-ok": {codes.Unset, trace.SpanKindServer}, "chat chat-error": {codes.Error, trace.SpanKindServer},
		"chat round-0": {codes.Unset, trace.SpanKindClient}, "chat round-1": {codes.Error, trace.SpanKindClient},
		"chat round-2":                {codes.Unset, trace.SpanKindClient},
		"execute_tool chat-ok":        {codes.Unset, trace.SpanKindInternal},
		"tools/call chat-ok":          {codes.Unset, trace.SpanKindClient},
		"execute_tool mcp-ok":         {codes.Unset, trace.SpanKindServer},
		"tools/call mcp-ok":           {codes.Unset, trace.SpanKindClient},
		"execute_tool mcp-tool_error": {codes.Error, trace.SpanKindServer},
		"tools/call mcp-tool_error":   {codes.Error, trace.SpanKindClient},
	}
	spans := exp.GetSpans()
	if len(spans) != len(wants) {
		t.Errorf("%d spans, want %d", len(spans), len(wants))
	}
	for _, s := range spans {
		w, ok := wants[s.Name]
		if !ok {
			t.Errorf("unexpected span %q", s.Name)
			continue
		}
		if s.Status.Code != w.code || s.SpanKind != w.kind {
			t.Errorf("%s: status %v, kind %v; want %v, %v", s.Name, s.Status.Code, s.SpanKind, w.code, w.kind)
		}
	}
}
