package mcpclient

import (
	"strings"
	"testing"
)

// A schema of exactly MaxSchemaBytes is usable; one byte more is not.
func TestSchemaProblemAtMaxSchemaBytes(t *testing.T) {
	frame := len(`{"description":""}`)
	at := `{"description":"` + strings.Repeat("x", MaxSchemaBytes-frame) + `"}`
	if len(at) != MaxSchemaBytes {
		t.Fatalf("test schema is %d bytes", len(at))
	}
	if p := schemaProblem([]byte(at)); p != "" {
		t.Errorf("a schema of exactly %d bytes: %q, want usable", MaxSchemaBytes, p)
	}
	over := `{"description":"x` + at[len(`{"description":"`):]
	if p := schemaProblem([]byte(over)); p == "" {
		t.Errorf("a schema of %d bytes is usable, want it refused", len(over))
	}
}
