package mcpclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// declaringCaller is a caller whose own client declared only elicitation.
type declaringCaller struct{ testCaller }

func (*declaringCaller) DeclaredCapabilities() any {
	return map[string]any{"elicitation": map[string]any{}}
}

// statelessOnly serves the stateless revision only (it refuses initialize)
// over streamable HTTP: "caps" answers with the client capabilities its
// request declared, "nag" asks for input again on every call and counts
// them (after 50 it gives up and answers).
func statelessOnly(t *testing.T, nags *atomic.Int64) mcpclient.ServerConfig {
	obj := json.RawMessage(`{"type":"object"}`)
	newServer := func(*http.Request) *mcp.Server {
		s := mcp.NewServer(&mcp.Implementation{Name: "stateless", Version: "1"}, nil)
		s.AddTool(&mcp.Tool{Name: "caps", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			b, _ := json.Marshal(req.Params.GetMeta()[mcp.MetaKeyClientCapabilities])
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, nil
		})
		s.AddTool(&mcp.Tool{Name: "nag", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if nags.Add(1) > 50 { // a client that does not give up gets an answer in the end
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "no more questions"}}}, nil
			}
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"e": &mcp.ElicitParams{Message: "again?", RequestedSchema: obj}}}, nil
		})
		s.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
			return func(ctx context.Context, m string, req mcp.Request) (mcp.Result, error) {
				if m == "initialize" {
					return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "method not found: " + m}
				}
				return next(ctx, m, req)
			}
		})
		return s
	}
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(newServer, &mcp.StreamableHTTPOptions{Stateless: true}))
	t.Cleanup(srv.Close)
	return mcpclient.ServerConfig{Name: "new", URL: srv.URL}
}

// A server of the stateless revision is sent the capabilities the caller's
// own client declared, not the bridge's, so that it asks only for what
// that client can answer.
func TestStatelessServerGetsDeclaredCapabilities(t *testing.T) {
	var nags atomic.Int64
	r, _ := start(t, nil, statelessOnly(t, &nags))
	if st := status(t, r, "new"); st.Protocol != mcpclient.LatestProtocolVersion {
		t.Fatalf("spoken to with %q, want %s", st.Protocol, mcpclient.LatestProtocolVersion)
	}
	ctx := mcpclient.WithCaller(context.Background(), &declaringCaller{}, nil)
	res, err := r.CallTool(ctx, "new__caps", nil)
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Content[0].(*mcp.TextContent).Text; text != `{"elicitation":{}}` {
		t.Errorf("the server saw capabilities %s, want the caller's {\"elicitation\":{}}", text)
	}
}

// A server that asks for input again after every answer is given up on
// after maxInputRounds (10) answers: 11 requests in all, then an error.
func TestInputRoundsBounded(t *testing.T) {
	var nags atomic.Int64
	r, _ := start(t, nil, statelessOnly(t, &nags))
	ctx := mcpclient.WithCaller(context.Background(), &testCaller{}, nil)
	res, err := r.CallTool(ctx, "new__nag", nil)
	if err == nil && res != nil {
		t.Fatalf("answered %d times until the server gave up", nags.Load()-1)
	}
	if err == nil || !strings.Contains(err.Error(), "asked for input more than 10 times") {
		t.Errorf("err = %v, want the bound on input rounds", err)
	}
	if n := nags.Load(); n != 11 {
		t.Errorf("the server was asked %d times, want 11", n)
	}
}
