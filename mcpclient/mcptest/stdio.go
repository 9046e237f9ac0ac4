package mcptest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Environment variables read by the test server.
const (
	// EnvStdio set to "1" makes [ServeStdioIfRequested] serve over stdio.
	EnvStdio = "MCPTEST_STDIO"
	// EnvMarkerDir names the directory of sleep markers (see
	// [Options.MarkerDir]).
	EnvMarkerDir = "MCPTEST_MARKER_DIR"
	// EnvHangOnEOF makes the stdio server ignore the end of its stdin: "1"
	// keeps it running until a signal ends it, "ignore-sigterm" also
	// ignores SIGTERM, so that only SIGKILL ends it.
	EnvHangOnEOF = "MCPTEST_HANG_ON_EOF"
	// EnvFeatures, when set to a name, makes the stdio server
	// NewFeatureServer(name) instead of NewServer.
	EnvFeatures = "MCPTEST_FEATURES"
	// EnvDumpEnv names a file to which the stdio server writes its
	// environment, one KEY=VALUE a line, before it serves.
	EnvDumpEnv = "MCPTEST_DUMP_ENV"
)

// ServeStdioIfRequested serves [NewServer] over stdin/stdout, with crash
// enabled, and exits the process when the client closes stdin, if
// $MCPTEST_STDIO is "1"; otherwise it returns at once. Call it first thing
// in TestMain, so that the test binary can be its own stdio MCP server
// (see [StdioServer]):
//
//	func TestMain(m *testing.M) {
//		mcptest.ServeStdioIfRequested()
//		os.Exit(m.Run())
//	}
func ServeStdioIfRequested() {
	if os.Getenv(EnvStdio) != "1" {
		return
	}
	if path := os.Getenv(EnvDumpEnv); path != "" {
		if err := os.WriteFile(path, []byte(strings.Join(os.Environ(), "\n")+"\n"), 0o600); err != nil {
			fmt.Fprintln(os.Stderr, "mcptest:", err)
			os.Exit(1)
		}
	}
	hang := os.Getenv(EnvHangOnEOF)
	if hang == "ignore-sigterm" {
		signal.Ignore(syscall.SIGTERM)
	}
	srv := NewServerWithOptions(&Options{MarkerDir: os.Getenv(EnvMarkerDir), AllowCrash: true})
	if name := os.Getenv(EnvFeatures); name != "" {
		srv = NewFeatureServer(name)
	}
	if os.Getenv(EnvHostile) == "1" {
		srv = NewHostileServer()
	}
	fmt.Fprintln(os.Stderr, "mcptest: serving over stdio")
	err := srv.Run(context.Background(), &mcp.StdioTransport{})
	if hang != "" {
		fmt.Fprintln(os.Stderr, "mcptest: stdin closed, hanging on")
		for {
			time.Sleep(time.Hour)
		}
	}
	if err != nil && !errors.Is(err, mcp.ErrConnectionClosed) {
		fmt.Fprintln(os.Stderr, "mcptest:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// StdioServer returns the configuration of a stdio server named name that
// runs the current executable (a test binary whose TestMain calls
// [ServeStdioIfRequested]) with $MCPTEST_STDIO=1. env holds extra
// environment variables as "KEY=VALUE", for example
// EnvMarkerDir+"="+t.TempDir(). They go in the configuration's Env, since
// a stdio server does not inherit the test's environment.
func StdioServer(name string, env ...string) mcpclient.ServerConfig {
	exe, err := os.Executable()
	if err != nil {
		exe, _ = filepath.Abs(os.Args[0])
	}
	vars := map[string]string{
		EnvStdio: "1",
		// A binary built with -race sleeps 1s at exit by default: skip
		// that, so that restarts and shutdowns in tests stay fast.
		"GORACE": strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0"),
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return mcpclient.ServerConfig{
		Name:    name,
		Command: exe,
		// Should TestMain not call ServeStdioIfRequested, run no tests.
		Args: []string{"-test.run=^$"},
		Env:  vars,
	}
}

// InMemory returns the configuration of a server named name connected to
// srv in memory: every connection attempt opens a new session of srv.
func InMemory(name string, srv *mcp.Server) mcpclient.ServerConfig {
	return mcpclient.ServerConfig{
		Name: name,
		Transport: func(ctx context.Context) (mcp.Transport, error) {
			client, server := mcp.NewInMemoryTransports()
			if _, err := srv.Connect(ctx, server, nil); err != nil {
				return nil, fmt.Errorf("connecting in-memory server: %w", err)
			}
			return client, nil
		},
	}
}

// WaitMarker waits until the file name exists in dir (see
// [Options.MarkerDir]), checking every few milliseconds, and returns nil,
// or ctx's error when ctx ends first.
func WaitMarker(ctx context.Context, dir, name string) error {
	path := filepath.Join(dir, name)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for marker %s: %w", name, ctx.Err())
		case <-tick.C:
		}
	}
}
