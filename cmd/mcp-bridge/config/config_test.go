package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// getenvFrom returns a getenv that reads m and nothing else.
func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// noEnv is a getenv of an empty environment.
var noEnv = getenvFrom(nil)

// mustLoad loads path and fails the test on an error.
func mustLoad(t *testing.T, path string, getenv func(string) string) *Config {
	t.Helper()
	c, err := Load(path, getenv)
	if err != nil {
		t.Fatalf("Load(%q): %v", path, err)
	}
	return c
}

// loadErr loads path and returns the error, failing the test when there is
// none.
func loadErr(t *testing.T, path string, getenv func(string) string) string {
	t.Helper()
	c, err := Load(path, getenv)
	if err == nil {
		t.Fatalf("Load(%q) = %+v, want an error", path, c)
	}
	return err.Error()
}

// server returns the server named name of c.
func server(t *testing.T, c *Config, name string) mcpclient.ServerConfig {
	t.Helper()
	for _, s := range c.Servers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no server %q in %+v", name, c.Servers)
	return mcpclient.ServerConfig{}
}

const fullYAML = `# Every setting, and servers whose names and maps are not lower case.
listen: 127.0.0.1:9191
upstream:
  base_url: http://127.0.0.1:8080/v1
  api_key: sk-file
  headers:
    X-Api-Token: upstream-token
  max_retries: 2
tools:
  max_rounds: 4
  call_timeout: 90s
  deadline: 5m
  display: details
  keepalive: 10
  max_parallel: 3
  max_concurrency: 6
  max_result_bytes: 4096
auth:
  api_keys: [key-one, key-two]
limits:
  max_body_bytes: 1048576
  shutdown_timeout: 20s
log:
  level: debug
  format: json
mcpServers:
  GitHub:
    command: github-mcp
    args: [stdio, --read-only]
    env:
      LOG_Level: debug
      GITHUB_TOKEN: ghp-test
    cwd: /tmp
    tools:
      allow: ["get_*", search]
      deny: [get_secret]
    timeout: 30s
    max_concurrency: 2
  Remote:
    url: https://mcp.example.com/mcp
    type: http
    headers:
      X-Api-Token: remote-token
    prefix: ""
    disabled: true
`

const fullJSON = `{
  "listen": "127.0.0.1:9191",
  "upstream": {
    "base_url": "http://127.0.0.1:8080/v1",
    "api_key": "sk-file",
    "headers": {"X-Api-Token": "upstream-token"},
    "max_retries": 2
  },
  "tools": {
    "max_rounds": 4,
    "call_timeout": "90s",
    "deadline": "5m",
    "display": "details",
    "keepalive": 10,
    "max_parallel": 3,
    "max_concurrency": 6,
    "max_result_bytes": 4096
  },
  "auth": {"api_keys": ["key-one", "key-two"]},
  "limits": {"max_body_bytes": 1048576, "shutdown_timeout": "20s"},
  "log": {"level": "debug", "format": "json"},
  "mcpServers": {
    "GitHub": {
      "command": "github-mcp",
      "args": ["stdio", "--read-only"],
      "env": {"LOG_Level": "debug", "GITHUB_TOKEN": "ghp-test"},
      "cwd": "/tmp",
      "tools": {"allow": ["get_*", "search"], "deny": ["get_secret"]},
      "timeout": "30s",
      "max_concurrency": 2
    },
    "Remote": {
      "url": "https://mcp.example.com/mcp",
      "type": "http",
      "headers": {"X-Api-Token": "remote-token"},
      "prefix": "",
      "disabled": true
    }
  }
}
`

func TestConfigYAMLAndJSONLoadTheSame(t *testing.T) {
	dir := t.TempDir()
	fromYAML := mustLoad(t, writeFile(t, dir, "bridge.yaml", fullYAML), noEnv)
	fromJSON := mustLoad(t, writeFile(t, dir, "bridge.json", fullJSON), noEnv)
	if len(fromYAML.Warnings) != 0 || len(fromJSON.Warnings) != 0 {
		t.Errorf("warnings: YAML %q, JSON %q; want none", fromYAML.Warnings, fromJSON.Warnings)
	}
	fromYAML.File, fromJSON.File = "", ""
	if !reflect.DeepEqual(fromYAML, fromJSON) {
		t.Errorf("YAML and JSON differ:\nYAML: %+v\nJSON: %+v", fromYAML, fromJSON)
	}

	c := fromYAML
	want := &Config{
		Listen: "127.0.0.1:9191",
		Upstream: Upstream{BaseURL: "http://127.0.0.1:8080/v1", APIKey: "sk-file",
			Headers: map[string]string{"X-Api-Token": "upstream-token"}, MaxRetries: 2},
		Tools: Tools{MaxRounds: 4, CallTimeout: Duration(90 * time.Second), Deadline: Duration(5 * time.Minute),
			Display: "details", Keepalive: Duration(10 * time.Second), MaxParallel: 3, MaxConcurrency: 6, MaxResultBytes: 4096, Exposure: "auto"},
		Auth:   Auth{APIKeys: []string{"key-one", "key-two"}},
		Limits: Limits{MaxBodyBytes: 1 << 20, ShutdownTimeout: Duration(20 * time.Second)},
		Log:    Log{Level: "debug", Format: "json"},
	}
	got := *c
	got.Servers = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("settings:\n got %+v\nwant %+v", &got, want)
	}

	empty := ""
	wantServers := []mcpclient.ServerConfig{
		{
			Name: "GitHub", Command: "github-mcp", Args: []string{"stdio", "--read-only"},
			Env: map[string]string{"LOG_Level": "debug", "GITHUB_TOKEN": "ghp-test"}, Cwd: "/tmp",
			Allow: []string{"get_*", "search"}, Deny: []string{"get_secret"},
			Timeout: 30 * time.Second, MaxConcurrency: 2,
		},
		{
			Name: "Remote", URL: "https://mcp.example.com/mcp", Type: "http",
			Headers: map[string]string{"X-Api-Token": "remote-token"}, Prefix: &empty, Disabled: true,
		},
	}
	if !reflect.DeepEqual(c.Servers, wantServers) {
		t.Errorf("servers:\n got %+v\nwant %+v", c.Servers, wantServers)
	}
}

func TestConfigKeepsCase(t *testing.T) {
	// Named separately from the test above so that a failure says what
	// broke: viper lower-cases map keys, which must never reach these.
	for _, name := range []string{"bridge.yaml", "bridge.json"} {
		t.Run(name, func(t *testing.T) {
			content := fullYAML
			if strings.HasSuffix(name, ".json") {
				content = fullJSON
			}
			c := mustLoad(t, writeFile(t, t.TempDir(), name, content), noEnv)
			gh := server(t, c, "GitHub")
			if gh.Env["LOG_Level"] != "debug" {
				t.Errorf("GitHub env = %v, want LOG_Level=debug", gh.Env)
			}
			if gh.ToolPrefix() != "GitHub" {
				t.Errorf("GitHub tool prefix = %q, want GitHub", gh.ToolPrefix())
			}
			if got := server(t, c, "Remote").Headers["X-Api-Token"]; got != "remote-token" {
				t.Errorf("Remote headers = %v, want X-Api-Token", server(t, c, "Remote").Headers)
			}
			if c.Upstream.Headers["X-Api-Token"] != "upstream-token" {
				t.Errorf("upstream headers = %v, want X-Api-Token", c.Upstream.Headers)
			}
		})
	}
}

func TestConfigExpandsEnv(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
listen: ${HOST}:${PORT}
upstream:
  base_url: ${BASE}
  api_key: ${KEY}
  headers:
    X-Org: org-${ORG}
tools:
  display: ${DISPLAY_MODE}
mcpServers:
  GitHub:
    command: ${BIN_DIR}/github-mcp
    args: ["--token", "${GITHUB_TOKEN}"]
    env:
      LOG_Level: ${LEVEL}
  remote:
    url: https://mcp.example.com/mcp
    headers:
      Authorization: Bearer ${MISSING_TOKEN}
`)
	env := map[string]string{
		"HOST": "127.0.0.1", "PORT": "9393", "BASE": "http://127.0.0.1:8000/v1", "KEY": "sk-env",
		"ORG": "acme", "DISPLAY_MODE": "none", "BIN_DIR": "/opt/bin", "GITHUB_TOKEN": "ghp-env", "LEVEL": "trace",
	}
	c := mustLoad(t, path, getenvFrom(env))

	checks := []struct{ what, got, want string }{
		{"listen", c.Listen, "127.0.0.1:9393"},
		{"upstream.base_url", c.Upstream.BaseURL, "http://127.0.0.1:8000/v1"},
		{"upstream.api_key", c.Upstream.APIKey, "sk-env"},
		{"upstream.headers.X-Org", c.Upstream.Headers["X-Org"], "org-acme"},
		{"tools.display", c.Tools.Display, "none"},
		{"GitHub.command", server(t, c, "GitHub").Command, "/opt/bin/github-mcp"},
		{"GitHub.args[1]", server(t, c, "GitHub").Args[1], "ghp-env"},
		{"GitHub.env.LOG_Level", server(t, c, "GitHub").Env["LOG_Level"], "trace"},
		{"remote.headers.Authorization", server(t, c, "remote").Headers["Authorization"], "Bearer "},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}

	// An unset variable expands to nothing and is warned about by name.
	warnings := strings.Join(c.Warnings, "\n")
	mustContain(t, "warnings", warnings, "MISSING_TOKEN", path)
	if len(c.Warnings) != 1 {
		t.Errorf("warnings = %q, want one, about MISSING_TOKEN", c.Warnings)
	}
}

func TestConfigExpandsOnlyBracedReferences(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
mcpServers:
  s:
    command: mcp-s
    args: ["$5 per ${UNIT}", "pa$$word-${SUFFIX}", "$HOME", "${}", "x${UNCLOSED"]
`)
	c := mustLoad(t, path, getenvFrom(map[string]string{"UNIT": "kg", "SUFFIX": "1", "HOME": "/home/x"}))
	want := []string{"$5 per kg", "pa$$word-1", "$HOME", "${}", "x${UNCLOSED"}
	if got := server(t, c, "s").Args; !reflect.DeepEqual(got, want) {
		t.Errorf("args = %q, want %q", got, want)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", c.Warnings)
	}
}

func TestConfigNeverReturnsUnexpandedValues(t *testing.T) {
	// Every string setting holds a ${VAR}: set or unset, none may come
	// back as written, whether or not an MCP_BRIDGE_* variable of the same
	// setting exists.
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
listen: ${LISTEN_ADDR}
upstream:
  base_url: ${UPSTREAM_URL}
  api_key: ${UNSET_KEY}
tools:
  display: ${DISPLAY_MODE}
log:
  level: ${LEVEL}
  format: ${UNSET_FORMAT}
auth:
  api_keys: ["${BRIDGE_KEY}"]
mcpServers:
  s:
    command: ${UNSET_COMMAND}mcp-server
    env: {TOKEN: "${UNSET_TOKEN}"}
`)
	env := map[string]string{
		"LISTEN_ADDR": "127.0.0.1:9494", "UPSTREAM_URL": "http://127.0.0.1:8000/v1",
		"DISPLAY_MODE": "status", "LEVEL": "warn", "BRIDGE_KEY": "bk-1",
	}
	for _, withOverride := range []bool{false, true} {
		t.Run(fmt.Sprintf("override=%v", withOverride), func(t *testing.T) {
			if withOverride {
				t.Setenv("MCP_BRIDGE_LOG_LEVEL", "error")
			}
			c := mustLoad(t, path, getenvFrom(env))
			settings := *c
			settings.Warnings = nil // they quote the variables
			if dump := fmt.Sprintf("%+v", settings); strings.Contains(dump, "${") {
				t.Errorf("config holds an unexpanded value: %s", dump)
			}
			if c.Listen != "127.0.0.1:9494" || c.Upstream.APIKey != "" || c.Auth.APIKeys[0] != "bk-1" {
				t.Errorf("listen %q, api_key %q, api_keys %q: want 127.0.0.1:9494, empty, [bk-1]",
					c.Listen, c.Upstream.APIKey, c.Auth.APIKeys)
			}
			wantLevel := "warn"
			if withOverride {
				wantLevel = "error"
			}
			if c.Log.Level != wantLevel {
				t.Errorf("log.level = %q, want %q", c.Log.Level, wantLevel)
			}
			mustContain(t, "warnings", strings.Join(c.Warnings, "\n"), "UNSET_KEY", "UNSET_FORMAT", "UNSET_COMMAND", "UNSET_TOKEN")
		})
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
listen: 127.0.0.1:9191
upstream:
  base_url: http://127.0.0.1:8080/v1
  api_key: sk-file
tools:
  max_rounds: 4
  call_timeout: 30s
`)
	t.Setenv("MCP_BRIDGE_LISTEN", "127.0.0.1:9292")
	t.Setenv("MCP_BRIDGE_TOOLS_MAX_ROUNDS", "12")
	t.Setenv("MCP_BRIDGE_UPSTREAM_API_KEY", "sk-override")
	t.Setenv("MCP_BRIDGE_TOOLS_CALL_TIMEOUT", "2m")
	t.Setenv("MCP_BRIDGE_AUTH_DISABLED", "true")
	c := mustLoad(t, path, os.Getenv)
	if c.Listen != "127.0.0.1:9292" {
		t.Errorf("listen = %q, want the override 127.0.0.1:9292", c.Listen)
	}
	if c.Tools.MaxRounds != 12 {
		t.Errorf("tools.max_rounds = %d, want the override 12", c.Tools.MaxRounds)
	}
	if c.Upstream.APIKey != "sk-override" {
		t.Errorf("upstream.api_key = %q, want the override", c.Upstream.APIKey)
	}
	if time.Duration(c.Tools.CallTimeout) != 2*time.Minute {
		t.Errorf("tools.call_timeout = %s, want the override 2m", time.Duration(c.Tools.CallTimeout))
	}
	if !c.Auth.Disabled {
		t.Error("auth.disabled = false, want the override true")
	}
	if c.Upstream.BaseURL != "http://127.0.0.1:8080/v1" {
		t.Errorf("upstream.base_url = %q, want the file's value", c.Upstream.BaseURL)
	}

	// Overrides apply without a file too.
	t.Chdir(t.TempDir())
	c = mustLoad(t, "", os.Getenv)
	if c.File != "" || c.Listen != "127.0.0.1:9292" || c.Tools.MaxRounds != 12 {
		t.Errorf("without a file: file %q, listen %q, max_rounds %d; want none, 127.0.0.1:9292, 12", c.File, c.Listen, c.Tools.MaxRounds)
	}
}

func TestConfigBadOverride(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", "tools:\n  max_rounds: 4\n")
	for _, tc := range []struct{ name, value, want string }{
		{"MCP_BRIDGE_TOOLS_MAX_ROUNDS", "abc", "integer"},
		{"MCP_BRIDGE_TOOLS_CALL_TIMEOUT", "soon", "duration"},
		{"MCP_BRIDGE_AUTH_DISABLED", "maybe", "true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			msg := loadErr(t, path, os.Getenv)
			mustContain(t, "error", msg, tc.name, tc.value, tc.want)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./mcp-bridge.yaml

	c := mustLoad(t, "", noEnv)
	if c.File != "" {
		t.Errorf("file = %q, want none", c.File)
	}
	if c.Upstream.BaseURL != defaultUpstream || c.Upstream.APIKey != "" {
		t.Errorf("upstream = %q key %q, want %q and no key", c.Upstream.BaseURL, c.Upstream.APIKey, defaultUpstream)
	}
	if c.Listen != "127.0.0.1:9090" || c.Tools.Display != "status" || c.Log.Level != "info" || len(c.Servers) != 0 {
		t.Errorf("defaults: listen %q, display %q, log level %q, %d servers", c.Listen, c.Tools.Display, c.Log.Level, len(c.Servers))
	}
	if err := c.CheckExposure(); err != nil {
		t.Errorf("CheckExposure of the defaults: %v", err)
	}
	if len(c.Warnings) != 1 {
		t.Fatalf("warnings = %q, want one saying there is no config file", c.Warnings)
	}
	mustContain(t, "warning", c.Warnings[0], "no config file", "defaults")

	c = mustLoad(t, "", getenvFrom(map[string]string{
		"OPENAI_BASE_URL": "https://api.openai.com/v1",
		"OPENAI_API_KEY":  "sk-openai",
	}))
	if c.Upstream.BaseURL != "https://api.openai.com/v1" || c.Upstream.APIKey != "sk-openai" {
		t.Errorf("upstream = %q key %q, want OPENAI_BASE_URL and OPENAI_API_KEY", c.Upstream.BaseURL, c.Upstream.APIKey)
	}

	// The file's values win over OPENAI_*; they only fill what it leaves out.
	path := writeFile(t, t.TempDir(), "bridge.yaml", "upstream:\n  base_url: http://127.0.0.1:8000/v1\n")
	c = mustLoad(t, path, getenvFrom(map[string]string{
		"OPENAI_BASE_URL": "https://api.openai.com/v1",
		"OPENAI_API_KEY":  "sk-openai",
	}))
	if c.Upstream.BaseURL != "http://127.0.0.1:8000/v1" || c.Upstream.APIKey != "sk-openai" {
		t.Errorf("upstream = %q key %q, want the file's URL and OPENAI_API_KEY", c.Upstream.BaseURL, c.Upstream.APIKey)
	}
}

func TestConfigDiscovery(t *testing.T) {
	cwd := t.TempDir()
	writeFile(t, cwd, "mcp-bridge.yaml", "listen: 127.0.0.1:9001\n")
	other := writeFile(t, t.TempDir(), "other.yaml", "listen: 127.0.0.1:9002\n")
	third := writeFile(t, t.TempDir(), "third.json", `{"listen": "127.0.0.1:9003"}`)
	t.Chdir(cwd)

	c := mustLoad(t, "", noEnv)
	if c.File != filepath.Join(cwd, "mcp-bridge.yaml") || c.Listen != "127.0.0.1:9001" {
		t.Errorf("in a directory with mcp-bridge.yaml: file %q, listen %q", c.File, c.Listen)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", c.Warnings)
	}

	viaEnv := getenvFrom(map[string]string{"MCP_BRIDGE_CONFIG": other})
	c = mustLoad(t, "", viaEnv)
	if c.File != other || c.Listen != "127.0.0.1:9002" {
		t.Errorf("MCP_BRIDGE_CONFIG: file %q, listen %q; want %s", c.File, c.Listen, other)
	}

	c = mustLoad(t, third, viaEnv)
	if c.File != third || c.Listen != "127.0.0.1:9003" {
		t.Errorf("-c over MCP_BRIDGE_CONFIG: file %q, listen %q; want %s", c.File, c.Listen, third)
	}

	// A file that was asked for must exist: no falling back to defaults.
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	mustContain(t, "error", loadErr(t, missing, noEnv), missing)
	mustContain(t, "error", loadErr(t, "", getenvFrom(map[string]string{"MCP_BRIDGE_CONFIG": missing})), missing)
}

func TestConfigDiscoveryIgnoresOtherFormats(t *testing.T) {
	// Only mcp-bridge.yaml, .yml and .json are config files; a dotenv or
	// TOML file of the same name (say, for docker compose) is not.
	cwd := t.TempDir()
	writeFile(t, cwd, "mcp-bridge.env", "OPENAI_API_KEY=sk-x\n")
	writeFile(t, cwd, "mcp-bridge.toml", "listen = \"127.0.0.1:9005\"\n")
	t.Chdir(cwd)
	c := mustLoad(t, "", noEnv)
	if c.File != "" {
		t.Errorf("file = %q, want none", c.File)
	}

	writeFile(t, cwd, "mcp-bridge.yml", "listen: 127.0.0.1:9006\n")
	c = mustLoad(t, "", noEnv)
	if filepath.Base(c.File) != "mcp-bridge.yml" || c.Listen != "127.0.0.1:9006" {
		t.Errorf("with mcp-bridge.yml: file %q, listen %q", c.File, c.Listen)
	}

	// mcp-bridge.yaml is the documented name: it wins over the others.
	writeFile(t, cwd, "mcp-bridge.json", `{"listen": "127.0.0.1:9007"}`)
	writeFile(t, cwd, "mcp-bridge.yaml", "listen: 127.0.0.1:9008\n")
	c = mustLoad(t, "", noEnv)
	if filepath.Base(c.File) != "mcp-bridge.yaml" || c.Listen != "127.0.0.1:9008" {
		t.Errorf("with mcp-bridge.yaml: file %q, listen %q", c.File, c.Listen)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		content string
		want    []string
	}{
		{
			name: "unknown top-level key",
			file: "bridge.yaml",
			content: `mcpServers:
  a:
    command: mcp-a
# settings

lisen: 127.0.0.1:9090
`,
			want: []string{"line 6", `unknown key "lisen"`},
		},
		{
			name: "unknown nested key",
			file: "bridge.yaml",
			content: `tools:
  max_round: 3
`,
			want: []string{"line 2", `unknown key "tools.max_round"`},
		},
		{
			name: "wrong type",
			file: "bridge.yaml",
			content: `mcpServers:
  a: {command: mcp-a}
tools:
  max_rounds: "abc"
`,
			want: []string{"line 4", "expected an integer", `"abc"`},
		},
		{
			name:    "wrong type in JSON",
			file:    "bridge.json",
			content: "{\n  \"tools\": {\n    \"max_rounds\": \"abc\"\n  }\n}\n",
			want:    []string{"line 3", "expected an integer", `"abc"`},
		},
		{
			name: "several errors",
			file: "bridge.yaml",
			content: `tools:
  max_rounds: abc
  call_timeout: soon
`,
			want: []string{`line 2: tools.max_rounds: expected an integer, got "abc"`, "\n", `line 3: tools.call_timeout: expected a duration`},
		},
		{
			name:    "a list expected",
			file:    "bridge.yaml",
			content: "auth:\n  api_keys: just-one\n",
			want:    []string{"line 2", "expected a list", "just-one"},
		},
		{
			name: "bad duration",
			file: "bridge.yaml",
			content: `mcpServers:
  a: {command: mcp-a}

tools:
  call_timeout: soon
`,
			want: []string{"line 5", "expected a duration", `"soon"`},
		},
		{
			name:    "bad server duration",
			file:    "bridge.yaml",
			content: "mcpServers:\n  slow:\n    command: mcp-slow\n    timeout: forever\n",
			want:    []string{"mcpServers.slow", "expected a duration", `"forever"`},
		},
		{
			name:    "bad display",
			file:    "bridge.yaml",
			content: "tools:\n  display: loud\n",
			want:    []string{"tools.display", "none, status or details", `"loud"`},
		},
		{
			name:    "bad exposure",
			file:    "bridge.yaml",
			content: "listen: 127.0.0.1:9090\ntools:\n  exposure: some\n",
			want:    []string{"line 3", "tools.exposure", "all, search or auto", `"some"`},
		},
		{
			name:    "bad search threshold and always glob",
			file:    "bridge.yaml",
			content: "tools:\n  search_threshold: -1\n  always: [\"fs__read_*\", \"[\"]\n",
			want:    []string{"line 2: tools.search_threshold: expected a positive integer", "line 3", "tools.always[1]", `"["`},
		},
		{
			name:    "bad upstream URL",
			file:    "bridge.yaml",
			content: "upstream:\n  base_url: 127.0.0.1:11434\n",
			want:    []string{"upstream.base_url", "http://", "127.0.0.1:11434"},
		},
		{
			name:    "bad listen",
			file:    "bridge.yaml",
			content: "listen: 9090\n",
			want:    []string{"listen", "host:port", "9090"},
		},
		{
			name:    "server with neither command nor url",
			file:    "bridge.yaml",
			content: "mcpServers:\n  a: {command: mcp-a}\n  Empty:\n    args: [x]\n",
			want:    []string{"line 3", "mcpServers.Empty", "command", "url"},
		},
		{
			name:    "server protocol unknown",
			file:    "bridge.yaml",
			content: "mcpServers:\n  a: {command: mcp-a}\n  b:\n    command: mcp-b\n    protocol: 2027-01-01\n",
			want:    []string{"line 3", "mcpServers.b", `protocol "2027-01-01"`, "auto, 2025-11-25, 2026-07-28"},
		},
		{
			name:    "server defined twice",
			file:    "bridge.json",
			content: "{\"mcpServers\": {\n  \"a\": {\"command\": \"mcp-a\"},\n  \"a\": {\"command\": \"mcp-b\"}\n}}\n",
			want:    []string{"line 3", "mcpServers.a", "already defined at line 2"},
		},
		{
			name:    "top-level key defined twice",
			file:    "bridge.yaml",
			content: "listen: 127.0.0.1:9001\nlisten: 127.0.0.1:9002\n",
			want:    []string{"line 2", `"listen"`, "already defined at line 1"},
		},
		{
			name:    "server that is not a mapping",
			file:    "bridge.json",
			content: `{"mcpServers": {"s": "mcp-s"}}`,
			want:    []string{"mcpServers.s", "expected a mapping"},
		},
		{
			name:    "invalid YAML",
			file:    "bridge.yaml",
			content: "listen: 127.0.0.1:9090\nupstream:\n  base_url: [http://x\n",
			want:    []string{"line"},
		},
		{
			name:    "invalid JSON",
			file:    "bridge.json",
			content: "{\n  \"listen\": \"127.0.0.1:9090\"\n",
			want:    []string{"line"},
		},
		{
			name:    "not a mapping",
			file:    "bridge.yaml",
			content: "- listen\n",
			want:    []string{"line 1", "expected a mapping"},
		},
		{
			name:    "unsupported format",
			file:    "bridge.toml",
			content: "listen = \"127.0.0.1:9090\"\n",
			want:    []string{"YAML", "JSON"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), tc.file, tc.content)
			msg := loadErr(t, path, noEnv)
			mustContain(t, "error", msg, append([]string{path}, tc.want...)...)
			if strings.Contains(msg, "main.") || strings.Contains(msg, "!!") {
				t.Errorf("error = %q, want it free of Go and YAML internals", msg)
			}
		})
	}
}

func TestConfigServerExtrasAreWarnings(t *testing.T) {
	// Files written for Claude Desktop and others carry keys the bridge
	// does not read.
	path := writeFile(t, t.TempDir(), "claude.json", `{
  "mcpServers": {
    "memory": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-memory"],
      "alwaysAllow": ["read_graph"],
      "autoApprove": [],
      "description": "knowledge graph"
    }
  }
}`)
	c := mustLoad(t, path, noEnv)
	if s := server(t, c, "memory"); s.Command != "npx" || len(s.Args) != 2 {
		t.Errorf("memory = %+v", s)
	}
	warnings := strings.Join(c.Warnings, "\n")
	mustContain(t, "warnings", warnings, "mcpServers.memory", `"alwaysAllow"`, `"autoApprove"`, `"description"`)
}

func TestConfigServerAliases(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
mcpServers:
  windsurf:
    serverUrl: https://mcp.example.com/sse
  legacy:
    url: https://mcp.example.com/events
    transport: sse
  explicit:
    url: https://mcp.example.com/mcp
    serverUrl: https://ignored.example.com/mcp
    type: http
    transport: sse
`)
	c := mustLoad(t, path, noEnv)
	tests := []struct{ name, url, transport string }{
		{"windsurf", "https://mcp.example.com/sse", mcpclient.TransportSSE},
		{"legacy", "https://mcp.example.com/events", mcpclient.TransportSSE},
		{"explicit", "https://mcp.example.com/mcp", mcpclient.TransportHTTP}, // url and type win over the aliases
	}
	for _, tc := range tests {
		s := server(t, c, tc.name)
		if s.URL != tc.url || s.TransportType() != tc.transport {
			t.Errorf("%s: url %q transport %q, want %q %q", tc.name, s.URL, s.TransportType(), tc.url, tc.transport)
		}
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", c.Warnings)
	}
}

func TestConfigEmptyFile(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", "# nothing yet\n")
	c := mustLoad(t, path, noEnv)
	if c.File != path || c.Listen != "127.0.0.1:9090" || c.Upstream.BaseURL != defaultUpstream {
		t.Errorf("empty file: %+v", c)
	}
	mustContain(t, "warnings", strings.Join(c.Warnings, "\n"), path, "empty")
}

func TestExamplesLoad(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "..", "examples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join("..", "..", "..", "examples", "claude-desktop.json"))
	if len(paths) < 3 {
		t.Fatalf("examples: %q, want the YAML examples and claude-desktop.json", paths)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c := mustLoad(t, path, getenvFrom(map[string]string{"OPENAI_API_KEY": "sk-test", "GEMINI_API_KEY": "gm-test", "REMOTE_TOKEN": "rt-test", "MCP_BRIDGE_KEY": "example-key-0123456789abcdef"}))
			if len(c.Servers) == 0 {
				t.Error("no servers")
			}
			if len(c.Warnings) != 0 {
				t.Errorf("warnings = %q, want none", c.Warnings)
			}
			if err := c.CheckExposure(); err != nil {
				t.Errorf("CheckExposure: %v", err)
			}
		})
	}

	// The Claude Desktop file, in detail.
	c := mustLoad(t, filepath.Join("..", "..", "..", "examples", "claude-desktop.json"), noEnv)
	fs := server(t, c, "filesystem")
	if fs.Command != "npx" || fs.TransportType() != mcpclient.TransportStdio {
		t.Errorf("filesystem = %+v", fs)
	}
	remote := server(t, c, "remote")
	if !remote.Disabled || remote.Headers["Authorization"] != "Bearer " || remote.TransportType() != mcpclient.TransportHTTP {
		t.Errorf("remote = %+v", remote)
	}
	mustContain(t, "warnings", strings.Join(c.Warnings, "\n"), "REMOTE_TOKEN")
}

func TestCheckExposure(t *testing.T) {
	tests := []struct {
		listen   string
		keys     []string
		disabled bool
		refused  bool
	}{
		{listen: "127.0.0.1:9090"},
		{listen: "localhost:9090"},
		{listen: "[::1]:9090"},
		{listen: "0.0.0.0:9090", refused: true},
		{listen: ":9090", refused: true},
		{listen: "[::]:9090", refused: true},
		{listen: "192.168.1.10:9090", refused: true},
		{listen: "0.0.0.0:9090", keys: []string{"0123456789abcdef"}},
		{listen: "0.0.0.0:9090", keys: []string{"0123456789abcdef", "k"}, refused: true},
		{listen: "127.0.0.1:9090", keys: []string{"k"}},
		{listen: "0.0.0.0:9090", disabled: true},
	}
	for _, tc := range tests {
		c := &Config{Listen: tc.listen, Auth: Auth{APIKeys: tc.keys, Disabled: tc.disabled}}
		err := c.CheckExposure()
		if (err != nil) != tc.refused {
			t.Errorf("listen %s keys %q disabled %v: CheckExposure() = %v, want refused=%v", tc.listen, tc.keys, tc.disabled, err, tc.refused)
			continue
		}
		switch {
		case err != nil && len(tc.keys) > 0:
			mustContain(t, "error", err.Error(), tc.listen, "api_keys[1] of 1 characters", "at least 16")
		case err != nil:
			mustContain(t, "error", err.Error(), tc.listen, "api_keys", "disabled: true")
		}
	}
}

func TestConfigOpenAPIServers(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bridge.yaml", `
mcpServers:
  fs: {command: mcp-fs}
openapi:
  cors_origins: [https://webui.example.com]
openapiServers:
  PetStore:
    spec: https://api.example.com/openapi.json
    base_url: https://api.example.com/v2
    headers: {Authorization: "Bearer ${PET_TOKEN}", X-Org: acme}
    operations: {allow: ["get*", "listPets"], deny: [deletePet], exclude: [x]}
    timeout: 20s
    prefix: pets
    colour: blue
  local:
    spec: ./specs/local.yaml
    prefix: ""
    disabled: true
`)
	c := mustLoad(t, path, getenvFrom(map[string]string{"PET_TOKEN": "tok-secret"}))
	if len(c.OpenAPIServers) != 2 {
		t.Fatalf("openapi servers %+v", c.OpenAPIServers)
	}
	pets, local := c.OpenAPIServers[0], c.OpenAPIServers[1]
	if pets.Name != "PetStore" || pets.Spec != "https://api.example.com/openapi.json" || pets.BaseURL != "https://api.example.com/v2" ||
		pets.Headers["Authorization"] != "Bearer tok-secret" || pets.Headers["X-Org"] != "acme" ||
		!reflect.DeepEqual(pets.Allow, []string{"get*", "listPets"}) || !reflect.DeepEqual(pets.Deny, []string{"deletePet"}) ||
		pets.Timeout != 20*time.Second || pets.Prefix == nil || *pets.Prefix != "pets" || pets.Disabled {
		t.Errorf("PetStore = %+v", pets)
	}
	if local.Name != "local" || local.Prefix == nil || *local.Prefix != "" || !local.Disabled {
		t.Errorf("local = %+v", local)
	}
	if len(c.Servers) != 1 {
		t.Errorf("mcp servers %+v", c.Servers)
	}
	if !reflect.DeepEqual(c.CORS.AllowedOrigins, []string{"https://webui.example.com"}) {
		t.Errorf("cors origins %v", c.CORS.AllowedOrigins)
	}
	mustContain(t, "warnings", strings.Join(c.Warnings, "\n"), `openapiServers.PetStore: unknown key "colour" ignored`,
		`openapiServers.PetStore: unknown key "operations.exclude" ignored`)
	found := false
	for _, s := range c.Secrets() {
		found = found || s == "Bearer tok-secret"
	}
	if !found {
		t.Error("the spec's headers are not among the secrets")
	}
}

func TestConfigOpenAPIServerErrors(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"name in both lists", "mcpServers:\n  api: {command: x}\nopenapiServers:\n  api: {spec: s.yaml}\n",
			[]string{"line 4", "openapiServers.api", "the name is already used by mcpServers.api at line 2"}},
		{"name in both lists, openapi first", "openapiServers:\n  api: {spec: s.yaml}\nmcpServers:\n  api: {command: x}\n",
			[]string{"line 2", "openapiServers.api", "the name is already used by mcpServers.api at line 4"}},
		{"no spec", "openapiServers:\n  api: {base_url: http://x}\n", []string{"line 2", "openapiServers.api", "spec (a file path or an http(s) URL) is required"}},
		{"bad base_url", "openapiServers:\n  api: {spec: s.yaml, base_url: ftp://x}\n", []string{"openapiServers.api", "base_url must be an absolute http or https URL"}},
		{"bad glob", "openapiServers:\n  api: {spec: s.yaml, operations: {deny: ['[']}}\n", []string{"openapiServers.api", "invalid operation glob"}},
		{"not a mapping", "openapiServers: [a]\n", []string{"line 1", "openapiServers: expected a mapping"}},
		{"entry not a mapping", "openapiServers:\n  api: s.yaml\n", []string{"line 2", "expected a mapping with spec"}},
		{"wrong type", "openapiServers:\n  api: {spec: s.yaml, timeout: soon}\n", []string{"openapiServers.api", "expected a duration"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "bridge.yaml", tc.content)
			msg := loadErr(t, path, noEnv)
			mustContain(t, "error", msg, append([]string{path}, tc.want...)...)
		})
	}
}

// TestMCPSettings checks the settings of the MCP face and of what servers
// are offered: origins, sampling model, roots, exposed resources.
func TestMCPSettings(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "mcp-bridge.yaml", `
mcp:
  allowed_origins: ["https://app.example"]
sampling:
  model: qwen3:8b
roots: ["/srv/data", "https://example.com/repo"]
mcpServers:
  docs:
    command: docs-server
    expose_resources: true
`)
	c, err := Load(path, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.CORS.AllowedOrigins, []string{"https://app.example"}) || c.Sampling.Model != "qwen3:8b" || !c.Servers[0].ExposeResources {
		t.Errorf("config %+v", c)
	}
	if !reflect.DeepEqual(c.Roots, []string{"/srv/data", "https://example.com/repo"}) {
		t.Errorf("roots %q", c.Roots)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "mcp.allowed_origins is now cors.allowed_origins") {
		t.Errorf("warnings %v", c.Warnings)
	}
	t.Setenv("MCP_BRIDGE_SAMPLING_MODEL", "llama3")
	if c, err := Load(path, os.Getenv); err != nil || c.Sampling.Model != "llama3" {
		t.Errorf("override: %v %v", c.Sampling.Model, err)
	}
}

// TestServerEnvKeys checks the keys that widen a stdio server's
// environment.
func TestServerEnvKeys(t *testing.T) {
	path := writeFile(t, t.TempDir(), "mcp-bridge.yaml", `
mcpServers:
  narrow:
    command: a
    env_passthrough: [GITHUB_TOKEN, "NODE_*"]
  wide:
    command: b
    inherit_env: true
`)
	c, err := Load(path, os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings %v", c.Warnings)
	}
	if n, w := c.Servers[0], c.Servers[1]; !slices.Equal(n.EnvPassthrough, []string{"GITHUB_TOKEN", "NODE_*"}) || n.InheritEnv || !w.InheritEnv {
		t.Errorf("servers %+v %+v", n, w)
	}
	bad := writeFile(t, t.TempDir(), "mcp-bridge.yaml", "mcpServers:\n  s:\n    command: a\n    env_passthrough: [\"[\"]\n")
	if _, err := Load(bad, os.Getenv); err == nil || !strings.Contains(err.Error(), "env_passthrough") {
		t.Errorf("a malformed glob: %v", err)
	}
}

// TestMaxFrameBytes checks limits.max_frame_bytes, in the file and from the
// environment.
func TestMaxFrameBytes(t *testing.T) {
	path := writeFile(t, t.TempDir(), "mcp-bridge.yaml", "limits:\n  max_frame_bytes: 1048576\n")
	c, err := Load(path, os.Getenv)
	if err != nil || c.Limits.MaxFrameBytes != 1<<20 {
		t.Fatalf("file: %v, %+v", err, c)
	}
	t.Setenv("MCP_BRIDGE_LIMITS_MAX_FRAME_BYTES", "2097152")
	if c, err := Load(path, os.Getenv); err != nil || c.Limits.MaxFrameBytes != 2<<20 {
		t.Fatalf("override: %v, %+v", err, c)
	}
}

// TestSettings checks the settings --help lists: every overridable key,
// with its variable and default.
func TestSettings(t *testing.T) {
	s := Settings()
	if len(s) != len(scalars) {
		t.Fatalf("%d settings, want %d", len(s), len(scalars))
	}
	want := Setting{Key: "tools.max_rounds", Env: "MCP_BRIDGE_TOOLS_MAX_ROUNDS", Default: "8"}
	if !slices.Contains(s, want) {
		t.Errorf("settings %+v lack %+v", s, want)
	}
}
