package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// githubSpec is GitHub's REST API description that @octokit/openapi
// ships: about 1,200 operations, imported as tools.
func githubSpec() string {
	p, _ := filepath.Abs("node_modules/@octokit/openapi/generated/api.github.com.json")
	return p
}

// toolNames are the names of the tools an upstream request carried.
func toolNames(t *testing.T, r llmtest.Request) []string {
	t.Helper()
	var tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if raw, ok := r.Fields["tools"]; ok {
		if err := json.Unmarshal(raw, &tools); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Function.Name)
	}
	return names
}

// TestToolSearchEndToEnd: the built bridge with server-filesystem and
// GitHub's ~1,200 REST operations (1,000+ tools), exposure auto. Round 1
// carries search_tools and the always tool only; the model searches "read
// a text file" and fs__read_text_file ranks in the top 5; round 2 carries
// it and the model calls it; the answer the openai SDK gets holds the
// file's real content. Streaming and not.
func TestToolSearchEndToEnd(t *testing.T) {
	needNode(t, npmServer("server-filesystem"), githubSpec(), "node_modules/openai/package.json")
	dataDir := t.TempDir()
	bin := buildBinary(t)
	for _, mode := range []string{"stream", "create"} {
		t.Run(mode, func(t *testing.T) {
			file := filepath.Join(dataDir, mode+".txt")
			note := "the " + mode + " note says hello"
			if err := os.WriteFile(file, []byte(note), 0o600); err != nil {
				t.Fatal(err)
			}
			readArgs, _ := json.Marshal(map[string]string{"path": file})
			toolCall := llmtest.ToolCallStream
			if mode == "create" {
				toolCall = llmtest.ToolCallCompletion
			}
			up := llmtest.NewServer(t,
				toolCall(llmtest.Call{ID: "s1", Name: "search_tools", Arguments: `{"query":"read a text file"}`}),
				toolCall(llmtest.Call{ID: "r1", Name: "fs__read_text_file", Arguments: string(readArgs)}),
				echoResults())
			b := startBridge(t, bin, fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
tools:
  exposure: auto
  search_threshold: 40
  always: ["fs__list_allowed_directories"]
mcpServers:
  fs:
    command: node
    args: [%q, %q]
openapiServers:
  github:
    spec: %q
`, freePort(t), up.URL, npmServer("server-filesystem"), dataDir, githubSpec()))

			res := runClient(t, b.url, mode, "What does my note say?")

			reqs := up.Requests()
			if len(reqs) != 3 {
				t.Fatalf("upstream got %d requests, want 3", len(reqs))
			}
			if got := toolNames(t, reqs[0]); !slices.Equal(got, []string{"search_tools", "fs__list_allowed_directories"}) {
				t.Errorf("round 1 tools: %v", got)
			}
			var found struct {
				Tools []struct{ Name string } `json:"tools"`
			}
			msgs := reqs[1].ToolMessages()
			if len(msgs) != 1 || json.Unmarshal([]byte(fmt.Sprint(msgs[0]["content"])), &found) != nil {
				t.Fatalf("search_tools answered %v", msgs)
			}
			rank := slices.IndexFunc(found.Tools, func(x struct{ Name string }) bool { return x.Name == "fs__read_text_file" })
			if rank < 0 || rank >= 5 {
				t.Errorf("fs__read_text_file ranked %d in %v", rank, found.Tools)
			}
			for i, r := range reqs[1:] {
				if got := toolNames(t, r); !slices.Contains(got, "fs__read_text_file") || len(got) > 2+8 {
					t.Errorf("round %d tools: %v", i+2, got)
				}
			}
			if res.Finish != "stop" || !strings.Contains(res.Content, note) {
				t.Errorf("SDK answer: %+v", res)
			}
			b.stop(t)
		})
	}
}
