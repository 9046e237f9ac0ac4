package bridge

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// A request in flight finishes with the settings it started with; the
// next one gets those of Apply.
func TestApplySettingsPerRequest(t *testing.T) {
	var log callLog
	arrived, release := make(chan struct{}), make(chan struct{})
	held := func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
		close(arrived)
		<-release
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"a":1}`})(w, r, req)
	}
	h := newHarness(t, Options{Display: DisplayDetails}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		held, llmtest.TextStream("ok"),
		llmtest.ToolCallStream(llmtest.Call{ID: "c2", Name: "calc__add", Arguments: `{"a":2}`}), llmtest.TextStream("ok"))
	body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`
	first := make(chan string, 1)
	go func() {
		resp, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			first <- ""
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		first <- string(data)
	}()
	<-arrived
	if err := h.b.Apply(Options{Upstream: h.b.opts.Upstream, Display: DisplayNone}); err != nil {
		t.Fatal(err)
	}
	close(release)
	a := collect(t, strings.NewReader(<-first))
	if !strings.HasPrefix(a.content, `<details type="tool_calls"`) {
		t.Errorf("the request in flight did not keep its display (details): content %q", a.content)
	}
	b := h.stream(body)
	if strings.Contains(b.content, "<details") || len(b.statuses) != 0 || b.content != "ok" {
		t.Errorf("the request after Apply did not get display none: content %q, statuses %v", b.content, b.statuses)
	}
}

// Keys changed by Apply: the old one is refused, the new one works, and
// /readyz shows the configuration's state to a request with a key.
func TestApplyKeysAndConfigStatus(t *testing.T) {
	h := newHarness(t, Options{APIKeys: []string{"old-key-0123456789"}}, nil, llmtest.TextStream("ok"))
	get := func(path, key string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var v map[string]any
		_ = json.Unmarshal(data, &v)
		return resp.StatusCode, v
	}
	h.up.SetModels("m")
	if code, _ := get("/v1/models", "old-key-0123456789"); code != http.StatusOK {
		t.Fatalf("old key before Apply: %d", code)
	}
	if err := h.b.Apply(Options{Upstream: h.b.opts.Upstream, APIKeys: []string{"new-key-0123456789"}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get("/v1/models", "old-key-0123456789"); code != http.StatusUnauthorized {
		t.Errorf("old key after Apply: %d, want 401", code)
	}
	if code, _ := get("/v1/models", "new-key-0123456789"); code != http.StatusOK {
		t.Errorf("new key after Apply: %d, want 200", code)
	}

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h.b.SetConfigStatus(ConfigStatus{LoadedAt: at, Error: "mcp-bridge.yaml: line 3: tools.max_rounds: expected an integer, got \"lots\""})
	_, v := get("/readyz", "new-key-0123456789")
	cfg, _ := v["config"].(map[string]any)
	if cfg["loaded_at"] != "2026-01-02T03:04:05Z" || !strings.Contains(cfg["error"].(string), "tools.max_rounds") {
		t.Errorf("/readyz config = %v", v["config"])
	}
	if _, v := get("/readyz", "wrong"); v["config"] != nil || v["servers"] != nil {
		t.Errorf("/readyz without a key shows %v", v)
	}
	if err := h.b.Apply(Options{Upstream: h.b.opts.Upstream, Display: "loud"}); err == nil {
		t.Error("Apply with an invalid Display returned nil")
	}
	if code, _ := get("/v1/models", "new-key-0123456789"); code != http.StatusOK {
		t.Errorf("an invalid Apply changed the settings: %d", code)
	}
}
