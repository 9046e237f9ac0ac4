package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// whoServer is a remote MCP server over HTTP with one tool, "who", that
// records the X-Bridge-User header of each call it receives.
func whoServer(t *testing.T) (url string, seen func() []string) {
	t.Helper()
	var mu sync.Mutex
	var users []string
	s := mcp.NewServer(&mcp.Implementation{Name: "who", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "who", Description: "Says who called.", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(_ context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var user string
			if req.Extra != nil {
				user = req.Extra.Header.Get("X-Bridge-User")
			}
			mu.Lock()
			users = append(users, user)
			mu.Unlock()
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
		})
	srv := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), users...)
	}
}

// TestToolCallCarriesCallerName checks a remote server configured with
// forward_identity receives, on a tool call of the chat loop, the name of
// the key that asked, and no name at all for an anonymous caller: the
// header is how such a server tells its users apart, and "anonymous" is
// nobody's name.
func TestToolCallCarriesCallerName(t *testing.T) {
	round := func() []llmtest.Reply {
		return []llmtest.Reply{llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "who__who", Arguments: `{}`}), llmtest.TextStream("done")}
	}
	chat := `{"model":"m","stream":true,"messages":[{"role":"user","content":"who am I?"}]}`

	t.Run("named key", func(t *testing.T) {
		url, seen := whoServer(t)
		a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: adminKey}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, Options{Auth: a}, []mcpclient.ServerConfig{{Name: "who", URL: url, ForwardIdentityHeader: "X-Bridge-User"}}, round()...)
		if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(adminKey), chat); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		if got := seen(); len(got) != 1 || got[0] != "alice" {
			t.Errorf("the server saw X-Bridge-User %q on its calls, want [alice]", got)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		url, seen := whoServer(t)
		h := newHarness(t, Options{}, []mcpclient.ServerConfig{{Name: "who", URL: url, ForwardIdentityHeader: "X-Bridge-User"}}, round()...)
		if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", http.Header{"Content-Type": {"application/json"}}, chat); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		if got := seen(); len(got) != 1 || got[0] != "" {
			t.Errorf("the server saw X-Bridge-User %q on its calls, want one call without it", got)
		}
	})
}
