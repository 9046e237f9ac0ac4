package mcpclient

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// ellipsis ends a description that was cut.
const ellipsis = "…"

// capText returns s cut to at most max bytes, and whether it was cut:
// after its last whole sentence or line that fits when that keeps at least
// half of max, else at a UTF-8 boundary, ending in "…". max <= 0 means no
// cap. The cut text is valid UTF-8 even when s was not.
func capText(s string, max int) (string, bool) {
	if max <= 0 || len(s) <= max {
		return s, false
	}
	if end := lastSentenceEnd(s[:max+1]); end >= max/2 && end > 0 {
		return strings.ToValidUTF8(strings.TrimRight(s[:end], " \t\r\n"), ""), true
	}
	tail := ellipsis
	keep := max - len(tail)
	if keep <= 0 { // no room for the ellipsis
		keep, tail = max, ""
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return strings.ToValidUTF8(s[:keep], "") + tail, true
}

// lastSentenceEnd is the index just past the last sentence of s that is
// followed by white space in s ('.', '!' or '?'), or of a line break (the
// last byte of s included), or -1.
func lastSentenceEnd(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case '\n':
			return i
		case '.', '!', '?':
			if i+1 < len(s) { // else what follows it is past s
				switch s[i+1] {
				case ' ', '\t', '\r', '\n':
					return i + 1
				}
			}
		}
	}
	return -1
}

// schemaValueKeys are schema keywords whose values are instance data, not
// schemas: a "description" inside them is data and is left alone.
var schemaValueKeys = map[string]bool{"const": true, "default": true, "enum": true, "examples": true, "example": true}

// schemaMapKeys are schema keywords whose values map names to schemas: a
// property may be called "default" or "description".
var schemaMapKeys = map[string]bool{"properties": true, "patternProperties": true, "$defs": true, "definitions": true, "dependentSchemas": true}

// capSchemaDescriptions cuts every "description" string inside schema (a
// JSON object; the caller has checked its depth) to max bytes with capText.
// It returns schema itself when nothing was cut, else the re-encoded schema
// (keys sorted, HTML not escaped) and true.
func capSchemaDescriptions(schema json.RawMessage, max int) (json.RawMessage, bool) {
	if max <= 0 || len(schema) <= max || !bytes.Contains(schema, []byte(`"description"`)) {
		return schema, false // no string in it can be longer than max
	}
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber() // keep numbers exactly as sent
	var v any
	if err := dec.Decode(&v); err != nil {
		return schema, false
	}
	if !capDescriptionsIn(v, max) {
		return schema, false
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return schema, false
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), true
}

// capDescriptionsIn cuts the "description" strings of the schema v, in
// place, and reports whether any was cut. Its recursion is bounded by v's
// depth.
func capDescriptionsIn(v any, max int) bool {
	cut := false
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if schemaValueKeys[k] {
				continue
			}
			if m, ok := x.(map[string]any); ok && schemaMapKeys[k] {
				for _, sub := range m {
					cut = capDescriptionsIn(sub, max) || cut
				}
				continue
			}
			if s, ok := x.(string); ok && k == "description" {
				if c, ok := capText(s, max); ok {
					v[k], cut = c, true
				}
				continue
			}
			cut = capDescriptionsIn(x, max) || cut
		}
	case []any:
		for _, x := range v {
			cut = capDescriptionsIn(x, max) || cut
		}
	}
	return cut
}
