package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The conformance suite and the MCP Inspector need Node 22, which the
// node package in conformance/ provides.
const (
	node22         = "conformance/node_modules/.bin/node"
	conformanceCLI = "conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js"
	inspectorCLI   = "conformance/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js"
	// conformancePackage names the installed suite's version.
	conformancePackage = "conformance/node_modules/@modelcontextprotocol/conformance/package.json"
)

var (
	everythingOnce sync.Once
	everythingBin  string
	everythingErr  error
)

// everythingServer builds go-sdk's conformance server from the module
// cache, once.
func everythingServer(t *testing.T) string {
	t.Helper()
	everythingOnce.Do(func() {
		dir, err := os.MkdirTemp("", "everything-server")
		if err != nil {
			everythingErr = err
			return
		}
		everythingBin = filepath.Join(dir, "everything-server")
		out, err := exec.Command("go", "build", "-o", everythingBin, "github.com/modelcontextprotocol/go-sdk/conformance/everything-server").CombinedOutput()
		if err != nil {
			everythingErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if everythingErr != nil {
		t.Fatalf("building the go-sdk conformance server: %v", everythingErr)
	}
	return everythingBin
}

// gatewayBridge runs the bridge with go-sdk's conformance server behind it,
// unprefixed, so the bridge's /mcp looks like that server.
func gatewayBridge(t *testing.T) *bridge {
	return gatewayBridgeSpeaking(t, "auto")
}

// gatewayBridgeSpeaking is gatewayBridge with the bridge speaking protocol
// to the conformance server.
func gatewayBridgeSpeaking(t *testing.T, protocol string) *bridge {
	t.Helper()
	for _, f := range []string{node22, conformanceCLI, inspectorCLI} {
		_, err := os.Stat(f)
		need(t, f, err)
	}
	bin := buildBinary(t)
	return startBridge(t, bin, fmt.Sprintf(`listen: %s
upstream:
  base_url: http://127.0.0.1:9/v1
log:
  level: warn
mcpServers:
  everything:
    command: %q
    prefix: ""
    protocol: %s
`, freePort(t), everythingServer(t), protocol))
}

// totalRE matches the summary of a suite ("Total: 73 passed, 0 failed")
// and of one scenario ("Passed: 1/1, 0 failed").
var totalRE = regexp.MustCompile(`(?:Total: (\d+) passed|Passed: (\d+)/\d+), (\d+) failed`)

// runConformance runs the conformance CLI and returns its pass and fail
// counts.
func runConformance(t *testing.T, env []string, args ...string) (passed, failed int, out string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node22, append([]string{conformanceCLI}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	out = string(b)
	m := totalRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("conformance %v: no totals (%v):\n%s", args, err, out)
	}
	passed, _ = strconv.Atoi(m[1] + m[2])
	failed, _ = strconv.Atoi(m[3])
	if err != nil && failed == 0 {
		t.Fatalf("conformance %v: %v\n%s", args, err, out)
	}
	return passed, failed, out
}

// conformanceExpected holds, for each version of the conformance suite
// (e2e/conformance/package.json), the exact counts a run must reach: every
// check passes, and a count that moves means the suite or the bridge
// changed, which someone looks at and records here. A version without an
// entry fails the tests until its counts are added.
var conformanceExpected = map[string]struct {
	serverScenarios int            // active server scenarios
	serverChecks    int            // their checks, all passed
	clientChecks    map[string]int // checks per client scenario, all passed
}{
	"0.2.0-alpha.11": {
		serverScenarios: 31,
		serverChecks:    73,
		clientChecks:    map[string]int{"initialize": 1, "tools_call": 2, "elicitation-sep1034-client-defaults": 5, "sse-retry": 3},
	},
}

// scenariosRE matches the number of scenarios a suite run announces.
var scenariosRE = regexp.MustCompile(`\((\d+) scenarios\)`)

// conformanceVersion returns the installed conformance suite's version and
// the counts expected of it.
func conformanceVersion(t *testing.T) (string, int, int, map[string]int) {
	t.Helper()
	data, err := os.ReadFile(conformancePackage)
	need(t, conformancePackage, err)
	var pkg struct{ Version string }
	if err := json.Unmarshal(data, &pkg); err != nil || pkg.Version == "" {
		t.Fatalf("%s: no version (%v)", conformancePackage, err)
	}
	want, ok := conformanceExpected[pkg.Version]
	if !ok {
		t.Fatalf("conformance suite %s has no expected counts: run it, check what changed, and add them to conformanceExpected", pkg.Version)
	}
	return pkg.Version, want.serverScenarios, want.serverChecks, want.clientChecks
}

// TestConformanceServer runs the active server scenarios of the MCP
// conformance suite against the bridge's /mcp: every check passes, and
// there are exactly as many scenarios and checks as this version of the
// suite has.
func TestConformanceServer(t *testing.T) {
	version, wantScenarios, wantChecks, _ := conformanceVersion(t)
	b := gatewayBridge(t)
	passed, failed, out := runConformance(t, nil, "server", "--url", b.url+"/mcp")
	scenarios := -1
	if m := scenariosRE.FindStringSubmatch(out); m != nil {
		scenarios, _ = strconv.Atoi(m[1])
	}
	fmt.Printf("conformance %s server scenarios through the bridge: %d scenarios, %d passed, %d failed\n", version, scenarios, passed, failed)
	if failed > 0 || passed != wantChecks || scenarios != wantScenarios {
		t.Fatalf("%d scenarios, %d checks passed, %d failed; suite %s has %d scenarios and %d checks, all to pass:\n%s",
			scenarios, passed, failed, version, wantScenarios, wantChecks, out)
	}
}

// scenarioRE matches one scenario's line of a suite run.
var scenarioRE = regexp.MustCompile(`(?m)^[✓✗] (\S+): (\d+) passed, (\d+) failed`)

// scenarioCounts runs the server scenarios a revision requires against
// url and returns each scenario's passed and failed checks.
func scenarioCounts(t *testing.T, url, revision string) map[string][2]int {
	t.Helper()
	_, _, out := runConformance(t, nil, "server", "--url", url, "--requirements", revision)
	counts := map[string][2]int{}
	for _, m := range scenarioRE.FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(m[2])
		f, _ := strconv.Atoi(m[3])
		counts[m[1]] = [2]int{p, f}
	}
	if len(counts) == 0 {
		t.Fatalf("no scenarios in:\n%s", out)
	}
	return counts
}

// TestConformanceRevisions runs the server scenarios each revision the
// suite knows requires, against go-sdk's conformance server directly
// (streamable HTTP) and through the bridge (the same server over stdio,
// spoken to with that revision): through the bridge, no scenario fails a
// check more than it does directly, and every scenario runs.
func TestConformanceRevisions(t *testing.T) {
	conformanceVersion(t)
	for _, revision := range []string{"2025-11-25", "2026-07-28"} {
		t.Run(revision, func(t *testing.T) {
			addr := freePort(t)
			ctx, cancel := context.WithCancel(context.Background())
			direct := exec.CommandContext(ctx, everythingServer(t), "-http", addr)
			if err := direct.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cancel(); _ = direct.Wait() })
			waitListening(t, addr)
			speak := map[string]string{"2025-11-25": "auto", "2026-07-28": "2026-07-28"}[revision]
			b := gatewayBridgeSpeaking(t, speak)
			want := scenarioCounts(t, "http://"+addr+"/mcp", revision)
			got := scenarioCounts(t, b.url+"/mcp", revision)
			passedDirect, passedBridge := 0, 0
			for name, w := range want {
				g, ok := got[name]
				passedDirect += w[0]
				passedBridge += g[0]
				if !ok {
					t.Errorf("scenario %s did not run through the bridge", name)
				} else if g[1] > w[1] {
					t.Errorf("scenario %s: %d checks fail through the bridge, %d directly", name, g[1], w[1])
				}
			}
			fmt.Printf("conformance %s requirements: directly %d checks passed in %d scenarios, through the bridge %d\n",
				revision, passedDirect, len(want), passedBridge)
		})
	}
}

// waitListening waits until something accepts connections on addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConformanceClient runs the client scenarios go-sdk's own client
// passes, with the bridge as the client (conformance/bridge-client.sh).
func TestConformanceClient(t *testing.T) {
	_, err := os.Stat(conformanceCLI)
	need(t, conformanceCLI, err)
	version, _, _, want := conformanceVersion(t)
	bin := buildBinary(t)
	script, _ := filepath.Abs("conformance/bridge-client.sh")
	total := 0
	for _, scenario := range []string{"initialize", "tools_call", "elicitation-sep1034-client-defaults", "sse-retry"} {
		passed, failed, out := runConformance(t, []string{"MCP_BRIDGE_BIN=" + bin},
			"client", "--command", "bash "+script, "--scenario", scenario)
		w, ok := want[scenario]
		if failed > 0 || !ok || passed != w {
			t.Errorf("scenario %s: %d passed, %d failed; suite %s has %d checks, all to pass:\n%s", scenario, passed, failed, version, w, out)
		}
		total += passed
	}
	if len(want) != 4 {
		t.Errorf("conformanceExpected[%q] lists %d client scenarios, the test runs 4", version, len(want))
	}
	fmt.Printf("conformance %s client scenarios with the bridge as client: %d checks passed\n", version, total)
}

// TestInspectorCLI lists and calls tools through /mcp and /sse with the
// MCP Inspector's CLI.
func TestInspectorCLI(t *testing.T) {
	b := gatewayBridge(t)
	for _, c := range []struct{ path, transport string }{{"/mcp", "http"}, {"/sse", "sse"}} {
		inspect := func(args ...string) string {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			all := append([]string{inspectorCLI, "--cli", b.url + c.path, "--transport", c.transport}, args...)
			out, err := exec.CommandContext(ctx, node22, all...).CombinedOutput()
			if err != nil {
				t.Fatalf("inspector %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		if out := inspect("--method", "tools/list"); !strings.Contains(out, `"test_simple_text"`) {
			t.Errorf("%s tools/list: %s", c.path, out)
		}
		if out := inspect("--method", "tools/call", "--tool-name", "test_simple_text"); !strings.Contains(out, "This is a simple text response for testing") {
			t.Errorf("%s tools/call: %s", c.path, out)
		}
	}
}
