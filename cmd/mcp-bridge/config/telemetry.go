package config

import (
	"fmt"
	"net/url"

	"gopkg.in/yaml.v3"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Telemetry is the telemetry section: OpenTelemetry traces.
type Telemetry struct {
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

// validateTelemetry checks the telemetry section.
func (c *Config) validateTelemetry(where string) error {
	if e := c.Telemetry.OTLPEndpoint; e != "" {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: telemetry.otlp_endpoint: expected an http:// or https:// URL, got %q", where, mcpclient.RedactURLText(e))
		}
	}
	if r := c.Telemetry.SampleRatio; r < 0 || r > 1 {
		return fmt.Errorf("%s: telemetry.sample_ratio: expected a number from 0 to 1, got %v", where, r)
	}
	return nil
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
