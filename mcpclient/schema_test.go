package mcpclient

import (
	"encoding/json"
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
