package mcpclient

import (
	"bytes"
	"encoding/json"
)

// emptyObjectSchema is the schema of a tool that takes no arguments.
const emptyObjectSchema = `{"properties":{},"type":"object"}`

// NormalizeSchema turns a tool's input schema, as a server sent it, into one
// that every model provider accepts. schema may be a json.RawMessage, a
// []byte holding JSON, or any value that marshals to JSON (the go-sdk client
// decodes schemas to map[string]any).
//
// The result is compact JSON in which "type" is "object", "properties" is an
// object ({} when it was absent, null or not an object), a null or non-array
// "required" is removed, and "$schema" is dropped. Members other than these
// are kept as sent. A schema that is nil, empty, not valid JSON or not a JSON
// object becomes {"properties":{},"type":"object"}. Members come out in key order. NormalizeSchema never
// fails and returns a new slice on every call.
func NormalizeSchema(schema any) json.RawMessage {
	var raw []byte
	switch s := schema.(type) {
	case nil:
		return json.RawMessage(emptyObjectSchema)
	case json.RawMessage:
		raw = s
	case []byte:
		raw = s
	default:
		b, err := json.Marshal(s)
		if err != nil {
			return json.RawMessage(emptyObjectSchema)
		}
		raw = b
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return json.RawMessage(emptyObjectSchema)
	}
	delete(m, "$schema")
	m["type"] = json.RawMessage(`"object"`)
	if p, ok := m["properties"]; !ok || !isJSONObject(p) {
		m["properties"] = json.RawMessage(`{}`)
	}
	if r, ok := m["required"]; ok && !isJSONArray(r) {
		delete(m, "required")
	}
	out, err := json.Marshal(m) // sorted keys, compact members
	if err != nil {
		return json.RawMessage(emptyObjectSchema)
	}
	return out
}

func isJSONObject(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '{'
}

func isJSONArray(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '['
}
