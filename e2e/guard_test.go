package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

const (
	aliceKey = "e2e-alice-key-0123456789"
	bobKey   = "e2e-bob-key-0123456789ab"
)

// chatAnswer is what chat_client.mjs prints.
type chatAnswer struct {
	Status  int    `json:"status"`
	Content string `json:"content"`
	Finish  string `json:"finish"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

// runChatClient sends one conversation through the openai SDK.
func runChatClient(t *testing.T, url, key string, stream bool, messages []map[string]string) chatAnswer {
	t.Helper()
	spec, _ := json.Marshal(map[string]any{"key": key, "messages": messages, "stream": stream})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "chat_client.mjs", string(spec))
	cmd.Env = append(os.Environ(), "BRIDGE_URL="+url+"/v1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var a chatAnswer
	if jerr := json.Unmarshal(bytes.TrimSpace(out), &a); jerr != nil || a.Error != "" || err != nil {
		t.Fatalf("client: %q (%v) %s", out, err, stderr.String())
	}
	if a.Status != 200 {
		t.Fatalf("client got %d: %s", a.Status, a.Message)
	}
	return a
}

var approvalCode = regexp.MustCompile(`approval code ([A-Z0-9]{6})`)

// TestChatApprovalWithTheOpenAISDK: a model calling fs__write_file gets
// the approval question; another key's "approve" runs nothing; the
// caller's "approve" writes the file and the answer completes; "deny"
// writes nothing and the model is told.
func TestChatApprovalWithTheOpenAISDK(t *testing.T) {
	needNode(t, npmServer("server-everything"), npmServer("server-filesystem"), "node_modules/openai/package.json")
	dataDir := t.TempDir()
	approved, denied := filepath.Join(dataDir, "approved.txt"), filepath.Join(dataDir, "denied.txt")
	writeArgs := func(path string) string {
		b, _ := json.Marshal(map[string]string{"path": path, "content": "a note"})
		return string(b)
	}
	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "w1", Name: "fs__write_file", Arguments: writeArgs(approved)}),
		echoResults(), // bob's "approve": nothing ran
		echoResults(), // alice's "approve": the tool ran
		llmtest.ToolCallCompletion(llmtest.Call{ID: "w2", Name: "fs__write_file", Arguments: writeArgs(denied)}),
		echoResults()) // alice's "deny"
	cfgPath := filepath.Join(t.TempDir(), "mcp-bridge.yaml")
	listen := freePort(t)
	cfg := fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
auth:
  keys:
    - {name: alice, key: %q}
    - {name: bob, key: %q}
guard:
  approval: ["fs__write_*"]
`, listen, up.URL, aliceKey, bobKey) + npmServersYAML(dataDir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildBinary(t)
	b := launchBridge(t, exec.Command(bin, "serve", "-c", cfgPath), "http://"+listen, aliceKey)

	ask := []map[string]string{{"role": "user", "content": "Keep a note."}}
	q := runChatClient(t, b.url, aliceKey, true, ask)
	if q.Finish != "stop" || !strings.Contains(q.Content, "fs__write_file") || !strings.Contains(q.Content, "approved.txt") ||
		!strings.Contains(q.Content, "**approve**") || approvalCode.FindString(q.Content) == "" {
		t.Fatalf("question: %+v", q)
	}
	if _, err := os.Stat(approved); err == nil {
		t.Fatal("the file was written before approval")
	}
	reply := func(question, text string) []map[string]string {
		return append(append([]map[string]string(nil), ask...), map[string]string{"role": "assistant", "content": question},
			map[string]string{"role": "user", "content": text})
	}

	// Bob's reply is no approval: the request goes upstream as any other.
	runChatClient(t, b.url, bobKey, false, reply(q.Content, "approve"))
	if _, err := os.Stat(approved); err == nil {
		t.Fatal("another key's reply approved the call")
	}
	if reqs := up.Requests(); len(reqs[1].ToolMessages()) != 0 {
		t.Errorf("bob's request carried tool results: %v", reqs[1].ToolMessages())
	}

	a := runChatClient(t, b.url, aliceKey, true, reply(q.Content, "approve"))
	if got, err := os.ReadFile(approved); err != nil || string(got) != "a note" {
		t.Fatalf("after approve: %q, %v", got, err)
	}
	if a.Finish != "stop" || !strings.HasPrefix(a.Content, "Results: ") || strings.Contains(a.Content, "Error") {
		t.Errorf("answer after approve: %+v", a)
	}

	ask = []map[string]string{{"role": "user", "content": "Keep another note."}}
	q = runChatClient(t, b.url, aliceKey, false, ask)
	if !strings.Contains(q.Content, "denied.txt") {
		t.Fatalf("second question: %+v", q)
	}
	d := runChatClient(t, b.url, aliceKey, false, reply(q.Content, "Deny"))
	if _, err := os.Stat(denied); err == nil {
		t.Error("the denied call wrote the file")
	}
	if !strings.Contains(d.Content, "the user denied the call to fs__write_file") {
		t.Errorf("the model was not told of the denial: %+v", d)
	}
	b.stop(t)
}
