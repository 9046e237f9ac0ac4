package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// cliCaller answers what a server asks while a command (mcp-bridge call)
// runs one of its tools. Nobody is there to type: an elicitation is
// accepted with the form's defaults when they fill every required field,
// and declined otherwise; sampling is refused.
type cliCaller struct{}

var _ mcpclient.Caller = cliCaller{}

func (cliCaller) CreateMessage(ctx context.Context, server string, p *mcp.CreateMessageParams) (*mcp.CreateMessageResult, error) {
	return nil, fmt.Errorf("sampling for %s: mcp-bridge call has no model to sample with; use the tool through the chat endpoint", server)
}

func (cliCaller) Elicit(ctx context.Context, server string, p *mcp.ElicitParams) (*mcp.ElicitResult, error) {
	content, ok := formDefaults(p.RequestedSchema)
	if !ok {
		return &mcp.ElicitResult{Action: "decline"}, nil
	}
	return &mcp.ElicitResult{Action: "accept", Content: content}, nil
}

func (cliCaller) Progress(context.Context, *mcp.ProgressNotificationParams) {}
func (cliCaller) Log(context.Context, string, *mcp.LoggingMessageParams)    {}

// formDefaults returns the defaults of an elicitation form's fields, and
// whether they answer every required field.
func formDefaults(schema any) (map[string]any, bool) {
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, false
	}
	var form struct {
		Properties map[string]struct {
			Default any `json:"default"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if json.Unmarshal(b, &form) != nil {
		return nil, false
	}
	content := map[string]any{}
	for name, p := range form.Properties {
		if p.Default != nil {
			content[name] = p.Default
		}
	}
	for _, r := range form.Required {
		if _, ok := content[r]; !ok {
			return nil, false
		}
	}
	return content, true
}
