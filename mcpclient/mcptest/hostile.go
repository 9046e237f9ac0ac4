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
