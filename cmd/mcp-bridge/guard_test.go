package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
)

// rewritePin makes the pin of tool in the pins file at path an older
// definition with description desc, as if the server changed it since.
func rewritePin(t *testing.T, path, tool, desc string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version int                   `json:"version"`
		Tools   map[string]*guard.Pin `json:"tools"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	pin := f.Tools[tool]
	if pin == nil {
		t.Fatalf("%s is not pinned in %s", tool, b)
	}
	pin.Definition.Description = desc
	pin.Hash = pin.Definition.Hash()
	b, _ = json.Marshal(f)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestPinsCommands(t *testing.T) {
	cfg := writeJSONConfig(t, map[string]any{
		"mcpServers": map[string]any{"proc": stdioServer("proc")},
		"guard":      map[string]any{"pins": "pins.json"},
	})
	pins := filepath.Join(filepath.Dir(cfg), "pins.json")

	// First sight pins every tool.
	out, _, err := runCmd(t, "-c", cfg, "tools")
	if err != nil || !strings.Contains(out, "proc__echo") {
		t.Fatalf("tools: %v\n%s", err, out)
	}
	out, _, err = runCmd(t, "-c", cfg, "pins", "list")
	if err != nil || !strings.Contains(out, "proc__echo\tproc\tsha256:") || strings.Contains(out, "CHANGED") {
		t.Fatalf("pins list: %v\n%s", err, out)
	}

	// The server's echo now differs from its pin: blocked, on every command.
	rewritePin(t, pins, "proc__echo", "Returns text.")
	out, errOut, err := runCmd(t, "-c", cfg, "tools")
	if err != nil || strings.Contains(out, "proc__echo") || !strings.Contains(out, "proc__add") {
		t.Errorf("tools with a changed tool: %v\n%s", err, out)
	}
	mustContain(t, "tools stderr", errOut, "warning: tool proc__echo of proc is blocked", "mcp-bridge pins approve proc__echo")
	_, _, err = runCmd(t, "-c", cfg, "call", "proc__echo", `{"text":"hi"}`)
	if err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Errorf("call of a blocked tool: %v", err)
	}
	out, _, err = runCmd(t, "-c", cfg, "pins", "list")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "pins list", out, "CHANGED (approve with: mcp-bridge pins approve proc__echo)",
		`-   "description": "Returns text.",`, `+   "description": "Returns its text.",`)

	out, _, err = runCmd(t, "-c", cfg, "pins", "approve", "proc__echo")
	if err != nil || !strings.Contains(out, "approved proc__echo") {
		t.Fatalf("pins approve: %v\n%s", err, out)
	}
	out, errOut, err = runCmd(t, "-c", cfg, "tools")
	if err != nil || !strings.Contains(out, "proc__echo") || strings.Contains(errOut, "blocked") {
		t.Errorf("tools after approve: %v\n%s\n%s", err, out, errOut)
	}
	if _, _, err := runCmd(t, "-c", cfg, "pins", "approve", "proc__echo"); err == nil {
		t.Errorf("approving an unchanged tool succeeded")
	}
}

func TestPinsCommandNeedsPinning(t *testing.T) {
	cfg := writeJSONConfig(t, map[string]any{"listen": "127.0.0.1:9999"})
	if _, _, err := runCmd(t, "-c", cfg, "pins", "list"); err == nil || !strings.Contains(err.Error(), "guard.pins") {
		t.Errorf("pins list without pinning: %v", err)
	}
	if _, _, err := runCmd(t, "-c", cfg, "pins", "forget"); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("pins forget: %v", err)
	}
}

func TestTerminalAsker(t *testing.T) {
	args := json.RawMessage(`{"path":"/tmp/x"}`)
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "approve\n": true, "n\n": false, "\n": false, "sure\n": false} {
		var out strings.Builder
		yes, err := terminalAsker(strings.NewReader(answer), &out)(context.Background(), "fs__write_file", args)
		if err != nil || yes != want {
			t.Errorf("%q: %v, %v", answer, yes, err)
		}
		mustContain(t, "question", out.String(), "fs__write_file needs your approval", `{"path":"/tmp/x"}`, "[y/N]")
	}
	var out strings.Builder
	if _, err := terminalAsker(strings.NewReader(""), &out)(context.Background(), "t", args); err == nil {
		t.Errorf("no answer: no error")
	}
	if _, err := terminalAsker(nil, &out)(context.Background(), "t", args); err == nil {
		t.Errorf("no terminal: no error")
	}
}
