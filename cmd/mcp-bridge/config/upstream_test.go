package config

import (
	"testing"
	"time"
)

func TestConfigUpstreamTimeouts(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
upstream:
  base_url: http://127.0.0.1:8000/v1
  first_byte_timeout: 30s
  stall_timeout: 1m
`)
	c := mustLoad(t, path, noEnv)
	if got := time.Duration(c.Upstream.FirstByteTimeout); got != 30*time.Second {
		t.Errorf("upstream.first_byte_timeout = %v, want 30s", got)
	}
	if got := time.Duration(c.Upstream.StallTimeout); got != time.Minute {
		t.Errorf("upstream.stall_timeout = %v, want 1m", got)
	}

	t.Setenv("MCP_BRIDGE_UPSTREAM_FIRST_BYTE_TIMEOUT", "5m")
	t.Setenv("MCP_BRIDGE_UPSTREAM_STALL_TIMEOUT", "45s")
	c = mustLoad(t, path, noEnv)
	if got := time.Duration(c.Upstream.FirstByteTimeout); got != 5*time.Minute {
		t.Errorf("MCP_BRIDGE_UPSTREAM_FIRST_BYTE_TIMEOUT: %v, want 5m", got)
	}
	if got := time.Duration(c.Upstream.StallTimeout); got != 45*time.Second {
		t.Errorf("MCP_BRIDGE_UPSTREAM_STALL_TIMEOUT: %v, want 45s", got)
	}

	t.Setenv("MCP_BRIDGE_UPSTREAM_STALL_TIMEOUT", "later")
	mustContain(t, "error", loadErr(t, path, noEnv), "MCP_BRIDGE_UPSTREAM_STALL_TIMEOUT", "duration")

	bad := writeFile(t, t.TempDir(), "bridge.yaml", "upstream:\n  first_byte_timeout: soon\n")
	mustContain(t, "error", loadErr(t, bad, noEnv), bad, "line 2", "duration")
}
