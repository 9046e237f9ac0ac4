package bridge

import (
	"context"
	"testing"
	"time"

	mcpgoclient "github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// TestMCPFaceMCPGoClient: the mcp-go client with its defaults (it probes
// with server/discover and speaks the stateless revision when offered)
// lists and calls tools through /mcp; pinned to 2025-11-25 it gets a
// session.
func TestMCPFaceMCPGoClient(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")})
	for _, tc := range []struct{ ask, want string }{{"", statelessRevision}, {mcpclient.ProtocolVersion, mcpclient.ProtocolVersion}} {
		t.Run(tc.want, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := mcpgoclient.NewStreamableHttpClient(h.srv.URL + "/mcp")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			init := mcpgo.InitializeRequest{}
			init.Params.ProtocolVersion = tc.ask
			init.Params.ClientInfo = mcpgo.Implementation{Name: "mcp-go-test", Version: "1"}
			if _, err := c.Initialize(ctx, init); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			if got := c.ProtocolVersion(); got != tc.want {
				t.Errorf("protocol %q, want %q", got, tc.want)
			}
			if got := c.GetSessionId() != ""; got != (tc.want != statelessRevision) {
				t.Errorf("session id %q", c.GetSessionId())
			}
			tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			found := false
			for _, tl := range tools.Tools {
				found = found || tl.Name == "proc__echo"
			}
			if !found {
				t.Errorf("no proc__echo in %d tools", len(tools.Tools))
			}
			call := mcpgo.CallToolRequest{}
			call.Params.Name = "proc__echo"
			call.Params.Arguments = map[string]any{"text": "from mcp-go"}
			res, err := c.CallTool(ctx, call)
			if err != nil {
				t.Fatalf("tools/call: %v", err)
			}
			if res.IsError || len(res.Content) == 0 {
				t.Fatalf("result %+v", res)
			}
			if tc, ok := res.Content[0].(mcpgo.TextContent); !ok || tc.Text != "from mcp-go" {
				t.Errorf("content %#v", res.Content[0])
			}
		})
	}
}
