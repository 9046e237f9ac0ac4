package guard

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// Approval outcomes (GuardEvent.Action of kind approval).
const (
	Approved = "approved"
	Denied   = "denied"
	Required = "required" // no one could be asked
)

// NeedsApproval reports whether calls of the exposed tool name need a
// person's yes (Options.Approval).
func (g *Guard) NeedsApproval(name string) bool {
	for _, glob := range g.opts.Approval {
		if ok, _ := path.Match(glob, name); ok {
			return true
		}
	}
	return false
}

// Asker asks a person whether a call may run: true for yes. An error
// means no one could be asked. A nil Asker is never asked.
type Asker func(ctx context.Context, tool string, args json.RawMessage) (bool, error)

type askerKey struct{}

// WithAsker returns a context whose calls that need approval are asked
// about through a (a terminal, for mcp-bridge call) rather than the
// call's Caller.
func WithAsker(ctx context.Context, a Asker) context.Context {
	return context.WithValue(ctx, askerKey{}, a)
}

type approvedKey struct{}

// WithApproved returns a context in which calls of the named tools have
// already been approved by a person (the chat path asks before it calls).
func WithApproved(ctx context.Context, tools ...string) context.Context {
	return context.WithValue(ctx, approvedKey{}, slices.Clone(tools))
}

// Approved is WithApproved, for callers that know the Guard.
func (g *Guard) Approved(ctx context.Context, tools ...string) context.Context {
	return WithApproved(ctx, tools...)
}

// approvalSchema is the form an elicitation asks: one yes/no field.
var approvalSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"approve": map[string]any{"type": "boolean", "title": "Approve this call", "default": false},
	},
	"required": []string{"approve"},
}

// approve holds a call that needs approval until a person says yes: one
// already given (WithApproved), else asked through the context's Asker,
// else through the caller's elicitation. It returns "" to go on, or the
// tool error the call becomes.
func (g *Guard) approve(ctx context.Context, t mcpclient.Tool, args json.RawMessage, c mcpclient.Caller) string {
	if !g.NeedsApproval(t.Name) {
		return ""
	}
	if tools, _ := ctx.Value(approvedKey{}).([]string); slices.Contains(tools, t.Name) {
		return ""
	}
	var (
		yes bool
		err error
	)
	if a, ok := ctx.Value(askerKey{}).(Asker); ok && a != nil {
		yes, err = a(ctx, t.Name, args)
	} else if c != nil {
		yes, err = elicitApproval(ctx, c, t, args)
	} else {
		err = fmt.Errorf("no one is attached to ask")
	}
	outcome := Approved
	switch {
	case err != nil:
		outcome = Required
	case !yes:
		outcome = Denied
	}
	g.obs.Guard(ctx, &observe.GuardEvent{Identity: mcpclient.IdentityOf(ctx), Kind: observe.GuardApproval, Rule: "approval", Action: outcome, Tool: t.Name, Server: t.Server, Where: "arguments"})
	switch outcome {
	case Required:
		return fmt.Sprintf("Error: %s needs a person's approval before it runs, and this client could not be asked (%v). Use a client that supports elicitation, or the chat endpoint.", t.Name, err)
	case Denied:
		return fmt.Sprintf("Error: the user denied the call to %s; it was not run.", t.Name)
	}
	return ""
}

// elicitApproval asks the caller's client with an elicitation form.
func elicitApproval(ctx context.Context, c mcpclient.Caller, t mcpclient.Tool, args json.RawMessage) (bool, error) {
	res, err := c.Elicit(ctx, t.Server, &mcp.ElicitParams{
		Message:         fmt.Sprintf("Allow the tool %s to run with these arguments?\n%s", t.Name, string(args)),
		RequestedSchema: approvalSchema,
	})
	if err != nil {
		return false, err
	}
	if res == nil || res.Action != "accept" {
		return false, nil
	}
	yes, _ := res.Content["approve"].(bool)
	return yes, nil
}
