package mcpclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// A tool without a title of its own takes its annotations' title; a
// tool's own title comes before it.
func TestToolTitleFromAnnotations(t *testing.T) {
	for _, tt := range []struct{ title, annotation, want string }{
		{"", "From annotations", "From annotations"},
		{"Own", "From annotations", "Own"},
		{"Own", "", "Own"},
	} {
		r, _ := start(t, nil, mcptest.InMemory("mem", edgeServer(tt.title, tt.annotation)))
		if tools := r.Tools(); len(tools) != 1 || tools[0].Title != tt.want {
			t.Errorf("title %q, annotation title %q: tools %+v, want the title %q", tt.title, tt.annotation, tools, tt.want)
		}
	}
}

// A server whose cursors never end fails after maxToolPages pages rather
// than being listed until the connect timeout.
func TestEndlessToolPages(t *testing.T) {
	srv := edgeServer("", "")
	var pages atomic.Int32
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "tools/list" {
				return next(ctx, method, req)
			}
			pages.Add(1)
			return &mcp.ListToolsResult{Tools: []*mcp.Tool{}, NextCursor: "more"}, nil
		}
	})
	// No retry while the test looks.
	r, _ := start(t, &mcpclient.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour}, mcptest.InMemory("mem", srv))
	st := status(t, r, "mem")
	if st.State != mcpclient.StateFailed || !strings.Contains(st.Error, "more than 1000 pages") {
		t.Errorf("status = %+v, want failed after 1000 pages", st)
	}
	if n := pages.Load(); n != 1000 {
		t.Errorf("listed %d pages, want 1000", n)
	}
}

// A list_changed that changes nothing is no change: the registry emits
// tools_changed for the list that differs, not for the same list again.
func TestListChangedWithoutChange(t *testing.T) {
	srv := edgeServer("", "")
	lists := make(chan struct{}, 10)
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			res, err := next(ctx, method, req)
			if method == "tools/list" {
				lists <- struct{}{}
			}
			return res, err
		}
	})
	r, ev := start(t, nil, mcptest.InMemory("mem", srv))
	recv(t, lists, "the first tools/list")
	tool := &mcp.Tool{Name: "t", InputSchema: json.RawMessage(`{"type":"object"}`)}
	handler := func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil
	}
	srv.AddTool(tool, handler) // the same tool again: list_changed, same list
	recv(t, lists, "the tools/list after the same tool was added again")
	srv.AddTool(&mcp.Tool{Name: "u", InputSchema: json.RawMessage(`{"type":"object"}`)}, handler)
	if e := ev.wait(t, "mem", mcpclient.EventToolsChanged); e.Tools != 2 {
		t.Errorf("the first tools_changed event lists %d tools, want 2 (the list that changed)", e.Tools)
	}
	if n := len(r.Tools()); n != 2 {
		t.Errorf("%d tools, want 2", n)
	}
}

// recv waits for a value on ch, failing the test after waitTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s after %s", what, waitTimeout)
		var zero T
		return zero
	}
}

// Roots are announced as a client capability when some are configured,
// and only then.
func TestRootsCapability(t *testing.T) {
	for _, roots := range [][]*mcp.Root{nil, {{URI: "file:///work", Name: "work"}}} {
		srv := edgeServer("", "")
		caps := make(chan *mcp.ClientCapabilities, 1)
		srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
			return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
				if p, ok := req.GetParams().(*mcp.InitializeParams); ok && method == "initialize" {
					caps <- p.Capabilities
				}
				return next(ctx, method, req)
			}
		})
		start(t, &mcpclient.Options{Roots: roots}, mcptest.InMemory("mem", srv))
		got := recv(t, caps, "initialize request")
		if announced := got != nil && got.RootsV2 != nil; announced != (roots != nil) {
			t.Errorf("with %d roots the roots capability is announced: %v", len(roots), announced)
		}
	}
}

// failingTransport returns a transport that connects to srv the first time
// when first is true and fails every other time, and a channel that gets
// the number of each attempt.
func failingTransport(srv *mcp.Server, first bool, sessions chan<- *mcp.ServerSession) (func(context.Context) (mcp.Transport, error), <-chan int) {
	attempts := make(chan int, 100)
	var n atomic.Int32
	return func(ctx context.Context) (mcp.Transport, error) {
		i := int(n.Add(1))
		attempts <- i
		if i > 1 || !first {
			return nil, errors.New("no route to the edge server")
		}
		client, server := mcp.NewInMemoryTransports()
		ss, err := srv.Connect(ctx, server, nil)
		if err != nil {
			return nil, err
		}
		sessions <- ss
		return client, nil
	}, attempts
}

// A server that keeps failing to connect is reported down once, not at
// every attempt.
func TestRepeatedFailureReportedOnce(t *testing.T) {
	tr, attempts := failingTransport(nil, false, nil)
	_, ev := start(t, nil, mcpclient.ServerConfig{Name: "mem", Transport: tr})
	for recv(t, attempts, "connection attempt") < 4 {
	}
	// Three attempts have failed and been recorded before the fourth began.
	downs := 0
	for len(ev.ch) > 0 {
		if e := <-ev.ch; e.Server == "mem" && e.Kind == mcpclient.EventDown {
			downs++
		}
	}
	if downs != 1 {
		t.Errorf("%d down events for 3 failed attempts, want 1", downs)
	}
}

// A call to a server that went away says why it is not connected.
func TestUnavailableSaysWhy(t *testing.T) {
	sessions := make(chan *mcp.ServerSession, 1)
	tr, _ := failingTransport(edgeServer("", ""), true, sessions)
	r, ev := start(t, nil, mcpclient.ServerConfig{Name: "mem", Transport: tr})
	recv(t, sessions, "server session").Close()
	ev.wait(t, "mem", mcpclient.EventDown)
	_, err := r.Call(context.Background(), "mem__t", nil)
	if err == nil || !errors.Is(err, mcpclient.ErrServerNotConnected) ||
		!regexp.MustCompile(`not connected \((connecting|failed): [^)]+\)`).MatchString(err.Error()) {
		t.Errorf("calling a tool of a server that went away: %v", err)
	}
}

// The end of a stdio server that exited says so first, with how it exited.
func TestStdioExitReason(t *testing.T) {
	r, ev := start(t, nil, mcptest.StdioServer("crashy"))
	if _, err := r.Call(context.Background(), "crashy__crash", nil); err == nil {
		t.Fatal("a call that crashed the server returned no error")
	}
	if down := ev.wait(t, "crashy", mcpclient.EventDown); !strings.HasPrefix(down.Err, "exited: exit status 3") {
		t.Errorf("down event %q, want it to start with %q", down.Err, "exited: exit status 3")
	}
}

// A server that says nothing of how long its list stays fresh is not
// listed again on a timer: only list_changed relists it. (The serve loop's
// timer is a real one, so this waits past minListTTL, a second, and counts
// the lists.)
func TestNoTTLNoRelist(t *testing.T) {
	srv := edgeServer("", "")
	var lists atomic.Int32
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "tools/list" {
				lists.Add(1)
			}
			return next(ctx, method, req)
		}
	})
	start(t, nil, mcptest.InMemory("mem", srv))
	time.Sleep(1500 * time.Millisecond)
	if n := lists.Load(); n != 1 {
		t.Errorf("listed %d times in 1.5 s without a ttl, want once", n)
	}
}
