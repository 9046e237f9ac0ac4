package mcptest

import (
	"context"
	"fmt"
	"net"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// InMemoryPipe is [InMemory] with the client's side an *mcp.IOTransport over
// an in-memory pipe rather than an *mcp.InMemoryTransport, so that the
// registry sees the bytes of every message as it does those of a stdio
// server.
func InMemoryPipe(name string, srv *mcp.Server) mcpclient.ServerConfig {
	return mcpclient.ServerConfig{
		Name: name,
		Transport: func(ctx context.Context) (mcp.Transport, error) {
			client, server := net.Pipe()
			if _, err := srv.Connect(ctx, &mcp.IOTransport{Reader: server, Writer: server}, nil); err != nil {
				return nil, fmt.Errorf("connecting in-memory server: %w", err)
			}
			return &mcp.IOTransport{Reader: client, Writer: client}, nil
		},
	}
}

// ListRawTools makes srv list tools as they are, after its own tools, in
// every tools/list result, bypassing the checks of mcp.Server.AddTool (which
// refuses, for instance, schemas nested deeper than go-sdk decodes): for
// tests of what a hostile or broken server can send. Calls of those tools
// fail with "unknown tool".
func ListRawTools(srv *mcp.Server, tools ...*mcp.Tool) {
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if lr, ok := res.(*mcp.ListToolsResult); ok && err == nil {
				lr.Tools = append(lr.Tools, tools...)
			}
			return res, err
		}
	})
}

// HostileText holds what a terminal acts on: a colour escape, a bell and a
// right-to-left override.
const HostileText = "\x1b[31mred\x07\u202e"

// EnvHostile, set to "1", makes the stdio server of [ServeStdioIfRequested]
// a [NewHostileServer].
const EnvHostile = "MCPTEST_HOSTILE"

// HostileToolName is the name of the hostile server's tool.
const HostileToolName = "evil" + HostileText

// NewHostileServer returns a server whose names, descriptions and results
// carry [HostileText] (and an OSC title escape): the tool
// [HostileToolName], which returns such text; a resource and a template
// with such names; and a prompt "greet" whose description and message
// carry it.
func NewHostileServer() *mcp.Server {
	const osc = "\x1b]0;owned\x07"
	s := mcp.NewServer(&mcp.Implementation{Name: "hostile" + HostileText, Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: HostileToolName, Description: HostileText + " description" + osc + "\nsecond line",
		InputSchema: map[string]any{"type": "object", "properties": map[string]any{
			"x" + HostileText: map[string]any{"type": "string", "description": HostileText}}}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return text("result " + HostileText + osc + "\nline\ttwo"), nil
		})
	s.AddResource(&mcp.Resource{URI: "doc://h/readme", Name: "readme" + HostileText, MIMEType: "text/plain" + HostileText},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "readme " + HostileText}}}, nil
		})
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "doc://h/items/{id}", Name: "item" + HostileText},
		func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "item " + HostileText}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "greet", Description: "greets " + HostileText, Arguments: []*mcp.PromptArgument{{Name: "who" + HostileText}}},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: "hello " + HostileText}}}}, nil
		})
	return s
}
