package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
)

// refusedKeywords returns the keywords of refused found where the schema s
// holds schemas (a property named "default" is a name, not a keyword),
// with their paths.
func refusedKeywords(s any, refused []string, path string) []string {
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
		case "properties", "$defs", "definitions", "patternProperties", "dependentSchemas":
			if mm, ok := v.(map[string]any); ok {
				for name, sub := range mm {
					out = append(out, refusedKeywords(sub, refused, path+"/"+k+"/"+name)...)
				}
			}
		case "enum", "required", "const", "default", "examples":
			// Values, not schemas.
		default:
			if l, ok := v.([]any); ok {
				for i, sub := range l {
					out = append(out, refusedKeywords(sub, refused, fmt.Sprintf("%s/%s[%d]", path, k, i))...)
				}
			} else {
				out = append(out, refusedKeywords(v, refused, path+"/"+k)...)
			}
		}
	}
	return out
}

// TestGeminiProfileWithRealServers: the tools of the real npm servers
// reach a Gemini-profile upstream without a keyword Gemini refuses, and
// with names Gemini accepts, while a generic upstream gets them as the
// servers wrote them (which do have such keywords).
func TestGeminiProfileWithRealServers(t *testing.T) {
	needNode(t, npmServer("server-everything"), npmServer("server-filesystem"))
	bin := buildBinary(t)
	gemini := llmtest.NewServer(t, llmtest.Completion("from gemini"))
	generic := llmtest.NewServer(t, llmtest.Completion("from generic"))
	addr := freePort(t)
	b := startBridge(t, bin, fmt.Sprintf(`listen: %s
upstreams:
  - name: gemini
    base_url: %s
    models: ["gemini-*"]
    profile: gemini
  - name: other
    base_url: %s
`, addr, gemini.URL, generic.URL)+npmServersYAML(t.TempDir()))
	defer b.stop(t)

	for _, model := range []string{"gemini-2.5-flash", "llama3"} {
		resp, err := http.Post(b.url+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", model, resp.StatusCode)
		}
	}
	tools := func(s *llmtest.Server) []map[string]any {
		t.Helper()
		reqs := s.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests", len(reqs))
		}
		var v []map[string]any
		if err := json.Unmarshal(reqs[0].Fields["tools"], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	sent, asWritten := tools(gemini), tools(generic)
	if len(sent) != len(asWritten) || len(sent) < 10 {
		t.Errorf("gemini got %d tools, the other upstream %d", len(sent), len(asWritten))
	}
	name := func(tl map[string]any) string { return tl["function"].(map[string]any)["name"].(string) }
	params := func(tl map[string]any) any { return tl["function"].(map[string]any)["parameters"] }
	for _, tl := range sent {
		if bad := refusedKeywords(params(tl), route.GeminiRefused, ""); len(bad) > 0 {
			t.Errorf("%s: Gemini would refuse %v", name(tl), bad)
		}
		if !route.Gemini.NameOK(name(tl)) {
			t.Errorf("Gemini would refuse the name %q", name(tl))
		}
	}
	found := 0
	for _, tl := range asWritten {
		found += len(refusedKeywords(params(tl), route.GeminiRefused, ""))
	}
	t.Logf("%d tools; %d refused keywords as the servers wrote them", len(asWritten), found)
	if found == 0 {
		t.Errorf("the servers' schemas have no keyword Gemini refuses: this test shows nothing")
	}
}
