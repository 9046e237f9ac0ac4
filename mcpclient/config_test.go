package mcpclient

import (
	"context"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestTransportType(t *testing.T) {
	custom := func(context.Context) (mcp.Transport, error) { return nil, nil }
	tests := []struct {
		cfg  ServerConfig
		want string
	}{
		{ServerConfig{Command: "npx"}, TransportStdio},
		{ServerConfig{URL: "https://example.com/mcp"}, TransportHTTP},
		{ServerConfig{URL: "http://127.0.0.1:3001/sse"}, TransportSSE},
		{ServerConfig{URL: "http://127.0.0.1:3001/sse/"}, TransportSSE},
		{ServerConfig{URL: "http://127.0.0.1:3001/sse?key=1"}, TransportSSE},
		{ServerConfig{URL: "http://127.0.0.1:3001/ssex"}, TransportHTTP},
		{ServerConfig{URL: "ws://127.0.0.1:3002/mcp"}, TransportWS},
		{ServerConfig{URL: "WSS://example.com/mcp"}, TransportWS},
		{ServerConfig{URL: "http://x/sse", Type: "streamable-http"}, TransportHTTP},
		{ServerConfig{URL: "http://x/mcp", Type: "streamableHttp"}, TransportHTTP},
		{ServerConfig{URL: "http://x/mcp", Type: "HTTP"}, TransportHTTP},
		{ServerConfig{URL: "http://x/events", Type: "sse"}, TransportSSE},
		{ServerConfig{URL: "http://x/mcp", Type: "websocket"}, TransportWS},
		{ServerConfig{Command: "x", Type: "stdio"}, TransportStdio},
		{ServerConfig{URL: "http://x/mcp", Type: "grpc"}, "grpc"},
		{ServerConfig{Command: "x", Transport: custom}, TransportCustom},
	}
	for _, tt := range tests {
		if got := tt.cfg.TransportType(); got != tt.want {
			t.Errorf("%+v: TransportType() = %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	custom := func(context.Context) (mcp.Transport, error) { return nil, nil }
	tests := []struct {
		name    string
		cfg     ServerConfig
		wantErr string // "" = valid
	}{
		{"stdio", ServerConfig{Name: "fs", Command: "npx", Args: []string{"-y", "x"}}, ""},
		{"http", ServerConfig{Name: "gh", URL: "https://example.com/mcp"}, ""},
		{"sse", ServerConfig{Name: "legacy", Type: "sse", URL: "http://127.0.0.1:3001/sse"}, ""},
		{"custom", ServerConfig{Name: "mem", Transport: custom}, ""},
		{"no name", ServerConfig{Command: "x"}, "name is required"},
		{"neither", ServerConfig{Name: "a"}, `mcp server "a": either command (stdio) or url (remote) is required`},
		{"both", ServerConfig{Name: "a", Command: "x", URL: "http://x/mcp"}, "mutually exclusive"},
		{"ws", ServerConfig{Name: "a", URL: "ws://x/mcp"}, ""},
		{"wss", ServerConfig{Name: "a", URL: "wss://x/mcp", Headers: map[string]string{"Authorization": "Bearer k"}}, ""},
		{"websocket over an http url", ServerConfig{Name: "a", Type: "websocket", URL: "https://x/mcp"}, ""},
		{"websocket bad scheme", ServerConfig{Name: "a", Type: "ws", URL: "ftp://x/mcp"}, "scheme must be ws, wss, http or https"},
		{"ws url for http", ServerConfig{Name: "a", Type: "http", URL: "ws://x/mcp"}, "scheme must be http or https"},
		{"ws no host", ServerConfig{Name: "a", URL: "ws:///mcp"}, "has no host"},
		{"ws without url", ServerConfig{Name: "a", Command: "x", Type: "ws"}, "needs a url"},
		{"unknown type", ServerConfig{Name: "a", URL: "http://x/mcp", Type: "grpc"}, `unknown type "grpc"`},
		{"stdio without command", ServerConfig{Name: "a", URL: "http://x/mcp", Type: "stdio"}, "needs a command"},
		{"http without url", ServerConfig{Name: "a", Command: "x", Type: "http"}, "needs a url"},
		{"bad scheme", ServerConfig{Name: "a", URL: "ftp://x/mcp", Type: "http"}, "scheme must be http or https"},
		{"no host", ServerConfig{Name: "a", URL: "http:///mcp"}, "has no host"},
		{"bad url", ServerConfig{Name: "a", URL: "http://x/%zz?secret"}, "invalid url: invalid URL escape"},
		{"secret not echoed", ServerConfig{Name: "a", URL: "ftp://user:secret@x/mcp?token=secret", Type: "sse"}, "ftp://x/mcp"},
		{"bad allow glob", ServerConfig{Name: "a", Command: "x", Allow: []string{"["}}, `invalid tool glob "["`},
		{"bad deny glob", ServerConfig{Name: "a", Command: "x", Deny: []string{"a["}}, `invalid tool glob "a["`},
		{"negative timeout", ServerConfig{Name: "a", Command: "x", Timeout: -1}, "timeout must not be negative"},
		{"negative concurrency", ServerConfig{Name: "a", Command: "x", MaxConcurrency: -1}, "max concurrency must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Fatalf("Validate() = %q leaks a secret", err)
			}
		})
	}
}

func TestToolAllowed(t *testing.T) {
	tests := []struct {
		allow, deny []string
		tool        string
		want        bool
	}{
		{nil, nil, "anything", true},
		{[]string{"read_*"}, nil, "read_file", true},
		{[]string{"read_*"}, nil, "write_file", false},
		{[]string{"read_*", "list_*"}, nil, "list_dir", true},
		{nil, []string{"delete_*"}, "delete_file", false},
		{nil, []string{"delete_*"}, "read_file", true},
		{[]string{"*"}, []string{"exec"}, "exec", false},
		{[]string{"exec"}, []string{"exec"}, "exec", false}, // deny wins
		{[]string{"get.?tem"}, nil, "get.item", true},
		{[]string{"["}, nil, "x", false}, // malformed glob matches nothing
	}
	for _, tt := range tests {
		c := ServerConfig{Allow: tt.allow, Deny: tt.deny}
		if got := c.ToolAllowed(tt.tool); got != tt.want {
			t.Errorf("allow %q deny %q: ToolAllowed(%q) = %v, want %v", tt.allow, tt.deny, tt.tool, got, tt.want)
		}
	}
}

func TestToolPrefix(t *testing.T) {
	empty, custom := "", "gh"
	tests := []struct {
		prefix *string
		want   string
	}{{nil, "github"}, {&empty, ""}, {&custom, "gh"}}
	for _, tt := range tests {
		if got := (ServerConfig{Name: "github", Prefix: tt.prefix}).ToolPrefix(); got != tt.want {
			t.Errorf("ToolPrefix() = %q, want %q", got, tt.want)
		}
	}
}
