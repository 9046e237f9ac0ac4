package mcpclient_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// serverEnv starts sc with the test server's environment dump on and
// returns the environment the server saw.
func serverEnv(t *testing.T, sc mcpclient.ServerConfig) map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "env")
	sc.Env[mcptest.EnvDumpEnv] = file
	start(t, nil, sc)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

func TestStdioEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-parent-secret")
	t.Setenv("MCP_BRIDGE_KEY", "bridge-key")
	t.Setenv("NODE_EXTRA", "node")
	t.Setenv("PASS_ME", "passed")
	t.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+"/marker-dir")

	t.Run("safe set and own env only", func(t *testing.T) {
		env := serverEnv(t, mcptest.StdioServer("env", "OWN=own-value"))
		if env["OWN"] != "own-value" || !strings.HasSuffix(env["PATH"], "/marker-dir") {
			t.Errorf("the server lacks its own env or PATH: %v", env)
		}
		safe := []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
			"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "OWN", "GORACE", mcptest.EnvStdio, mcptest.EnvDumpEnv}
		for k := range env {
			if !slices.Contains(safe, k) && !strings.HasPrefix(k, "LC_") {
				t.Errorf("the server sees %s, which is neither in the safe set nor its own", k)
			}
		}
	})
	t.Run("passthrough", func(t *testing.T) {
		sc := mcptest.StdioServer("env")
		sc.EnvPassthrough = []string{"PASS_ME", "NODE_*"}
		env := serverEnv(t, sc)
		if env["PASS_ME"] != "passed" || env["NODE_EXTRA"] != "node" {
			t.Errorf("passthrough variables missing: %v", env)
		}
		if _, ok := env["OPENAI_API_KEY"]; ok {
			t.Errorf("the server sees OPENAI_API_KEY")
		}
	})
	t.Run("inherit", func(t *testing.T) {
		sc := mcptest.StdioServer("env")
		sc.InheritEnv = true
		env := serverEnv(t, sc)
		if env["OPENAI_API_KEY"] != "sk-parent-secret" || env["MCP_BRIDGE_KEY"] != "bridge-key" || env["PASS_ME"] != "passed" {
			t.Errorf("inherit_env did not pass the whole environment: %v", env)
		}
	})
}
