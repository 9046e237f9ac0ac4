package openapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// maxSchemaDepth bounds the nesting of a cleaned schema, so that a spec of
// deeply nested or mutually recursive components cannot blow up a tool
// definition. Deeper schemas become {} (any value).
const maxSchemaDepth = 32

// cleaned is a schema after cleaning, with what its parent needs to know.
type cleaned struct {
	schema map[string]any
	// nullable: null was one of the allowed values (a 3.1 type array with
	// "null", 3.0 nullable, an anyOf member {"type":"null"}, null in enum).
	// The parent drops such a property from its required list, so that
	// leaving it out stands for null.
	nullable bool
	// readOnly: the property is sent by the server only; request schemas
	// leave it out.
	readOnly bool
}

// schemaCleaner turns the JSON Schema dialect of OpenAPI 3.0 and 3.1 into the
// plain subset every model provider accepts: $ref resolved (a recursive
// reference becomes {} with a note), type arrays and nullable reduced to one
// type, an anyOf/oneOf with null reduced to its other member, oneOf made
// anyOf, allOf of objects merged into one object, const made a one-value
// enum, boolean exclusive bounds made numeric, arrays given items, and every
// keyword outside a small set of well-supported ones dropped.
type schemaCleaner struct {
	// resolve returns the schema a $ref points to.
	resolve func(ref string) (any, error)
	// request leaves readOnly properties out (a request body or parameter).
	request bool
	active  map[string]bool // $refs being expanded, to stop recursion
	depth   int
}

// keptScalars are the annotation and validation keywords copied as they
// are: every provider accepts them.
var keptScalars = []string{
	"description", "title", "default", "format",
	"minimum", "maximum", "multipleOf",
	"minLength", "maxLength", "pattern",
	"minItems", "maxItems", "uniqueItems",
	"minProperties", "maxProperties",
}

// clean cleans one schema (a decoded JSON value).
func (c *schemaCleaner) clean(v any) (cleaned, error) {
	if c.active == nil {
		c.active = map[string]bool{}
	}
	m, ok := v.(map[string]any)
	if !ok {
		// true, false (a boolean schema), null or garbage: any value.
		return cleaned{schema: map[string]any{}}, nil
	}
	if c.depth >= maxSchemaDepth {
		return cleaned{schema: map[string]any{"description": "(nested too deeply to describe; any value)"}}, nil
	}
	c.depth++
	defer func() { c.depth-- }()

	if ref, ok := m["$ref"].(string); ok {
		return c.cleanRef(ref, m)
	}

	out := map[string]any{}
	res := cleaned{schema: out}
	if b, _ := m["readOnly"].(bool); b {
		res.readOnly = true
	}
	if b, _ := m["nullable"].(bool); b {
		res.nullable = true
	}

	// type: a string, or a 3.1 array that may hold "null".
	switch t := m["type"].(type) {
	case string:
		if t == "null" {
			res.nullable = true
		}
		out["type"] = t
	case []any:
		var types []any
		for _, x := range t {
			if s, ok := x.(string); ok && s == "null" {
				res.nullable = true
			} else if ok && !slices.Contains(types, any(s)) {
				types = append(types, s)
			}
		}
		switch len(types) {
		case 0:
			if res.nullable {
				out["type"] = "null"
			}
		case 1:
			out["type"] = types[0]
		default:
			out["type"] = types
		}
	}

	for _, k := range keptScalars {
		if x, ok := m[k]; ok {
			out[k] = x
		}
	}
	for _, k := range []string{"exclusiveMinimum", "exclusiveMaximum"} {
		bound := "minimum"
		if k == "exclusiveMaximum" {
			bound = "maximum"
		}
		switch x := m[k].(type) {
		case bool: // OpenAPI 3.0: a flag on minimum/maximum
			if b, ok := out[bound]; ok && x {
				out[k] = b
				delete(out, bound)
			}
		case float64, json.Number, int, int64:
			out[k] = x
		}
	}
	if e, ok := m["enum"].([]any); ok {
		var vals []any
		for _, x := range e {
			if x == nil {
				res.nullable = true
				continue
			}
			vals = append(vals, x)
		}
		if len(vals) > 0 {
			out["enum"] = vals
		}
	}
	if x, ok := m["const"]; ok {
		if x == nil {
			res.nullable = true
		} else {
			out["enum"] = []any{x}
		}
	}

	// Objects.
	if props, ok := m["properties"].(map[string]any); ok {
		cp := map[string]any{}
		drop := map[string]bool{}
		for name, p := range props {
			r, err := c.clean(p)
			if err != nil {
				return cleaned{}, fmt.Errorf("property %q: %w", name, err)
			}
			if r.readOnly && c.request {
				drop[name] = true
				continue
			}
			if r.nullable {
				drop[name] = true // optional from here on: left out means null
			}
			cp[name] = r.schema
		}
		out["properties"] = cp
		if req := requiredList(m["required"]); len(req) > 0 {
			var keep []any
			for _, name := range req {
				if !drop[name] {
					keep = append(keep, name)
				}
			}
			if len(keep) > 0 {
				out["required"] = keep
			}
		}
	} else if req := requiredList(m["required"]); len(req) > 0 {
		out["required"] = stringsToAny(req)
	}
	switch ap := m["additionalProperties"].(type) {
	case bool:
		out["additionalProperties"] = ap
	case map[string]any:
		r, err := c.clean(ap)
		if err != nil {
			return cleaned{}, fmt.Errorf("additionalProperties: %w", err)
		}
		out["additionalProperties"] = r.schema
	}

	// Arrays.
	if items, ok := m["items"].(map[string]any); ok {
		r, err := c.clean(items)
		if err != nil {
			return cleaned{}, fmt.Errorf("items: %w", err)
		}
		out["items"] = r.schema
	}
	if isType(out, "array") && out["items"] == nil {
		out["items"] = map[string]any{} // OpenAI refuses arrays without items
	}

	// Combinators.
	for _, k := range []string{"anyOf", "oneOf"} {
		list, ok := m[k].([]any)
		if !ok {
			continue
		}
		var members []map[string]any
		for i, x := range list {
			r, err := c.clean(x)
			if err != nil {
				return cleaned{}, fmt.Errorf("%s[%d]: %w", k, i, err)
			}
			if r.nullable && (len(r.schema) == 0 || isType(r.schema, "null") && len(r.schema) == 1) {
				res.nullable = true // the {"type":"null"} member
				continue
			}
			if r.nullable {
				res.nullable = true
			}
			members = append(members, r.schema)
		}
		switch {
		case len(members) == 1 && out["type"] == nil && out["properties"] == nil && out["items"] == nil:
			mergeSchema(out, members[0], false)
		case len(members) > 0:
			out["anyOf"] = appendSchemas(out["anyOf"], members)
		}
	}
	if list, ok := m["allOf"].([]any); ok {
		var members []map[string]any
		for i, x := range list {
			r, err := c.clean(x)
			if err != nil {
				return cleaned{}, fmt.Errorf("allOf[%d]: %w", i, err)
			}
			res.readOnly = res.readOnly || r.readOnly
			members = append(members, r.schema)
		}
		switch {
		case len(members) == 1:
			mergeSchema(out, members[0], false)
		case allObjects(append(members, out)):
			for _, mem := range members {
				mergeObject(out, mem)
			}
		default:
			out["allOf"] = appendSchemas(nil, members)
		}
	}
	if isType(out, "null") && res.nullable && len(out) == 1 {
		delete(out, "type") // only null: let the model leave it out
	}
	return res, nil
}

// cleanRef resolves a $ref and applies the keywords written next to it
// (OpenAPI 3.1 allows them; 3.0 documents use them for descriptions).
func (c *schemaCleaner) cleanRef(ref string, m map[string]any) (cleaned, error) {
	name := refName(ref)
	if c.active[ref] {
		return cleaned{schema: map[string]any{"description": "(recursive " + name + "; any value)"}}, nil
	}
	target, err := c.resolve(ref)
	if err != nil {
		return cleaned{}, err
	}
	c.active[ref] = true
	r, err := c.clean(target)
	delete(c.active, ref)
	if err != nil {
		return cleaned{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(m) > 1 {
		siblings := make(map[string]any, len(m)-1)
		for k, v := range m {
			if k != "$ref" {
				siblings[k] = v
			}
		}
		s, err := c.clean(siblings)
		if err != nil {
			return cleaned{}, err
		}
		// The resolved schema is shared with other references: copy it.
		r.schema = mergeSchema(cloneMap(r.schema), s.schema, true)
		r.nullable = r.nullable || s.nullable
		r.readOnly = r.readOnly || s.readOnly
	}
	return r, nil
}

// mergeSchema copies src's keywords into dst. When override is false, the
// keywords dst already has win (a parent's description over its single
// member's); when true, src's do. It returns dst.
func mergeSchema(dst, src map[string]any, override bool) map[string]any {
	for k, v := range src {
		if _, ok := dst[k]; ok && !override {
			continue
		}
		dst[k] = v
	}
	return dst
}

// mergeObject merges the object schema src into dst: properties and
// required lists are united (a property both define takes src's schema),
// other keywords are kept from dst when it has them.
func mergeObject(dst, src map[string]any) {
	for k, v := range src {
		switch k {
		case "properties":
			props, _ := dst["properties"].(map[string]any)
			if props == nil {
				props = map[string]any{}
			}
			for name, p := range v.(map[string]any) {
				props[name] = p
			}
			dst["properties"] = props
		case "required":
			req := requiredList(dst["required"])
			for _, name := range requiredList(v) {
				if !slices.Contains(req, name) {
					req = append(req, name)
				}
			}
			dst["required"] = stringsToAny(req)
		default:
			if _, ok := dst[k]; !ok {
				dst[k] = v
			}
		}
	}
	if dst["properties"] != nil {
		dst["type"] = "object"
	}
}

// allObjects reports whether every schema describes an object (or does not
// say), so that an allOf of them can be merged into one.
func allObjects(schemas []map[string]any) bool {
	for _, s := range schemas {
		if t, ok := s["type"]; ok && t != "object" {
			return false
		}
		for _, k := range []string{"anyOf", "allOf", "items", "enum"} {
			if s[k] != nil {
				return false
			}
		}
	}
	return true
}

func isType(s map[string]any, t string) bool {
	v, _ := s["type"].(string)
	return v == t
}

func appendSchemas(prev any, members []map[string]any) []any {
	out, _ := prev.([]any)
	for _, m := range members {
		out = append(out, m)
	}
	return out
}

func requiredList(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// refName is the last segment of a $ref, for messages.
func refName(ref string) string {
	if i := strings.LastIndexByte(ref, '/'); i >= 0 && i < len(ref)-1 {
		return ref[i+1:]
	}
	return ref
}

// pointerResolver resolves local $refs ("#/components/schemas/Pet") against
// a decoded document.
func pointerResolver(doc any) func(string) (any, error) {
	return func(ref string) (any, error) {
		frag, ok := strings.CutPrefix(ref, "#")
		if !ok {
			return nil, fmt.Errorf("$ref %q: only references inside the document are supported", ref)
		}
		v, err := jsonPointer(doc, frag)
		if err != nil {
			return nil, fmt.Errorf("$ref %q: %w", ref, err)
		}
		return v, nil
	}
}

// jsonPointer looks up an RFC 6901 pointer (possibly percent-encoded, as in
// a URI fragment) in a decoded JSON value.
func jsonPointer(doc any, ptr string) (any, error) {
	if p, err := url.PathUnescape(ptr); err == nil {
		ptr = p
	}
	if ptr == "" {
		return doc, nil
	}
	if ptr[0] != '/' {
		return nil, fmt.Errorf("not a JSON pointer: %q", ptr)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, fmt.Errorf("%q not found", tok)
			}
			cur = next
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("index %q out of range", tok)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%q not found", tok)
		}
	}
	return cur, nil
}
