package mcpclient

import (
	"encoding/json"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tool definitions come from servers the bridge does not control, and end
// up in every model request: before a tool enters the registry, its schemas
// are checked against MaxSchemaDepth and MaxSchemaBytes (a tool that fails
// is left out, not its server) and its descriptions are capped at
// Options.MaxDescriptionBytes. Each problem is logged once per tool.

// maxWarned bounds the memory of warnings already logged; past it, they are
// forgotten and may be logged again.
const maxWarned = 10000

// toolCheck is the outcome of checking one tool definition: why it cannot be
// used, or the tool as the registry serves it.
type toolCheck struct {
	problem string
	tool    serverTool
}

// checkTool returns t as the registry serves it (descriptions capped), or
// false when its schemas cannot be used. Outcomes are remembered per
// definition from one rebuild to the next: the caller's checks becomes
// r.checks. r.mu must be held.
func (r *Registry) checkTool(server string, t serverTool, checks map[*mcp.Tool]toolCheck) (serverTool, bool) {
	if t.Def != nil {
		if c, ok := r.checks[t.Def]; ok {
			checks[t.Def] = c
			return c.tool, c.problem == ""
		}
	}
	c := r.check(server, t)
	if t.Def != nil {
		checks[t.Def] = c
	}
	return c.tool, c.problem == ""
}

// check checks one tool; see checkTool. Descriptions are cut before sizes
// are checked (a schema may be large only because of them), and depths are
// checked before descriptions are cut (which recurses).
func (r *Registry) check(server string, t serverTool) toolCheck {
	limit := r.opts.MaxDescriptionBytes
	desc, cutDesc := capText(t.Description, limit)
	schema, output := t.Schema, t.Output
	var cutSchema, cutOutput bool
	for _, s := range []struct {
		which  string
		schema *json.RawMessage
		cut    *bool
	}{{"input", &schema, &cutSchema}, {"output", &output, &cutOutput}} {
		if *s.schema == nil {
			continue
		}
		p := schemaDepthProblem(*s.schema)
		if p == "" {
			*s.schema, *s.cut = capSchemaDescriptions(*s.schema, limit)
			p = schemaProblem(*s.schema)
		}
		if p != "" {
			r.warnOnce(server, t.Original, "unusable "+s.which,
				"mcp server: tool left out, its schema cannot be used",
				"schema", s.which, "reason", p)
			return toolCheck{problem: p}
		}
	}
	if !cutDesc && !cutSchema && !cutOutput {
		return toolCheck{tool: t}
	}
	r.warnOnce(server, t.Original, "description cut",
		"mcp server: tool description cut", "max_bytes", limit, "description_bytes", len(t.Description))
	t.Description, t.Schema, t.Output = desc, schema, output
	if t.Def != nil {
		def := *t.Def
		def.Description = desc
		def.InputSchema = capDefSchema(def.InputSchema, limit)
		def.OutputSchema = capDefSchema(def.OutputSchema, limit)
		t.Def = &def
	}
	return toolCheck{tool: t}
}

// capDefSchema caps the descriptions in a schema as the server sent it (in
// whatever form go-sdk holds it), for faces that publish the definition.
func capDefSchema(schema any, limit int) any {
	if schema == nil {
		return nil
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return schema
	}
	if capped, cut := capSchemaDescriptions(b, limit); cut {
		return capped
	}
	return schema
}

// warnOnce logs msg at warn level, naming the server and the tool, unless
// the same problem of the same tool was logged before. r.mu must be held.
func (r *Registry) warnOnce(server, tool, problem, msg string, attrs ...any) {
	key := server + "\x00" + tool + "\x00" + problem
	if r.warned[key] {
		return
	}
	if len(r.warned) >= maxWarned {
		clear(r.warned)
	}
	r.warned[key] = true
	r.log.Warn(msg, append([]any{"server", server, "tool", tool}, attrs...)...)
}
