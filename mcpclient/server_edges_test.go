package mcpclient_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// edgeServer returns a server with the tool "t" (and its title, and an
// annotation title, when not empty).
func edgeServer(title, annotationTitle string) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "edge", Version: "1"}, nil)
	tool := &mcp.Tool{Name: "t", Title: title, InputSchema: json.RawMessage(`{"type":"object"}`)}
	if annotationTitle != "" {
		tool.Annotations = &mcp.ToolAnnotations{Title: annotationTitle}
	}
	srv.AddTool(tool, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	})
	return srv
}

// A server that refuses the session handshake is spoken to with the
// stateless revision, whether the protocol is left empty or set to
// "auto"; a server that offers both is spoken to with sessions unless the
// protocol names the stateless revision, and its status says which
// revision the session speaks.
func TestProtocolFallbackAndStatus(t *testing.T) {
	for protocol, want := range map[string]string{
		"":                              mcpclient.ProtocolVersion,
		"auto":                          mcpclient.ProtocolVersion,
		mcpclient.ProtocolVersion:       mcpclient.ProtocolVersion,
		mcpclient.LatestProtocolVersion: mcpclient.LatestProtocolVersion,
	} {
		t.Run("both, protocol "+protocol, func(t *testing.T) {
			sc := mcptest.InMemory("mem", edgeServer("", ""))
			sc.Protocol = protocol
			r, _ := start(t, nil, sc)
			if st := status(t, r, "mem"); st.State != mcpclient.StateReady || st.Protocol != want {
				t.Errorf("status = %+v, want ready with protocol %s", st, want)
			}
		})
	}
	for _, protocol := range []string{"", "auto"} {
		t.Run("stateless only, protocol "+protocol, func(t *testing.T) {
			srv := edgeServer("", "")
			srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
				return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
					if method == "initialize" {
						return nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "sessions are not supported"}
					}
					return next(ctx, method, req)
				}
			})
			sc := mcptest.InMemory("mem", srv)
			sc.Protocol = protocol
			r, _ := start(t, nil, sc)
			if st := status(t, r, "mem"); st.State != mcpclient.StateReady || st.Protocol != mcpclient.LatestProtocolVersion {
				t.Errorf("status = %+v, want ready with protocol %s", st, mcpclient.LatestProtocolVersion)
			}
		})
	}
}
