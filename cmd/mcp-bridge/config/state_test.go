package config

import (
	"slices"
	"strings"
	"testing"
)

// TestConfigState checks the state section: loaded from the file and
// MCP_BRIDGE_STATE_* variables, its errors naming the key and line
// without the URL's password, the password among the secrets, and a
// change of it needing a restart.
func TestConfigState(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "mcp-bridge.yaml", "state:\n  redis: rediss://:pw-0123456789@cache.internal:6380/2\n  prefix: \"team-a:\"\n  on_redis_down: fail_closed\n")
	c, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.State != (State{Redis: "rediss://:pw-0123456789@cache.internal:6380/2", Prefix: "team-a:", OnRedisDown: "fail_closed"}) {
		t.Errorf("state %+v", c.State)
	}
	if !slices.Contains(c.Secrets(), "pw-0123456789") {
		t.Error("the Redis password is not among the secrets")
	}
	for _, bad := range []struct{ yaml, want string }{
		{"state:\n  redis: http://u:pw-0123456789@h:6379\n", "line 2: state.redis: expected a redis:// or rediss:// URL"},
		{"state:\n  redis: redis://127.0.0.1:6379\n  on_redis_down: maybe\n", "line 3: state.on_redis_down: expected fail_open or fail_closed"},
		{"state:\n  redis: redis://127.0.0.1:6379\n  other: 1\n", "other"},
	} {
		_, err := Load(writeFile(t, dir, "bad.yaml", bad.yaml), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), bad.want) || strings.Contains(err.Error(), "pw-0123456789") {
			t.Errorf("%q: %v, want %q", bad.yaml, err, bad.want)
		}
	}

	t.Setenv("MCP_BRIDGE_STATE_REDIS", "redis://127.0.0.1:6379/0")
	t.Setenv("MCP_BRIDGE_STATE_ON_REDIS_DOWN", "fail_open")
	c2, err := Load(path, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c2.State.Redis != "redis://127.0.0.1:6379/0" || c2.State.OnRedisDown != "fail_open" {
		t.Errorf("env overrides: %+v", c2.State)
	}
	if keys := RestartKeys(c, c2); !slices.Contains(keys, "state") {
		t.Errorf("restart keys %v", keys)
	}
}
