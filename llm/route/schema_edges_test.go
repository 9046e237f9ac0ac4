package route

import (
	"encoding/json"
	"testing"
)

// TestSchemaRefDepthBound: a recursive reference is inlined maxRefDepth
// times down a chain, and the reference beyond is left as any object. A
// tree's schema doubles with every level, so the bound is what keeps a
// recursive tool schema small.
func TestSchemaRefDepthBound(t *testing.T) {
	in := `{"type":"object","properties":{"next":{"$ref":"#/definitions/Node"}},
	  "definitions":{"Node":{"type":"object","description":"a node","properties":{"next":{"$ref":"#/definitions/Node"}}}}}`
	var s map[string]any
	if err := json.Unmarshal(Gemini.AdaptSchema(json.RawMessage(in)), &s); err != nil {
		t.Fatal(err)
	}
	inlined := 0
	for {
		props, _ := s["properties"].(map[string]any)
		next, ok := props["next"].(map[string]any)
		if !ok {
			t.Fatalf("level %d has no next: %v", inlined, s)
		}
		if next["description"] != "a node" {
			if len(next) != 1 || next["type"] != "object" {
				t.Errorf("the reference beyond the bound: %v, want any object", next)
			}
			break
		}
		inlined++
		s = next
	}
	if inlined != maxRefDepth {
		t.Errorf("the reference was inlined %d times, want %d", inlined, maxRefDepth)
	}
}
