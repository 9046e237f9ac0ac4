package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/bridge"
)

// postChat posts a non-streaming chat request to serve and returns the
// status and the decoded answer.
func (s *serving) postChat(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+s.addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("answer is not JSON (%d): %s", resp.StatusCode, data)
	}
	return resp.StatusCode, v
}

// TestServeBuiltinModelWithoutUpstream checks that serve with no upstream
// at all answers the built-in model with a real tool call, and that
// tools.builtin_model: false sends it to the (absent) upstream.
func TestServeBuiltinModelWithoutUpstream(t *testing.T) {
	chat := `{"model":"` + bridge.BuiltinModel + `","messages":[{"role":"user","content":"/GitHub__add {\"a\":2,\"b\":3}"}]}`
	for _, on := range []bool{true, false} {
		s := startServe(t, map[string]any{
			"upstream":   map[string]any{"base_url": "http://" + freeAddr(t) + "/v1", "max_retries": -1},
			"tools":      map[string]any{"builtin_model": on},
			"mcpServers": map[string]any{"GitHub": stdioServer("GitHub")},
		})
		status, v := s.postChat(t, chat)
		if !on {
			if status != http.StatusBadGateway {
				t.Errorf("builtin_model off: status %d, want 502: %v", status, v)
			}
			continue
		}
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, v)
		}
		msg := v["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
		if c, _ := msg["content"].(string); !strings.Contains(c, "2 + 3 = 5") {
			t.Errorf("content %q", msg["content"])
		}
		if calls, _ := v["mcp_tool_calls"].([]any); len(calls) != 1 {
			t.Errorf("mcp_tool_calls %v", v["mcp_tool_calls"])
		}
	}
}
