package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// TestOpenAPIToolServer runs the binary with server-everything and
// server-filesystem, validates its /openapi.json with
// @apidevtools/swagger-parser, checks that its operations are the bridge's
// tools, and calls tools over REST.
func TestOpenAPIToolServer(t *testing.T) {
	needNode(t, npmServer("server-everything"), npmServer("server-filesystem"), "node_modules/@apidevtools/swagger-parser/package.json")
	dataDir := t.TempDir()
	bin := buildBinary(t)
	up := llmtest.NewServer(t)
	config := fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
auth:
  api_keys: [e2e-key-1234]
`, freePort(t), up.URL) + npmServersYAML(dataDir)
	b := startBridge(t, bin, config)

	do := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, b.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer e2e-key-1234")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, data
	}
	status, doc := do("GET", "/openapi.json", "")
	if status != http.StatusOK {
		t.Fatalf("/openapi.json: %d %s", status, doc)
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", "validate.mjs", file).Output()
	var res struct {
		Valid      bool     `json:"valid"`
		Operations []string `json:"operations"`
		Error      string   `json:"error"`
	}
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &res); jerr != nil {
		t.Fatalf("validator output %q: %v", out, err)
	}
	if !res.Valid || err != nil {
		t.Fatalf("the document is not valid OpenAPI: %s (%v)", res.Error, err)
	}

	// The bridge's own tool list, from the binary.
	cfgPath := filepath.Join(t.TempDir(), "mcp-bridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	listing, err := exec.CommandContext(ctx, bin, "tools", "--json", "-c", cfgPath).Output()
	if err != nil {
		t.Fatalf("mcp-bridge tools: %v", err)
	}
	var tools []struct{ Name string }
	if err := json.Unmarshal(listing, &tools); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	slices.Sort(res.Operations)
	if !slices.Equal(names, res.Operations) {
		t.Errorf("operations %v\nwant the tools %v", res.Operations, names)
	}
	for _, want := range []string{"everything__get-sum", "fs__read_text_file", "fs__write_file"} {
		if !slices.Contains(res.Operations, want) {
			t.Errorf("no operation %s", want)
		}
	}

	// REST calls.
	if status, body := do("POST", "/tools/everything__get-sum", `{"a":2,"b":3}`); status != http.StatusOK || !strings.Contains(string(body), "5") {
		t.Errorf("get-sum: %d %s", status, body)
	}
	if status, body := do("POST", "/tools/everything__get-sum", `{"a":"two","b":3}`); status != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"param":"a"`) {
		t.Errorf("get-sum with a bad body: %d %s", status, body)
	}
	note := filepath.Join(dataDir, "note.txt")
	if status, body := do("POST", "/tools/fs__write_file", fmt.Sprintf(`{"path":%q,"content":"over REST"}`, note)); status != http.StatusOK {
		t.Errorf("write_file: %d %s", status, body)
	}
	if status, body := do("POST", "/tools/fs__read_text_file", fmt.Sprintf(`{"path":%q}`, note)); status != http.StatusOK || !strings.Contains(string(body), "over REST") {
		t.Errorf("read_text_file: %d %s", status, body)
	}
	if status, body := do("POST", "/tools/fs__read_text_file", `{"path":"/nonexistent/outside"}`); status != http.StatusBadGateway || !strings.Contains(string(body), `"type":"tool_error"`) {
		t.Errorf("read_text_file outside the allowed directory: %d %s", status, body)
	}
	b.stop(t)
}
