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
	out, _, err = runCmd(t, "-c", cfg, "check")
	if status, _ := exitStatus(err); status != 1 || !strings.Contains(out, "problem: tool proc__echo of proc is blocked: its definition changed") {
		t.Errorf("check with a changed tool: %v\n%s", err, out)
	}
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

// TestServeServesAnApprovedToolAgain: a running bridge keeps a changed
// tool out, says so on /readyz, and serves it again as soon as mcp-bridge
// pins approve (another process) writes the pins file.
func TestServeServesAnApprovedToolAgain(t *testing.T) {
	pins := filepath.Join(t.TempDir(), "pins.json")
	cfg := map[string]any{
		"mcpServers": map[string]any{"proc": stdioServer("proc")},
		"guard":      map[string]any{"pins": pins},
	}
	cmdCfg := writeJSONConfig(t, cfg)
	if _, _, err := runCmd(t, "-c", cmdCfg, "tools"); err != nil {
		t.Fatal(err)
	}
	rewritePin(t, pins, "proc__echo", "Returns text.")

	s, _ := startServeFile(t, cfg, "")
	code, body := request(t, s, "GET", "/readyz", "", "")
	if code != 200 || !strings.Contains(body, `"blocked_tools":[{"name":"proc__echo","server":"proc","reason":"its definition changed`) {
		t.Fatalf("readyz = %d %s", code, body)
	}
	if !strings.Contains(s.stderr.String(), "tool blocked") {
		t.Errorf("the log does not say which tool is blocked:\n%s", s.stderr.String())
	}

	if out, _, err := runCmd(t, "-c", cmdCfg, "pins", "approve"); err != nil || !strings.Contains(out, "approved proc__echo") {
		t.Fatalf("pins approve: %v %s", err, out)
	}
	waitUntil(t, "the approved tool to be served again", func() bool {
		_, body := request(t, s, "GET", "/readyz", "", "")
		return !strings.Contains(body, "blocked_tools")
	})
}

// TestCallAsksForApproval: mcp-bridge call asks on the terminal; with no
// answer there, the call is not made, and the audit log says so.
func TestCallAsksForApproval(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.log")
	cfg := writeJSONConfig(t, map[string]any{
		"mcpServers": map[string]any{"proc": stdioServer("proc")},
		"guard":      map[string]any{"approval": []string{"proc__ec*"}},
		"audit":      map[string]any{"file": audit},
	})
	stdin := os.Stdin
	empty, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	os.Stdin = empty
	defer func() { os.Stdin = stdin }()

	out, errOut, err := runCmd(t, "-c", cfg, "call", "proc__echo", `{"text":"hi"}`)
	if status, _ := exitStatus(err); status != 1 || !strings.Contains(out, "needs a person's approval") || strings.Contains(out, "\nhi\n") {
		t.Errorf("call: %v\n%s", err, out)
	}
	mustContain(t, "the question", errOut, "proc__echo needs your approval", `{"text":"hi"}`)
	log, _ := os.ReadFile(audit)
	mustContain(t, "audit log", string(log), `"event":"guard"`, `"kind":"approval"`, `"action":"required"`, `"tool":"proc__echo"`)

	// Tools that need none are not asked about.
	out, errOut, err = runCmd(t, "-c", cfg, "call", "proc__add", `{"a":1,"b":2}`)
	if err != nil || !strings.Contains(out, "3") || strings.Contains(errOut, "approval") {
		t.Errorf("call add: %v\n%s\n%s", err, out, errOut)
	}
}
