package main

import (
	"context"
	"encoding/json"
	"github.com/mcp-bridge/mcp-bridge/cmd/mcp-bridge/config"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// startServeFile is startServe with the config file's path, for tests
// that rewrite it; key authenticates its readiness check.
func startServeFile(t *testing.T, cfg map[string]any, key string) (*serving, string) {
	t.Helper()
	s := &serving{addr: freeAddr(t), done: make(chan error, 1), stderr: &syncbuf.Buffer{}}
	cfg["listen"] = s.addr
	path := writeJSONConfig(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	var stdout syncbuf.Buffer
	go func() { s.done <- run(ctx, []string{"-c", path, "serve"}, &stdout, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		if err := s.wait(t); err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("serve's log:\n%s", s.stderr.String())
		}
	})
	s.waitOK(t, "/healthz")
	waitUntil(t, "/readyz to answer ready", func() bool {
		code, _ := request(t, s, http.MethodGet, "/readyz", key, "")
		return code == http.StatusOK
	})
	return s, path
}

// replaceFile writes cfg to path as an editor does: a new file renamed
// over the old one.
func replaceFile(t *testing.T, path string, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".edit.tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// request sends a request with key as a bearer token and returns the
// status and the body.
func request(t *testing.T, s *serving, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitUntil polls cond until it holds, failing after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// During a long streaming answer the file is rewritten: a server added,
// one removed, the keys changed. The stream completes untouched, the new
// server's tools appear, the unchanged server keeps its process, the old
// key is refused and the new one works. An invalid file afterwards is
// refused, the old configuration still serving and /readyz saying why.
func TestServeReload(t *testing.T) {
	const oldKey, newKey = "old-key-0123456789abcdef", "new-key-0123456789abcdef"
	started, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	releaseUpstream := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseUpstream)
	up := llmtest.NewServer(t, slowStream(started, release))
	cfg := func(key string, servers ...string) map[string]any {
		ms := map[string]any{}
		for _, name := range servers {
			ms[name] = stdioServer(name)
		}
		return map[string]any{
			"upstream":   map[string]any{"base_url": up.URL},
			"tools":      map[string]any{"display": "none"},
			"auth":       map[string]any{"keys": []any{map[string]any{"name": "k", "key": key}}},
			"mcpServers": ms,
		}
	}
	first := cfg(oldKey, "keep", "gone")
	s, path := startServeFile(t, first, oldKey)
	pid := func(key, server string) (int, string) {
		return request(t, s, http.MethodPost, "/tools/"+server+"__pid", key, "{}")
	}
	code, keepPID := pid(oldKey, "keep")
	if code != http.StatusOK {
		t.Fatalf("keep__pid: %d %s", code, keepPID)
	}

	// A streaming answer, held by the upstream after its first words.
	body := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"test-model","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+oldKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			body <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	<-started

	second := cfg(newKey, "keep", "added")
	second["listen"] = s.addr
	replaceFile(t, path, jsonText(t, second))
	waitUntil(t, "the added server's tools to appear", func() bool {
		code, _ := pid(newKey, "added")
		return code == http.StatusOK
	})
	if code, out := request(t, s, http.MethodGet, "/v1/models", oldKey, ""); code != http.StatusUnauthorized {
		t.Errorf("the removed key after the reload: %d %s, want 401", code, out)
	}
	if code, out := pid(newKey, "keep"); code != http.StatusOK || out != keepPID {
		t.Errorf("the unchanged server after the reload: %d %s, want its pid %s", code, out, keepPID)
	}
	if code, _ := pid(newKey, "gone"); code == http.StatusOK {
		t.Error("the removed server's tool still answers")
	}

	releaseUpstream()
	got := <-body
	var content strings.Builder
	for _, line := range strings.Split(got, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var chunk struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			t.Fatalf("event %q: %v", data, err)
		}
		if len(chunk.Choices) > 0 {
			content.WriteString(chunk.Choices[0].Delta.Content)
		}
	}
	if content.String() != "Hello, world" || !strings.HasSuffix(strings.TrimSpace(got), "data: [DONE]") {
		t.Errorf("the stream in flight: content %q, body %q", content.String(), got)
	}

	// An invalid file: refused, the last good configuration serving on.
	replaceFile(t, path, "listen: "+s.addr+"\ntools:\n  max_rounds: lots\n")
	var ready map[string]any
	waitUntil(t, "/readyz to show the refused file", func() bool {
		_, out := request(t, s, http.MethodGet, "/readyz", newKey, "")
		ready = nil
		_ = json.Unmarshal([]byte(out), &ready)
		c, _ := ready["config"].(map[string]any)
		return c != nil && c["error"] != nil
	})
	c := ready["config"].(map[string]any)
	mustContain(t, "/readyz config.error", c["error"].(string), path, "line 3", "tools.max_rounds")
	if c["loaded_at"] == nil {
		t.Error("/readyz config has no loaded_at")
	}
	if code, out := pid(newKey, "keep"); code != http.StatusOK || out != keepPID {
		t.Errorf("after the refused file: keep__pid %d %s, want %s", code, out, keepPID)
	}
	if code, _ := pid(newKey, "added"); code != http.StatusOK {
		t.Errorf("after the refused file: added__pid %d", code)
	}
	mustContain(t, "log", s.stderr.String(), "configuration reloaded", "configuration not reloaded")
}

// SIGHUP reloads the file even when it did not change; a change of a
// setting read only at startup is logged as needing a restart.
func TestServeReloadSIGHUPAndRestartKeys(t *testing.T) {
	up := llmtest.NewServer(t)
	cfg := map[string]any{
		"upstream":   map[string]any{"base_url": up.URL},
		"mcpServers": map[string]any{"keep": stdioServer("keep")},
	}
	s, path := startServeFile(t, cfg, "")
	logged := func(what string) func() bool {
		return func() bool { return strings.Contains(s.stderr.String(), what) }
	}

	cfg["listen"] = freeAddr(t)
	cfg["tools"] = map[string]any{"call_timeout": "5s"}
	replaceFile(t, path, jsonText(t, cfg))
	waitUntil(t, "the reload of the changed file", logged(`why="file changed"`))
	mustContain(t, "log", s.stderr.String(), "listen changed: restart to apply", "tools.call_timeout changed: restart to apply")
	if code, _ := request(t, s, http.MethodGet, "/healthz", "", ""); code != http.StatusOK {
		t.Errorf("/healthz on the first address after the reload: %d", code)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the reload on SIGHUP", logged("why=SIGHUP"))
}

// Secrets added by a reload are hidden in the log, also in attributes
// given before the reload.
func TestReloadableRedactor(t *testing.T) {
	var out syncbuf.Buffer
	c := &config.Config{Log: config.Log{Level: "info"}, Upstream: config.Upstream{APIKey: "sk-first-secret-value"}}
	log, setSecrets := newReloadableLogger(c, &out)
	early := log.With("token", "sk-later-secret-value")
	setSecrets([]string{"sk-later-secret-value"})
	early.Info("after the reload", "key", "sk-later-secret-value")
	log.Info("the first", "key", "sk-first-secret-value")
	got := out.String()
	if strings.Contains(got, "sk-later-secret-value") {
		t.Errorf("a secret of the reload was logged: %s", got)
	}
	mustContain(t, "log", got, "after the reload", "the first")
}
