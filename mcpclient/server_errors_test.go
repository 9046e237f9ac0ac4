package mcpclient

import (
	"strings"
	"testing"
)

func TestStderrCause(t *testing.T) {
	long := strings.Repeat("y", 600)
	tests := []struct {
		name, tail, want string
	}{
		{"empty", "", ""},
		{"last lines", "one\ntwo\n\nthree\n", "one | two | three"},
		{"at most five", "1\n2\n3\n4\n5\n6\n7\n", "3 | 4 | 5 | 6 | 7"},
		{"node stack", "Error: Cannot find module '/x'\n    at Module._resolveFilename (node:internal:1:2)\n}\n\nNode.js v20\n",
			"Error: Cannot find module '/x' | Node.js v20"},
		{"a long last line is cut at its start", "first\n" + long + "\n", "first | ..." + strings.Repeat("y", 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stderrCause(tt.tail); got != tt.want {
				t.Errorf("stderrCause = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	r := newRedactor(ServerConfig{
		URL:     "http://user:pa%24%24word@host:8080/mcp?api_key=SECRET123&x=1",
		Env:     map[string]string{"TOKEN": "env-token", "SHORT": "abc"},
		Headers: map[string]string{"Authorization": "Bearer header-secret"},
	}, []string{"configured-secret"})
	in := `Post "http://user:***@host:8080/mcp?api_key=SECRET123&x=1": refused; ` +
		`http://user:pa%24%24word@host:8080/mcp?api_key=SECRET123&x=1 env-token Bearer header-secret configured-secret pa$$word abc`
	got := r.redact(in)
	want := `Post "http://host:8080/mcp": refused; http://host:8080/mcp [redacted] [redacted] [redacted] [redacted] abc`
	if got != want {
		t.Errorf("redact:\n got %s\nwant %s", got, want)
	}
}
