package mcpclient_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// When a tool's descriptions are cut, the definition published to MCP
// clients keeps its input and output schemas (with their descriptions cut
// too), not nil ones.
func TestCutDescriptionKeepsDefSchemas(t *testing.T) {
	long := strings.Repeat("word ", 400)
	srv := mcp.NewServer(&mcp.Implementation{Name: "wordy", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{
		Name:         "wordy",
		Description:  long,
		InputSchema:  json.RawMessage(`{"type":"object","properties":{"q":{"type":"string","description":"` + long + `"}}}`),
		OutputSchema: json.RawMessage(`{"type":"object","properties":{"r":{"type":"string","description":"` + long + `"}}}`),
	}, noop)
	r, _ := start(t, &mcpclient.Options{Logger: newLogger(&syncbuf.Buffer{}), MaxDescriptionBytes: 100}, mcptest.InMemory("mem", srv))
	tool, ok := r.Lookup("mem__wordy")
	if !ok || tool.Def == nil {
		t.Fatalf("mem__wordy missing or without a definition: %q", toolNames(r))
	}
	for which, schema := range map[string]any{"input": tool.Def.InputSchema, "output": tool.Def.OutputSchema} {
		b, err := json.Marshal(schema)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), `"properties"`) || len(b) > 400 {
			t.Errorf("Def's %s schema = %.300s (%d bytes), want the schema with its description cut", which, b, len(b))
		}
	}
}
