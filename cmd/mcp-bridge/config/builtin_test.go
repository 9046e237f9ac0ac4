package config

import (
	"os"
	"testing"
)

func TestConfigBuiltinModel(t *testing.T) {
	dir := t.TempDir()
	if c := mustLoad(t, writeFile(t, dir, "default.yaml", "tools:\n  max_rounds: 4\n"), noEnv); !c.Tools.BuiltinModelEnabled() {
		t.Error("tools.builtin_model is off by default, want on")
	}
	off := writeFile(t, dir, "off.yaml", "tools:\n  builtin_model: false\n")
	if c := mustLoad(t, off, noEnv); c.Tools.BuiltinModelEnabled() {
		t.Error("tools.builtin_model: false left it on")
	}
	t.Setenv("MCP_BRIDGE_TOOLS_BUILTIN_MODEL", "true")
	if c := mustLoad(t, off, os.Getenv); !c.Tools.BuiltinModelEnabled() {
		t.Error("MCP_BRIDGE_TOOLS_BUILTIN_MODEL=true did not override the file")
	}
	t.Setenv("MCP_BRIDGE_TOOLS_BUILTIN_MODEL", "perhaps")
	mustContain(t, "error", loadErr(t, off, os.Getenv), "MCP_BRIDGE_TOOLS_BUILTIN_MODEL", "true or false")
	bad := writeFile(t, dir, "bad.yaml", "tools:\n  builtin_model: sometimes\n")
	mustContain(t, "error", loadErr(t, bad, noEnv), bad, "line 2", "true or false", "sometimes")
}
