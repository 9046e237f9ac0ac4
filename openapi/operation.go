package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// operation is one imported operation: its tool definition and how a call
// of the tool becomes an HTTP request.
type operation struct {
	name        string // the tool name on the spec's MCP server
	method      string // lower case
	path        string // the path template, "/pets/{id}"
	title       string
	description string
	schema      json.RawMessage // the tool's input schema
	params      []param
	body        *body    // nil when the operation takes no body
	base        *url.URL // where requests go
}

// param is one parameter of the operation and the input property that
// carries it.
type param struct {
	name     string // as the API knows it
	in       string // path, query or header
	prop     string // the input property
	style    string
	explode  bool
	required bool
	asJSON   bool // a parameter with content: the value is sent as JSON text
}

// body is the JSON request body of the operation.
type body struct {
	mediaType string
	required  bool
	// prop is the input property holding the whole body; "" when the
	// body's properties are input properties themselves (flattened).
	prop string
}

// toolName is an operation's tool name: its operationId made fit for
// tool names, else method_path ("get_pets_id").
func toolName(operationID, method, path string) string {
	if strings.TrimSpace(operationID) != "" {
		return mcpclient.ToolName("", strings.TrimSpace(operationID))
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, r := range path {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := collapseUnderscores.ReplaceAllString(b.String(), "_")
	return mcpclient.ToolName("", strings.TrimRight(name, "_"))
}

var collapseUnderscores = regexp.MustCompile(`_+`)

// opLabel names an operation in warnings: "getPet (GET /pets/{id})".
func opLabel(name, method, path string) string {
	return fmt.Sprintf("%s (%s %s)", name, strings.ToUpper(method), path)
}

var pathVarRE = regexp.MustCompile(`\{([^{}]+)\}`)

// buildOperation converts an operation into a tool: one input schema for
// its path, query and header parameters and its JSON body. notes are
// warnings about parts left out; err says why the operation cannot be
// expressed at all.
func buildOperation(resolve func(string) (any, error), name, method, path string, item *openapi3.PathItem, op *openapi3.Operation) (*operation, []string, error) {
	o := &operation{name: name, method: method, path: path, title: strings.TrimSpace(op.Summary)}
	o.description = operationDescription(op, method, path)
	var notes []string

	// Parameters: the path item's, overridden by the operation's of the
	// same name and location.
	var all []*openapi3.Parameter
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				return nil, notes, errors.New("a parameter could not be resolved")
			}
			p := ref.Value
			all = slices.DeleteFunc(all, func(q *openapi3.Parameter) bool { return q.Name == p.Name && q.In == p.In })
			all = append(all, p)
		}
	}

	props := map[string]any{}
	var required []any
	used := map[string]bool{}
	for _, p := range all {
		switch p.In {
		case openapi3.ParameterInPath, openapi3.ParameterInQuery, openapi3.ParameterInHeader:
		case openapi3.ParameterInCookie:
			if p.Required {
				return nil, notes, fmt.Errorf("the required cookie parameter %q is not supported", p.Name)
			}
			notes = append(notes, fmt.Sprintf("the cookie parameter %q is not supported and is never sent", p.Name))
			continue
		default:
			return nil, notes, fmt.Errorf("parameter %q is in %q, which is not a parameter location", p.Name, p.In)
		}
		pp := param{name: p.Name, in: p.In, required: p.Required || p.In == openapi3.ParameterInPath}
		pp.style, pp.explode = paramStyle(p)
		var schemaRef *openapi3.SchemaRef
		switch {
		case p.Schema != nil:
			schemaRef = p.Schema
		case len(p.Content) > 0:
			_, media := jsonMedia(p.Content)
			if media == nil {
				return nil, notes, fmt.Errorf("parameter %q has no JSON content", p.Name)
			}
			schemaRef, pp.asJSON = media.Schema, true
		}
		s, err := cleanRef(resolve, schemaRef, true)
		if err != nil {
			return nil, notes, fmt.Errorf("parameter %q: %w", p.Name, err)
		}
		if s.schema["description"] == nil && strings.TrimSpace(p.Description) != "" {
			s.schema["description"] = strings.TrimSpace(p.Description)
		}
		pp.prop = p.Name
		if used[pp.prop] {
			pp.prop = p.In + "_" + p.Name
		}
		if used[pp.prop] {
			return nil, notes, fmt.Errorf("parameter %q is defined twice", p.Name)
		}
		used[pp.prop] = true
		props[pp.prop] = s.schema
		if pp.required {
			required = append(required, pp.prop)
		}
		o.params = append(o.params, pp)
	}

	// Every variable of the path template needs a path parameter.
	for _, m := range pathVarRE.FindAllStringSubmatch(path, -1) {
		if !slices.ContainsFunc(o.params, func(p param) bool { return p.in == openapi3.ParameterInPath && p.name == m[1] }) {
			return nil, notes, fmt.Errorf("the path variable {%s} has no path parameter", m[1])
		}
	}

	if rb := op.RequestBody; rb != nil {
		if rb.Value == nil {
			return nil, notes, errors.New("the request body could not be resolved")
		}
		mt, media := jsonMedia(rb.Value.Content)
		if media == nil {
			kinds := make([]string, 0, len(rb.Value.Content))
			for k := range rb.Value.Content {
				kinds = append(kinds, k)
			}
			slices.Sort(kinds)
			if rb.Value.Required {
				return nil, notes, fmt.Errorf("the request body (%s) is not JSON, which is the only kind supported", strings.Join(kinds, ", "))
			}
			notes = append(notes, fmt.Sprintf("the optional request body (%s) is not JSON and is never sent", strings.Join(kinds, ", ")))
		} else {
			s, err := cleanRef(resolve, media.Schema, true)
			if err != nil {
				return nil, notes, fmt.Errorf("request body: %w", err)
			}
			b := &body{mediaType: mt, required: rb.Value.Required}
			bodyProps, _ := s.schema["properties"].(map[string]any)
			bodyReq := requiredList(s.schema["required"])
			flat := isType(s.schema, "object") && len(bodyProps) > 0 && s.schema["anyOf"] == nil && s.schema["allOf"] == nil &&
				(b.required || len(bodyReq) == 0)
			for k := range bodyProps {
				if used[k] {
					flat = false
				}
			}
			if flat {
				for k, v := range bodyProps {
					props[k] = v
					used[k] = true
				}
				for _, k := range bodyReq {
					required = append(required, k)
				}
			} else {
				b.prop = "body"
				for _, alt := range []string{"requestBody", "body_"} {
					if used[b.prop] {
						b.prop = alt
					}
				}
				if s.schema["description"] == nil && strings.TrimSpace(rb.Value.Description) != "" {
					s.schema["description"] = strings.TrimSpace(rb.Value.Description)
				}
				props[b.prop] = s.schema
				if b.required {
					required = append(required, b.prop)
				}
			}
			o.body = b
		}
	}

	schema := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		schema["required"] = required
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, notes, fmt.Errorf("encoding the input schema: %w", err)
	}
	o.schema = raw
	return o, notes, nil
}

// operationDescription is the summary and the description, or what the
// operation does when it has neither.
func operationDescription(op *openapi3.Operation, method, path string) string {
	sum, desc := strings.TrimSpace(op.Summary), strings.TrimSpace(op.Description)
	switch {
	case sum != "" && desc != "" && !strings.HasPrefix(desc, sum):
		return sum + "\n\n" + desc
	case desc != "":
		return desc
	case sum != "":
		return sum
	default:
		return strings.ToUpper(method) + " " + path
	}
}

// paramStyle returns a parameter's serialisation style and explode flag,
// with the defaults of its location.
func paramStyle(p *openapi3.Parameter) (string, bool) {
	style := p.Style
	if style == "" {
		if p.In == openapi3.ParameterInQuery || p.In == openapi3.ParameterInCookie {
			style = openapi3.SerializationForm
		} else {
			style = openapi3.SerializationSimple
		}
	}
	explode := style == openapi3.SerializationForm
	if p.Explode != nil {
		explode = *p.Explode
	}
	return style, explode
}

// jsonMedia picks the JSON media type of a content map: application/json,
// else a "+json" or other JSON type, else */*.
func jsonMedia(content openapi3.Content) (string, *openapi3.MediaType) {
	keys := make([]string, 0, len(content))
	for k := range content {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rank := func(k string) int {
		mt := strings.ToLower(strings.TrimSpace(strings.SplitN(k, ";", 2)[0]))
		switch {
		case mt == "application/json":
			return 3
		case strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "/json"):
			return 2
		case mt == "*/*" || mt == "application/*":
			return 1
		}
		return 0
	}
	best, bestRank := "", 0
	for _, k := range keys {
		if r := rank(k); r > bestRank && content[k] != nil {
			best, bestRank = k, r
		}
	}
	if bestRank == 0 {
		return "", nil
	}
	mt := strings.TrimSpace(strings.SplitN(best, ";", 2)[0])
	if bestRank == 1 {
		mt = "application/json"
	}
	return mt, content[best]
}

// cleanRef cleans the schema of a parameter or body; nil is any value.
func cleanRef(resolve func(string) (any, error), ref *openapi3.SchemaRef, request bool) (cleaned, error) {
	if ref == nil {
		return cleaned{schema: map[string]any{}}, nil
	}
	b, err := json.Marshal(ref)
	if err != nil {
		return cleaned{}, fmt.Errorf("encoding schema: %w", err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return cleaned{}, fmt.Errorf("encoding schema: %w", err)
	}
	c := &schemaCleaner{resolve: resolve, request: request}
	return c.clean(v)
}
