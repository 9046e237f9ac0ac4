package route

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Profile is what one kind of provider needs for the tool loop to work
// there. The zero value (and Generic) changes nothing.
type Profile struct {
	// Name is the profile's name in the configuration.
	Name string
	// MaxTools is the most tools one request may carry; 0 means no limit.
	MaxTools int
	// ToolName is the rule a tool name must follow; nil accepts any.
	ToolName *regexp.Regexp
	// Refused are the JSON Schema keywords the provider refuses in tool
	// parameters; they are removed (after the rewrites below) wherever a
	// schema holds them.
	Refused []string
	// Rewrite turns constructs the provider refuses into ones it takes
	// where the meaning survives: local $ref inlined from $defs or
	// definitions, allOf merged into its schema, oneOf as anyOf, const as
	// a one-value enum, a type list with "null" as one type and nullable.
	Rewrite bool
	// StringFormats, when not nil, are the only string formats kept.
	StringFormats []string
	// StreamFallback: a 500 saying the upstream cannot stream with tools
	// makes it answer that round, and later ones, whole (stream: false);
	// the client still gets a stream.
	StreamFallback bool
}

// openAIName is OpenAI's rule for function names.
var openAIName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// geminiName is Gemini's rule for function names: a letter or underscore
// first, then letters, digits, underscores, dots, colons and dashes.
var geminiName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$`)

// GeminiRefused are the JSON Schema keywords Gemini's function
// declarations refuse (they take an OpenAPI 3.0 subset).
var GeminiRefused = []string{
	"$schema", "$id", "$ref", "$defs", "definitions", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
	"additionalProperties", "patternProperties", "unevaluatedProperties", "unevaluatedItems", "propertyNames",
	"additionalItems", "prefixItems", "contains", "minContains", "maxContains", "uniqueItems",
	"minProperties", "maxProperties", "dependentRequired", "dependentSchemas", "dependencies",
	"const", "oneOf", "allOf", "not", "if", "then", "else",
	"exclusiveMinimum", "exclusiveMaximum", "multipleOf",
	"contentEncoding", "contentMediaType", "contentSchema", "examples", "default", "readOnly", "writeOnly", "deprecated",
}

// The profiles.
var (
	// Generic is any OpenAI-compatible server: nothing is changed, and a
	// refusal to stream with tools falls back to whole answers.
	Generic = &Profile{Name: "generic", StreamFallback: true}
	// OpenAI allows 128 tools per request, names of 64 letters, digits,
	// '_' and '-'.
	OpenAI = &Profile{Name: "openai", MaxTools: 128, ToolName: openAIName}
	// Ollama takes tools as they are.
	Ollama = &Profile{Name: "ollama"}
	// VLLM takes tools as they are.
	VLLM = &Profile{Name: "vllm"}
	// LlamaCPP is llama.cpp's llama-server, whose older versions answer
	// 500 "Cannot use tools with stream".
	LlamaCPP = &Profile{Name: "llamacpp", StreamFallback: true}
	// LMStudio takes tools as they are.
	LMStudio = &Profile{Name: "lmstudio"}
	// Gemini's OpenAI-compatible endpoint takes an OpenAPI 3.0 subset of
	// JSON Schema and names that start with a letter or '_'.
	Gemini = &Profile{Name: "gemini", ToolName: geminiName, Refused: GeminiRefused, Rewrite: true,
		StringFormats: []string{"enum", "date-time"}}
)

var profiles = map[string]*Profile{}

func init() {
	for _, p := range []*Profile{Generic, OpenAI, Ollama, VLLM, LlamaCPP, LMStudio, Gemini} {
		profiles[p.Name] = p
	}
}

// LookupProfile returns the profile of a name; "" is Generic.
func LookupProfile(name string) (*Profile, bool) {
	if name == "" {
		return Generic, true
	}
	p, ok := profiles[name]
	return p, ok
}

// ProfileNames lists the profiles' names, sorted.
func ProfileNames() []string {
	out := make([]string, 0, len(profiles))
	for n := range profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ChangesTools reports whether the profile changes, limits or leaves out
// any tool; a nil profile changes nothing.
func (p *Profile) ChangesTools() bool {
	return p != nil && (p.MaxTools > 0 || p.ToolName != nil || len(p.Refused) > 0 || p.Rewrite || p.StringFormats != nil)
}

// NameOK reports whether the provider accepts name as a tool name.
func (p *Profile) NameOK(name string) bool {
	return p == nil || p.ToolName == nil || p.ToolName.MatchString(name)
}

// maxRefDepth bounds the inlining of nested (or recursive) references.
const maxRefDepth = 6

// AdaptSchema returns a tool's parameter schema as the provider takes
// it. It returns schema itself when the profile changes no schema, or
// when schema is not a JSON object. It is a pure function: the bridge
// calls it once per tool and registry version.
func (p *Profile) AdaptSchema(schema json.RawMessage) json.RawMessage {
	if p == nil || (len(p.Refused) == 0 && !p.Rewrite && p.StringFormats == nil) {
		return schema
	}
	d := json.NewDecoder(bytes.NewReader(schema))
	d.UseNumber()
	var root map[string]any
	if d.Decode(&root) != nil || root == nil {
		return schema
	}
	defs := map[string]any{}
	for _, k := range []string{"definitions", "$defs"} {
		if m, ok := root[k].(map[string]any); ok {
			for name, s := range m {
				defs["#/"+k+"/"+name] = s
			}
		}
	}
	out, err := json.Marshal(p.adapt(root, defs, 0))
	if err != nil {
		return schema
	}
	return out
}

// schemaMaps are keywords whose value maps names to schemas.
var schemaMaps = map[string]bool{"properties": true, "patternProperties": true, "$defs": true, "definitions": true, "dependentSchemas": true}

// schemaLists are keywords whose value is a list of schemas.
var schemaLists = map[string]bool{"anyOf": true, "oneOf": true, "allOf": true, "prefixItems": true}

// schemaValues are keywords whose value is one schema.
var schemaValues = map[string]bool{"additionalProperties": true, "not": true, "contains": true, "propertyNames": true,
	"if": true, "then": true, "else": true, "unevaluatedProperties": true, "unevaluatedItems": true, "additionalItems": true, "contentSchema": true}

// adapt returns the schema s adapted, walking only where schemas are (a
// property named "default" is a name, not a keyword).
func (p *Profile) adapt(s map[string]any, defs map[string]any, depth int) map[string]any {
	if p.Rewrite {
		s, depth = p.rewrite(s, defs, depth)
	}
	out := make(map[string]any, len(s))
	for k, v := range s {
		if slices.Contains(p.Refused, k) {
			continue
		}
		switch {
		case schemaMaps[k]:
			if m, ok := v.(map[string]any); ok {
				mm := make(map[string]any, len(m))
				for name, sub := range m {
					mm[name] = p.adaptValue(sub, defs, depth)
				}
				v = mm
			}
		case schemaLists[k]:
			if l, ok := v.([]any); ok {
				ll := make([]any, len(l))
				for i, sub := range l {
					ll[i] = p.adaptValue(sub, defs, depth)
				}
				v = ll
			}
		case schemaValues[k]:
			v = p.adaptValue(v, defs, depth)
		case k == "items":
			if l, ok := v.([]any); ok {
				ll := make([]any, len(l))
				for i, sub := range l {
					ll[i] = p.adaptValue(sub, defs, depth)
				}
				v = ll
			} else {
				v = p.adaptValue(v, defs, depth)
			}
		case k == "format" && p.StringFormats != nil:
			if f, ok := v.(string); !ok || !slices.Contains(p.StringFormats, f) {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// adaptValue adapts v when it is a schema object; booleans and the rest
// are kept.
func (p *Profile) adaptValue(v any, defs map[string]any, depth int) any {
	if m, ok := v.(map[string]any); ok {
		return p.adapt(m, defs, depth)
	}
	return v
}

// rewrite turns what the provider refuses into what it takes, at the top
// of one schema (adapt walks the rest). depth counts the references
// inlined on the way here; it returns the count for the schema's children.
func (p *Profile) rewrite(s map[string]any, defs map[string]any, depth int) (map[string]any, int) {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			break
		}
		s = maps(s)
		delete(s, "$ref")
		target, ok := defs[ref].(map[string]any)
		if !ok || depth >= maxRefDepth {
			// A reference beyond reach (recursive, remote): any object.
			if s["type"] == nil {
				s["type"] = "object"
			}
			break
		}
		// The referring schema's own words (a description) win.
		merged := maps(target)
		for k, v := range s {
			merged[k] = v
		}
		s, depth = merged, depth+1
	}
	if all, ok := s["allOf"].([]any); ok {
		s = maps(s)
		delete(s, "allOf")
		for _, sub := range all {
			m, ok := sub.(map[string]any)
			if !ok {
				continue
			}
			m, _ = p.rewrite(m, defs, depth)
			for k, v := range m {
				switch k {
				case "properties":
					props, _ := s["properties"].(map[string]any)
					props = maps(props)
					if pm, ok := v.(map[string]any); ok {
						for name, ps := range pm {
							if _, dup := props[name]; !dup {
								props[name] = ps
							}
						}
					}
					s["properties"] = props
				case "required":
					req, _ := s["required"].([]any)
					if rl, ok := v.([]any); ok {
						for _, r := range rl {
							if !slices.Contains(req, r) {
								req = append(req, r)
							}
						}
					}
					s["required"] = req
				default:
					if _, has := s[k]; !has {
						s[k] = v
					}
				}
			}
		}
	}
	if one, ok := s["oneOf"]; ok {
		s = maps(s)
		delete(s, "oneOf")
		if _, has := s["anyOf"]; !has {
			s["anyOf"] = one
		}
	}
	if c, ok := s["const"]; ok {
		s = maps(s)
		delete(s, "const")
		if _, has := s["enum"]; !has {
			s["enum"] = []any{c}
		}
	}
	if types, ok := s["type"].([]any); ok {
		s = maps(s)
		var kept []string
		null := false
		for _, t := range types {
			switch t {
			case "null":
				null = true
			default:
				if ts, ok := t.(string); ok {
					kept = append(kept, ts)
				}
			}
		}
		switch len(kept) {
		case 0:
			delete(s, "type")
		case 1:
			s["type"] = kept[0]
		default:
			// Several types: any of them.
			delete(s, "type")
			alts := make([]any, len(kept))
			for i, t := range kept {
				alts[i] = map[string]any{"type": t}
			}
			s["anyOf"] = alts
		}
		if null {
			s["nullable"] = true
		}
	}
	if e, ok := s["enum"].([]any); ok {
		// Enums of strings only: other values are written as strings.
		strs := make([]any, 0, len(e))
		changed := false
		for _, v := range e {
			switch x := v.(type) {
			case string:
				strs = append(strs, x)
			case nil:
				changed = true
			default:
				b, _ := json.Marshal(x)
				strs = append(strs, strings.Trim(string(b), `"`))
				changed = true
			}
		}
		if changed {
			s = maps(s)
			s["enum"] = strs
			if t, _ := s["type"].(string); t != "" && t != "string" {
				delete(s, "enum") // the values are not of the schema's type
			}
		}
	}
	return s, depth
}

// maps returns a shallow copy of m (a new map for nil).
func maps(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
