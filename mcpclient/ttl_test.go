package mcpclient_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestToolListTTL: a server whose tools/list says how long it stays fresh
// (ttlMs) is listed again when that time is up, though it never sends
// list_changed; its new tool reaches the registry.
func TestToolListTTL(t *testing.T) {
	var lists atomic.Int32
	srv := mcp.NewServer(&mcp.Implementation{Name: "ttl", Version: "1"}, nil)
	srv.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != "tools/list" {
				return next(ctx, method, req)
			}
			n := lists.Add(1)
			res := &mcp.ListToolsResult{Cacheable: mcp.Cacheable{TTLMs: 1}}
			for i := range min(n, 2) {
				res.Tools = append(res.Tools, &mcp.Tool{Name: []string{"first", "second"}[i], InputSchema: json.RawMessage(`{"type":"object"}`)})
			}
			return res, nil
		}
	})
	r, ev := start(t, nil, mcpclient.ServerConfig{Name: "ttl", URL: newWSServer(t, srv).url()})
	if got := toolNames(r); !slices.Equal(got, []string{"ttl__first"}) {
		t.Fatalf("tools %v", got)
	}
	ev.wait(t, "ttl", mcpclient.EventToolsChanged)
	if got := toolNames(r); !slices.Equal(got, []string{"ttl__first", "ttl__second"}) {
		t.Fatalf("tools after the ttl %v", got)
	}
	// A 1 ms ttl is taken as a second: the server is not listed in a loop.
	time.Sleep(1500 * time.Millisecond)
	if n := lists.Load(); n > 4 {
		t.Errorf("listed %d times in about 2.5 s", n)
	}
}
