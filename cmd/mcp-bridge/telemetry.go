package main

import (
	"context"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"net/http"
	"os"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

// tracing reports whether traces are configured, in the file or by the
// standard OpenTelemetry variables.
func tracing(c *config.Config) bool {
	if c.Telemetry.OTLPEndpoint != "" {
		return true
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// propagate is the trace context hook of the upstream and MCP clients:
// nil when traces are off, so that nothing is sent then.
func propagate(c *config.Config) func(context.Context, http.Header) {
	if !tracing(c) {
		return nil
	}
	return observe.InjectTraceContext
}

// newTracer makes the tracer the config asks for; nil when traces are off.
func newTracer(c *config.Config) (*observe.Tracer, error) {
	if !tracing(c) {
		return nil, nil
	}
	return observe.NewTracer(&observe.TracerOptions{Endpoint: c.Telemetry.OTLPEndpoint,
		SampleRatio: c.Telemetry.SampleRatio, Version: version()})
}

// shutdownTracer sends the spans not yet exported, waiting at most 5 s.
func shutdownTracer(t *observe.Tracer) {
	if t == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.Shutdown(ctx)
}
