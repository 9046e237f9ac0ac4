package bridge

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestMergeToolsKeepsTheLimit: with a tool limit, the client's tools and
// the bridge's that fit never pass it, also when a client tool shadows a
// bridge tool of the same name.
func TestMergeToolsKeepsTheLimit(t *testing.T) {
	var tools []mcpclient.Tool
	for _, n := range []string{"a", "b", "c", "d"} {
		tools = append(tools, mcpclient.Tool{Name: n, Server: "s"})
	}
	ts := buildToolset(1, tools, nil)
	ts.maxTools = 3
	client := []json.RawMessage{json.RawMessage(`{"type":"function","function":{"name":"a"}}`)}
	merged, left := mergeTools(client, map[string]bool{"a": true}, ts)
	var got []struct {
		Function struct{ Name string } `json:"function"`
	}
	if err := json.Unmarshal(merged, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.Function.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) || !slices.Equal(left, []string{"d"}) {
		t.Errorf("sent %v, left out %v; want [a b c] and [d]", names, left)
	}
}
