// Package openapi is OpenAPI in both directions.
//
// [ToolServer] serves the aggregated tools as an OpenAPI 3.1 tool server,
// the kind Open WebUI mounts: GET /openapi.json describes one
// POST /tools/{name} operation per tool, and POST /tools/{name} calls it.
//
// [ServerConfig] imports the operations of a REST API's OpenAPI 3.0 or 3.1
// spec as tools: it returns a registry entry whose tools are served by an
// in-memory MCP server that makes the HTTP requests, so that they appear
// wherever MCP tools do.
//
// The package knows the registry's types ([mcpclient.Tool],
// [mcpclient.Result]) and nothing of the bridge's HTTP server.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// documentInfo is what a document says about its server.
type documentInfo struct {
	title, version, description string
	serverURL                   string
	auth                        bool // the routes need an API key
}

// errorSchema is the body of every error answer.
var errorSchema = map[string]any{
	"type":     "object",
	"required": []any{"error"},
	"properties": map[string]any{
		"error": map[string]any{
			"type":     "object",
			"required": []any{"message", "type"},
			"properties": map[string]any{
				"message": map[string]any{"type": "string"},
				"type":    map[string]any{"type": "string"},
				"param":   map[string]any{"type": []any{"string", "null"}},
				"code":    map[string]any{"type": []any{"string", "null"}},
			},
		},
	},
}

// resultSchema is the success body of a tool without an output schema.
var resultSchema = map[string]any{
	"type":        "object",
	"required":    []any{"result"},
	"properties":  map[string]any{"result": map[string]any{"type": "string", "description": "The tool's result as text."}},
	"description": "The tool's result as text.",
}

// errorResponses are the error answers every operation may give.
var errorResponses = []struct{ status, name, description string }{
	{"404", "UnknownTool", "No tool of this name is available."},
	{"422", "InvalidArguments", "The body does not match the tool's input schema; param names the failing path."},
	{"502", "ToolError", "The tool reported a failure (type tool_error), or its server failed."},
	{"503", "Unavailable", "The tool's server is not connected at the moment."},
	{"504", "Timeout", "The tool did not answer in time."},
}

// buildDocument returns the OpenAPI 3.1 document of tools: one
// POST /tools/{name} operation per tool, operationId the tool's name. The
// request body is the tool's input schema, left out for tools that take no
// arguments (Open WebUI refuses to call an operation that declares a body
// with none); the 200 answer is the tool's output schema when it has one,
// else {"result": string}. $defs of the schemas move to
// components/schemas so that their references stay valid.
func buildDocument(tools []mcpclient.Tool, info documentInfo) ([]byte, error) {
	schemas := map[string]any{"Error": errorSchema, "ToolResult": resultSchema}
	responses := map[string]any{}
	for _, e := range errorResponses {
		responses[e.name] = map[string]any{
			"description": e.description,
			"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
		}
	}
	components := map[string]any{"schemas": schemas, "responses": responses}
	paths := map[string]any{}
	for _, t := range tools {
		in, err := embedSchema(t.InputSchema, t.Name, schemas)
		if err != nil {
			return nil, fmt.Errorf("tool %q: input schema: %w", t.Name, err)
		}
		var out any = map[string]any{"$ref": "#/components/schemas/ToolResult"}
		if len(t.OutputSchema) > 0 {
			if out, err = embedSchema(t.OutputSchema, t.Name+".output", schemas); err != nil {
				return nil, fmt.Errorf("tool %q: output schema: %w", t.Name, err)
			}
		}
		op := map[string]any{
			"operationId": t.Name,
			"summary":     summary(t),
			"tags":        []any{t.Server},
			"responses":   operationResponses(out, info.auth),
		}
		if d := strings.TrimSpace(t.Description); d != "" {
			op["description"] = d
		}
		if hasArguments(in) {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": in}},
			}
		}
		paths["/tools/"+t.Name] = map[string]any{"post": op}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       info.title,
			"version":     info.version,
			"description": info.description,
		},
		"servers":    []any{map[string]any{"url": info.serverURL}},
		"paths":      paths,
		"components": components,
	}
	if info.auth {
		components["securitySchemes"] = map[string]any{
			"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An API key of the bridge."},
			"apiKey": map[string]any{"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "An API key of the bridge."},
		}
		doc["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"apiKey": []any{}}}
		responses["Unauthorized"] = map[string]any{
			"description": "A missing or invalid API key.",
			"content":     map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}},
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func operationResponses(out any, auth bool) map[string]any {
	r := map[string]any{
		"200": map[string]any{
			"description": "The tool's result: its structured content when it has some, else {\"result\": <text>}.",
			"content":     map[string]any{"application/json": map[string]any{"schema": out}},
		},
	}
	for _, e := range errorResponses {
		r[e.status] = map[string]any{"$ref": "#/components/responses/" + e.name}
	}
	if auth {
		r["401"] = map[string]any{"$ref": "#/components/responses/Unauthorized"}
	}
	return r
}

// summary is the tool's title, else the first line of its description,
// else its name.
func summary(t mcpclient.Tool) string {
	if s := strings.TrimSpace(t.Title); s != "" {
		return s
	}
	s, _, _ := strings.Cut(strings.TrimSpace(t.Description), "\n")
	if r := []rune(strings.TrimSpace(s)); len(r) > 120 {
		s = string(r[:117]) + "..."
	}
	if s == "" {
		return t.Name
	}
	return s
}

// hasArguments reports whether an input schema has any property.
func hasArguments(schema any) bool {
	m, _ := schema.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	return len(props) > 0 || m["additionalProperties"] != nil && m["additionalProperties"] != false
}

// embedSchema decodes a tool's schema for the document. Its $defs (and
// draft-07 definitions) move to schemas, the document's components, as
// "<prefix>.<name>", and the references to them are rewritten. Other
// references into the schema ("#/properties/a") point into a copy of it
// stored as schemas[prefix]. A root $id and $schema are dropped: the schema
// now lives inside the document.
func embedSchema(raw json.RawMessage, prefix string, schemas map[string]any) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{"type": "object", "properties": map[string]any{}}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers come out as they went in
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return v, nil
	}
	delete(root, "$id")
	delete(root, "$schema")

	moved := map[string]string{} // "#/$defs/Name" -> "#/components/schemas/<component>"
	type def struct {
		comp string
		body any
	}
	var defs []def
	for _, kw := range []string{"$defs", "definitions"} {
		group, ok := root[kw].(map[string]any)
		if !ok {
			continue
		}
		delete(root, kw)
		for _, name := range sortedKeys(group) {
			comp := uniqueComponent(schemas, prefix+"."+name)
			schemas[comp] = nil // reserve the name
			moved["#/"+kw+"/"+escapePointer(name)] = "#/components/schemas/" + comp
			defs = append(defs, def{comp, group[name]})
		}
	}
	self := ""
	rewrite := func(ref string) string {
		if !strings.HasPrefix(ref, "#") {
			return ref
		}
		for from, to := range moved {
			if ref == from || strings.HasPrefix(ref, from+"/") {
				return to + ref[len(from):]
			}
		}
		if self == "" {
			self = uniqueComponent(schemas, prefix)
			schemas[self] = nil
		}
		return "#/components/schemas/" + self + ref[1:]
	}
	rewriteRefs(root, rewrite)
	for _, d := range defs {
		rewriteRefs(d.body, rewrite)
		schemas[d.comp] = d.body
	}
	if self != "" {
		schemas[self] = root
	}
	return root, nil
}

// rewriteRefs replaces every $ref string under v.
func rewriteRefs(v any, f func(string) string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				x[k] = f(s)
				continue
			}
			rewriteRefs(e, f)
		}
	case []any:
		for _, e := range x {
			rewriteRefs(e, f)
		}
	}
}

// uniqueComponent makes name a valid component name
// (^[a-zA-Z0-9._-]+$) that schemas does not use yet.
func uniqueComponent(schemas map[string]any, name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	base := string(b)
	if base == "" {
		base = "schema"
	}
	name = base
	for i := 2; ; i++ {
		if _, taken := schemas[name]; !taken {
			return name
		}
		name = fmt.Sprintf("%s_%d", base, i)
	}
}

// escapePointer escapes a JSON pointer token.
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
