package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	mcpgoclient "github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPClientsBothEras lists and calls tools through the built bridge's
// /mcp with three real clients at their defaults: the TypeScript SDK
// (which speaks 2025-11-25, with a session), go-sdk and mcp-go (which
// speak 2026-07-28, statelessly).
func TestMCPClientsBothEras(t *testing.T) {
	b := gatewayBridge(t)
	const tool, want = "test_simple_text", "This is a simple text response for testing."

	t.Run("typescript-sdk", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, node22, "mcp_client.mjs", b.url+"/mcp", tool, "{}").Output()
		if err != nil {
			t.Fatalf("mcp_client.mjs: %v\n%s", err, out)
		}
		var got struct {
			Protocol string
			Session  bool
			Tools    []string
			Text     string
			IsError  bool
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if got.Protocol != "2025-11-25" || !got.Session || !slices.Contains(got.Tools, tool) || got.Text != want || got.IsError {
			t.Errorf("typescript sdk: %s", out)
		}
	})

	t.Run("go-sdk", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "e2e", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: b.url + "/mcp"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" || cs.ID() != "" {
			t.Errorf("go-sdk negotiated %q, session %q", v, cs.ID())
		}
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool})
		if err != nil || res.IsError || len(res.Content) == 0 || res.Content[0].(*mcp.TextContent).Text != want {
			t.Fatalf("call: %+v %v", res, err)
		}
	})

	t.Run("mcp-go", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := mcpgoclient.NewStreamableHttpClient(b.url + "/mcp")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		init := mcpgo.InitializeRequest{}
		init.Params.ClientInfo = mcpgo.Implementation{Name: "e2e", Version: "1"}
		if _, err := c.Initialize(ctx, init); err != nil {
			t.Fatal(err)
		}
		if v := c.ProtocolVersion(); v != "2026-07-28" {
			t.Errorf("mcp-go negotiated %q", v)
		}
		tools, err := c.ListTools(ctx, mcpgo.ListToolsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(tools.Tools, func(tl mcpgo.Tool) bool { return tl.Name == tool }) {
			t.Errorf("no %s among %d tools", tool, len(tools.Tools))
		}
		call := mcpgo.CallToolRequest{}
		call.Params.Name = tool
		res, err := c.CallTool(ctx, call)
		if err != nil || res.IsError || len(res.Content) == 0 {
			t.Fatalf("call: %+v %v", res, err)
		}
		if tc, ok := res.Content[0].(mcpgo.TextContent); !ok || tc.Text != want {
			t.Errorf("content %#v", res.Content[0])
		}
	})
}
