package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// featureConfig is a config whose one server has resources and prompts.
func featureConfig(t *testing.T) string {
	sc := mcptest.StdioServer("docs", mcptest.EnvFeatures+"=docs")
	return writeJSONConfig(t, map[string]any{"mcpServers": map[string]any{
		"docs": map[string]any{"command": sc.Command, "args": sc.Args, "env": sc.Env}}})
}

func TestResourcesCommand(t *testing.T) {
	cfg := featureConfig(t)
	out, _, err := runCmd(t, "-c", cfg, "resources")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "resources", out, "doc://docs/readme", "doc://docs/items/{id}", "text/plain")

	out, _, err = runCmd(t, "-c", cfg, "resources", "doc://docs/items/9")
	if err != nil || strings.TrimSpace(out) != "item doc://docs/items/9" {
		t.Errorf("read: %q %v", out, err)
	}
	out, _, err = runCmd(t, "resources", "--json", "-c", cfg)
	var v struct {
		Resources []struct {
			Server, URI string
		}
		Templates []struct{ URITemplate string }
	}
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || len(v.Resources) != 1 || v.Resources[0].Server != "docs" || len(v.Templates) != 1 {
		t.Errorf("json: %s %v", out, err)
	}
	if _, _, err := runCmd(t, "-c", cfg, "resources", "doc://nowhere"); err == nil || !strings.Contains(err.Error(), "unknown resource") {
		t.Errorf("unknown resource: %v", err)
	}
}

func TestPromptsCommand(t *testing.T) {
	cfg := featureConfig(t)
	out, _, err := runCmd(t, "-c", cfg, "prompts")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "prompts", out, "docs__greet", "[who*]")
	out, _, err = runCmd(t, "-c", cfg, "prompts", "docs__greet", `{"who":"ann"}`)
	if err != nil || strings.TrimSpace(out) != "user: hello ann from docs" {
		t.Errorf("get: %q %v", out, err)
	}
	if _, _, err := runCmd(t, "-c", cfg, "prompts", "docs__greet", `{"who":1}`); err == nil {
		t.Error("non-string arguments accepted")
	}
}
