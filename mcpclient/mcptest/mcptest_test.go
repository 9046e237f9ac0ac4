package mcptest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func connect(t *testing.T, srv *mcp.Server) *mcp.ClientSession {
	t.Helper()
	cfg := mcptest.InMemory("x", srv)
	tr, err := cfg.Transport(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil).Connect(t.Context(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func TestToolNames(t *testing.T) {
	cs := connect(t, mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 2}))
	var names []string
	for tool, err := range cs.Tools(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	want := append(mcptest.ToolNames(), "extra_000", "extra_001")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("tools = %q, want %q", names, want)
	}
}

func TestSleepMarkers(t *testing.T) {
	dir := t.TempDir()
	var events []mcptest.SleepEvent
	cs := connect(t, mcptest.NewServerWithOptions(&mcptest.Options{
		MarkerDir: dir,
		OnSleep:   func(e mcptest.SleepEvent) { events = append(events, e) },
	}))
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "sleep", Arguments: map[string]any{"ms": 1}}); err != nil {
		t.Fatal(err)
	}
	want := []mcptest.SleepEvent{{ID: "1", Kind: mcptest.SleepStarted}, {ID: "1", Kind: mcptest.SleepFinished}}
	if !slices.Equal(events, want) {
		t.Fatalf("events = %+v, want %+v", events, want)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, m := range []string{"started-1", "finished-1"} {
		if err := mcptest.WaitMarker(ctx, dir, m); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWaitMarkerTimesOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := mcptest.WaitMarker(ctx, t.TempDir(), "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitMarker = %v", err)
	}
}

func TestCrashDisabledInMemory(t *testing.T) {
	cs := connect(t, mcptest.NewServerWithOptions(nil))
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "crash"})
	if err != nil || !res.IsError {
		t.Fatalf("crash = %+v, %v; want a tool error", res, err)
	}
}

func TestStdioServerConfig(t *testing.T) {
	cfg := mcptest.StdioServer("s", mcptest.EnvMarkerDir+"=/tmp/m", "A=b=c")
	exe, _ := os.Executable()
	if cfg.Name != "s" || cfg.Command != exe || !filepath.IsAbs(cfg.Command) {
		t.Errorf("config = %+v", cfg)
	}
	if cfg.Env[mcptest.EnvStdio] != "1" || cfg.Env[mcptest.EnvMarkerDir] != "/tmp/m" || cfg.Env["A"] != "b=c" {
		t.Errorf("env = %v", cfg.Env)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}
