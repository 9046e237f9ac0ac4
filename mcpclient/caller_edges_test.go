package mcpclient_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// formCaller records the elicitation forms that reach it and declines them.
type formCaller struct {
	testCaller
	mu    sync.Mutex
	forms []any
}

func (c *formCaller) Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forms = append(c.forms, p.RequestedSchema)
	return &mcp.ElicitResult{Action: "decline"}, nil
}

// An elicitation form that go-sdk's client-side checks refuse (here a
// nested object property) still reaches the caller, who checks forms
// itself: the bridge does not put go-sdk's checks in front of it.
func TestElicitationFormPassedAsSent(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	form := map[string]any{"type": "object", "properties": map[string]any{
		"where": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}
	srv.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "where?", RequestedSchema: form})
			if err != nil {
				return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "elicitation failed: " + err.Error()}}}, nil
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: res.Action}}}, nil
		})
	r, _ := start(t, nil, mcptest.InMemory("asker", srv))
	c := &formCaller{}
	res, err := r.CallTool(mcpclient.WithCaller(context.Background(), c, nil), "asker__ask", nil)
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Content[0].(*mcp.TextContent).Text; res.IsError || text != "decline" {
		t.Errorf("result %q, want the caller's decline", text)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.forms) != 1 {
		t.Fatalf("%d forms reached the caller, want 1", len(c.forms))
	}
	got, _ := json.Marshal(c.forms[0])
	want, _ := json.Marshal(form)
	if string(got) != string(want) {
		t.Errorf("form %s, want %s", got, want)
	}
}
