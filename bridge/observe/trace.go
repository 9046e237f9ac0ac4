package observe

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// TracerOptions configures a [Tracer].
type TracerOptions struct {
	// Endpoint is the OTLP/HTTP collector's base URL (e.g.
	// http://127.0.0.1:4318), to which /v1/traces is added. "" means the
	// exporter's own configuration: OTEL_EXPORTER_OTLP_ENDPOINT and
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else http://localhost:4318.
	Endpoint string
	// ServiceName names the service in the spans' resource. "" means
	// OTEL_SERVICE_NAME, else "mcp-bridge".
	ServiceName string
	// SampleRatio is the share of traces started here that are sampled;
	// a trace continued from a caller follows the caller's decision. 0
	// means 1 (all); values above 1 count as 1.
	SampleRatio float64
	// Exporter, when set, receives the spans instead of an OTLP/HTTP
	// exporter (tests). nil means OTLP over HTTP.
	Exporter sdktrace.SpanExporter
	// Version is the service's version in the resource; "" leaves it out.
	Version string
}

// Tracer is an Observer that records OpenTelemetry spans: one per chat
// request, one per upstream round under it, one per tool call (on every
// face) with the MCP call under that. Spans carry the GenAI and MCP
// semantic conventions' attributes; never arguments, results or secrets.
// It is safe for concurrent use; Shutdown flushes it.
type Tracer struct {
	Nop
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
}

// NewTracer returns a Tracer exporting as opts says (nil means defaults).
func NewTracer(opts *TracerOptions) (*Tracer, error) {
	if opts == nil {
		opts = &TracerOptions{}
	}
	exp := opts.Exporter
	if exp == nil {
		var eo []otlptracehttp.Option
		if opts.Endpoint != "" {
			eo = append(eo, otlptracehttp.WithEndpointURL(opts.Endpoint+"/v1/traces"))
		}
		var err error
		exp, err = otlptracehttp.New(context.Background(), eo...)
		if err != nil {
			return nil, errors.New("creating the OTLP trace exporter: " + err.Error())
		}
	}
	ratio := opts.SampleRatio
	if ratio <= 0 || ratio > 1 {
		ratio = 1
	}
	attrs := []attribute.KeyValue{}
	if opts.ServiceName != "" {
		attrs = append(attrs, attribute.String("service.name", opts.ServiceName))
	}
	if opts.Version != "" {
		attrs = append(attrs, attribute.String("service.version", opts.Version))
	}
	res, err := resource.Merge(resource.NewSchemaless(attribute.String("service.name", "mcp-bridge")),
		resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, err
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default,
	// the configured name over them.
	if env, err := resource.New(context.Background(), resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
		if opts.ServiceName != "" {
			res, _ = resource.Merge(res, resource.NewSchemaless(attribute.String("service.name", opts.ServiceName)))
		}
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
	return &Tracer{provider: tp, tracer: tp.Tracer("github.com/mcp-bridge/mcp-bridge/bridge/observe")}, nil
}

// Shutdown sends the spans not yet exported and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// ForceFlush sends the spans not yet exported.
func (t *Tracer) ForceFlush(ctx context.Context) error { return t.provider.ForceFlush(ctx) }

// propagator is W3C Trace Context: traceparent and tracestate.
var propagator = propagation.TraceContext{}

// InjectTraceContext sets traceparent (and tracestate) in h from the span
// of ctx; it sets nothing when ctx has no span. It suits
// llm.Options.Propagate and mcpclient.Options.Propagate.
func InjectTraceContext(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Middleware continues the trace of an incoming traceparent header: the
// spans started under the request's context are its children.
func (t *Tracer) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Traceparent") != "" {
			r = r.WithContext(propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		}
		next.ServeHTTP(w, r)
	})
}

// Attribute keys beyond those of the semantic conventions' packages.
const (
	attrOperation    = "gen_ai.operation.name"
	attrRequestModel = "gen_ai.request.model"
	attrInputTokens  = "gen_ai.usage.input_tokens"
	attrOutputTokens = "gen_ai.usage.output_tokens"
	attrToolName     = "gen_ai.tool.name"
	attrToolCallID   = "gen_ai.tool.call.id"
	attrMCPMethod    = "mcp.method.name"
	attrMCPServer    = "mcp.server"
)

// spanKey keys the spans a Started method put in the context, so that the
// matching Finished ends them (and only them).
type spanKey struct{ kind string }

var (
	chatKey  = spanKey{"chat"}
	roundKey = spanKey{"round"}
	toolKey  = spanKey{"tool"}
)

// spans are the spans of one Started call; ended once.
type spans struct {
	once  sync.Once
	outer trace.Span
	inner trace.Span // the MCP call under a tool call; nil elsewhere
}

func (s *spans) end(f func(trace.Span)) {
	s.once.Do(func() {
		if s.inner != nil {
			f(s.inner)
			s.inner.End()
		}
		f(s.outer)
		s.outer.End()
	})
}

func (t *Tracer) ChatStarted(ctx context.Context, s *ChatStart) context.Context {
	ctx, sp := t.tracer.Start(ctx, "chat "+s.Model, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String(attrOperation, "chat"),
			attribute.String(attrRequestModel, s.Model),
			attribute.String("mcp_bridge.upstream", s.Upstream),
			attribute.Bool("mcp_bridge.stream", s.Stream),
			attribute.String("mcp_bridge.request_id", s.RequestID),
		))
	return context.WithValue(ctx, chatKey, &spans{outer: sp})
}

func (t *Tracer) ChatFinished(ctx context.Context, r *ChatRecord) {
	s, ok := ctx.Value(chatKey).(*spans)
	if !ok {
		return
	}
	s.end(func(sp trace.Span) {
		sp.SetAttributes(
			attribute.Int(attrInputTokens, r.PromptTokens),
			attribute.Int(attrOutputTokens, r.CompletionTokens),
			attribute.Int("mcp_bridge.rounds", r.Rounds),
			attribute.Int("mcp_bridge.tool_calls", r.ToolCalls),
			attribute.Int("http.response.status_code", r.Status),
			attribute.String("mcp_bridge.outcome", r.Outcome),
		)
		if r.Outcome == ChatError {
			sp.SetStatus(codes.Error, "chat failed")
		}
	})
}

func (t *Tracer) RoundStarted(ctx context.Context, s *RoundStart) context.Context {
	ctx, sp := t.tracer.Start(ctx, "chat "+s.Model, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String(attrOperation, "chat"),
			attribute.String(attrRequestModel, s.Model),
			attribute.String("mcp_bridge.upstream", s.Upstream),
			attribute.Int("mcp_bridge.round", s.Round),
		))
	return context.WithValue(ctx, roundKey, &spans{outer: sp})
}

func (t *Tracer) RoundFinished(ctx context.Context, r *RoundRecord) {
	s, ok := ctx.Value(roundKey).(*spans)
	if !ok {
		return
	}
	s.end(func(sp trace.Span) {
		sp.SetAttributes(
			attribute.Int(attrInputTokens, r.PromptTokens),
			attribute.Int(attrOutputTokens, r.CompletionTokens),
			attribute.Int("mcp_bridge.tool_calls", r.ToolCalls),
		)
		if r.Err != nil && !errors.Is(r.Err, context.Canceled) {
			// The error's type only: its text may quote the upstream.
			sp.SetStatus(codes.Error, "upstream round failed")
		}
	})
}

func (t *Tracer) ToolCallStarted(ctx context.Context, s *ToolCallStart) context.Context {
	common := []attribute.KeyValue{
		attribute.String(attrToolName, s.Tool),
		attribute.String(attrMCPServer, s.Server),
	}
	outerAttrs := append([]attribute.KeyValue{
		attribute.String(attrOperation, "execute_tool"),
		attribute.String("mcp_bridge.face", s.Face),
	}, common...)
	if s.CallID != "" {
		outerAttrs = append(outerAttrs, attribute.String(attrToolCallID, s.CallID))
	}
	kind := trace.SpanKindInternal
	if s.Face != FaceChat {
		kind = trace.SpanKindServer
	}
	ctx, outer := t.tracer.Start(ctx, "execute_tool "+s.Tool, trace.WithSpanKind(kind), trace.WithAttributes(outerAttrs...))
	ctx, inner := t.tracer.Start(ctx, "tools/call "+s.Tool, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append([]attribute.KeyValue{attribute.String(attrMCPMethod, "tools/call")}, common...)...))
	return context.WithValue(ctx, toolKey, &spans{outer: outer, inner: inner})
}

func (t *Tracer) ToolCallFinished(ctx context.Context, r *ToolCallRecord) {
	s, ok := ctx.Value(toolKey).(*spans)
	if !ok {
		return // refused before it started: no span
	}
	s.end(func(sp trace.Span) {
		sp.SetAttributes(attribute.String("mcp_bridge.outcome", r.Outcome),
			attribute.Int("mcp_bridge.result_bytes", r.ResultBytes))
		if r.Outcome != OutcomeOK {
			// The outcome, not the error's text, which may quote arguments.
			sp.SetStatus(codes.Error, r.Outcome)
		}
	})
}
