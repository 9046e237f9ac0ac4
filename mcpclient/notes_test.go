package mcpclient_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// slowCaller is an OrderedCaller that takes its time over each
// notification, as a client behind a slow network would.
type slowCaller struct {
	testCaller
	mu       sync.Mutex
	progress int
}

func (c *slowCaller) OrderedNotifications() bool { return true }

func (c *slowCaller) Progress(ctx context.Context, p *mcp.ProgressNotificationParams) {
	time.Sleep(20 * time.Millisecond)
	c.mu.Lock()
	c.progress++
	c.mu.Unlock()
}

// TestOrderedNotificationsOnEveryTransport: a call made for an
// OrderedCaller returns only after every progress notification its server
// sent before the result was handled, however long the handling takes, on
// each transport the bridge speaks. A stateless MCP client of the face
// depends on it: what comes after the result has no stream to go on.
func TestOrderedNotificationsOnEveryTransport(t *testing.T) {
	const count = 8
	remote := func(h http.Handler, path string) string {
		hs := httptest.NewServer(h)
		t.Cleanup(hs.Close)
		return hs.URL + path
	}
	for _, cfg := range []mcpclient.ServerConfig{
		mcptest.StdioServer("stdio"),
		{Name: "http", URL: remote(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return mcptest.NewServer() }, nil), "/mcp")},
		{Name: "sse", Type: "sse", URL: remote(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return mcptest.NewServer() }, nil), "/sse")},
		{Name: "ws", URL: newWSServer(t, mcptest.NewServer()).url()},
	} {
		t.Run(cfg.Name, func(t *testing.T) {
			r, _ := start(t, nil, cfg)
			for round := range 3 {
				c := &slowCaller{}
				ctx, cancel := context.WithTimeout(mcpclient.WithCaller(context.Background(), c, "tok"), waitTimeout)
				res, err := r.CallTool(ctx, cfg.Name+"__chatty", []byte(`{"count":8}`))
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				c.mu.Lock()
				got := c.progress
				c.mu.Unlock()
				if got != count || res.IsError {
					t.Fatalf("round %d: %d progress notifications handled when the call returned, want %d (result %+v)", round, got, count, res)
				}
			}
		})
	}
}
