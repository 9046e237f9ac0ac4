package main

import (
	"context"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// TestServeStopsQuietly stops serve (as Ctrl-C does) while MCP clients are
// connected to its face: a clean stop logs nothing at warn or error level,
// and opening sessions logs nothing at info level.
func TestServeStopsQuietly(t *testing.T) {
	up := llmtest.NewServer(t)
	s := startServe(t, map[string]any{
		"upstream":   map[string]any{"base_url": up.URL},
		"mcpServers": map[string]any{"calc": stdioServer("calc")},
	})
	s.waitLog(t, "upstream is answering")
	ctx := context.Background()
	for range 3 {
		c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: "http://" + s.addr + "/mcp"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if _, err := cs.ListTools(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.shutDown(t)
	if err := s.wait(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	log := s.stderr.String()
	for _, noise := range []string{"level=WARN", "level=ERROR", "session connected", "server connecting"} {
		if strings.Contains(log, noise) {
			t.Errorf("the log of a clean start and stop has %q:\n%s", noise, log)
		}
	}
	if !strings.Contains(log, "msg=stopped") {
		t.Errorf("no word of the stop:\n%s", log)
	}
}

// TestCommandHelp checks that every command's --help succeeds, on stdout, and
// lists the environment variables with their defaults.
func TestCommandHelp(t *testing.T) {
	for _, cmd := range []string{"serve", "tools", "call", "check", "resources", "prompts"} {
		for _, flag := range []string{"--help", "-h"} {
			var stdout, stderr strings.Builder
			if err := run(context.Background(), []string{cmd, flag}, &stdout, &stderr); err != nil {
				t.Errorf("%s %s: %v (stderr %q)", cmd, flag, err, stderr.String())
				continue
			}
			out := stdout.String()
			if !strings.HasPrefix(out, "Usage: mcp-bridge "+cmd) || stderr.Len() != 0 {
				t.Errorf("%s %s: stdout %q, stderr %q", cmd, flag, out, stderr.String())
			}
			for _, sc := range config.Settings() {
				if !strings.Contains(out, sc.Env) {
					t.Errorf("%s %s does not list %s", cmd, flag, sc.Env)
				}
			}
			for _, want := range []string{"MCP_BRIDGE_CONFIG", "OPENAI_API_KEY", "(default 127.0.0.1:9090)", "(default 8)"} {
				if !strings.Contains(out, want) {
					t.Errorf("%s %s does not say %q", cmd, flag, want)
				}
			}
		}
	}
	var stdout strings.Builder
	if err := run(context.Background(), []string{"--help"}, &stdout, &stdout); err != nil || !strings.Contains(stdout.String(), "COMMAND --help") {
		t.Errorf("mcp-bridge --help: %v %q", err, stdout.String())
	}
}

// TestToolsWithoutConfigSaysWhy runs tools where there is no config file.
func TestToolsWithoutConfigSaysWhy(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("MCP_BRIDGE_CONFIG", "")
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"tools"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no config file found", "no MCP servers are configured", "mcpServers"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q: %s", want, stderr.String())
		}
	}
}
