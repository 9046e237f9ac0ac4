package config

import (
	"strings"
	"testing"
)

// Errors a new user meets: each names the file, the line and the full key
// path, and every error of a file comes at once.
func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    []string
		not     []string
	}{
		{
			name: "a word for an integer",
			file: "bridge.yaml",
			content: `listen: 127.0.0.1:9090
upstream:
  base_url: http://127.0.0.1:11434/v1

tools:
  max_rounds: lots
`,
			want: []string{`line 6: tools.max_rounds: expected an integer, got "lots"`},
		},
		{
			name: "a bad indent is reported on its own line",
			file: "bridge.yaml",
			content: `mcpServers:
  fs:
    command: npx
    args: [a]
   env: {}
`,
			want: []string{"line 5", "indentation"},
		},
		{
			name: "a bad indent under a list item",
			file: "bridge.yaml",
			content: `auth:
  keys:
    - name: a
      key: k1
     policy: p
`,
			want: []string{"line 5", "indentation"},
		},
		{
			name: "a misspelt server key is named",
			file: "bridge.yaml",
			content: `mcpServers:
  fs:
    comand: npx
    args: [a]
`,
			want: []string{`line 3: unknown key "mcpServers.fs.comand" (did you mean "command"?)`},
			not:  []string{"either command or url"},
		},
		{
			name: "a misspelt top-level key",
			file: "bridge.yaml",
			content: `upstrem:
  base_url: http://x
`,
			want: []string{`line 1: unknown key "upstrem" (did you mean "upstream"?)`},
		},
		{
			name: "a misspelt key in a list of mappings",
			file: "bridge.yaml",
			content: `auth:
  keys:
    - name: a
      kye: k1
`,
			want: []string{`line 4: unknown key "auth.keys[0].kye" (did you mean "key"?)`},
		},
		{
			name: "every error at once",
			file: "bridge.yaml",
			content: `tools:
  max_rounds: lots
  dispaly: none
mcpServers:
  fs:
    comand: npx
  web:
    url: http://127.0.0.1:1/mcp
    timeout: forever
limits:
  max_body_bytes: big
`,
			want: []string{
				`line 2: tools.max_rounds: expected an integer, got "lots"`,
				`line 3: unknown key "tools.dispaly" (did you mean "display"?)`,
				`line 6: unknown key "mcpServers.fs.comand"`,
				`line 9: mcpServers.web.timeout: expected a duration`,
				`line 11: limits.max_body_bytes: expected an integer, got "big"`,
			},
		},
		{
			name: "checks after decoding name their line too",
			file: "bridge.yaml",
			content: `log:
  level: loud
tools:
  display: fancy
`,
			want: []string{`line 2: log.level: expected debug`, `line 4: tools.display: expected none, status or details`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), tc.file, tc.content)
			msg := loadErr(t, path, noEnv)
			mustContain(t, "error", msg, tc.want...)
			for _, line := range strings.Split(msg, "\n") {
				if !strings.HasPrefix(line, path+": line ") {
					t.Errorf("error line %q does not begin with the file and a line", line)
				}
			}
			for _, not := range tc.not {
				if strings.Contains(msg, not) {
					t.Errorf("error = %q, want no %q", msg, not)
				}
			}
		})
	}
}

// A Claude Desktop file, with the settings Claude Desktop keeps next to
// mcpServers, loads with a warning for each.
func TestConfigClaudeDesktopFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "claude_desktop_config.json", `{
  "globalShortcut": "Ctrl+Space",
  "preferences": {"menuBarEnabled": false},
  "mcpServers": {
    "memory": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
  }
}`)
	c := mustLoad(t, path, noEnv)
	if s := server(t, c, "memory"); s.Command != "npx" {
		t.Errorf("memory = %+v", s)
	}
	mustContain(t, "warnings", strings.Join(c.Warnings, "\n"), `"globalShortcut"`, `"preferences"`, "line 2", "ignored")
}

func TestBadIndent(t *testing.T) {
	for _, tc := range []struct {
		text string
		want int
	}{
		{"a: 1\nb:\n  c: 2\n  d: 3\n", 0},
		{"a: 1\nb:\n  c: 2\n   d: 3\n", 4},
		{"a: 1\nb:\n  c: 2\n d: 3\n", 4},
		{"l:\n  - x\n  - y\nm: 1\n", 0},
		{"l:\n- x\n- y: 1\n  z: 2\nm: 1\n", 0},
		{"s: |\n  text\n    more\nm: 1\n", 0},
		{"# c\n\na:\n    b: 1\n    c:\n      - d: 1\n        e: 2\n", 0},
	} {
		if got := badIndent(tc.text); got != tc.want {
			t.Errorf("badIndent(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
}
