package mcpclient

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// EventToolBlocked is the kind of the Event that reports a tool kept out
// by the Inspector (Event.Tool names it, Event.Err says why). It is sent
// when the tool is first kept out, and again if the reason changes.
const EventToolBlocked = "tool_blocked"

// Inspector screens a Registry's tools and calls (guardrails): which tools
// are served at all, what arguments reach a server and what of a result
// reaches the caller. Every face of the bridge goes through the registry,
// so that one Inspector applies to all of them. Its methods are called
// concurrently and must be safe for concurrent use.
type Inspector interface {
	// Admit is asked about the tools each time the registry's tool list
	// is rebuilt. It returns, for each tool, "" to serve it or why it is
	// kept out: such a tool is neither listed nor callable. A result of
	// another length (nil) serves them all. It is called with the
	// registry's rebuild lock held and must not call the registry.
	Admit(tools []Tool) []string
	// Arguments is asked before t is called with args, a JSON object, on
	// behalf of c (nil when the call has no Caller). It returns the
	// arguments to send, and "" to go on, or the text of the tool error
	// the call becomes instead of running.
	Arguments(ctx context.Context, t Tool, args json.RawMessage, c Caller) (json.RawMessage, string)
	// Result returns what the caller gets of t's result: res itself, a
	// changed copy or a tool error. res must not be modified.
	Result(ctx context.Context, t Tool, res *mcp.CallToolResult) *mcp.CallToolResult
}

// BlockedTool is a tool the Inspector keeps out.
type BlockedTool struct {
	Name   string `json:"name"` // the exposed name it would have
	Server string `json:"server"`
	Reason string `json:"reason"`
}

// Blocked returns the tools the Inspector keeps out of the current tool
// list, sorted by name; nil when there are none.
func (r *Registry) Blocked() []BlockedTool {
	return r.snap.Load().blocked
}

// Recheck asks the Inspector again about every tool, for when what it
// decides on changed (a pinned definition was approved). Servers whose
// tools changed are reported with EventToolsChanged.
func (r *Registry) Recheck() {
	before := r.snap.Load()
	r.rebuild()
	after := r.snap.Load()
	if after == before {
		return
	}
	count := func(s *snapshot) map[string]int {
		m := map[string]int{}
		for _, t := range s.tools {
			m[t.Server]++
		}
		return m
	}
	was, now := count(before), count(after)
	var servers []string
	for _, s := range r.Servers() {
		if was[s.Name] != now[s.Name] {
			servers = append(servers, s.Name)
		}
	}
	slices.Sort(servers)
	for _, s := range servers {
		r.emit(Event{Server: s, Kind: EventToolsChanged, Tools: now[s]})
	}
}

// inspectArguments applies the Inspector to a call's arguments: the
// arguments to send, or the tool error the call becomes.
func (r *Registry) inspectArguments(ctx context.Context, t Tool, args json.RawMessage) (json.RawMessage, *mcp.CallToolResult) {
	if r.opts.Inspector == nil {
		return args, nil
	}
	var c Caller
	if ci, ok := callerOf(ctx); ok {
		c = ci.c
	}
	args, refusal := r.opts.Inspector.Arguments(ctx, t, args, c)
	if refusal == "" {
		return args, nil
	}
	return nil, &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: refusal}}}
}

// inspectResult applies the Inspector to a result.
func (r *Registry) inspectResult(ctx context.Context, t Tool, res *mcp.CallToolResult) *mcp.CallToolResult {
	if r.opts.Inspector == nil || res == nil {
		return res
	}
	return r.opts.Inspector.Result(ctx, t, res)
}

// blockedReason returns why the Inspector keeps the exposed name out,
// when it does.
func (r *Registry) blockedReason(name string) (string, bool) {
	return r.blockedReasonIn(r.snap.Load(), name)
}

// IdentityOf returns the caller's name given with WithIdentity; "" when
// none was (an anonymous caller), so that an Inspector can say whose call
// it screened.
func IdentityOf(ctx context.Context) string {
	name, _ := ctx.Value(identityKey{}).(string)
	return name
}
