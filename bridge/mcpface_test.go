package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// wsServer serves srv to MCP clients over WebSocket, as a remote server
// the bridge connects to.
func wsServer(t *testing.T, srv *mcp.Server) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{mcpclient.WebSocketSubprotocol}})
		if err != nil {
			return
		}
		ss, err := srv.Connect(context.Background(), &acceptedSocket{conn: conn}, nil)
		if err != nil {
			return
		}
		_ = ss.Wait()
	}))
	t.Cleanup(hs.Close)
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/mcp"
}

// faceClient is a go-sdk client of the face that records what it is sent
// and answers sampling and elicitation.
type faceClient struct {
	mu          sync.Mutex
	progress    []*mcp.ProgressNotificationParams
	listChanged chan struct{}
	sampled     int
}

func (fc *faceClient) options() *mcp.ClientOptions {
	fc.listChanged = make(chan struct{}, 16)
	return &mcp.ClientOptions{
		ProgressNotificationHandler: func(ctx context.Context, req *mcp.ProgressNotificationClientRequest) {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			fc.progress = append(fc.progress, req.Params)
		},
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
			fc.listChanged <- struct{}{}
		},
		CreateMessageHandler: func(ctx context.Context, req *mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
			fc.mu.Lock()
			fc.sampled++
			fc.mu.Unlock()
			return &mcp.CreateMessageResult{Role: "assistant", Model: "face-client", Content: &mcp.TextContent{Text: "sampled by the face client"}}, nil
		},
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
		},
	}
}

func toolText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) == 0 {
		t.Fatalf("no content: %+v", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content %T", res.Content[0])
	}
	return tc.Text
}

// TestMCPFace connects go-sdk clients over each transport of the face to
// a bridge of two servers (stdio and WebSocket), and checks tools,
// resources, prompts, progress, sampling and elicitation passed through,
// cancellation reaching the server, and list changes reaching the client.
func TestMCPFace(t *testing.T) {
	transports := map[string]func(base string) mcp.Transport{
		"streamable": func(base string) mcp.Transport { return &mcp.StreamableClientTransport{Endpoint: base + "/mcp"} },
		"sse":        func(base string) mcp.Transport { return &mcp.SSEClientTransport{Endpoint: base + "/sse"} },
		"websocket": func(base string) mcp.Transport {
			return &mcpclient.WebSocketTransport{URL: "ws" + strings.TrimPrefix(base, "http") + "/ws"}
		},
	}
	for name, transport := range transports {
		t.Run(name, func(t *testing.T) {
			markers := t.TempDir()
			h := newHarness(t, Options{}, []mcpclient.ServerConfig{
				mcptest.StdioServer("proc", mcptest.EnvMarkerDir+"="+markers),
				{Name: "doc", URL: wsServer(t, mcptest.NewFeatureServer("doc"))},
			})
			fc := &faceClient{}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// Sessions of the 2025-11-25 revision, where servers ask their
			// clients for sampling and elicitation during a call; the
			// stateless revision is TestMCPFaceEras'.
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "face-test", Version: "1"}, fc.options()).Connect(ctx, transport(h.srv.URL),
				&mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()

			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			for _, want := range []string{"proc__echo", "proc__sleep", "doc__work"} {
				if !slices.Contains(names, want) {
					t.Errorf("tools %v lack %s", names, want)
				}
			}

			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "proc__echo", Arguments: map[string]any{"text": "through the face"}})
			if err != nil || toolText(t, res) != "through the face" {
				t.Fatalf("echo: %v %v", res, err)
			}
			// Structured content passes through whole.
			res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "proc__add", Arguments: map[string]any{"a": 2, "b": 3}})
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), `5`) {
				t.Errorf("structured content %s", b)
			}

			rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "doc://doc/readme"})
			if err != nil || rr.Contents[0].Text != "readme of doc" {
				t.Fatalf("resource: %v %v", rr, err)
			}
			rr, err = cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "doc://doc/items/7"})
			if err != nil || rr.Contents[0].Text != "item doc://doc/items/7" {
				t.Fatalf("templated resource: %v %v", rr, err)
			}
			pr, err := cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "doc__greet", Arguments: map[string]string{"who": "ann"}})
			if err != nil || pr.Messages[0].Content.(*mcp.TextContent).Text != "hello ann from doc" {
				t.Fatalf("prompt: %v %v", pr, err)
			}

			// Progress, sampling and elicitation of a downstream call reach
			// this client.
			params := &mcp.CallToolParams{Name: "doc__work", Arguments: map[string]any{}}
			params.SetProgressToken("face-token")
			res, err = cs.CallTool(ctx, params)
			if err != nil {
				t.Fatal(err)
			}
			if got := toolText(t, res); got != "sampled by the face client/accept" {
				t.Errorf("work: %q", got)
			}
			fc.mu.Lock()
			if len(fc.progress) != 1 || fc.progress[0].ProgressToken != "face-token" || fc.progress[0].Message != "half" {
				t.Errorf("progress %+v", fc.progress)
			}
			fc.mu.Unlock()

			// Cancelling a call cancels it on the server.
			callCtx, cancelCall := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: "proc__sleep", Arguments: map[string]any{"ms": 60000, "id": "long"}})
				errc <- err
			}()
			if err := mcptest.WaitMarker(ctx, markers, "started-long"); err != nil {
				t.Fatal(err)
			}
			cancelCall()
			if err := mcptest.WaitMarker(ctx, markers, "cancelled-long"); err != nil {
				t.Fatalf("the server never saw the cancellation: %v", err)
			}
			if err := <-errc; err == nil {
				t.Error("cancelled call returned no error")
			}

			// A tool added downstream reaches this client as list_changed.
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "proc__add_tool", Arguments: map[string]any{}}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-fc.listChanged:
			case <-ctx.Done():
				t.Fatal("no tools/list_changed")
			}
			tools, err = cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(tools.Tools, func(tl *mcp.Tool) bool { return tl.Name == "proc__late" }) {
				t.Errorf("proc__late not listed after list_changed")
			}
		})
	}
}

// TestMCPFaceOrigin checks browser requests from other sites are refused.
func TestMCPFaceOrigin(t *testing.T) {
	h := newHarness(t, Options{AllowedOrigins: []string{"https://app.example"}}, nil)
	for _, c := range []struct {
		origin string
		status int
	}{
		{"https://evil.example", http.StatusForbidden},
		{"https://app.example", http.StatusOK},
		{"http://localhost:3000", http.StatusOK},
		{"", http.StatusOK},
	} {
		req, _ := http.NewRequest("POST", h.srv.URL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("origin %q: status %d, want %d", c.origin, resp.StatusCode, c.status)
		}
	}
}
