package mcpclient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// testCaller records what reaches it and answers sampling and elicitation.
type testCaller struct {
	mu       sync.Mutex
	progress []*mcp.ProgressNotificationParams
	logs     []string
	servers  []string
}

func (c *testCaller) CreateMessage(ctx context.Context, server string, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	c.mu.Lock()
	c.servers = append(c.servers, server)
	c.mu.Unlock()
	return &mcp.CreateMessageResult{Role: "assistant", Model: "m", Content: &mcp.TextContent{Text: "hi from the caller"}}, nil
}

func (c *testCaller) Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
}

func (c *testCaller) Progress(ctx context.Context, p *mcp.ProgressNotificationParams) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.progress = append(c.progress, p)
}

func (c *testCaller) Log(ctx context.Context, server string, p *mcp.LoggingMessageParams) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, fmt.Sprintf("%s:%v", server, p.Data))
}

func TestResourcesAndPrompts(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("alpha", mcptest.NewFeatureServer("alpha")), mcptest.InMemory("beta", mcptest.NewFeatureServer("beta")))
	res := r.Resources()
	if len(res) != 2 || res[0].Server != "alpha" || res[0].Def.URI != "doc://alpha/readme" {
		t.Fatalf("resources %+v", res)
	}
	if n := len(r.ResourceTemplates()); n != 2 {
		t.Fatalf("%d templates", n)
	}
	ctx := context.Background()
	got, err := r.ReadResource(ctx, "doc://beta/readme")
	if err != nil || got.Contents[0].Text != "readme of beta" {
		t.Fatalf("read: %v %v", got, err)
	}
	got, err = r.ReadResource(ctx, "doc://alpha/items/42")
	if err != nil || got.Contents[0].Text != "item doc://alpha/items/42" {
		t.Fatalf("template read: %v %v", got, err)
	}
	if _, err := r.ReadResource(ctx, "doc://gamma/x"); !errors.Is(err, mcpclient.ErrUnknownResource) {
		t.Errorf("unknown resource: %v", err)
	}

	prompts := r.Prompts()
	if len(prompts) != 2 || prompts[0].Name != "alpha__greet" || prompts[1].Name != "beta__greet" || prompts[1].Original != "greet" {
		t.Fatalf("prompts %+v", prompts)
	}
	pr, err := r.GetPrompt(ctx, "beta__greet", map[string]string{"who": "ann"})
	if err != nil || pr.Messages[0].Content.(*mcp.TextContent).Text != "hello ann from beta" {
		t.Fatalf("prompt: %v %v", pr, err)
	}
	if _, err := r.GetPrompt(ctx, "greet", nil); !errors.Is(err, mcpclient.ErrUnknownPrompt) {
		t.Errorf("unknown prompt: %v", err)
	}
}

// TestCallerRouting checks that what a server sends during a call reaches
// the caller of that call: progress under the caller's own token, logs,
// sampling and elicitation answered by it.
func TestCallerRouting(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("alpha", mcptest.NewFeatureServer("alpha")))
	c := &testCaller{}
	ctx := mcpclient.WithCaller(context.Background(), c, "client-token-7")
	res, err := r.CallTool(ctx, "alpha__work", nil)
	if err != nil {
		t.Fatal(err)
	}
	if text := res.Content[0].(*mcp.TextContent).Text; text != "hi from the caller/accept" {
		t.Fatalf("result %q", text)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.progress) != 1 || c.progress[0].ProgressToken != "client-token-7" || c.progress[0].Message != "half" {
		t.Errorf("progress %+v", c.progress)
	}
	if len(c.servers) != 1 || c.servers[0] != "alpha" {
		t.Errorf("sampling servers %v", c.servers)
	}
}

// TestNoCaller checks sampling fails and elicitation is declined when no
// caller is attached.
func TestNoCaller(t *testing.T) {
	r, _ := start(t, nil, mcptest.InMemory("alpha", mcptest.NewFeatureServer("alpha")))
	res := call(t, r, "alpha__work", "{}")
	if !res.IsError || !strings.Contains(res.Text, "no client is attached") {
		t.Errorf("result %+v", res)
	}
}

func TestExposeResources(t *testing.T) {
	cfg := mcptest.InMemory("alpha", mcptest.NewFeatureServer("alpha"))
	cfg.ExposeResources = true
	r, _ := start(t, nil, cfg, mcptest.InMemory("beta", mcptest.NewFeatureServer("beta")))
	tool, ok := r.Lookup("alpha__read_resource")
	if !ok {
		t.Fatalf("no read tool among %v", toolNames(r))
	}
	if !strings.Contains(tool.Description, "doc://alpha/readme") || !strings.Contains(tool.Description, "doc://alpha/items/{id}") {
		t.Errorf("description %q", tool.Description)
	}
	if _, ok := r.Lookup("beta__read_resource"); ok {
		t.Error("beta exposes its resources without being asked to")
	}
	res := call(t, r, "alpha__read_resource", `{"uri":"doc://alpha/readme"}`)
	if res.IsError || !strings.Contains(res.Text, "readme of alpha") {
		t.Errorf("read: %+v", res)
	}
	res = call(t, r, "alpha__read_resource", `{"uri":"doc://alpha/items/3"}`)
	if res.IsError || !strings.Contains(res.Text, "item doc://alpha/items/3") {
		t.Errorf("templated read: %+v", res)
	}
	if res := call(t, r, "alpha__read_resource", `{}`); !res.IsError {
		t.Errorf("no uri: %+v", res)
	}
}
