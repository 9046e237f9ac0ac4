package mcptest_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// Options.Logger receives the go-sdk server's logs.
func TestServerLogger(t *testing.T) {
	var logs syncbuf.Buffer
	srv := mcptest.NewServerWithOptions(&mcptest.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	st, _ := mcp.NewInMemoryTransports()
	_ = srv.Run(ctx, st) // returns at once: ctx is done
	if !strings.Contains(logs.String(), "server run start") {
		t.Errorf("logs %q, want the server's", logs.String())
	}
}

// A sleep of ten minutes is still sleeping when its call is cancelled:
// tests hold calls in progress with it.
func TestSleepUntilCancelled(t *testing.T) {
	events := make(chan mcptest.SleepEvent, 2)
	cs := connect(t, mcptest.NewServerWithOptions(&mcptest.Options{OnSleep: func(e mcptest.SleepEvent) { events <- e }}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "sleep", Arguments: map[string]any{"ms": 600_000}})
		done <- err
	}()
	if e := <-events; e.Kind != mcptest.SleepStarted {
		t.Fatalf("first event %+v", e)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("the cancelled call returned no error")
	}
	if e := <-events; e.Kind != mcptest.SleepCancelled {
		t.Errorf("event %+v, want the sleep cancelled", e)
	}
}
