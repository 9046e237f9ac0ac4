package bridge

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestSamplingModelWithoutHintsAsksNothing checks preferences without a
// hint pick the configured model without asking the upstream for its
// model list, and that a hint does ask.
func TestSamplingModelWithoutHintsAsksNothing(t *testing.T) {
	var lists atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lists.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"qwen3:14b","object":"model"}]}`))
	}))
	defer up.Close()
	client, err := llm.NewClient(llm.Options{BaseURL: up.URL + "/v1", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Upstream: client, Tools: mcpclient.NewRegistry(nil, nil), SamplingModel: "fallback"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.samplingModel(t.Context(), &mcp.ModelPreferences{IntelligencePriority: 1}, "chat"); got != "fallback" || lists.Load() != 0 {
		t.Errorf("no hints: %q after %d model lists, want fallback after none", got, lists.Load())
	}
	if got := b.samplingModel(t.Context(), &mcp.ModelPreferences{Hints: []*mcp.ModelHint{{Name: "qwen3"}}}, "chat"); got != "qwen3:14b" || lists.Load() != 1 {
		t.Errorf("a hint: %q after %d model lists, want qwen3:14b after one", got, lists.Load())
	}
}
