package mcpclient

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestNormalizeSchema(t *testing.T) {
	empty := `{"properties":{},"type":"object"}`
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, empty},
		{"empty raw", json.RawMessage(``), empty},
		{"invalid JSON", json.RawMessage(`{"type":`), empty},
		{"not an object", json.RawMessage(`[1,2]`), empty},
		{"null", json.RawMessage(`null`), empty},
		{"empty object", json.RawMessage(`{}`), empty},
		{"bytes", []byte(`{"type":"object"}`), empty},
		{"properties null", json.RawMessage(`{"type":"object","properties":null}`), empty},
		{"properties wrong type", json.RawMessage(`{"type":"object","properties":[]}`), empty},
		{"type missing", json.RawMessage(`{"properties":{"a":{"type":"string"}}}`), `{"properties":{"a":{"type":"string"}},"type":"object"}`},
		{"type wrong", json.RawMessage(`{"type":["object","null"]}`), empty},
		{"required null", json.RawMessage(`{"type":"object","required":null}`), empty},
		{"required kept", json.RawMessage(`{"type":"object","properties":{"a":{}},"required":["a"]}`), `{"properties":{"a":{}},"required":["a"],"type":"object"}`},
		{"required not an array", json.RawMessage(`{"type":"object","required":"a"}`), empty},
		{"$schema dropped", json.RawMessage(`{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`), empty},
		{"other members kept, compacted", json.RawMessage(`{ "type": "object", "additionalProperties": false, "description": "d",
			"properties": { "n": { "type": "integer", "maximum": 9007199254740993 } } }`),
			`{"additionalProperties":false,"description":"d","properties":{"n":{"type":"integer","maximum":9007199254740993}},"type":"object"}`},
		{"map from the go-sdk client", map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "number"}}},
			`{"properties":{"x":{"type":"number"}},"type":"object"}`},
		{"unmarshalable value", func() {}, empty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NormalizeSchema(tt.in)
			if string(got) != tt.want {
				t.Errorf("NormalizeSchema = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNormalizeSchemaReturnsFreshSlice(t *testing.T) {
	a := NormalizeSchema(nil)
	a[0] = 'X'
	if b := NormalizeSchema(nil); b[0] != '{' {
		t.Fatalf("NormalizeSchema shares its default slice: %s", b)
	}
}

// A hostile schema nested 100,000 levels deep neither crashes nor stalls
// NormalizeSchema: encoding/json refuses it iteratively, so the result is the
// empty object schema, and schemaProblem (which counts without recursing)
// reports the depth.
func TestNormalizeSchemaVeryDeep(t *testing.T) {
	const levels = 100_000
	deep := json.RawMessage(strings.Repeat(`{"type":"object","properties":{"a":`, levels) + `{}` + strings.Repeat(`}}`, levels))
	if got := NormalizeSchema(deep); string(got) != emptyObjectSchema {
		t.Errorf("NormalizeSchema(100,000 levels) = %.100s", got)
	}
	if got, want := schemaProblem(deep), "schema is"; !strings.HasPrefix(got, want) {
		t.Errorf("schemaProblem = %q, want %q...", got, want)
	}
	if got, want := schemaDepthProblem(deep), "schema nests 200001 levels, more than the 64 allowed"; got != want {
		t.Errorf("schemaDepthProblem = %q, want %q", got, want)
	}
}

func TestSchemaProblem(t *testing.T) {
	tests := []struct {
		name, schema, want string
	}{
		{"plain", `{"type":"object","properties":{"a":{"type":"string"}}}`, ""},
		{"brackets in strings do not count", `{"description":"` + strings.Repeat("[{", 100) + `\"","type":"object"}`, ""},
		{"64 levels", strings.Repeat(`[`, 63) + `{}` + strings.Repeat(`]`, 63), ""},
		{"65 levels", strings.Repeat(`[`, 64) + `{}` + strings.Repeat(`]`, 64), "schema nests 65 levels, more than the 64 allowed"},
		{"too big", `{"description":"` + strings.Repeat("x", MaxSchemaBytes) + `"}`, "schema is 262162 bytes, more than the 262144 allowed"},
		{"marked", `{"properties":{},"type":"object","` + unusableKey + `":"why not"}`, "why not"},
	}
	for _, tt := range tests {
		if got := schemaProblem(json.RawMessage(tt.schema)); got != tt.want {
			t.Errorf("%s: schemaProblem = %q, want %q", tt.name, got, tt.want)
		}
	}
}
