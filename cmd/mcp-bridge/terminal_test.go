package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func TestTermText(t *testing.T) {
	tests := []struct {
		name, in, line, multi string
	}{
		{"plain", "héllo wörld", "héllo wörld", "héllo wörld"},
		{"CSI colour and bell", "\x1b[31mred\x1b[0m\x07!", "red!", "red!"},
		{"CSI with parameters and intermediates", "a\x1b[?25lb\x1b[2 qc", "abc", "abc"},
		{"OSC title ended by BEL", "a\x1b]0;owned\x07b", "ab", "ab"},
		{"OSC hyperlink ended by ST", "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link", "link"},
		{"unterminated OSC swallows the rest", "a\x1b]0;owned", "a", "a"},
		{"DCS", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab", "ab"},
		{"two- and three-byte escapes", "a\x1bcb\x1b(Bc\x1b7d", "abcd", "abcd"},
		{"ESC at the end", "a\x1b", "a", "a"},
		{"C1 controls", "a\u009b31mb\u009d0;t\u009cc\u0085d", "abcd", "abcd"},
		{"C0 and DEL", "a\x00b\rc\x08d\x7fe", "abcde", "abcde"},
		{"newlines and tabs", "a\nb\tc", "a b c", "a\nb\tc"},
		{"bidi controls", "a\u202ab\u202bc\u202cd\u202de\u202ef\u2066g\u2067h\u2068i\u2069j", "abcdefghij", "abcdefghij"},
		{"other format characters are kept", "a\u200db\u00e9", "a\u200db\u00e9", "a\u200db\u00e9"},
		{"invalid UTF-8", "a\xffb", "a\ufffdb", "a\ufffdb"},
	}
	for _, tt := range tests {
		if got := termText(tt.in, false); got != tt.line {
			t.Errorf("%s: termText(%q, false) = %q, want %q", tt.name, tt.in, got, tt.line)
		}
		if got := termText(tt.in, true); got != tt.multi {
			t.Errorf("%s: termText(%q, true) = %q, want %q", tt.name, tt.in, got, tt.multi)
		}
	}
}

func TestTermJSON(t *testing.T) {
	in := map[string]string{"s": "x" + mcptest.HostileText + "\u0085\u2066é"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := termJSON(b)
	if want := `{"s":"x\u001b[31mred\u0007\u202e\u0085\u2066é"}`; string(out) != want {
		t.Errorf("termJSON = %s, want %s", out, want)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["s"] != in["s"] {
		t.Errorf("termJSON changed the meaning: %q, %v", back, err)
	}
}

// A server whose names, descriptions and results carry terminal escapes,
// a bell and a bidi override: no command prints any of them.
func TestCommandsPrintNoTerminalControls(t *testing.T) {
	srv := stdioServer("H")
	env := map[string]string{mcptest.EnvHostile: "1"}
	for k, v := range srv["env"].(map[string]string) {
		env[k] = v
	}
	srv["env"] = env
	path := writeJSONConfig(t, map[string]any{"mcpServers": map[string]any{"H": srv}})
	tool := mcpclient.ToolName("H", mcptest.HostileToolName)

	for _, args := range [][]string{
		{"tools"}, {"tools", "-json"},
		{"call", tool, `{}`},
		{"resources"}, {"resources", "-json"}, {"resources", "doc://h/readme"}, {"resources", "-json", "doc://h/items/1"},
		{"prompts"}, {"prompts", "-json"}, {"prompts", "H__greet", `{}`}, {"prompts", "-json", "H__greet", `{}`},
		{"check"},
	} {
		stdout, stderr, err := runCmd(t, append(args, "-c", path)...)
		if _, isExit := exitStatus(err); err != nil && !(isExit && args[0] == "check") {
			t.Errorf("%q: %v\n%s", args, err, stderr)
		}
		for _, out := range []string{stdout, stderr} {
			for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u009b"} {
				if strings.Contains(out, bad) {
					t.Errorf("%q printed %q:\n%q", args, bad, out)
				}
			}
		}
		if !strings.Contains(stdout, "red") && !strings.Contains(stdout, "H") {
			t.Errorf("%q printed nothing of the server's:\n%q", args, stdout)
		}
	}

	stdout, _, _ := runCmd(t, "tools", "-c", path)
	mustContain(t, "tools", stdout, tool, "red description")
	stdout, _, _ = runCmd(t, "call", tool, "-c", path)
	mustContain(t, "call", stdout, "result red\nline\ttwo")
}

func TestMaxDescriptionBytesConfig(t *testing.T) {
	path := writeJSONConfig(t, map[string]any{
		"tools":      map[string]any{"max_description_bytes": 10},
		"mcpServers": map[string]any{"GitHub": stdioServer("GitHub")},
	})
	stdout, stderr, err := runCmd(t, "tools", "-json", "-c", path)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var tools []struct{ Name, Description string }
	if err := json.Unmarshal([]byte(stdout), &tools); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tool := range tools {
		if tool.Name == "GitHub__echo" {
			found = true
			if tool.Description != "Returns…" { // "Returns its text." cut to 10 bytes
				t.Errorf("echo's description = %q, want it cut to 10 bytes", tool.Description)
			}
		}
	}
	if !found {
		t.Fatalf("no GitHub__echo: %s", stdout)
	}
}
