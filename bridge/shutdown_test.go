package bridge

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// backstop is the tool-loop deadline of these tests: were the shutdown
// not to end a request, the deadline would, and the test would fail
// rather than hang.
const backstop = 5 * time.Second

// checkShuttingDown checks the error object of a request ended by
// Options.Shutdown.
func checkShuttingDown(t *testing.T, e map[string]any) {
	t.Helper()
	checkErrorBody(t, e, "shutting_down", "the bridge is shutting down")
	if e["type"] != "server_error" {
		t.Errorf("type %v, want server_error", e["type"])
	}
}

// TestShutdownEndsStreamWithError checks that a stream still open when
// Options.Shutdown ends gets an error event after what it had, and ends
// without [DONE]; the upstream request is cancelled.
func TestShutdownEndsStreamWithError(t *testing.T) {
	q := newQuietUpstream(t, partialStream)
	shutdown, abort := context.WithCancel(context.Background())
	defer abort()
	h := newTimeoutHarness(t, q.URL+"/v1", llm.Options{}, Options{Shutdown: shutdown, Deadline: backstop})
	resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	// The header leaves with the first text: the stream has begun.
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	abort()
	a := collect(t, resp.Body)
	if a.content != "Hello" || a.done || a.finish != "" {
		t.Errorf("content %q, [DONE] %v, finish %q: want Hello, then an error", a.content, a.done, a.finish)
	}
	if a.errEvent == nil {
		t.Fatalf("stream cut without an error event: %v", a.frames)
	}
	checkShuttingDown(t, a.errEvent)
	q.waitGaveUp(t)
}

// TestShutdownAnswersWaitingRequest503 checks that a non-streaming request
// waiting for the upstream when Options.Shutdown ends is answered 503, and
// so is one that arrives after.
func TestShutdownAnswersWaitingRequest503(t *testing.T) {
	q := newQuietUpstream(t, headerOnly)
	shutdown, abort := context.WithCancel(context.Background())
	defer abort()
	h := newTimeoutHarness(t, q.URL+"/v1", llm.Options{}, Options{Shutdown: shutdown, Deadline: backstop})
	type result struct {
		status int
		v      map[string]any
	}
	done := make(chan result, 1)
	go func() {
		status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		done <- result{status, v}
	}()
	select {
	case <-q.sent:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the upstream")
	}
	abort()
	var res result
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not answered after the shutdown")
	}
	if res.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %v", res.status, res.v)
	}
	e, _ := res.v["error"].(map[string]any)
	checkShuttingDown(t, e)
	q.waitGaveUp(t)

	status, v := h.postJSON(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("after the shutdown: status %d, want 503: %v", status, v)
	}
}

// TestShutdownDuringToolCall checks that a stream whose tools are running
// when Options.Shutdown ends gets the error event, and the tool call is
// cancelled.
func TestShutdownDuringToolCall(t *testing.T) {
	ss, srv := newSlowServer()
	shutdown, abort := context.WithCancel(context.Background())
	defer abort()
	h := newHarness(t, Options{Shutdown: shutdown, Display: DisplayStatus, Deadline: backstop}, []mcpclient.ServerConfig{inMemory("slow", srv)},
		llmtest.ToolCallStream(llmtest.Call{ID: "a", Name: "slow__wait", Arguments: `{}`}))
	resp := h.post(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	defer resp.Body.Close()
	select {
	case <-ss.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the tool never started")
	}
	abort()
	a := collect(t, resp.Body)
	if a.errEvent == nil || a.done {
		t.Fatalf("error event %v, [DONE] %v: want the error and no [DONE]", a.errEvent, a.done)
	}
	checkShuttingDown(t, a.errEvent)
	select {
	case <-ss.cancelled:
	case <-time.After(10 * time.Second):
		t.Error("the tool call was not cancelled")
	}
	if n := len(h.up.Requests()); n != 1 {
		t.Errorf("upstream got %d requests, want 1: no round after the shutdown", n)
	}
}
