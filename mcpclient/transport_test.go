package mcpclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestRingBuffer(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{"empty", 8, nil, ""},
		{"fits", 8, []string{"ab", "cd"}, "abcd"},
		{"exactly full", 4, []string{"ab", "cd"}, "abcd"},
		{"overflow starts at a complete line", 10, []string{"line1\n", "line2\n", "line3\n"}, "line3\n"},
		{"one big write keeps its tail", 6, []string{"0123456789\nabcd"}, "abcd"},
		{"no newline: starts at a rune boundary", 4, []string{"xxé€"}, "€"},
		{"newline as last byte is kept", 4, []string{"abcde\n"}, "cde\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newRingBuffer(tt.size)
			for _, w := range tt.writes {
				n, err := b.Write([]byte(w))
				if n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := b.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if len(b.buf) > tt.size {
				t.Errorf("kept %d bytes, more than %d", len(b.buf), tt.size)
			}
		})
	}
}

func TestStdioEnv(t *testing.T) {
	environ := []string{"PATH=/bin", "HOME=/root", "LC_ALL=C", "OPENAI_API_KEY=sk-secret", "MCP_BRIDGE_KEY=k",
		"NODE_OPTIONS=--x", "NODE_ENV=prod", "GITHUB_TOKEN=ghp", "NOEQUALS", "=C:=C:\\"}
	tests := []struct {
		name string
		cfg  ServerConfig
		want []string
	}{
		{"safe set and own env", ServerConfig{Env: map[string]string{"Z": "1", "HOME": "/tmp", "A": "x=y"}},
			[]string{"PATH=/bin", "HOME=/root", "LC_ALL=C", "A=x=y", "HOME=/tmp", "Z=1"}},
		{"passthrough names and globs", ServerConfig{EnvPassthrough: []string{"GITHUB_TOKEN", "NODE_*"}},
			[]string{"PATH=/bin", "HOME=/root", "LC_ALL=C", "NODE_OPTIONS=--x", "NODE_ENV=prod", "GITHUB_TOKEN=ghp"}},
		{"inherit", ServerConfig{InheritEnv: true, Env: map[string]string{"K": "V"}},
			append(append([]string(nil), environ...), "K=V")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stdioEnv(environ, tt.cfg); !slices.Equal(got, tt.want) {
				t.Fatalf("stdioEnv = %q, want %q", got, tt.want)
			}
		})
	}
	if environ[0] != "PATH=/bin" || len(environ) != 10 {
		t.Fatalf("stdioEnv modified its input: %q", environ)
	}
}

func TestHeaderRoundTripper(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()

	client := newHTTPClient(map[string]string{"Authorization": "Bearer k", "x-custom": "v"}, "", nil)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := <-got
	if h.Get("Authorization") != "Bearer k" || h.Get("X-Custom") != "v" || h.Get("Accept") != "text/event-stream" {
		t.Fatalf("server saw headers %v", h)
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatalf("the caller's request was modified: %v", req.Header)
	}
}

func TestHeaderOf(t *testing.T) {
	if h := headerOf(nil); h != nil {
		t.Errorf("headerOf(nil) = %v, want nil", h)
	}
	h := headerOf(map[string]string{"x-api-key": "k", "Host": "h"})
	if len(h) != 2 || h.Get("X-Api-Key") != "k" || h.Get("Host") != "h" {
		t.Errorf("headerOf = %v", h)
	}
}

func TestNewAttempt(t *testing.T) {
	ctx := context.Background()
	client := newHTTPClient(nil, "", nil)
	opts := (*Options)(nil).withDefaults()
	ws, err := newAttempt(ctx, ServerConfig{Name: "w", URL: "ws://x/mcp", Headers: map[string]string{"authorization": "Bearer k"}}, opts, opts.Logger, client)
	if err != nil {
		t.Fatalf("ws: %v", err)
	}
	ct, ok := ws.transport.(countingTransport)
	wt, _ := ct.Transport.(*WebSocketTransport)
	if !ok || wt == nil || ct.notes == nil || ct.notes != ws.notes || ws.kind != TransportWS || wt.URL != "ws://x/mcp" || wt.HTTPClient != client || wt.Header.Get("Authorization") != "Bearer k" {
		t.Errorf("ws attempt not configured: %+v %+v", ws, ws.transport)
	}
	a, err := newAttempt(ctx, ServerConfig{Name: "s", Command: "/bin/true", Cwd: "/tmp", Env: map[string]string{"K": "V"}}, opts, opts.Logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.stdio == nil || a.stdio.cmd.Dir != "/tmp" || !slices.Contains(a.stdio.cmd.Env, "K=V") || a.stderr == nil ||
		a.stdio.maxFrame != defaultMaxFrameBytes || a.stdio.terminate != opts.TerminateTimeout {
		t.Errorf("stdio attempt not configured: %+v", a.stdio)
	}
	opts.MaxFrameBytes = 1 << 20
	if a, err := newAttempt(ctx, ServerConfig{Name: "s", Command: "/bin/true"}, opts, opts.Logger, nil); err != nil || a.stdio.maxFrame != 1<<20 {
		t.Errorf("MaxFrameBytes not passed on: %v, %v", a, err)
	}
	if a.exitInfo() != "" {
		t.Errorf("exitInfo before start = %q", a.exitInfo())
	}
	for _, u := range []string{"http://x/mcp", "http://x/sse"} {
		if a, err := newAttempt(ctx, ServerConfig{Name: "r", URL: u}, opts, opts.Logger, http.DefaultClient); err != nil || a.transport == nil {
			t.Errorf("%s: newAttempt = %v, %v", u, a, err)
		}
	}
}

// TestForwardIdentity checks a remote server configured to receive the
// caller's name gets it from the call's context, and no name otherwise,
// whatever the request said.
func TestForwardIdentity(t *testing.T) {
	got := make(chan http.Header, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer srv.Close()
	client := newHTTPClient(nil, "X-Bridge-User", nil)
	for _, c := range []struct {
		ctx  context.Context
		want string
	}{
		{WithIdentity(context.Background(), "alice"), "alice"},
		{context.Background(), ""},
	} {
		req, _ := http.NewRequestWithContext(c.ctx, http.MethodGet, srv.URL, nil)
		req.Header.Set("X-Bridge-User", "mallory")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := <-got; h.Get("X-Bridge-User") != c.want {
			t.Errorf("server saw X-Bridge-User %q, want %q", h.Get("X-Bridge-User"), c.want)
		}
	}
}
