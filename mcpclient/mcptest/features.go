package mcptest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// NewFeatureServer returns a server named name with what tools alone do
// not exercise:
//   - a resource "doc://<name>/readme" (text "readme of <name>");
//   - a resource template "doc://<name>/items/{id}" (text "item <uri>");
//   - a prompt "greet" with a required argument "who"
//     ("hello <who> from <name>");
//   - a tool "work" that sends one progress notification (when the call
//     has a progress token), a log message, then asks the client for
//     sampling and for elicitation, and answers "<sampled text>/<action>",
//     or an error result naming what failed.
func NewFeatureServer(name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1"}, nil)
	s.AddResource(&mcp.Resource{URI: "doc://" + name + "/readme", Name: "readme", MIMEType: "text/plain"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "readme of " + name}}}, nil
		})
	s.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: "doc://" + name + "/items/{id}", Name: "item"},
		func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, Text: "item " + req.Params.URI}}}, nil
		})
	s.AddPrompt(&mcp.Prompt{Name: "greet", Arguments: []*mcp.PromptArgument{{Name: "who", Required: true}}},
		func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user",
				Content: &mcp.TextContent{Text: "hello " + req.Params.Arguments["who"] + " from " + name}}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "work", Description: "reports progress, logs, samples and elicits", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if tok := req.Params.GetProgressToken(); tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2, Message: "half"})
			}
			_ = req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: "working"})
			sampled, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{MaxTokens: 10,
				Messages: []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: "say hi"}}}})
			if err != nil {
				return toolError("sampling failed: " + err.Error()), nil
			}
			el, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "ok?",
				RequestedSchema: map[string]any{"type": "object", "properties": map[string]any{}}})
			action := fmt.Sprintf("elicitation failed: %v", err)
			if err == nil {
				action = el.Action
			}
			t, _ := sampled.Content.(*mcp.TextContent)
			if t == nil {
				return toolError("sampling answered without text"), nil
			}
			return text(t.Text + "/" + action), nil
		})
	return s
}

func toolError(s string) *mcp.CallToolResult {
	r := text(s)
	r.IsError = true
	return r
}
