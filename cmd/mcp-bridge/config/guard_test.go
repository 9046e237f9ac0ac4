package config

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
)

func TestGuardSection(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "mcp-bridge.yaml", `
guard:
  secrets: block
  pii: mask
  patterns:
    - {name: employee-id, regex: "EMP-[0-9]{6}", action: mask}
  pins: pins.json
  on_change: warn
  scan: block
  approval: ["fs__write_*", "*__delete*"]
`)
	c, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	o := c.GuardOptions()
	if o.Secrets != guard.Block || o.PII != guard.Mask || o.OnChange != guard.Warn || o.Scan != guard.Block ||
		!slices.Equal(o.Approval, []string{"fs__write_*", "*__delete*"}) || len(o.Patterns) != 1 ||
		o.Patterns[0] != (guard.Pattern{Name: "employee-id", Regex: "EMP-[0-9]{6}", Action: "mask"}) {
		t.Errorf("options = %+v", o)
	}
	if o.Pins != filepath.Join(dir, "pins.json") {
		t.Errorf("pins = %q, want it beside the config file", o.Pins)
	}
}

func TestGuardDefaults(t *testing.T) {
	c, err := Load(writeFile(t, t.TempDir(), "mcp-bridge.yaml", "listen: 127.0.0.1:9999\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	o := c.GuardOptions()
	if o.Secrets != guard.Mask || o.PII != "" || o.Scan != guard.Warn || o.Pins != "" || o.Approval != nil {
		t.Errorf("defaults = %+v", o)
	}
}

func TestGuardErrorsNameTheKeyAndLine(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"guard:\n  secrets: hide\n", `line 2: guard.secrets: expected off, log, mask or block, got "hide"`},
		{"guard:\n  scan: mask\n", `line 2: guard.scan: expected off, warn or block`},
		{"guard:\n  on_change: ignore\n", `line 2: guard.on_change: expected warn or block`},
		{"guard:\n  patterns:\n    - {name: x, regex: \"(\"}\n", `line 2: guard.patterns[0] (x): regex:`},
		{"guard:\n  approval: [\"[a\"]\n", `line 2: guard.approval: "[a" is not a valid glob`},
		{"guard:\n  secret: mask\n", `unknown key "guard.secret"`},
	} {
		_, err := Load(writeFile(t, t.TempDir(), "mcp-bridge.yaml", tc.yaml), noEnv)
		if err == nil {
			t.Errorf("%q: loaded", tc.yaml)
			continue
		}
		mustContain(t, "error", err.Error(), tc.want)
	}
}

func TestGuardChangesNeedARestart(t *testing.T) {
	a, b := &Config{}, &Config{Guard: Guard{PII: "mask"}}
	if keys := RestartKeys(a, b); !slices.Contains(keys, "guard") {
		t.Errorf("RestartKeys = %q, want guard", keys)
	}
}
