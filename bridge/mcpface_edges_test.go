package bridge

// Tests of the MCP face: its bounds (views, session bindings), the log
// level a face client sets, whose a face call is, what passes between a
// stateless client and a stateless server, and the go-sdk log lines the
// face lowers.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestFaceViewBound: the face makes maxFaceViews views and refuses the
// next distinct one, while a view it has stays available.
func TestFaceViewBound(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	f := h.b.face
	v := f.view(nil) // the anonymous principal's view
	if v == nil {
		t.Fatal("no view for the anonymous principal")
	}
	f.mu.Lock()
	for i := len(f.views); i < maxFaceViews-1; i++ {
		f.views[fmt.Sprint("filler-", i)] = v
	}
	f.mu.Unlock()
	narrowed := func(tool string) *auth.Principal {
		pol, err := auth.NewPolicy(tool, auth.PolicyConfig{Tools: []string{tool}})
		if err != nil {
			t.Fatal(err)
		}
		return &auth.Principal{Name: tool, Source: auth.SourceKey, Policy: pol}
	}
	if f.view(narrowed("last")) == nil {
		t.Errorf("view %d of %d refused", maxFaceViews, maxFaceViews)
	}
	if f.view(narrowed("extra")) != nil {
		t.Errorf("view %d made past the bound of %d", maxFaceViews+1, maxFaceViews)
	}
	if f.view(nil) != v {
		t.Error("a view the face has was refused at the bound")
	}
	f.mu.Lock()
	n := len(f.views)
	f.mu.Unlock()
	if n != maxFaceViews {
		t.Errorf("%d views, want %d", n, maxFaceViews)
	}
}

// TestFaceOwnerSweep: the bindings of ended sessions are kept until there
// are 2*maxOwnerSweep of them, and dropped then. Until the sweep, a
// session id another caller opened is refused as not theirs even once
// the session ended.
func TestFaceOwnerSweep(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	f := h.b.face
	alice := &auth.Principal{Name: "alice", Source: auth.SourceKey}
	bob := &auth.Principal{Name: "bob", Source: auth.SourceKey}
	count := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.owners)
	}
	// No session of these ids is open: each binding is of an ended one.
	for i := count(); i < 2*maxOwnerSweep-1; i++ {
		if f.bind(fmt.Sprint("ended-", i), alice) != bound {
			t.Fatalf("binding %d refused", i)
		}
	}
	if n := count(); n != 2*maxOwnerSweep-1 {
		t.Fatalf("%d bindings, want %d: swept early", n, 2*maxOwnerSweep-1)
	}
	if got := f.bind("ended-0", bob); got != notYours {
		t.Errorf("another caller naming an ended session of alice: %v, want notYours", got)
	}
	if f.bind("last", alice) != bound || count() != 2*maxOwnerSweep {
		t.Fatalf("%d bindings after the last below the bound, want %d", count(), 2*maxOwnerSweep)
	}
	// At the bound, a new binding sweeps the ended ones first.
	if f.bind("new", bob) != bound {
		t.Fatal("binding at the bound refused")
	}
	if n := count(); n != 1 {
		t.Errorf("%d bindings after the sweep, want 1 (the new one)", n)
	}
}

// TestFaceLoggingLevelReachesServers: a face client of a session revision
// sets its log level with logging/setLevel, which is passed to the downstream servers, which log only once asked to.
func TestFaceLoggingLevelReachesServers(t *testing.T) {
	var mu sync.Mutex
	var levels []mcp.LoggingLevel
	srv := mcp.NewServer(&mcp.Implementation{Name: "logs", Version: "1"}, nil)
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if p, ok := req.GetParams().(*mcp.SetLoggingLevelParams); ok && method == "logging/setLevel" {
				mu.Lock()
				levels = append(levels, p.Level)
				mu.Unlock()
			}
			return next(ctx, method, req)
		}
	})
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("logs", srv)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "face-test", Version: "1"}, nil).Connect(ctx,
		&mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	mu.Lock()
	before := len(levels)
	mu.Unlock()
	if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(levels) != before+1 || levels[len(levels)-1] != "debug" {
		t.Errorf("the server was asked for levels %v (%d before the client's), want debug last", levels, before)
	}
}

// TestResultBytes: a result's size is its text plus its structured
// content as JSON; a result without structured content adds nothing for
// it.
func TestResultBytes(t *testing.T) {
	text := []mcp.Content{&mcp.TextContent{Text: "abc"}, &mcp.ImageContent{Data: []byte("not counted")}}
	if n := resultBytes(&mcp.CallToolResult{Content: text}); n != 3 {
		t.Errorf("text only: %d bytes, want 3", n)
	}
	if n := resultBytes(&mcp.CallToolResult{Content: text, StructuredContent: map[string]int{"a": 1}}); n != 3+len(`{"a":1}`) {
		t.Errorf("with structured content: %d bytes, want %d", n, 3+len(`{"a":1}`))
	}
}

// toolCalls records the face's finished tool calls.
type toolCalls struct {
	observe.Nop
	lockedList[observe.ToolCallRecord]
}

func (c *toolCalls) ToolCallFinished(_ context.Context, r *observe.ToolCallRecord) { c.add(*r) }

// withHeaders is an http.RoundTripper that adds its headers to every
// request.
type withHeaders map[string]string

func (h withHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestFaceCallOfSessionOwner: callers of the same policy share one view of
// the face, which knows only some principal of that policy; a tool call in
// a caller's session is still that caller's (its identity in records and
// limits), and carries the request id its client sent.
func TestFaceCallOfSessionOwner(t *testing.T) {
	a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: bobKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log callLog
	obs := &toolCalls{}
	h := newHarness(t, Options{Auth: a, Observer: obs}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(hdr withHeaders) *mcp.ClientSession {
		t.Helper()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "face-test", Version: "1"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp", HTTPClient: &http.Client{Transport: hdr}},
			&mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		return cs
	}
	connect(withHeaders{"Authorization": "Bearer " + aliceKey}) // a session in the same view first
	bob := connect(withHeaders{"Authorization": "Bearer " + bobKey, "X-Request-Id": "bobs-request"})
	if res, err := bob.CallTool(ctx, &mcp.CallToolParams{Name: "calc__add", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Fatalf("bob's call: %+v %v", res, err)
	}
	recs := obs.all()
	if len(recs) != 1 || recs[0].Identity != "bob" || recs[0].RequestID != "bobs-request" {
		t.Errorf("records %+v, want one of bob's with his request id", recs)
	}
}

// capsServer is a downstream server of the stateless revision whose tool
// "resume" asks a question with a requestState of its own, and answers
// a retry with the state and the number of answers it got; its tool
// "caps" answers the clientCapabilities its request declared.
func capsServer(t *testing.T) string {
	srv := mcp.NewServer(&mcp.Implementation{Name: "stateless", Version: "1"}, nil)
	obj := json.RawMessage(`{"type":"object"}`)
	srv.AddTool(&mcp.Tool{Name: "resume", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if req.Params.RequestState == "" {
			return &mcp.CallToolResult{InputRequests: mcp.InputRequestMap{"e": &mcp.ElicitParams{Message: "ok?", RequestedSchema: obj}},
				RequestState: "step-1"}, nil
		}
		return textResult(fmt.Sprintf("state %s, %d answers", req.Params.RequestState, len(req.Params.InputResponses))), nil
	})
	srv.AddTool(&mcp.Tool{Name: "caps", InputSchema: obj}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		b, _ := json.Marshal(req.Params.Meta[mcp.MetaKeyClientCapabilities])
		return textResult(string(b)), nil
	})
	srv.AddReceivingMiddleware(refuse("initialize"))
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestFaceStatelessPassesStateAndCapabilities: for a stateless client
// calling a stateless server through the face, the server is sent the
// capabilities the client declared (not the bridge's own), and a retry
// that carries the server's requestState reaches it with that state even
// when the client sent no answers.
func TestFaceStatelessPassesStateAndCapabilities(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{{Name: "new", URL: capsServer(t)}})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}`
	call := func(tool, extra string) string {
		t.Helper()
		hdr := map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/call", "Mcp-Name": tool}
		status, _, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`","arguments":{},`+extra+meta+`}}`, hdr)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", tool, status, body)
		}
		return sseData(body)
	}
	var res struct {
		Result struct {
			Content []struct{ Text string } `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(call("new__caps", "")), &res); err != nil || len(res.Result.Content) != 1 {
		t.Fatalf("caps: %v %+v", err, res)
	}
	if got := res.Result.Content[0].Text; got != `{"elicitation":{}}` {
		t.Errorf("the server was declared %s, want the client's {\"elicitation\":{}}", got)
	}
	if first := call("new__resume", ""); !strings.Contains(first, `"requestState":"step-1"`) {
		t.Fatalf("the server's question did not pass: %s", first)
	}
	if got := call("new__resume", `"requestState":"step-1",`); !strings.Contains(got, "state step-1, 0 answers") {
		t.Errorf("a retry with the server's state only: %s", got)
	}
}

// TestSDKLoggerDemotesInfo: go-sdk's info lines (a session opened or
// closed) are lowered to debug, so an info logger drops them; its
// warnings and errors pass as they are.
func TestSDKLoggerDemotesInfo(t *testing.T) {
	var buf bytes.Buffer
	log := sdkLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log.Info("session opened")
	log.Warn("session failed")
	log.Error("handler broke")
	out := buf.String()
	if strings.Contains(out, "session opened") || !strings.Contains(out, "level=WARN msg=\"session failed\"") || !strings.Contains(out, "level=ERROR msg=\"handler broke\"") {
		t.Errorf("an info logger wrote:\n%s", out)
	}
	buf.Reset()
	debug := sdkLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	debug.Info("session opened")
	if !strings.Contains(buf.String(), "level=DEBUG msg=\"session opened\"") {
		t.Errorf("a debug logger wrote %q for an info line", buf.String())
	}
}
