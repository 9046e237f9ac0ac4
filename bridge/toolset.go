package bridge

import (
	"encoding/json"
	"log/slog"
	"sync"

	openai "github.com/sashabaranov/go-openai"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// toolset is the bridge's tools as the model sees them, built once per
// registry version: the OpenAI definitions, already encoded, and a lookup by
// exposed name.
type toolset struct {
	version uint64
	tools   []mcpclient.Tool
	defs    []json.RawMessage // defs[i] is the OpenAI definition of tools[i]
	byName  map[string]int
	// joined is the JSON array of every definition, sent as it is when the
	// client brings no tools of its own; nil when there are no tools.
	joined json.RawMessage
}

// toolCache hands out the toolset of the current registry version as a
// caller sees it: one toolset per view (auth.Principal.ViewKey), built on
// first use and dropped when the registry's version moves. It is safe for
// concurrent use.
type toolCache struct {
	src Tools
	// warnBytes, when positive, is the size of the injected tool array
	// past which the first toolset of a version is reported to log.
	warnBytes int
	log       *slog.Logger

	mu      sync.Mutex
	version uint64
	views   map[string]*toolset // by view key; "" is every tool
	warned  bool                // the size warning was given for version
}

// maxViews bounds the toolsets kept for one registry version; past it
// they are all dropped and rebuilt as needed (narrowing headers can make
// many views).
const maxViews = 256

// get returns the toolset of the registry's current version for the view
// of p (nil: every tool), building it only when it is not cached.
func (c *toolCache) get(p *auth.Principal) *toolset {
	v, key := c.src.Version(), p.ViewKey()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.views == nil || c.version != v {
		c.views, c.version, c.warned = map[string]*toolset{}, v, false
	}
	if ts, ok := c.views[key]; ok {
		return ts
	}
	tools := c.src.Tools()
	if key != "" {
		mine := make([]mcpclient.Tool, 0, len(tools))
		for _, t := range tools {
			if p.AllowsTool(t.Name, t.Server) {
				mine = append(mine, t)
			}
		}
		tools = mine
	}
	ts := buildToolset(v, tools)
	if len(c.views) >= maxViews {
		clear(c.views)
	}
	c.views[key] = ts
	if n := len(ts.joined); c.warnBytes > 0 && n > c.warnBytes && !c.warned {
		c.warned = true
		c.log.Warn("the MCP tools injected into every chat request are large: they cost prompt tokens and time on every round, "+
			"and some providers refuse more than 128 tools; narrow them with tools.allow/deny per server or a policy",
			"tools", len(ts.tools), "bytes", n, "warn_injected_bytes", c.warnBytes)
	}
	return ts
}

// buildToolset converts registry tools into OpenAI function tools.
func buildToolset(version uint64, tools []mcpclient.Tool) *toolset {
	ts := &toolset{version: version, tools: tools, defs: make([]json.RawMessage, len(tools)), byName: make(map[string]int, len(tools))}
	for i, t := range tools {
		ts.defs[i] = openAITool(t)
		ts.byName[t.Name] = i
	}
	ts.joined = joinTools(nil, nil, ts)
	return ts
}

// openAITool is the OpenAI function-tool definition of an MCP tool.
func openAITool(t mcpclient.Tool) json.RawMessage {
	desc := t.Description
	if desc == "" {
		desc = t.Title
	}
	params := t.InputSchema
	if len(params) == 0 {
		params = json.RawMessage(`{"type":"object","properties":{}}`)
	}
	b, err := json.Marshal(openai.Tool{
		Type: openai.ToolTypeFunction,
		Function: &openai.FunctionDefinition{
			Name:        t.Name,
			Description: desc,
			Parameters:  params,
		},
	})
	if err != nil {
		// The schema came from the registry as valid JSON; fall back to an
		// empty schema rather than dropping the tool.
		b, _ = json.Marshal(openai.Tool{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: t.Name, Description: desc, Parameters: json.RawMessage(`{"type":"object","properties":{}}`)}})
	}
	return b
}

// lookup returns the bridge tool with the exposed name, if the toolset has it.
func (ts *toolset) lookup(name string) (mcpclient.Tool, bool) {
	i, ok := ts.byName[name]
	if !ok {
		return mcpclient.Tool{}, false
	}
	return ts.tools[i], true
}

// mergeTools returns the "tools" array sent upstream: the client's tools as
// sent, then every bridge tool whose name no client tool uses. It returns
// nil when there are no tools at all, so that no empty array is sent.
func mergeTools(client []json.RawMessage, clientNames map[string]bool, ts *toolset) json.RawMessage {
	if len(client) == 0 {
		return ts.joined
	}
	return joinTools(client, clientNames, ts)
}

// joinTools encodes the client's tools and the bridge's that no client
// tool shadows as one JSON array; nil when there are none.
func joinTools(client []json.RawMessage, clientNames map[string]bool, ts *toolset) json.RawMessage {
	if len(client) == 0 && len(ts.defs) == 0 {
		return nil
	}
	n := 2
	for _, d := range client {
		n += len(d) + 1
	}
	for _, d := range ts.defs {
		n += len(d) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	first := true
	add := func(d json.RawMessage) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, d...)
	}
	for _, d := range client {
		add(d)
	}
	for i, d := range ts.defs {
		if clientNames[ts.tools[i].Name] {
			continue
		}
		add(d)
	}
	return append(buf, ']')
}
