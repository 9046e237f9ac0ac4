package bridge

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// TestSamplingInChatPath checks a server's sampling request during a chat
// completion's tool call is answered by the upstream, and its elicitation
// declined.
func TestSamplingInChatPath(t *testing.T) {
	h := newHarness(t, Options{SamplingModel: "sampler"}, []mcpclient.ServerConfig{mcptest.InMemory("doc", mcptest.NewFeatureServer("doc"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "doc__work", Arguments: `{}`}),
		llmtest.Completion("sampled upstream"),
		llmtest.TextStream("done"))
	a := h.stream(`{"model":"chat-model","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if a.content != "done" {
		t.Fatalf("content %q", a.content)
	}
	reqs := h.up.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d upstream requests", len(reqs))
	}
	var sampling struct {
		Model     string `json:"model"`
		MaxTokens int    `json:"max_tokens"`
		Stream    bool   `json:"stream"`
		Messages  []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(reqs[1].Body, &sampling); err != nil {
		t.Fatal(err)
	}
	if sampling.Model != "sampler" || sampling.MaxTokens != 10 || sampling.Stream || len(sampling.Messages) != 1 || sampling.Messages[0].Content != "say hi" {
		t.Errorf("sampling request %s", reqs[1].Body)
	}
	msgs := reqs[2].ToolMessages()
	if len(msgs) != 1 || msgs[0]["content"] != "sampled upstream/decline" {
		t.Errorf("tool message %v", msgs)
	}
}

func TestSamplingRequest(t *testing.T) {
	p := &mcp.CreateMessageParams{
		SystemPrompt: "be brief", MaxTokens: 50, Temperature: 0.3, StopSequences: []string{"\n"},
		Messages: []*mcp.SamplingMessage{
			{Role: "user", Content: &mcp.TextContent{Text: "hi"}},
			{Role: "assistant", Content: &mcp.TextContent{Text: "hello"}},
			{Role: "user", Content: &mcp.ImageContent{MIMEType: "image/png", Data: []byte{1, 2}}},
		},
	}
	b, err := samplingRequest(p, "m1")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"model":"m1"`, `"max_tokens":50`, `"temperature":0.3`, `"stop":["\n"]`,
		`{"role":"system","content":"be brief"}`, `{"role":"assistant","content":"hello"}`, `data:image/png;base64,AQI=`} {
		if !strings.Contains(s, want) {
			t.Errorf("request lacks %s: %s", want, s)
		}
	}
	if _, err := samplingRequest(&mcp.CreateMessageParams{}, "m1"); err == nil {
		t.Error("no messages accepted")
	}
	if _, err := samplingRequest(p, ""); err == nil || !strings.Contains(err.Error(), "sampling.model") {
		t.Errorf("no model: %v", err)
	}
}

func TestSamplingModelFromHints(t *testing.T) {
	h := newHarness(t, Options{SamplingModel: "fallback"}, nil)
	h.up.SetModels("llama3.1:8b", "qwen3:14b")
	ctx := t.Context()
	hints := func(names ...string) *mcp.ModelPreferences {
		p := &mcp.ModelPreferences{}
		for _, n := range names {
			p.Hints = append(p.Hints, &mcp.ModelHint{Name: n})
		}
		return p
	}
	for _, c := range []struct {
		prefs *mcp.ModelPreferences
		want  string
	}{
		{hints("claude-3", "qwen3"), "qwen3:14b"},
		{hints("llama3.1:8b"), "llama3.1:8b"},
		{hints("gpt-5"), "fallback"},
		{nil, "fallback"},
	} {
		if got := h.b.samplingModel(ctx, c.prefs, "chat"); got != c.want {
			t.Errorf("hints %v: %q, want %q", c.prefs, got, c.want)
		}
	}
}
