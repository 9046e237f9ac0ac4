package bridge

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// eraServer is a downstream server of one MCP era with the tools the
// matrix uses: tick (progress), sample, elicit, and sleep (which reports
// when it starts and when it is cancelled).
type eraServer struct {
	started, cancelled chan struct{}
}

func newEraServer() *eraServer {
	return &eraServer{started: make(chan struct{}, 1), cancelled: make(chan struct{}, 1)}
}

func (e *eraServer) addCommon(s *mcp.Server) {
	obj := json.RawMessage(`{"type":"object"}`)
	s.AddTool(&mcp.Tool{Name: "tick", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if tok := req.Params.GetProgressToken(); tok != nil {
			_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2, Message: "tock"})
		}
		return textResult("ticked"), nil
	})
	s.AddTool(&mcp.Tool{Name: "sleep", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		e.started <- struct{}{}
		select {
		case <-ctx.Done():
			e.cancelled <- struct{}{}
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			return textResult("slept"), nil
		}
	})
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// sessionServer serves 2025-11-25 and older only (server/discover is
// unknown to it); its tools ask with requests sent back during the call.
func (e *eraServer) sessionServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "sessions", Version: "1"}, nil)
	e.addCommon(s)
	obj := json.RawMessage(`{"type":"object"}`)
	s.AddTool(&mcp.Tool{Name: "sample", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 5,
			Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}})
		if err != nil {
			return textResult("sampling failed: " + err.Error()), nil
		}
		return textResult("sampled: " + res.Content.(*mcp.TextContent).Text), nil
	})
	s.AddTool(&mcp.Tool{Name: "elicit", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "ok?", RequestedSchema: obj})
		if err != nil {
			return textResult("elicitation failed: " + err.Error()), nil
		}
		return textResult("elicited: " + res.Action), nil
	})
	s.AddReceivingMiddleware(refuse("server/discover"))
	return s
}

// sessionServerOfBothEras is sessionServer answering server/discover too:
// it offers both eras, though its tools ask with requests of their own,
// which work only in a session.
func (e *eraServer) sessionServerOfBothEras() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "both", Version: "1"}, nil)
	e.addCommon(s)
	return s
}

// serverStatus returns the registry's status of server name.
func serverStatus(t *testing.T, h *harness, name string) mcpclient.ServerStatus {
	t.Helper()
	for _, st := range h.reg.Servers() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no server %s", name)
	return mcpclient.ServerStatus{}
}

// statelessServer serves 2026-07-28 only (it refuses initialize); its
// tools ask with input_required results.
func (e *eraServer) statelessServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "stateless", Version: "1"}, nil)
	e.addCommon(s)
	obj := json.RawMessage(`{"type":"object"}`)
	s.AddTool(&mcp.Tool{Name: "sample", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		r, ok := req.Params.InputResponses["s"].(*mcp.CreateMessageWithToolsResult)
		if !ok {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"s": &mcp.CreateMessageParams{MaxTokens: 5,
				Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "hi"}}}}}}, nil
		}
		return textResult("sampled: " + r.Content[0].(*mcp.TextContent).Text), nil
	})
	s.AddTool(&mcp.Tool{Name: "elicit", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		r, ok := req.Params.InputResponses["e"].(*mcp.ElicitResult)
		if !ok {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"e": &mcp.ElicitParams{Message: "ok?", RequestedSchema: obj}}}, nil
		}
		return textResult("elicited: " + r.Action), nil
	})
	s.AddReceivingMiddleware(refuse("initialize"))
	return s
}

// refuse answers method as a server that does not know it.
func refuse(method string) mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, m string, req mcp.Request) (mcp.Result, error) {
			if m == method {
				return nil, &jsonrpc.Error{Code: jsonrpc.CodeMethodNotFound, Message: "method not found: " + m}
			}
			return next(ctx, m, req)
		}
	}
}

// TestMCPEraMatrix: face clients of each era (a 2025-11-25 session, a
// 2026-07-28 stateless client) use downstream servers of each era (a
// session server over WebSocket, a stateless-only server over streamable
// HTTP). In every cell: tools/list, a call with progress, a call whose
// server asks for sampling, one that asks for elicitation, and a
// cancellation that reaches the server.
func TestMCPEraMatrix(t *testing.T) {
	old, cur := newEraServer(), newEraServer()
	// The bridge names each request's method and tool in the headers of
	// the stateless revision (the server refuses a request without them).
	var mu sync.Mutex
	named := map[string]bool{}
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return cur.statelessServer() },
		&mcp.StreamableHTTPOptions{Stateless: true, PropagateRequestCancellation: true})
	stateless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.Header.Get("Mcp-Method") == "tools/call" {
			mu.Lock()
			named[r.Header.Get("Mcp-Name")] = true
			mu.Unlock()
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(stateless.Close)
	// A server of both eras: go-sdk's, with its tools written for
	// sessions.
	both := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return newEraServer().sessionServerOfBothEras() }, nil))
	t.Cleanup(both.Close)
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{
		{Name: "old", URL: wsServer(t, old.sessionServer())},
		{Name: "new", URL: stateless.URL},
		{Name: "both", URL: both.URL},
	})
	// The client side picks per server: sessions with a server that
	// offers them, the stateless revision with one that offers only it.
	for name, want := range map[string]string{"old": mcpclient.ProtocolVersion, "new": statelessRevision, "both": mcpclient.ProtocolVersion} {
		if st := serverStatus(t, h, name); st.Protocol != want {
			t.Errorf("server %s spoken to with %q, want %s", name, st.Protocol, want)
		}
	}
	downstream := map[string]*eraServer{"old": old, "new": cur}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, tool := range []string{"tick", "sample", "elicit", "sleep"} {
			if !named[tool] {
				t.Errorf("no tools/call to the stateless server carried Mcp-Name: %s (saw %v)", tool, named)
			}
		}
	})
	for _, clientEra := range []string{mcpclient.ProtocolVersion, statelessRevision} {
		for _, server := range []string{"old", "new"} {
			t.Run(clientEra+"/"+server, func(t *testing.T) {
				es := downstream[server]
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				fc := &faceClient{}
				cs, err := mcp.NewClient(&mcp.Implementation{Name: "matrix", Version: "1"}, fc.options()).Connect(ctx,
					&mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: clientEra})
				if err != nil {
					t.Fatal(err)
				}
				defer cs.Close()
				if got := cs.InitializeResult().ProtocolVersion; got != clientEra {
					t.Fatalf("negotiated %s", got)
				}
				tools, err := cs.ListTools(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, tl := range tools.Tools {
					names = append(names, tl.Name)
				}
				for _, n := range []string{"tick", "sample", "elicit", "sleep"} {
					if !slices.Contains(names, server+"__"+n) {
						t.Errorf("tools %v lack %s__%s", names, server, n)
					}
				}
				call := func(name string) string {
					t.Helper()
					p := &mcp.CallToolParams{Name: server + "__" + name, Arguments: map[string]any{}}
					if name == "tick" {
						p.SetProgressToken("matrix-token")
					}
					res, err := cs.CallTool(ctx, p)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					return toolText(t, res)
				}
				if got := call("tick"); got != "ticked" {
					t.Errorf("tick: %q", got)
				}
				for fc.progressCount() == 0 && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
				fc.mu.Lock()
				if len(fc.progress) != 1 || fc.progress[0].ProgressToken != "matrix-token" || fc.progress[0].Message != "tock" {
					t.Errorf("progress %+v", fc.progress)
				}
				fc.mu.Unlock()
				if got := call("sample"); got != "sampled: sampled by the face client" {
					t.Errorf("sample: %q", got)
				}
				if got := call("elicit"); got != "elicited: accept" {
					t.Errorf("elicit: %q", got)
				}

				callCtx, cancelCall := context.WithCancel(ctx)
				errc := make(chan error, 1)
				go func() {
					_, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: server + "__sleep", Arguments: map[string]any{}})
					errc <- err
				}()
				select {
				case <-es.started:
				case <-ctx.Done():
					t.Fatal("sleep never started")
				}
				cancelCall()
				select {
				case <-es.cancelled:
				case <-ctx.Done():
					t.Fatal("the server never saw the cancellation")
				}
				if err := <-errc; err == nil {
					t.Error("the cancelled call returned no error")
				}
			})
		}
	}
}

// TestMCPFaceInputRequiredPassThrough: a stateless server's own
// input_required reaches a stateless client as the server wrote it (its
// question ids and requestState), and the client's retry reaches the
// server with its answers.
func TestMCPFaceInputRequiredPassThrough(t *testing.T) {
	es := newEraServer()
	stateless := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return es.statelessServer() },
		&mcp.StreamableHTTPOptions{Stateless: true}))
	t.Cleanup(stateless.Close)
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{{Name: "new", URL: stateless.URL}})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}`
	hdr := map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/call", "Mcp-Name": "new__elicit"}
	var first struct {
		Result struct {
			ResultType    string                     `json:"resultType"`
			InputRequests map[string]json.RawMessage `json:"inputRequests"`
			RequestState  string                     `json:"requestState"`
		} `json:"result"`
	}
	status, _, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"new__elicit","arguments":{},`+meta+`}}`, hdr)
	if err := json.Unmarshal([]byte(sseData(body)), &first); err != nil || status != http.StatusOK {
		t.Fatalf("%d %v %s", status, err, body)
	}
	if first.Result.ResultType != "input_required" || first.Result.InputRequests["e"] == nil || ours(first.Result.RequestState) {
		t.Fatalf("the server's input_required did not pass through: %s", body)
	}
	retry := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"new__elicit","arguments":{},"inputResponses":{"e":{"action":"decline"}},`
	if first.Result.RequestState != "" {
		retry += `"requestState":` + strconv.Quote(first.Result.RequestState) + `,`
	}
	status, _, body = postMCP(t, h.srv.URL, retry+meta+`}}`, hdr)
	if status != http.StatusOK || !strings.Contains(body, "elicited: decline") {
		t.Errorf("retry: %d %s", status, body)
	}
}

// sseData returns the data of an event-stream body's last data line, or
// the body itself when it is plain JSON.
func sseData(body string) string {
	for line := range strings.SplitSeq(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			body = data
		}
	}
	return body
}
