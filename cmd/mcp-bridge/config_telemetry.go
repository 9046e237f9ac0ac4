package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
)

// telemetryConfig is the telemetry section: OpenTelemetry traces.
type telemetryConfig struct {
	// OTLPEndpoint is the OTLP/HTTP collector's base URL (e.g.
	// http://127.0.0.1:4318); traces go to its /v1/traces. Empty means
	// traces are off unless OTEL_EXPORTER_OTLP_ENDPOINT,
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_SERVICE_NAME is set.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the share of new traces sampled, from 0 to 1; a trace
	// continued from a caller's traceparent follows the caller's choice.
	// 0 (unset) means 1.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// tracing reports whether traces are configured, in the file or by the
// standard OpenTelemetry variables.
func (c *config) tracing() bool {
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
func (c *config) propagate() func(context.Context, http.Header) {
	if !c.tracing() {
		return nil
	}
	return observe.InjectTraceContext
}

// validateTelemetry checks the telemetry section.
func (c *config) validateTelemetry(where string) error {
	if e := c.Telemetry.OTLPEndpoint; e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: telemetry.otlp_endpoint: expected an http:// or https:// URL, got %q", where, redactedURL(e))
		}
	}
	if r := c.Telemetry.SampleRatio; r < 0 || r > 1 {
		return fmt.Errorf("%s: telemetry.sample_ratio: expected a number from 0 to 1, got %v", where, r)
	}
	return nil
}

// redactedURL is s without its user information, for errors.
func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparseable)"
}

// newTracer makes the tracer the config asks for; nil when traces are off.
func (c *config) newTracer() (*observe.Tracer, error) {
	if !c.tracing() {
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

// isBridgeTelemetry reports whether a top-level telemetry value is the
// bridge's section (a mapping of only its keys) rather than the setting
// of another client's file, which is ignored with a warning.
func isBridgeTelemetry(val *yaml.Node) bool {
	if val.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(val.Content); i += 2 {
		switch val.Content[i].Value {
		case "otlp_endpoint", "sample_ratio":
		default:
			return false
		}
	}
	return true
}
