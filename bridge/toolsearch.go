package bridge

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/search"
)

// Tool search.
//
// A model given hundreds of tools pays for every definition on every
// round, and providers refuse past a limit (OpenAI: 128). In search mode
// the model gets one function, search_tools, besides the client's own
// tools and the always tools; what it finds is injected from the next
// round on and stays for the rest of the answer, so it calls those tools
// natively. Searching ranks only the caller's view: a caller never finds
// a tool it may not use.

// How the bridge's tools are exposed to the model (Options.Exposure).
const (
	// ExposureAll injects every tool the caller may use.
	ExposureAll = "all"
	// ExposureSearch injects search_tools, the always tools and what the
	// model found.
	ExposureSearch = "search"
	// ExposureAuto is ExposureAll until the caller's tools exceed
	// Options.SearchThreshold or the upstream profile's tool limit, then
	// ExposureSearch.
	ExposureAuto = "auto"
)

// searchToolName is the function the model searches the tools with.
const searchToolName = "search_tools"

// Bounds of one search.
const (
	defaultSearchLimit = 8
	maxSearchLimit     = 25
	// maxSummaryBytes bounds a found tool's one-line description.
	maxSummaryBytes = 200
)

// searchState is what a toolset keeps for searching it, made on first use.
type searchState struct {
	once  sync.Once
	index *search.Index
	def   json.RawMessage // the search_tools definition

	mu         sync.Mutex
	alwaysKey  string   // the globs alwaysList was made for
	alwaysList []string // the toolset's names that match them
}

// always returns the names of the toolset's tools that match globs, in
// the toolset's order, matched once per toolset and list of globs rather
// than on every request.
func (ts *toolset) always(globs []string) []string {
	if len(globs) == 0 {
		return nil
	}
	key := strings.Join(globs, "\x00")
	ts.search.mu.Lock()
	defer ts.search.mu.Unlock()
	if ts.search.alwaysKey == key && ts.search.alwaysList != nil {
		return ts.search.alwaysList
	}
	list := []string{}
	for _, t := range ts.tools {
		if matchAnyGlob(globs, t.Name) {
			list = append(list, t.Name)
		}
	}
	ts.search.alwaysKey, ts.search.alwaysList = key, list
	return list
}

// searchIndex returns the toolset's index and search_tools definition,
// built once per toolset (registry version, view and profile).
func (ts *toolset) searchIndex() (*search.Index, json.RawMessage) {
	ts.search.once.Do(func() {
		docs := make([]search.Doc, len(ts.tools))
		for i, t := range ts.tools {
			docs[i] = searchDoc(t)
		}
		ts.search.index = search.New(docs)
		ts.search.def = searchToolDef(len(ts.tools))
	})
	return ts.search.index, ts.search.def
}

// searchDoc is a tool as the index sees it.
func searchDoc(t mcpclient.Tool) search.Doc {
	name := t.Original
	if name == "" {
		name = t.Name
	}
	server := t.Server
	if p, _, ok := strings.Cut(t.Name, "__"); ok && p != t.Server {
		server += " " + p
	}
	return search.Doc{Name: name, Server: server, Description: toolDescription(t), Params: schemaParams(t.InputSchema)}
}

// schemaParams are the top-level properties of a parameter schema.
func schemaParams(schema json.RawMessage) []search.Param {
	var s struct {
		Properties map[string]struct {
			Description string `json:"description"`
		} `json:"properties"`
	}
	if json.Unmarshal(schema, &s) != nil {
		return nil
	}
	out := make([]search.Param, 0, len(s.Properties))
	for name, p := range s.Properties {
		out = append(out, search.Param{Name: name, Description: p.Description})
	}
	return out
}

// searchToolDef is the search_tools definition for a view of n tools.
func searchToolDef(n int) json.RawMessage {
	desc := fmt.Sprintf("Search the %d tools available to you by what they do (their names, descriptions and parameters). "+
		"The tools found can be called from your next step on, by name, like any other tool. "+
		"Search again with other words when none fits.", n)
	def := map[string]any{"type": "function", "function": map[string]any{
		"name": searchToolName, "description": desc,
		"parameters": map[string]any{"type": "object", "required": []string{"query"}, "properties": map[string]any{
			"query": map[string]any{"type": "string", "description": "What the tool should do, in a few words, e.g. \"read a text file\""},
			"limit": map[string]any{"type": "integer", "minimum": 1, "maximum": maxSearchLimit,
				"description": fmt.Sprintf("How many tools to return; default %d", defaultSearchLimit)},
		}},
	}}
	return marshalLean(def)
}

// marshalLean encodes v as compact JSON without HTML escapes (map keys
// sorted, so the same value always gives the same bytes).
func marshalLean(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// searching decides whether the request runs in search mode: the
// exposure says so, or, for auto, the caller's tools pass the threshold
// or a candidate upstream's tool limit. The client's own search_tools
// wins over the bridge's: then every tool is injected.
func (s *Server) searching(ts *toolset, cr *chatRequest, cands []route.Candidate) bool {
	if len(ts.tools) == 0 || cr.clientToolNames[searchToolName] {
		return false
	}
	switch s.opts.Exposure {
	case ExposureSearch:
		return true
	case ExposureAuto:
		if len(ts.tools) > s.opts.SearchThreshold {
			return true
		}
		for _, c := range cands {
			if c.Profile != nil && c.Profile.MaxTools > 0 && len(ts.tools)+len(cr.clientTools) > c.Profile.MaxTools {
				return true
			}
		}
	}
	return false
}

// searchKey is a search-mode tool array in the making: the profile it is
// for and how many tools had been found.
type searchKey struct {
	prof  *route.Profile
	found int
}

// searchTools returns the tools sent upstream in search mode, for an
// upstream of profile prof: the client's, then search_tools, the always
// tools and the tools found so far, in the order they were found, as
// many as the profile's limit leaves room for. It is made once per
// profile and number of tools found.
func (r *run) searchTools(prof *route.Profile) json.RawMessage {
	if !prof.ChangesTools() {
		prof = nil
	}
	key := searchKey{prof, len(r.found)}
	if t, ok := r.searchArrays[key]; ok {
		return t
	}
	ts := r.ts
	if prof != nil {
		ts = r.s.tools.getSearchable(r.p, prof)
	}
	_, def := r.ts.searchIndex()
	room := -1
	if prof != nil && prof.MaxTools > 0 {
		room = max(prof.MaxTools-len(r.req.clientTools)-1, 0)
	}
	defs := append(make([]json.RawMessage, 0, len(r.req.clientTools)+1+len(r.found)), r.req.clientTools...)
	defs = append(defs, def)
	var left []string
	seen := map[string]bool{}
	add := func(name string) {
		if seen[name] || r.req.clientToolNames[name] {
			return
		}
		seen[name] = true
		i, ok := ts.byName[name]
		if !ok {
			return // not taken by this profile
		}
		if room == 0 {
			left = append(left, name)
			return
		}
		room--
		defs = append(defs, ts.defs[i])
	}
	for _, name := range r.ts.always(r.s.opts.AlwaysTools) {
		add(name)
	}
	for _, name := range r.found {
		add(name)
	}
	if len(left) > 0 {
		r.s.log.Warn("the upstream's tool limit leaves no room for some tools the model found: left out of this request",
			"profile", prof.Name, "max_tools", prof.MaxTools, "left_out", strings.Join(left, ", "))
	}
	t := encodeArray(defs)
	if r.searchArrays == nil {
		r.searchArrays = map[searchKey]json.RawMessage{}
	}
	r.searchArrays[key] = t
	return t
}

// matchAnyGlob reports whether name matches one of globs (path.Match
// syntax; tool names hold no '/').
func matchAnyGlob(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok || g == name {
			return true
		}
	}
	return false
}

// foundTool is one tool in search_tools' answer.
type foundTool struct {
	Name        string          `json:"name"`
	Server      string          `json:"server"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters"`
}

// searchCall answers a search_tools call: the matching tools of the
// caller's view, best first, and their names, to be injected from the
// next round on. Bad arguments are an error the model can read.
func (r *run) searchCall(c llm.ToolCall) (text string, found []string, isError bool) {
	var args struct {
		Query string `json:"query"`
		Limit *int   `json:"limit"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(c.Arguments)), &args); err != nil || strings.TrimSpace(args.Query) == "" {
		return `Error: search_tools takes {"query": "what the tool should do", "limit": 8}; the query is missing.`, nil, true
	}
	limit := defaultSearchLimit
	if args.Limit != nil && *args.Limit > 0 {
		limit = min(*args.Limit, maxSearchLimit)
	}
	idx, _ := r.ts.searchIndex()
	hits := idx.Search(args.Query, limit)
	if len(hits) == 0 {
		return fmt.Sprintf("No tool matches %q. Search again with other words (what the tool does, or what it acts on).", args.Query), nil, false
	}
	out := make([]foundTool, len(hits))
	found = make([]string, len(hits))
	for i, h := range hits {
		t := r.ts.tools[h.Doc]
		out[i] = foundTool{Name: t.Name, Server: t.Server, Description: oneLine(toolDescription(t), maxSummaryBytes), Parameters: toolParameters(t)}
		found[i] = t.Name
	}
	b := marshalLean(map[string]any{"tools": out,
		"note": "These tools can be called from your next step on, by name."})
	return string(b), found, false
}

// oneLine is the first sentence or line of s, at most max bytes.
func oneLine(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if i := sentenceEnd(s); i > 0 {
		s = s[:i]
	}
	if len(s) > max {
		cut := max - len("…")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// sentenceEnd is the index just past the first sentence of s ('.', '!' or
// '?' followed by a space), or -1 when s is one sentence.
func sentenceEnd(s string) int {
	for i := 0; i+1 < len(s); i++ {
		switch s[i] {
		case '.', '!', '?':
			if s[i+1] == ' ' {
				return i + 1
			}
		}
	}
	return -1
}

// addFound adds the names a search found to the tools injected from the
// next round on, each once, in the order they were found.
func (r *run) addFound(names []string) {
	for _, n := range names {
		if r.foundSet == nil {
			r.foundSet = map[string]bool{}
		}
		if !r.foundSet[n] {
			r.foundSet[n] = true
			r.found = append(r.found, n)
		}
	}
}
