package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, v
}

func TestReadyz(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	status, v := getJSON(t, h.srv.URL+"/readyz")
	if status != 200 || v["status"] != "ready" || v["tools"] != float64(1) {
		t.Errorf("readyz %d %v", status, v)
	}

	broken := mcpclient.ServerConfig{Name: "broken", Command: "/nonexistent/mcp-server"}
	h2 := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add")), broken})
	status, v = getJSON(t, h2.srv.URL+"/readyz")
	if status != http.StatusServiceUnavailable || v["status"] != "degraded" {
		t.Fatalf("readyz %d %v", status, v)
	}
	servers := v["servers"].([]any)
	if len(servers) != 2 {
		t.Fatalf("servers %v", servers)
	}
	b := servers[0].(map[string]any)
	if msg, _ := b["error"].(string); b["name"] != "broken" || b["state"] != mcpclient.StateFailed || msg == "" || b["transport"] != "stdio" {
		t.Errorf("first server %v", b)
	}
	if status, v := getJSON(t, h2.srv.URL+"/healthz"); status != 200 || v["status"] != "ok" {
		t.Errorf("healthz %d %v", status, v)
	}
}

// TestEventsFeed checks tool calls appear on /v1/events without their
// arguments or results.
func TestEventsFeed(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{"secret":"s3cr3t"}`}), llmtest.TextStream("ok"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("Content-Type %q", ct)
	}
	// The subscription is registered once the headers are out; a chat
	// request now is seen by it. The request runs in its own goroutine,
	// which reports back rather than failing the test itself, and the test
	// waits for it.
	chatDone := make(chan error, 1)
	go func() {
		resp, err := http.Post(h.srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
		if err != nil {
			chatDone <- err
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"content":"ok"`)) {
			err = fmt.Errorf("chat answer %d: %s", resp.StatusCode, body)
		}
		chatDone <- err
	}()
	defer func() {
		if err := <-chatDone; err != nil {
			t.Error(err)
		}
	}()

	sc := bufio.NewScanner(resp.Body)
	var seen []map[string]any
	for sc.Scan() && len(seen) < 4 {
		line := sc.Text()
		if strings.Contains(line, "s3cr3t") || strings.Contains(line, "add got") {
			t.Errorf("feed leaks arguments or results: %s", line)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev map[string]any
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("event %q: %v", data, err)
			}
			seen = append(seen, ev)
		}
	}
	// The chat request around the call, and the call; each with who made
	// it (the anonymous caller: no keys here).
	if len(seen) != 4 || seen[0]["type"] != "chat_started" || seen[1]["type"] != "tool_call_started" || seen[2]["type"] != "tool_call_finished" ||
		seen[2]["tool"] != "calc__add" || seen[2]["server"] != "calc" || seen[2]["is_error"] != false || seen[2]["outcome"] != "ok" ||
		seen[3]["type"] != "chat_finished" || seen[3]["model"] != "m" || seen[3]["rounds"] != float64(2) || seen[3]["tool_calls"] != float64(1) ||
		seen[3]["outcome"] != "ok" {
		t.Fatalf("events %v", seen)
	}
	for _, ev := range seen {
		if ev["identity"] != "anonymous" {
			t.Errorf("event without its identity: %v", ev)
		}
	}
}
