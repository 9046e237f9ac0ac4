package mcpclient_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// headerRecorder records the Authorization header of every request.
type headerRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (h *headerRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Get("Authorization"))
		h.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (h *headerRecorder) check(t *testing.T, want string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		t.Fatal("no request reached the server")
	}
	for i, got := range h.seen {
		if got != want {
			t.Errorf("request %d: Authorization %q, want %q", i, got, want)
		}
	}
}

func TestRemoteTransports(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		handler   func(*mcp.Server) http.Handler
		path      string
	}{
		{"streamable http", mcpclient.TransportHTTP, func(s *mcp.Server) http.Handler {
			return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
		}, "/mcp"},
		{"sse", mcpclient.TransportSSE, func(s *mcp.Server) http.Handler {
			return mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil)
		}, "/sse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &headerRecorder{}
			hs := httptest.NewServer(rec.wrap(tt.handler(mcptest.NewServerWithOptions(nil))))
			t.Cleanup(hs.Close) // after the registry's Close, registered later

			cfg := mcpclient.ServerConfig{
				Name:    "remote",
				URL:     hs.URL + tt.path,
				Headers: map[string]string{"Authorization": "Bearer secret"},
			}
			r, ev := start(t, nil, cfg)
			if st := status(t, r, "remote"); st.State != mcpclient.StateReady || st.Transport != tt.transport {
				t.Fatalf("status = %+v", st)
			}
			if res := call(t, r, "remote__echo", `{"text":"remote"}`); res.Text != "remote" {
				t.Fatalf("echo = %+v", res)
			}
			// Server-to-client notifications arrive over the event stream.
			call(t, r, "remote__add_tool", ``)
			ev.wait(t, "remote", mcpclient.EventToolsChanged)
			if res := call(t, r, "remote__late", ``); res.Text != "late" {
				t.Fatalf("late = %+v", res)
			}
			rec.check(t, "Bearer secret")

			if tt.transport == mcpclient.TransportSSE {
				// A lost event stream ends the session; the client reconnects.
				hs.CloseClientConnections()
				ev.wait(t, "remote", mcpclient.EventDown)
				ev.wait(t, "remote", mcpclient.EventUp)
				if res := call(t, r, "remote__echo", `{"text":"reconnected"}`); res.Text != "reconnected" {
					t.Fatalf("echo = %+v", res)
				}
			}
		})
	}
}
