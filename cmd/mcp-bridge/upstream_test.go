package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// waitLog waits until serve's log contains every one of subs.
func (s *serving) waitLog(t *testing.T, subs ...string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		log := s.stderr.String()
		ok := true
		for _, sub := range subs {
			ok = ok && strings.Contains(log, sub)
		}
		if ok {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve's log has no %q within %s", subs, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestServeWarnsWhenUpstreamIsDown(t *testing.T) {
	addr := freeAddr(t)
	s := startServe(t, map[string]any{
		"upstream": map[string]any{"base_url": "http://user:secret@" + addr + "/v1?key=secret", "max_retries": -1},
	})
	log := s.waitLog(t, "upstream http://"+addr+"/v1 is not answering: dial tcp "+addr, "connection refused",
		"chat requests will fail until it is up")
	if strings.Contains(log, "secret") {
		t.Errorf("the log shows the upstream's credentials:\n%s", log)
	}
	if strings.Contains(log, "upstream is answering") {
		t.Errorf("the log says a dead upstream is answering:\n%s", log)
	}
}

func TestServeReportsUpstreamModels(t *testing.T) {
	// The upstream takes its time over the model list: serve answers
	// meanwhile, and reports the list when it comes.
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list",
			"data": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}})
	}))
	t.Cleanup(up.Close)
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	s := startServe(t, map[string]any{"upstream": map[string]any{"base_url": up.URL + "/v1"}})
	if log := s.stderr.String(); strings.Contains(log, "upstream is answering") || strings.Contains(log, "not answering") {
		t.Fatalf("the probe finished before the upstream answered:\n%s", log)
	}
	close(release)
	s.waitLog(t, "upstream is answering", "upstream="+up.URL+"/v1", "models=2")
}

func TestServeShutdownTellsCutStreams(t *testing.T) {
	// The stream that outlives limits.shutdown_timeout gets an error
	// event saying why it ends.
	started, never := make(chan struct{}), make(chan struct{})
	up := llmtest.NewServer(t, slowStream(started, never))
	s := startServe(t, map[string]any{
		"upstream": map[string]any{"base_url": up.URL},
		"limits":   map[string]any{"shutdown_timeout": "100ms"},
	})
	stream := s.chat(t)
	var tr transcript
	tr.readUntil(t, stream, "Hello")
	<-started

	s.shutDown(t)
	if err := s.wait(t); err != nil {
		t.Errorf("serve returned %v, want nil", err)
	}
	tr.readAll(t, stream)
	var last struct {
		Error struct {
			Message, Type, Code string
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(tr.last), &last); err != nil || last.Error.Code != "shutting_down" ||
		last.Error.Type != "server_error" || last.Error.Message != "the bridge is shutting down" {
		t.Errorf("the stream ended with %q, want a shutting_down error event", tr.last)
	}
	if tr.content.String() != "Hello" {
		t.Errorf("content %q, want Hello", tr.content.String())
	}
	mustContain(t, "log", s.stderr.String(), "still running at the shutdown deadline")
}

func TestServeUpstreamFirstByteTimeout(t *testing.T) {
	// upstream.first_byte_timeout reaches the upstream client: a silent
	// upstream is a 504 that names the setting.
	up := llmtest.NewServer(t, func(w http.ResponseWriter, r *http.Request, _ llmtest.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	s := startServe(t, map[string]any{
		"upstream": map[string]any{"base_url": up.URL, "first_byte_timeout": "100ms", "stall_timeout": "1h"},
		"tools":    map[string]any{"deadline": "10s"},
	})
	resp, err := http.Post("http://"+s.addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"test-model","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error struct{ Message, Code string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusGatewayTimeout || body.Error.Code != "upstream_timeout" {
		t.Fatalf("status %d, error %+v; want 504 upstream_timeout", resp.StatusCode, body.Error)
	}
	mustContain(t, "message", body.Error.Message, "upstream.first_byte_timeout", "100ms")
}
