package mcpclient

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Bounds on what a server's tool schema may make the registry (and every
// model request it is injected into) carry. A tool whose input or output
// schema exceeds them is left out of the registry with a warning; the
// server's other tools are unaffected.
const (
	// MaxSchemaDepth is the deepest nesting of JSON objects and arrays a
	// tool schema may have. Real schemas nest a handful of levels; the
	// go-sdk refuses whole messages nested deeper than 1000.
	MaxSchemaDepth = 64
	// MaxSchemaBytes is the largest a tool schema may be, as compact JSON.
	MaxSchemaBytes = 256 << 10
)

// unusableKey marks a schema that the frame guard (see guardFrame) cut out of
// a message the go-sdk could not have decoded; its value says why. The
// registry leaves such tools out.
const unusableKey = "x-mcp-bridge-unusable"

// jsonDepth returns the deepest nesting of objects and arrays in data (0 for
// a scalar), counting brackets outside strings. It does not recurse, so any
// depth is safe; for data that is not JSON the count is only indicative.
func jsonDepth(data []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ']':
			depth--
		}
	}
	return deepest
}

// schemaDepthProblem says why schema is nested too deeply to be used, or "".
func schemaDepthProblem(schema json.RawMessage) string {
	if d := jsonDepth(schema); d > MaxSchemaDepth {
		return fmt.Sprintf("schema nests %d levels, more than the %d allowed", d, MaxSchemaDepth)
	}
	return ""
}

// schemaProblem says why a tool schema (compact JSON, as NormalizeSchema
// returns it) cannot be used, or "" when it can: deeper than
// MaxSchemaDepth, larger than MaxSchemaBytes, or marked unusable by the
// frame guard.
func schemaProblem(schema json.RawMessage) string {
	if len(schema) > MaxSchemaBytes {
		return fmt.Sprintf("schema is %d bytes, more than the %d allowed", len(schema), MaxSchemaBytes)
	}
	if p := schemaDepthProblem(schema); p != "" {
		return p
	}
	if bytes.Contains(schema, []byte(`"`+unusableKey+`"`)) {
		var m map[string]json.RawMessage
		if json.Unmarshal(schema, &m) == nil {
			var why string
			if raw, ok := m[unusableKey]; ok && json.Unmarshal(raw, &why) == nil {
				return why
			}
		}
	}
	return ""
}
