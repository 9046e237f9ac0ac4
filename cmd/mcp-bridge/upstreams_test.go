package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// TestServeRoutesUpstreams: serve builds the routes of upstreams and
// models: a glob, an alias with its own model name, 404 for a model
// nobody takes, /v1/models merged, and the audit line names the upstream
// that answered, never its key.
func TestServeRoutesUpstreams(t *testing.T) {
	local := llmtest.NewServer(t, llmtest.Completion("from local"))
	local.SetModels("llama3")
	cloud := llmtest.NewServer(t, llmtest.Completion("from cloud"))
	cloud.SetModels("gpt-5")
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startServe(t, map[string]any{
		"upstreams": []any{
			map[string]any{"name": "local", "base_url": local.URL, "models": []string{"llama*"}, "profile": "ollama"},
			map[string]any{"name": "cloud", "base_url": cloud.URL, "models": []string{"gpt-*"}, "profile": "openai",
				"api_key": "sk-cloud-secret-key"},
		},
		"models": map[string]any{"smart": map[string]any{"upstream": "cloud", "model": "gpt-5"}},
		"audit":  map[string]any{"file": audit},
		"tools":  map[string]any{"builtin_model": false},
	})
	post := func(model string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+s.addr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		b, _ := json.Marshal(v)
		return resp.StatusCode, string(b)
	}
	if status, body := post("llama3"); status != 200 || !strings.Contains(body, "from local") {
		t.Errorf("llama3: %d %s", status, body)
	}
	if status, body := post("smart"); status != 200 || !strings.Contains(body, "from cloud") {
		t.Errorf("smart: %d %s", status, body)
	}
	if r := cloud.Requests(); len(r) != 1 || string(r[0].Fields["model"]) != `"gpt-5"` || r[0].Header.Get("Authorization") != "Bearer sk-cloud-secret-key" {
		t.Errorf("cloud got %d requests", len(r))
	}
	if status, body := post("mistral"); status != 404 || !strings.Contains(body, "model_not_found") {
		t.Errorf("mistral: %d %s", status, body)
	}

	resp, err := http.Get("http://" + s.addr + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct{ ID, OwnedBy string } `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	var got []string
	for _, m := range list.Data {
		got = append(got, m.ID)
	}
	if strings.Join(got, " ") != "llama3 gpt-5 smart" {
		t.Errorf("models %v", got)
	}

	s.shutDown(t)
	_ = s.wait(t)
	data, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	if !strings.Contains(text, `"upstream":"local"`) || !strings.Contains(text, `"upstream":"cloud"`) || strings.Contains(text, "sk-cloud-secret-key") {
		t.Errorf("audit:\n%s", text)
	}
	if strings.Contains(s.stderr.String(), "sk-cloud-secret-key") {
		t.Errorf("the log shows the key")
	}
}

// TestCheckListsEachUpstream: check asks every upstream for its models,
// one line each, and counts a dead one as a problem.
func TestCheckListsEachUpstream(t *testing.T) {
	local := llmtest.NewServer(t)
	local.SetModels("llama3", "qwen3")
	path := writeJSONConfig(t, map[string]any{"upstreams": []any{
		map[string]any{"name": "local", "base_url": local.URL},
		map[string]any{"name": "dead", "base_url": "http://" + freeAddr(t) + "/v1"},
	}})
	out, _, err := runCmd(t, "-c", path, "check")
	if st, ok := exitStatus(err); !ok || st != 1 {
		t.Errorf("check: %v", err)
	}
	mustContain(t, "check", out, "upstream: local: "+local.URL+": ok, 2 models", "upstream: dead: http://", "1 problem(s)")
}

// TestServeReloadsUpstreams: a reload that adds an upstream and an alias
// routes to them at once; one that names an unknown upstream in an alias
// is refused and the routes stay.
func TestServeReloadsUpstreams(t *testing.T) {
	a := llmtest.NewServer(t, llmtest.Completion("from a"), llmtest.Completion("from a again"))
	b := llmtest.NewServer(t, llmtest.Completion("from b"))
	cfg := func(ups []any, models map[string]any) map[string]any {
		return map[string]any{"upstreams": ups, "models": models}
	}
	upA := map[string]any{"name": "a", "base_url": a.URL, "models": []string{"llama*"}}
	upB := map[string]any{"name": "b", "base_url": b.URL, "models": []string{"gpt-*"}}
	s, path := startServeFile(t, cfg([]any{upA}, nil), "")
	chat := func(model string) (int, string) {
		return request(t, s, http.MethodPost, "/v1/chat/completions", "", `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
	}
	if code, _ := chat("smart"); code != http.StatusNotFound {
		t.Fatalf("smart before the reload: %d", code)
	}
	second := cfg([]any{upA, upB}, map[string]any{"smart": map[string]any{"upstream": "b", "model": "gpt-5"}})
	second["listen"] = s.addr
	replaceFile(t, path, jsonText(t, second))
	waitUntil(t, "the alias to route", func() bool {
		code, body := chat("smart")
		return code == http.StatusOK && strings.Contains(body, "from b")
	})

	bad := cfg([]any{upA}, map[string]any{"smart": map[string]any{"upstream": "nowhere"}})
	bad["listen"] = s.addr
	replaceFile(t, path, jsonText(t, bad))
	waitUntil(t, "the reload to be refused", func() bool {
		return strings.Contains(s.stderr.String(), "configuration not reloaded")
	})
	if code, body := chat("llama3"); code != http.StatusOK || !strings.Contains(body, "from a") {
		t.Errorf("after a refused reload: %d %s", code, body)
	}
}
