package route

import (
	"encoding/json"
	"slices"
	"testing"
)

// refusedIn returns the keywords of refused found where s holds schemas,
// with their paths; property names are not keywords.
func refusedIn(s any, refused []string, path string) []string {
	m, ok := s.(map[string]any)
	if !ok {
		return nil
	}
	var out []string
	for k, v := range m {
		if slices.Contains(refused, k) {
			out = append(out, path+"/"+k)
		}
		switch k {
		case "properties", "$defs", "definitions", "patternProperties":
			if mm, ok := v.(map[string]any); ok {
				for name, sub := range mm {
					out = append(out, refusedIn(sub, refused, path+"/"+k+"/"+name)...)
				}
			}
		case "anyOf", "oneOf", "allOf", "prefixItems", "items":
			if l, ok := v.([]any); ok {
				for _, sub := range l {
					out = append(out, refusedIn(sub, refused, path+"/"+k+"[]")...)
				}
			} else {
				out = append(out, refusedIn(v, refused, path+"/"+k)...)
			}
		default:
			out = append(out, refusedIn(v, refused, path+"/"+k)...)
		}
	}
	return out
}

func TestGeminiSchema(t *testing.T) {
	in := `{
	  "$schema": "http://json-schema.org/draft-07/schema#",
	  "type": "object",
	  "additionalProperties": false,
	  "$defs": {"Edit": {"type": "object", "properties": {"oldText": {"type": "string"}, "newText": {"type": "string"}}, "required": ["oldText"]}},
	  "properties": {
	    "default": {"type": "string", "default": "x", "description": "a property named default"},
	    "edits": {"type": "array", "items": {"$ref": "#/$defs/Edit"}},
	    "mode": {"const": "fast"},
	    "when": {"type": "string", "format": "date-time"},
	    "uri": {"type": "string", "format": "uri"},
	    "count": {"type": ["integer", "null"], "exclusiveMinimum": 0},
	    "level": {"type": "integer", "enum": [1, 2]},
	    "shape": {"oneOf": [{"type": "string"}, {"type": "number"}]},
	    "both": {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, {"properties": {"b": {"type": "number"}}}]},
	    "self": {"$ref": "#"}
	  },
	  "required": ["edits"]
	}`
	out := Gemini.AdaptSchema(json.RawMessage(in))
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if bad := refusedIn(got, GeminiRefused, ""); len(bad) > 0 {
		t.Errorf("refused keywords left: %v\n%s", bad, out)
	}
	props := got["properties"].(map[string]any)
	if _, ok := props["default"]; !ok {
		t.Errorf("the property named default was removed: %s", out)
	}
	edit := props["edits"].(map[string]any)["items"].(map[string]any)
	if edit["type"] != "object" || edit["properties"].(map[string]any)["newText"] == nil {
		t.Errorf("$ref not inlined: %v", edit)
	}
	if m := props["mode"].(map[string]any); !slices.Equal(m["enum"].([]any), []any{"fast"}) {
		t.Errorf("const: %v", m)
	}
	if props["when"].(map[string]any)["format"] != "date-time" || props["uri"].(map[string]any)["format"] != nil {
		t.Errorf("formats: %v %v", props["when"], props["uri"])
	}
	if c := props["count"].(map[string]any); c["type"] != "integer" || c["nullable"] != true {
		t.Errorf("type list: %v", c)
	}
	if l := props["level"].(map[string]any); l["enum"] != nil {
		t.Errorf("integer enum kept: %v", l)
	}
	if s := props["shape"].(map[string]any); len(s["anyOf"].([]any)) != 2 {
		t.Errorf("oneOf: %v", s)
	}
	if b := props["both"].(map[string]any); len(b["properties"].(map[string]any)) != 2 || !slices.Equal(b["required"].([]any), []any{"a"}) {
		t.Errorf("allOf: %v", b)
	}
	if s := props["self"].(map[string]any); s["type"] != "object" {
		t.Errorf("unreachable $ref: %v", s)
	}
}

// TestGeminiSchemaRecursion: a recursive definition is inlined a bounded
// number of times.
func TestGeminiSchemaRecursion(t *testing.T) {
	in := `{"type":"object","properties":{"tree":{"$ref":"#/definitions/Node"}},
	  "definitions":{"Node":{"type":"object","properties":{"left":{"$ref":"#/definitions/Node"},"right":{"$ref":"#/definitions/Node"}}}}}`
	out := Gemini.AdaptSchema(json.RawMessage(in))
	if len(out) > 1<<20 || !json.Valid(out) {
		t.Fatalf("%d bytes", len(out))
	}
	var got map[string]any
	_ = json.Unmarshal(out, &got)
	if bad := refusedIn(got, GeminiRefused, ""); len(bad) > 0 {
		t.Errorf("refused keywords left: %v", bad[:1])
	}
}

func TestProfilesThatChangeNothing(t *testing.T) {
	in := json.RawMessage(`{"type":"object","additionalProperties":false,"properties":{"a":{"$ref":"#/$defs/x"}}}`)
	for _, p := range []*Profile{Generic, OpenAI, Ollama, VLLM, LlamaCPP, LMStudio, nil} {
		if out := p.AdaptSchema(in); string(out) != string(in) {
			t.Errorf("%v changed the schema: %s", p, out)
		}
	}
	if !OpenAI.NameOK("fs__read_file") || OpenAI.NameOK("fs.read") || !Gemini.NameOK("fs.read") || Gemini.NameOK("1p__x") {
		t.Error("name rules")
	}
	for _, n := range ProfileNames() {
		if p, ok := LookupProfile(n); !ok || p.Name != n {
			t.Errorf("profile %s", n)
		}
	}
	if p, ok := LookupProfile(""); !ok || p != Generic {
		t.Error("empty is generic")
	}
	if _, ok := LookupProfile("bard"); ok {
		t.Error("unknown profile found")
	}
}
