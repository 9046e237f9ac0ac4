package bridge

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"

	openai "github.com/sashabaranov/go-openai"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
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
	// maxTools is the most tools a request may carry (the profile's); 0
	// means no limit.
	maxTools int
	// leftOut are the tools of the view the profile does not take: a name
	// it refuses, or past its MaxTools.
	leftOut []string
	// search is the index of tools for search_tools, made on first use.
	search searchState
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
func (c *toolCache) get(p *auth.Principal) *toolset { return c.getFor(p, nil) }

// getFor is get as the provider profile prof takes the tools (nil: as they
// are): schemas are adapted once per registry version, view and profile,
// not per request.
func (c *toolCache) getFor(p *auth.Principal, prof *route.Profile) *toolset {
	return c.build(p, prof, false)
}

// getSearchable is getFor without the profile's tool limit: in search mode
// the bridge sends the few tools found, which may be any of the view's.
func (c *toolCache) getSearchable(p *auth.Principal, prof *route.Profile) *toolset {
	return c.build(p, prof, true)
}

func (c *toolCache) build(p *auth.Principal, prof *route.Profile, uncut bool) *toolset {
	v, key := c.src.Version(), p.ViewKey()
	if !prof.ChangesTools() {
		prof = nil
	} else {
		if uncut && prof.MaxTools > 0 {
			whole := *prof
			whole.MaxTools = 0
			prof = &whole
			key = "\x00search" + key
		}
		key = prof.Name + "\x00" + key
	}
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
	ts := buildToolset(v, tools, prof)
	if len(c.views) >= maxViews {
		clear(c.views)
	}
	c.views[key] = ts
	if len(ts.leftOut) > 0 {
		c.log.Warn("the upstream's provider profile does not take every tool: these are left out of its requests",
			"profile", prof.Name, "max_tools", prof.MaxTools, "left_out", strings.Join(ts.leftOut, ", "))
	}
	if n := len(ts.joined); c.warnBytes > 0 && n > c.warnBytes && !c.warned {
		c.warned = true
		c.log.Warn("the MCP tools injected into every chat request are large: they cost prompt tokens and time on every round, "+
			"and some providers refuse more than 128 tools; narrow them with tools.allow/deny per server or a policy",
			"tools", len(ts.tools), "bytes", n, "warn_injected_bytes", c.warnBytes)
	}
	return ts
}

// buildToolset converts registry tools into OpenAI function tools, as
// prof takes them when it is not nil: names it refuses and tools past its
// MaxTools left out (and listed in leftOut), schemas adapted.
func buildToolset(version uint64, tools []mcpclient.Tool, prof *route.Profile) *toolset {
	var leftOut []string
	if prof != nil {
		kept := make([]mcpclient.Tool, 0, len(tools))
		for _, t := range tools {
			if !prof.NameOK(t.Name) {
				leftOut = append(leftOut, t.Name+" (name)")
				continue
			}
			if prof.MaxTools > 0 && len(kept) >= prof.MaxTools {
				leftOut = append(leftOut, t.Name)
				continue
			}
			t.InputSchema = prof.AdaptSchema(t.InputSchema)
			kept = append(kept, t)
		}
		tools = kept
	}
	ts := &toolset{version: version, tools: tools, defs: make([]json.RawMessage, len(tools)), byName: make(map[string]int, len(tools)),
		leftOut: leftOut}
	if prof != nil {
		ts.maxTools = prof.MaxTools
	}
	for i, t := range tools {
		ts.defs[i] = openAITool(t)
		ts.byName[t.Name] = i
	}
	ts.joined = joinTools(nil, nil, ts, -1)
	return ts
}

// openAITool is the OpenAI function-tool definition of an MCP tool, lean
// and deterministic so that provider prompt caches hit: compact JSON
// without HTML escapes, the same tool always the same bytes.
func openAITool(t mcpclient.Tool) json.RawMessage {
	def := leanTool{Type: string(openai.ToolTypeFunction), Function: leanFunction{Name: t.Name, Description: toolDescription(t), Parameters: toolParameters(t)}}
	b := marshalLean(def)
	if b == nil {
		// The schema came from the registry as valid JSON; fall back to an
		// empty schema rather than dropping the tool.
		def.Function.Parameters = emptySchema
		b = marshalLean(def)
	}
	return b
}

// emptySchema is the parameters of a tool that declares none.
var emptySchema = json.RawMessage(`{"type":"object","properties":{}}`)

// toolDescription is what a model is told a tool does: its description,
// else its title.
func toolDescription(t mcpclient.Tool) string {
	if t.Description == "" {
		return t.Title
	}
	return t.Description
}

// toolParameters is a tool's input schema, emptySchema when it has none.
func toolParameters(t mcpclient.Tool) json.RawMessage {
	if len(t.InputSchema) == 0 {
		return emptySchema
	}
	return t.InputSchema
}

// leanTool is an OpenAI function tool as the bridge injects it. It is not
// openai.Tool, whose encoding escapes HTML ('<' as \u003c, six bytes for
// one) and puts the function before the type.
type leanTool struct {
	Type     string       `json:"type"`
	Function leanFunction `json:"function"`
}

type leanFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
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
// sent, then every bridge tool whose name no client tool uses, as many as
// ts.maxTools leaves room for (the client's are never cut); left are the
// bridge tools that found no room. It returns nil when there are no tools
// at all, so that no empty array is sent.
func mergeTools(client []json.RawMessage, clientNames map[string]bool, ts *toolset) (tools json.RawMessage, left []string) {
	if len(client) == 0 {
		return ts.joined, nil
	}
	if ts.maxTools > 0 {
		room := max(ts.maxTools-len(client), 0)
		for _, t := range ts.tools {
			if clientNames[t.Name] {
				continue
			}
			if room == 0 {
				left = append(left, t.Name)
				continue
			}
			room--
		}
		if left != nil {
			return joinTools(client, clientNames, ts, max(ts.maxTools-len(client), 0)), left
		}
	}
	return joinTools(client, clientNames, ts, -1), nil
}

// joinTools encodes the client's tools and the first n of the bridge's
// that no client tool shadows (n < 0: all of them) as one JSON array; nil
// when there are none.
func joinTools(client []json.RawMessage, clientNames map[string]bool, ts *toolset, n int) json.RawMessage {
	if len(client) == 0 && len(ts.defs) == 0 {
		return nil
	}
	size := 2
	for _, d := range client {
		size += len(d) + 1
	}
	for _, d := range ts.defs {
		size += len(d) + 1
	}
	buf := make([]byte, 0, size)
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
		if n == 0 {
			break
		}
		n--
		add(d)
	}
	return append(buf, ']')
}

// toolsFor returns the tools sent to an upstream of the profile prof: the
// request's merged tools, or for a profile that changes tools (OpenAI's
// 128, Gemini's schemas) the merge of the client's with that profile's
// toolset, made once per request and said in the log when the client's
// own tools left no room for some of the bridge's.
func (r *run) toolsFor(prof *route.Profile) json.RawMessage {
	if r.searching {
		return r.searchTools(prof)
	}
	if !prof.ChangesTools() {
		return r.tools
	}
	if t, ok := r.profTools[prof]; ok {
		return t
	}
	t, left := mergeTools(r.req.clientTools, r.req.clientToolNames, r.s.tools.getFor(r.p, prof))
	if len(left) > 0 {
		r.s.log.Warn("the client's tools leave no room for some of the bridge's under the upstream's tool limit: left out of this request",
			"profile", prof.Name, "max_tools", prof.MaxTools, "left_out", strings.Join(left, ", "))
	}
	if r.profTools == nil {
		r.profTools = map[*route.Profile]json.RawMessage{}
	}
	r.profTools[prof] = t
	return t
}
