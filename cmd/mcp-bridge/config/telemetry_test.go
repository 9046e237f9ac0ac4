package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestConfigTelemetry(t *testing.T) {
	for _, c := range []struct {
		tc   Telemetry
		want string
	}{
		{Telemetry{OTLPEndpoint: "collector:4318"}, "telemetry.otlp_endpoint: expected an http://"},
		{Telemetry{OTLPEndpoint: "http://u:pw@[::1"}, "(unparseable URL)"},
		{Telemetry{SampleRatio: 1.5}, "telemetry.sample_ratio: expected a number from 0 to 1"},
	} {
		err := (&Config{Telemetry: c.tc}).validateTelemetry("f.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "pw") {
			t.Errorf("%+v: %v, want %q without the password", c.tc, err, c.want)
		}
	}
	if err := (&Config{Telemetry: Telemetry{OTLPEndpoint: "http://127.0.0.1:4318", SampleRatio: 0.25}}).validateTelemetry("f.yaml"); err != nil {
		t.Errorf("valid section refused: %v", err)
	}
	if keys := RestartKeys(&Config{}, &Config{Telemetry: Telemetry{SampleRatio: 0.5}}); !slices.Contains(keys, "telemetry") {
		t.Errorf("restart keys %v lack telemetry", keys)
	}
}

// A Claude Desktop file's telemetry setting still loads, with a warning;
// the bridge's section is decoded.
func TestConfigTelemetryKey(t *testing.T) {
	other := writeJSONConfig(t, map[string]any{"telemetry": map[string]any{"enabled": false}})
	c, err := Load(other, os.Getenv)
	if err != nil || len(c.Warnings) == 0 || !strings.Contains(c.Warnings[0], "another client's setting") {
		t.Errorf("Claude Desktop telemetry: %v, warnings %q", err, c.Warnings)
	}
	ours := writeJSONConfig(t, map[string]any{"telemetry": map[string]any{"otlp_endpoint": "http://127.0.0.1:4318", "sample_ratio": 0.5}})
	c, err = Load(ours, os.Getenv)
	if err != nil || c.Telemetry.OTLPEndpoint != "http://127.0.0.1:4318" || c.Telemetry.SampleRatio != 0.5 {
		t.Errorf("bridge telemetry: %v, %+v", err, c.Telemetry)
	}
}
