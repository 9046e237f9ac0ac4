package e2e

// The examples run as their headers say: every configuration in examples/
// through `mcp-bridge check`, and every client snippet against a bridge
// started from an example configuration, with a scripted upstream in place
// of the LLM.
//
// How the examples are adapted, and nothing else:
//   - The upstream: MCP_BRIDGE_UPSTREAM_BASE_URL points every configuration
//     at the scripted upstream, as a user may point it at theirs.
//   - npx: the configurations start their servers with
//     `npx -y @modelcontextprotocol/server-...`. A stand-in npx first on the
//     PATH (writeNPX) runs those packages from e2e/node_modules instead of
//     fetching them, so the test needs no network and runs the versions
//     e2e/package.json pins. A package not installed there fails the check.
//   - Directories: the servers of the examples serve /tmp, which exists
//     everywhere the tests run. A configuration whose server needs a
//     directory that may not exist is to be listed in exampleDirs, which
//     replaces that argument with a temporary directory.
//   - Several upstreams: the base URLs of a configuration's upstreams list,
//     listed in exampleUpstreams, are replaced by the scripted upstream's.
//   - Keys and the listen address come from the environment the examples
//     name (MCP_BRIDGE_KEY, OPENAI_API_KEY, GEMINI_API_KEY, MCP_BRIDGE_LISTEN).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// exampleKey is the API key the examples that need one are run with: 16
// characters or more, as listening beyond loopback requires.
const exampleKey = "example-key-0123456789abcdef"

// exampleDirs maps a configuration's file name to the directory arguments
// of its servers that are replaced by a temporary directory (see the top of
// this file). Empty while every example serves /tmp.
var exampleDirs = map[string][]string{}

// exampleUpstreams maps a configuration's file name to the base URLs of its
// upstreams list, replaced by the scripted upstream's (see the top of this
// file).
var exampleUpstreams = map[string][]string{
	"upstreams.yaml": {"http://127.0.0.1:11434/v1", "http://127.0.0.1:8080/v1", "https://api.openai.com/v1",
		"https://generativelanguage.googleapis.com/v1beta/openai"},
}

// needTool reports a missing prerequisite with the command that installs
// it: a failure in CI, a skip elsewhere.
func needTool(t *testing.T, what string, err error, fix string) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s: %v", what, err)
	}
	t.Skipf("%s: %v (run: %s)", what, err, fix)
}

// writeNPX writes the stand-in npx described at the top of this file into a
// new directory and returns that directory, to be put first on the PATH.
func writeNPX(t *testing.T) string {
	t.Helper()
	modules, err := filepath.Abs("node_modules")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := `#!/bin/sh
# npx for the tests of the examples: runs an npm MCP server installed in
# e2e/node_modules instead of fetching it.
while [ "$1" = "-y" ] || [ "$1" = "--yes" ]; do shift; done
case "$1" in
  @*/*@*) pkg=${1%@*} ;;  # @scope/name@version
  *) pkg=$1 ;;
esac
shift
if [ ! -f "` + modules + `/$pkg/dist/index.js" ]; then
  echo "npx stand-in: $pkg is not in e2e/node_modules (add it to e2e/package.json)" >&2
  exit 127
fi
exec node "` + modules + `/$pkg/dist/index.js" "$@"
`
	if err := os.WriteFile(filepath.Join(dir, "npx"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// exampleEnv is the environment the examples run in: the stand-in npx
// first on the PATH, the upstream, and the keys they name.
func exampleEnv(t *testing.T, upstream string) []string {
	t.Helper()
	return append(os.Environ(),
		"PATH="+writeNPX(t)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"MCP_BRIDGE_UPSTREAM_BASE_URL="+upstream,
		"MCP_BRIDGE_KEY="+exampleKey,
		"OPENAI_API_KEY=sk-example-test-key",
		"GEMINI_API_KEY=example-gemini-test-key",
		"REMOTE_TOKEN=example-remote-token",
		"MCP_BRIDGE_CONFIG=", // only the -c of each run
	)
}

// exampleConfigs lists the configurations in examples/: every .yaml and
// .json file but npm's.
func exampleConfigs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"../examples/*.yaml", "../examples/*.yml", "../examples/*.json"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if b := filepath.Base(f); b != "package.json" && b != "package-lock.json" {
				files = append(files, f)
			}
		}
	}
	slices.Sort(files)
	return files
}

// adaptDirs copies a configuration into a temporary directory with the
// directories listed in exampleDirs replaced, and the base URLs listed in
// exampleUpstreams replaced by upstream, or returns its path from the
// repository's root.
func adaptDirs(t *testing.T, file, upstream string) string {
	t.Helper()
	dirs, urls := exampleDirs[filepath.Base(file)], exampleUpstreams[filepath.Base(file)]
	if len(dirs) == 0 && len(urls) == 0 {
		return filepath.Join("examples", filepath.Base(file)) // from the root
	}
	body, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, d := range dirs {
		if !strings.Contains(text, d) {
			t.Fatalf("%s no longer mentions %s: update exampleDirs", file, d)
		}
		text = strings.ReplaceAll(text, d, t.TempDir())
	}
	for _, u := range urls {
		if !strings.Contains(text, u) {
			t.Fatalf("%s no longer mentions %s: update exampleUpstreams", file, u)
		}
		text = strings.ReplaceAll(text, u, upstream)
	}
	out := filepath.Join(t.TempDir(), filepath.Base(file))
	if err := os.WriteFile(out, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExampleConfigsCheck runs `mcp-bridge check` on every configuration in
// examples/: it must load, reach the (scripted) upstream and get every
// enabled server ready.
func TestExampleConfigsCheck(t *testing.T) {
	needNode(t, npmServer("server-everything"), npmServer("server-filesystem"))
	files := exampleConfigs(t)
	for _, want := range []string{"quickstart.yaml", "ollama.yaml", "openai.yaml", "lmstudio.yaml", "open-webui.yaml", "claude-desktop.json", "upstreams.yaml"} {
		if !slices.Contains(files, filepath.Join("../examples", want)) {
			t.Errorf("examples/%s is gone: update this test and README", want)
		}
	}
	bin := buildBinary(t)
	up := llmtest.NewServer(t)
	up.SetModels("llama3.1")
	env := exampleEnv(t, up.URL)

	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-c", adaptDirs(t, file, up.URL), "check")
			cmd.Env = env
			cmd.Dir = ".." // the repository's root, where the headers' commands run
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("check: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			out := stdout.String()
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if lines[len(lines)-1] != "ok" || !strings.Contains(out, "ok, 1 models") {
				t.Errorf("check output:\n%s", out)
			}
			if strings.Contains(out, "warning:") {
				t.Errorf("check warns about an example:\n%s", out)
			}
			// Every server line (after the header) is ready or disabled,
			// and at least one is ready.
			ready := 0
			inTable := false
			for _, l := range lines[:len(lines)-1] {
				if strings.HasPrefix(l, "SERVER") {
					inTable = true
					continue
				}
				if !inTable {
					continue
				}
				f := strings.Fields(l)
				if len(f) < 4 || (f[2] != "ready" && f[2] != "disabled") {
					t.Errorf("server line %q", l)
				}
				if len(f) >= 4 && f[2] == "ready" {
					ready++
					if f[3] == "0" {
						t.Errorf("server with no tools: %q", l)
					}
				}
			}
			if ready == 0 {
				t.Errorf("no server ready:\n%s", out)
			}
		})
	}
}

// startExample runs `mcp-bridge serve -c file` in env, listening on a free
// loopback port, and waits until every server is ready.
func startExample(t *testing.T, bin, file string, env []string) *bridge {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "-c", file)
	cmd.Dir = ".."
	cmd.Env = append(slices.Clone(env), "MCP_BRIDGE_LISTEN="+addr)
	return launchBridge(t, cmd, "http://"+addr, exampleKey)
}

// exampleClient is a client snippet of examples/ and how to run it.
type exampleClient struct {
	name string
	// cmd returns the command that runs the snippet with prompt ("": none).
	cmd func(t *testing.T, prompt string) *exec.Cmd
}

// promptArgs is a snippet's arguments: the prompt, or none when it is empty
// (the snippet's default).
func promptArgs(prompt string) []string {
	if prompt == "" {
		return nil
	}
	return []string{prompt}
}

// exampleClients are the snippets, each run the way its header says.
func exampleClients(t *testing.T) []exampleClient {
	t.Helper()
	return []exampleClient{
		{"node-sdk.mjs", func(t *testing.T, prompt string) *exec.Cmd {
			needNode(t, "node_modules/openai/package.json")
			// examples/ has its own package.json (npm ci --prefix examples);
			// so that the test installs nothing, the snippet runs from a
			// copy beside e2e's node_modules, which pin the same openai
			// (TestExamplePackagePinsE2EOpenAI).
			dir := t.TempDir()
			src, err := os.ReadFile("../examples/node-sdk.mjs")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "node-sdk.mjs"), src, 0o644); err != nil {
				t.Fatal(err)
			}
			modules, _ := filepath.Abs("node_modules")
			if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
				t.Fatal(err)
			}
			return exec.Command("node", append([]string{filepath.Join(dir, "node-sdk.mjs")}, promptArgs(prompt)...)...)
		}},
		{"go-client", func(t *testing.T, prompt string) *exec.Cmd {
			bin := filepath.Join(t.TempDir(), "go-client")
			if out, err := exec.Command("go", "build", "-o", bin, "../examples/go-client").CombinedOutput(); err != nil {
				t.Fatalf("go build ./examples/go-client: %v\n%s", err, out)
			}
			return exec.Command(bin, promptArgs(prompt)...)
		}},
		{"curl.sh", func(t *testing.T, prompt string) *exec.Cmd {
			_, err := exec.LookPath("curl")
			needTool(t, "curl", err, "apt-get install -y curl")
			_, err = exec.LookPath("bash")
			needTool(t, "bash", err, "apt-get install -y bash")
			return exec.Command("bash", append([]string{"../examples/curl.sh"}, promptArgs(prompt)...)...)
		}},
	}
}

// runExampleClient runs a snippet against the bridge at url with env and
// returns its standard output.
func runExampleClient(t *testing.T, c exampleClient, url, prompt string, env ...string) string {
	t.Helper()
	cmd := c.cmd(t, prompt)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), append([]string{"MCP_BRIDGE_URL=" + url + "/v1", "MODEL=", "MCP_BRIDGE_KEY="}, env...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", c.name, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestExampleClients runs every client snippet against the bridge started
// from examples/open-webui.yaml (so the snippets must send the key they are
// given), with a scripted upstream that calls a tool and then answers with
// its result.
func TestExampleClients(t *testing.T) {
	needNode(t, npmServer("server-everything"))
	bin := buildBinary(t)
	up := llmtest.NewServer(t)
	env := exampleEnv(t, up.URL)
	b := startExample(t, bin, "examples/open-webui.yaml", env)

	const answer = "The scripted answer is"
	for _, c := range exampleClients(t) {
		t.Run(c.name, func(t *testing.T) {
			before := len(up.Requests())
			up.Add(
				llmtest.ToolCallStream(llmtest.Call{Name: "everything__get-sum", Arguments: `{"a": 2, "b": 3}`}),
				func(w http.ResponseWriter, r *http.Request, req llmtest.Request) {
					var parts []string
					for _, m := range req.ToolMessages() {
						parts = append(parts, fmt.Sprint(m["content"]))
					}
					llmtest.TextStream(answer+": ", strings.Join(parts, " | "))(w, r, req)
				})
			prompt := "What is 2 + 3? (asked by " + c.name + ")"
			out := runExampleClient(t, c, b.url, prompt, "MCP_BRIDGE_KEY="+exampleKey, "MODEL=llama3.1")

			if !strings.Contains(out, answer) || !strings.Contains(out, "The sum of 2 and 3 is 5") {
				t.Errorf("%s printed:\n%s", c.name, out)
			}
			reqs := up.Requests()[before:]
			if len(reqs) != 2 {
				t.Fatalf("upstream got %d requests, want 2 (tool call, answer)", len(reqs))
			}
			var first struct {
				Model    string `json:"model"`
				Stream   bool   `json:"stream"`
				Messages []struct {
					Content string `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(reqs[0].Body, &first); err != nil {
				t.Fatal(err)
			}
			if first.Model != "llama3.1" || !first.Stream || len(first.Messages) != 1 || first.Messages[0].Content != prompt {
				t.Errorf("first upstream request: %s", reqs[0].Body)
			}
		})
	}

	// Without the key the bridge refuses, and the snippet says so.
	t.Run("no key", func(t *testing.T) {
		for _, c := range exampleClients(t) {
			cmd := c.cmd(t, "hello")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
			cmd.Env = append(os.Environ(), "MCP_BRIDGE_URL="+b.url+"/v1", "MCP_BRIDGE_KEY=")
			out, err := cmd.CombinedOutput()
			cancel()
			if err == nil || !strings.Contains(strings.ToLower(string(out)), "401") && !strings.Contains(string(out), "unauthorized") && !strings.Contains(string(out), "invalid_api_key") {
				t.Errorf("%s without a key: %v\n%s", c.name, err, out)
			}
		}
	})
	b.stop(t)
}

// TestExampleClientsBuiltinModel runs every client snippet as the quick
// start does: the bridge from examples/quickstart.yaml, the snippets with
// their default model, the built-in mcp-bridge/tools, and no LLM: the
// upstream, scripted with no answer at all, is never asked.
func TestExampleClientsBuiltinModel(t *testing.T) {
	needNode(t, npmServer("server-everything"))
	bin := buildBinary(t)
	up := llmtest.NewServer(t)
	b := startExample(t, bin, "examples/quickstart.yaml", exampleEnv(t, up.URL))

	for _, c := range exampleClients(t) {
		t.Run(c.name, func(t *testing.T) {
			out := runExampleClient(t, c, b.url, `/everything__get-sum {"a": 2, "b": 3}`)
			if !strings.Contains(out, "The sum of 2 and 3 is 5") {
				t.Errorf("%s printed:\n%s", c.name, out)
			}
			out = runExampleClient(t, c, b.url, "")
			if !strings.Contains(out, "mcp-bridge/tools") || !strings.Contains(out, "everything__get-sum") {
				t.Errorf("%s with no prompt printed:\n%s", c.name, out)
			}
		})
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("the upstream got %d chat requests, want none", n)
	}
	b.stop(t)
}

// TestExamplePackagePinsE2EOpenAI checks that examples/package.json and its
// lock pin the openai version the end-to-end tests install, so that the
// snippet the tests run is the one `npm ci --prefix examples` installs for.
func TestExamplePackagePinsE2EOpenAI(t *testing.T) {
	version := func(file string, path ...string) string {
		t.Helper()
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, p := range path {
			m, _ := v.(map[string]any)
			v = m[p]
		}
		s, _ := v.(string)
		return s
	}
	want := version("package.json", "dependencies", "openai")
	if want == "" {
		t.Fatal("e2e/package.json has no openai")
	}
	if got := version("../examples/package.json", "dependencies", "openai"); got != want {
		t.Errorf("examples/package.json pins openai %q, e2e/package.json %q", got, want)
	}
	if got := version("../examples/package-lock.json", "packages", "node_modules/openai", "version"); got != want {
		t.Errorf("examples/package-lock.json has openai %q, e2e/package.json %q", got, want)
	}
}
