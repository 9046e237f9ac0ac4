package mcptest

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

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
