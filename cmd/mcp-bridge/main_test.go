package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func TestMain(m *testing.M) {
	// The test binary doubles as the stdio MCP server of the configs below.
	mcptest.ServeStdioIfRequested()
	// The tests set the variables they read; a developer's own settings
	// must not leak into them.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MCP_BRIDGE_") || k == "OPENAI_BASE_URL" || k == "OPENAI_API_KEY" {
			os.Unsetenv(k)
		}
	}
	os.Exit(m.Run())
}

// waitTimeout bounds every wait of the tests; reaching it is a failure.
const waitTimeout = 15 * time.Second

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// stdioServer returns the mcpServers entry of a stdio server that runs
// this test binary (see mcptest.StdioServer).
func stdioServer(name string) map[string]any {
	sc := mcptest.StdioServer(name)
	return map[string]any{"command": sc.Command, "args": sc.Args, "env": sc.Env}
}

// writeJSONConfig writes cfg as a JSON config file and returns its path.
func writeJSONConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, t.TempDir(), "mcp-bridge.json", string(b))
}

// runCmd runs the command line args and returns what it printed.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("run %q did not finish within %s", args, waitTimeout)
	}
	return out.String(), errOut.String(), err
}

// exitStatus returns the status of an exitError, and false for any other
// error.
func exitStatus(err error) (int, bool) {
	var ex exitError
	if !errors.As(err, &ex) {
		return 0, false
	}
	return int(ex), true
}

// mustContain fails the test for each of subs that s does not contain.
func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s = %q, want it to contain %q", what, s, sub)
		}
	}
}
