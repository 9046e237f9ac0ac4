package mcpclient_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func TestMain(m *testing.M) {
	mcptest.ServeStdioIfRequested()
	os.Exit(m.Run())
}

// waitTimeout bounds every wait of the tests; reaching it is a failure.
const waitTimeout = 10 * time.Second

// events collects a registry's events.
type events struct {
	ch chan mcpclient.Event
}

func newEvents() *events { return &events{ch: make(chan mcpclient.Event, 1000)} }

func (e *events) on(ev mcpclient.Event) { e.ch <- ev }

// wait returns the next event of server of the given kind, skipping others.
func (e *events) wait(t *testing.T, server, kind string) mcpclient.Event {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case ev := <-e.ch:
			if ev.Server == server && ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event from %q within %s", kind, server, waitTimeout)
		}
	}
}

// start builds a registry with fast backoff and an event collector, starts
// it, waits for every server's first attempt, and closes it at the end of
// the test.
func start(t *testing.T, opts *mcpclient.Options, servers ...mcpclient.ServerConfig) (*mcpclient.Registry, *events) {
	t.Helper()
	ev := newEvents()
	var o mcpclient.Options
	if opts != nil {
		o = *opts
	}
	o.OnEvent = ev.on
	o.MinBackoff = cmpOr(o.MinBackoff, 10*time.Millisecond)
	o.MaxBackoff = cmpOr(o.MaxBackoff, 50*time.Millisecond)
	o.ConnectTimeout = cmpOr(o.ConnectTimeout, waitTimeout)
	r := mcpclient.NewRegistry(servers, &o)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	r.Start(ctx)
	wctx, wcancel := context.WithTimeout(ctx, waitTimeout)
	defer wcancel()
	if err := r.WaitReady(wctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	return r, ev
}

func cmpOr(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// call calls a tool and fails the test on an error.
func call(t *testing.T, r *mcpclient.Registry, name, args string) *mcpclient.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := r.Call(ctx, name, []byte(args))
	if err != nil {
		t.Fatalf("Call(%s, %s): %v", name, args, err)
	}
	return res
}

// toolNames returns the names of r's tools.
func toolNames(r *mcpclient.Registry) []string {
	var names []string
	for _, t := range r.Tools() {
		names = append(names, t.Name)
	}
	return names
}

// prefixed returns the tool names of the test server under prefix.
func prefixed(prefix string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + "__" + n
	}
	return out
}

func status(t *testing.T, r *mcpclient.Registry, name string) mcpclient.ServerStatus {
	t.Helper()
	for _, s := range r.Servers() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %q in %+v", name, r.Servers())
	return mcpclient.ServerStatus{}
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s = %q, want it to contain %q", what, s, sub)
		}
	}
}

// newLogger returns a text logger writing every level to w.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
