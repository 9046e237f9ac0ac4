package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serve writes the audit log, reopens it on SIGHUP, and serves /metrics
// without keys on metrics.listen, not on its own routes.
func TestServeAuditAndMetricsListen(t *testing.T) {
	const key = "serve-key-0123456789abcdef"
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	metricsAddr := freeAddr(t)
	s := startServe(t, map[string]any{
		"auth":    map[string]any{"api_keys": []string{key}},
		"audit":   map[string]any{"file": path, "arguments": "redacted"},
		"metrics": map[string]any{"listen": metricsAddr},
	})
	deny := func() {
		req, _ := http.NewRequest("GET", "http://"+s.addr+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer not-the-key-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	deny()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The new file appears once the signal is handled.
	for i := 0; ; i++ {
		deny()
		if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(`"event":"denied"`)) {
			break
		}
		if i == 200 {
			t.Fatal("no new audit file after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	old, _ := os.ReadFile(path + ".1")
	if !bytes.Contains(old, []byte(`"event":"denied"`)) || bytes.Contains(old, []byte("not-the-key")) {
		t.Fatalf("renamed audit file: %s", old)
	}

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`mcp_bridge_http_requests_total{code="401",route="/v1/models"}`)) {
		t.Fatalf("metrics.listen /metrics: %d\n%s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the bridge's routes with metrics.listen set: %d", resp.StatusCode)
	}
}

// TestCallCommandAudited checks the call command writes its tool call to
// the audit log, with the face "cli", arguments redacted.
func TestCallCommandAudited(t *testing.T) {
	auditFile := filepath.Join(t.TempDir(), "audit.jsonl")
	path := writeJSONConfig(t, map[string]any{
		"mcpServers": map[string]any{"GitHub": stdioServer("GitHub")},
		"audit":      map[string]any{"file": auditFile},
		"upstream":   map[string]any{"api_key": "sk-do-not-log"},
	})
	if _, stderr, err := runCmd(t, "-c", path, "call", "GitHub__echo", `{"text":"sk-do-not-log"}`); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(data, &line); err != nil {
		t.Fatalf("audit %q: %v", data, err)
	}
	if line["event"] != "tool_call" || line["face"] != "cli" || line["server"] != "GitHub" || line["tool"] != "GitHub__echo" ||
		line["outcome"] != "ok" || !strings.HasPrefix(line["identity"].(string), "local") {
		t.Errorf("audit line %s", data)
	}
	if strings.Contains(string(data), "sk-do-not-log") {
		t.Errorf("the secret argument is in the audit log: %s", data)
	}
}
