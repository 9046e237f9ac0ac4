package mcpclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// TestToolOutputSchema checks that a tool's output schema reaches the
// registry normalised, and that a tool without one has none.
func TestToolOutputSchema(t *testing.T) {
	reg := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.InMemory("s", mcptest.NewServerWithOptions(nil))}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg.Start(ctx)
	defer reg.Close()
	if err := reg.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	add, ok := reg.Lookup("s__add")
	if !ok {
		t.Fatal("no s__add")
	}
	out := string(add.OutputSchema)
	if !strings.Contains(out, `"sum":{`) || !strings.Contains(out, `"type":"object"`) || strings.Contains(out, "$schema") {
		t.Errorf("add's output schema %s", out)
	}
	if echo, _ := reg.Lookup("s__echo"); echo.OutputSchema != nil {
		t.Errorf("echo has an output schema: %s", echo.OutputSchema)
	}
}
