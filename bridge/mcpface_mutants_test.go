package bridge

// Tests of the MCP face's bounds (views, session bindings) and of the log
// level a face client sets.

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
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
