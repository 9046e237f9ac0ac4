package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const upstreamsYAML = `
upstreams:
  - name: local
    base_url: http://127.0.0.1:11434/v1
    models: ["llama*", "qwen*"]
    profile: ollama
  - name: cloud
    base_url: https://api.openai.com/v1
    api_key: ${OPENAI_API_KEY}
    headers: {X-Org: org-secret-value}
    models: ["gpt-*", "o*"]
    profile: openai
    first_byte_timeout: 30s
    max_retries: -1
  - name: cloud-2
    base_url: https://example-proxy/v1
    models: ["gpt-*"]
    priority: 2
    weight: 3
models:
  fast: {upstream: local, model: "qwen3:8b"}
  smart:
    - {upstream: cloud, model: gpt-5}
    - {upstream: local}
`

func TestConfigUpstreams(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", upstreamsYAML)
	c := mustLoad(t, path, func(k string) string {
		if k == "OPENAI_API_KEY" {
			return "sk-cloud-key-123"
		}
		return ""
	})
	if len(c.Upstreams) != 3 {
		t.Fatalf("upstreams %+v", c.Upstreams)
	}
	cloud := c.Upstreams[1]
	if cloud.Name != "cloud" || cloud.APIKey != "sk-cloud-key-123" || cloud.Profile != "openai" || time.Duration(cloud.FirstByteTimeout) != 30*time.Second ||
		cloud.MaxRetries != -1 || !slices.Equal(cloud.Models, []string{"gpt-*", "o*"}) || cloud.Headers["X-Org"] != "org-secret-value" {
		t.Errorf("cloud %+v", cloud)
	}
	if c.Upstreams[2].Priority != 2 || c.Upstreams[2].Weight != 3 {
		t.Errorf("cloud-2 %+v", c.Upstreams[2])
	}
	if got := c.Models["fast"]; len(got) != 1 || got[0] != (AliasTarget{Upstream: "local", Model: "qwen3:8b"}) {
		t.Errorf("fast %+v", got)
	}
	if got := c.Models["smart"]; len(got) != 2 || got[1] != (AliasTarget{Upstream: "local"}) {
		t.Errorf("smart %+v", got)
	}
	secrets := c.Secrets()
	if !slices.Contains(secrets, "sk-cloud-key-123") || !slices.Contains(secrets, "org-secret-value") {
		t.Errorf("the upstreams' key and headers are not secrets")
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v", c.Warnings)
	}
}

func TestConfigUpstreamsErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"no name", "upstreams:\n  - base_url: http://a/v1\n", []string{"line 2", "upstreams[0].name", "needs a name"}},
		{"twice", "upstreams:\n  - name: a\n    base_url: http://a/v1\n  - name: a\n    base_url: http://b/v1\n",
			[]string{"line 4", "upstreams[1].name", "used by another"}},
		{"bad url", "upstreams:\n  - name: a\n    base_url: ftp://a\n", []string{"line 3", "upstreams[0].base_url", "http://"}},
		{"profile", "upstreams:\n  - name: a\n    base_url: http://a/v1\n    profile: bard\n",
			[]string{"line 4", "upstreams[0].profile", "gemini", `"bard"`}},
		{"unknown key", "upstreams:\n  - name: a\n    base_url: http://a/v1\n    wieght: 2\n", []string{"line 4", `"upstreams[0].wieght"`, `"weight"`}},
		{"weight", "upstreams:\n  - name: a\n    base_url: http://a/v1\n    weight: -1\n", []string{"upstreams[0].weight"}},
		{"alias upstream", "upstreams:\n  - name: local\n    base_url: http://a/v1\nmodels:\n  fast: {upstream: locale}\n",
			[]string{"line 5", "models.fast", `"locale"`, `"local"`}},
		{"alias shape", "models:\n  fast: qwen\n", []string{"line 2", "{upstream, model}"}},
		{"alias key", "models:\n  fast: {upstream: default, modle: x}\n", []string{"line 2", `"modle"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "bridge.yaml", c.yaml)
			mustContain(t, "error", loadErr(t, path, noEnv), append([]string{path}, c.want...)...)
		})
	}
}

// TestConfigAliasesOfTheSingleUpstream: without upstreams, aliases name
// the single upstream "default".
func TestConfigAliasesOfTheSingleUpstream(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", "upstream:\n  base_url: http://a/v1\nmodels:\n  fast: {upstream: default, model: llama3}\n")
	c := mustLoad(t, path, noEnv)
	if len(c.Models["fast"]) != 1 || len(c.Warnings) != 0 {
		t.Errorf("models %+v, warnings %v", c.Models, c.Warnings)
	}
}

// TestConfigUpstreamBlockIgnoredWithUpstreams: the single block's
// connection settings are ignored beside upstreams, and the bridge says so.
func TestConfigUpstreamBlockIgnoredWithUpstreams(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", "upstream:\n  base_url: http://a/v1\n"+upstreamsYAML)
	c := mustLoad(t, path, noEnv)
	if n := len(c.Warnings); n == 0 || !strings.Contains(c.Warnings[n-1], "ignored when upstreams is given") {
		t.Errorf("warnings %v", c.Warnings)
	}
}
