package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// chromiumPath is Debian's chromium; the test never downloads a browser.
const chromiumPath = "/usr/bin/chromium"

// browserHint says how to install what the browser test needs.
const browserHint = "install Chromium and the Node packages: apt-get install -y --no-install-recommends chromium && npm ci --prefix e2e"

// needBrowser checks for node, Chromium, playwright-core and
// server-everything: a failure in CI, a skip elsewhere, with browserHint
// either way.
func needBrowser(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("node")
	for _, f := range []string{chromiumPath, "node_modules/playwright-core/package.json", npmServer("server-everything")} {
		if err != nil {
			break
		}
		_, err = os.Stat(f)
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%v: %s", err, browserHint)
	}
	t.Skipf("%v: %s", err, browserHint)
}

// probe is one attempt of the page (browser/attack.mjs) on the bridge.
type probe struct {
	Name string `json:"name"`
	// Outcome is "rejected" (fetch threw), "opaque" (a no-cors answer),
	// "read" (status and body were readable); for the WebSocket "result",
	// "error" or "failed".
	Outcome  string   `json:"outcome"`
	Status   int      `json:"status"`
	Body     string   `json:"body"`
	Error    string   `json:"error"`
	Opened   bool     `json:"opened"`
	Messages []string `json:"messages"`
}

// seen is everything the page could read in a probe.
func (p probe) seen() string { return p.Body + strings.Join(p.Messages, "\n") }

// String describes p for a failure message without what the page read
// from get-env: that is a process environment, not for a test log.
func (p probe) String() string {
	seen := p.seen()
	if strings.Contains(seen, "BROWSER_TEST_MARKER") {
		seen = fmt.Sprintf("(an environment, %d bytes)", len(seen))
	} else if len(seen) > 300 {
		seen = seen[:300] + "..."
	}
	return fmt.Sprintf("{%s: outcome %s, status %d, error %q, opened %t, read %q}", p.Name, p.Outcome, p.Status, p.Error, p.Opened, seen)
}

// pageRun is what browser/drive.mjs prints for one page.
type pageRun struct {
	Origin string  `json:"origin"`
	Probes []probe `json:"probes"`
	// Network is what the browser's network saw, including the status of
	// answers that the page could not read.
	Network []struct {
		Method  string `json:"method"`
		URL     string `json:"url"`
		Status  int    `json:"status"`
		Failure string `json:"failure"`
	} `json:"network"`
	Console []string `json:"console"`
	Error   string   `json:"error"`
}

// browser is a running browser/drive.mjs and the Chromium it drives.
type browser struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *syncbuf.Buffer
	// close closes the browser and waits for the driver to exit; it may
	// be called more than once.
	close func()
}

// startBrowser launches Chromium through browser/drive.mjs with a fresh
// profile and waits until it is up. The browser is closed by t.Cleanup:
// the end of the driver's stdin closes it, and the driver's process group
// is killed if that takes too long. A test may close it sooner with
// b.close.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	b := &browser{lines: make(chan string, 4), stderr: &syncbuf.Buffer{}}
	b.cmd = exec.Command("node", "browser/drive.mjs", t.TempDir())
	b.cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	b.cmd.Stderr = b.stderr
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if b.stdin, err = b.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 16<<20)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
		_ = b.cmd.Wait()
		close(exited)
	}()
	b.close = sync.OnceFunc(func() {
		_ = b.stdin.Close()
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			t.Errorf("the browser did not close within 15 s; killing it")
			_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("browser driver stderr:\n%s", b.stderr.String())
		}
	})
	t.Cleanup(b.close)
	if line := b.next(t, 30*time.Second); line != `{"ready":true}` {
		t.Fatalf("browser driver said %q", line)
	}
	return b
}

// next returns the driver's next line of output.
func (b *browser) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case line, ok := <-b.lines:
		if !ok {
			t.Fatalf("browser driver exited: %s", b.stderr.String())
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("browser driver silent for %v: %s", timeout, b.stderr.String())
	}
	return ""
}

// visit loads page in a new tab and runs its probes on the bridge at
// bridgeURL.
func (b *browser) visit(t *testing.T, page, bridgeURL string) pageRun {
	t.Helper()
	req, _ := json.Marshal(map[string]string{"page": page, "bridge": bridgeURL})
	if _, err := b.stdin.Write(append(req, '\n')); err != nil {
		t.Fatalf("browser driver: %v", err)
	}
	var run pageRun
	line := b.next(t, 40*time.Second)
	if err := json.Unmarshal([]byte(line), &run); err != nil {
		t.Fatalf("browser driver printed %q: %v", line, err)
	}
	if run.Error != "" {
		t.Fatalf("page %s: %s\nconsole: %s", page, run.Error, strings.Join(run.Console, "\n"))
	}
	return run
}

// pageHandler serves the attacker's page: "/" is browser/attack.mjs
// behind a module script that hands runProbes to the driver. Other paths
// go to rest.
func pageHandler(t *testing.T, rest http.Handler) http.Handler {
	t.Helper()
	script, err := os.ReadFile("browser/attack.mjs")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>a page</title>
<script type="module">import { runProbes } from "/attack.mjs"; window.runProbes = runProbes;</script>`)
	})
	mux.HandleFunc("GET /attack.mjs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(script)
	})
	mux.Handle("/", rest)
	return mux
}

// serveLoopback serves h on 127.0.0.1 and returns the port: the browser
// reaches it under other names.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// front passes every request to the bridge as the browser sent it, Host
// and Origin headers included, so that to the browser the bridge is the
// page's own origin. Under an attacker's name it stands for a DNS answer
// rebound to the bridge; under a name in cors.allowed_hosts, for a reverse
// proxy in front of the bridge.
func front(t *testing.T, bridgeURL string) http.Handler {
	t.Helper()
	target, err := url.Parse(bridgeURL)
	if err != nil {
		t.Fatal(err)
	}
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
}

// toolCalls counts the tools/call requests in the stdin log that
// browser/tap.mjs keeps of an MCP server: the calls the server was asked
// to run, whatever the bridge says about them.
func toolCalls(t *testing.T, tapLog string) int {
	t.Helper()
	data, err := os.ReadFile(tapLog)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	} else if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		var msg struct {
			Method string `json:"method"`
		}
		if json.Unmarshal(line, &msg) == nil && msg.Method == "tools/call" {
			n++
		}
	}
	return n
}

// TestBrowserOriginPolicy attacks the bridge from a real browser. A page
// loaded from an origin that is neither loopback nor allowed
// (http://evil.test:PORT, mapped to 127.0.0.1 by Chromium's resolver
// rules, so that nothing leaves the machine) tries every route a page
// can reach: JSON fetches (preflighted), text/plain and no-cors fetches
// (simple requests, sent without asking), reads of /openapi.json and
// /v1/models, the MCP face's /mcp and /sse, and a WebSocket to /ws, which
// no CORS protects. The same
// page from http://rebind.test:PORT2, whose other paths lead to the bridge,
// plays DNS rebinding: to the browser the bridge is then the page's own
// origin, and only the Host check can refuse. Then the page from the
// allowed origin http://app.test:PORT, and from http://proxy.test:PORT2 (a
// reverse proxy whose name is in cors.allowed_hosts), shows that the policy
// lets a configured browser app work, and that even it cannot run anything
// with a text/plain request.
//
// Both sides are checked. The page must have read nothing. The bridge must
// have run nothing, which is counted where the bridge cannot misreport
// it: the scripted upstream counts the chat requests it receives, and
// server-everything runs behind browser/tap.mjs, which logs every message
// the bridge writes to the server's stdin, so a tools/call there is a tool
// that ran. (Blind no-cors requests give the page nothing to read either
// way; only the counts show whether they ran.)
//
// The page and the bridge are both on 127.0.0.1, so Chromium's
// local-network protections, which would block a real public site, do not
// apply here: what stops the page is the bridge alone.
func TestBrowserOriginPolicy(t *testing.T) {
	needBrowser(t)

	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	marker := "marker-" + hex.EncodeToString(rnd[:])
	const answer = "a canned answer from the upstream"

	// No scripted reply until the allowed page's turn: a chat request the
	// attacker got through is counted, and answered with a 500.
	up := llmtest.NewServer(t)
	port := serveLoopback(t, pageHandler(t, http.NotFoundHandler()))
	tapLog := filepath.Join(t.TempDir(), "everything-stdin.jsonl")
	tap, _ := filepath.Abs("browser/tap.mjs")
	allowed := "http://app.test:" + port
	b := startBridge(t, buildBinary(t), fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
cors:
  allowed_origins: [%q]
  allowed_hosts: [proxy.test]
mcpServers:
  everything:
    command: node
    args: [%q, %q, node, %q, "stdio"]
    env:
      BROWSER_TEST_MARKER: %q
`, freePort(t), up.URL, allowed, tap, tapLog, npmServer("server-everything"), marker))
	frontPort := serveLoopback(t, pageHandler(t, front(t, b.url)))
	br := startBrowser(t)

	probeNames := []string{
		"POST /tools json", "POST /tools text/plain", "POST /tools no-cors text/plain", "POST /tools no-cors json",
		"POST /v1/chat/completions json", "POST /v1/chat/completions text/plain",
		"POST /v1/chat/completions no-cors text/plain",
		"GET /openapi.json", "GET /v1/models", "GET /v1/models no-cors", "POST /mcp json", "POST /mcp no-cors text/plain",
		"EventSource /v1/events", "EventSource /sse", "ws /ws",
	}
	byName := func(t *testing.T, run pageRun, origin string) map[string]probe {
		t.Helper()
		if run.Origin != origin {
			t.Fatalf("page origin %q, want %q", run.Origin, origin)
		}
		m := map[string]probe{}
		for _, p := range run.Probes {
			m[p.Name] = p
		}
		for _, name := range probeNames {
			if _, ok := m[name]; !ok {
				t.Fatalf("no report of %q in %v", name, run.Probes)
			}
		}
		return m
	}

	t.Run("attacker origin", func(t *testing.T) {
		origin := "http://evil.test:" + port
		run := br.visit(t, origin+"/", b.url)
		for name, p := range byName(t, run, origin) {
			if strings.Contains(p.seen(), marker) {
				t.Errorf("%s: the page read the server's environment: %v", name, p)
			}
			switch {
			case name == "ws /ws" || strings.HasPrefix(name, "EventSource "):
				if p.Opened || len(p.Messages) > 0 {
					t.Errorf("%s: the stream was accepted: %v", name, p)
				}
			case p.Outcome != "rejected" && p.Outcome != "opaque":
				t.Errorf("%s: the page read the answer: %v", name, p)
			}
		}
		// The no-cors requests reached the bridge and were refused: the
		// browser saw their status, which the page could not. (So the
		// page was not stopped by the browser alone.)
		refused, noCORS := 0, 0
		for _, name := range probeNames {
			if strings.Contains(name, "no-cors") {
				noCORS++
			}
		}
		for _, e := range run.Network {
			if !strings.HasPrefix(e.URL, b.url+"/") || e.Status == 0 {
				continue
			}
			if e.Status != http.StatusForbidden {
				t.Errorf("%s %s answered %d to the attacker's page, want 403", e.Method, e.URL, e.Status)
			} else {
				refused++
			}
		}
		if refused < noCORS {
			t.Errorf("the browser saw %d answers of 403, want one per no-cors request (%d)", refused, noCORS)
		}
		if n := toolCalls(t, tapLog); n != 0 {
			t.Errorf("the bridge ran %d tool calls for the attacker's page, want 0", n)
		}
		if n := len(up.Requests()); n != 0 {
			t.Errorf("the bridge sent %d chat requests upstream for the attacker's page, want 0", n)
		}
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(run.Console, "\n"))
		}
	})

	// DNS rebinding: the page's own origin now leads to the bridge, so
	// its requests are same-origin, CORS does not apply and every answer
	// is readable. Only the Host check stands in the way; a readable
	// answer must be a refusal.
	t.Run("rebound name", func(t *testing.T) {
		calls, chats := toolCalls(t, tapLog), len(up.Requests())
		origin := "http://rebind.test:" + frontPort
		run := br.visit(t, origin+"/", "")
		for name, p := range byName(t, run, origin) {
			if strings.Contains(p.seen(), marker) {
				t.Errorf("%s: the page read the server's environment: %v", name, p)
			}
			switch {
			case name == "ws /ws" || strings.HasPrefix(name, "EventSource "):
				if p.Opened || len(p.Messages) > 0 {
					t.Errorf("%s: the stream was accepted: %v", name, p)
				}
			case strings.HasPrefix(name, "GET "):
				if p.Outcome != "read" || p.Status != http.StatusForbidden {
					t.Errorf("%s: %v, want a 403", name, p)
				}
			case p.Outcome == "read" && p.Status != http.StatusForbidden && p.Status != http.StatusUnsupportedMediaType:
				t.Errorf("%s: %v, want a 403 or 415", name, p)
			}
		}
		if n := toolCalls(t, tapLog) - calls; n != 0 {
			t.Errorf("the bridge ran %d tool calls for the rebound page, want 0", n)
		}
		if n := len(up.Requests()) - chats; n != 0 {
			t.Errorf("the bridge sent %d chat requests upstream for the rebound page, want 0", n)
		}
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(run.Console, "\n"))
		}
	})

	// usable checks that the page at page, run against bridgeURL ("" for
	// its own origin), could use the bridge with JSON and nothing else.
	usable := func(t *testing.T, page, bridgeURL string) {
		t.Helper()
		calls, chats := toolCalls(t, tapLog), len(up.Requests())
		up.Add(llmtest.Completion(answer))
		run := br.visit(t, page, bridgeURL)
		probes := byName(t, run, strings.TrimSuffix(page, "/"))

		// Readable, working JSON calls.
		if p := probes["POST /tools json"]; p.Outcome != "read" || p.Status != 200 || !strings.Contains(p.Body, marker) {
			t.Errorf("get-env: %v", p)
		}
		if p := probes["POST /v1/chat/completions json"]; p.Outcome != "read" || p.Status != 200 || !strings.Contains(p.Body, answer) {
			t.Errorf("chat: %v", p)
		}
		if p := probes["GET /openapi.json"]; p.Outcome != "read" || p.Status != 200 || !strings.Contains(p.Body, "everything__get-env") {
			t.Errorf("openapi.json: %v", p)
		}
		if p := probes["GET /v1/models"]; p.Outcome != "read" || p.Status != 200 || !strings.Contains(p.Body, "test-model") {
			t.Errorf("models: %v", p)
		}
		if p := probes["POST /mcp json"]; p.Outcome != "read" || p.Status != 200 || !strings.Contains(p.Body, "serverInfo") {
			t.Errorf("MCP initialize: %v", p)
		}
		if p := probes["EventSource /v1/events"]; !p.Opened || p.Outcome != "open" {
			t.Errorf("activity feed: %v", p)
		}
		if p := probes["EventSource /sse"]; !p.Opened || p.Outcome != "event" || !strings.Contains(p.seen(), "/") {
			t.Errorf("EventSource: %v", p)
		}
		if p := probes["ws /ws"]; !p.Opened || p.Outcome != "result" || !strings.Contains(p.seen(), marker) {
			t.Errorf("WebSocket: %v", p)
		}
		// Simple requests run nothing, even from here: a readable answer
		// is a 415.
		for _, name := range []string{"POST /tools text/plain", "POST /v1/chat/completions text/plain"} {
			if p := probes[name]; strings.Contains(p.seen(), marker) || p.Outcome == "read" && p.Status != http.StatusUnsupportedMediaType {
				t.Errorf("%s: %v, want a 415", name, p)
			}
		}

		// get-env through /tools and through /ws, and nothing from the
		// text/plain and no-cors requests (to /mcp as well).
		if n := toolCalls(t, tapLog) - calls; n != 2 {
			t.Errorf("the bridge ran %d tool calls for the page, want 2", n)
		}
		if n := len(up.Requests()) - chats; n != 1 {
			t.Errorf("the bridge sent %d chat requests upstream for the page, want 1", n)
		}
		if t.Failed() {
			t.Logf("page console:\n%s", strings.Join(run.Console, "\n"))
		}
	}
	t.Run("allowed origin", func(t *testing.T) { usable(t, allowed+"/", b.url) })
	// The bridge behind a reverse proxy whose name is in cors.allowed_hosts:
	// the proxy's pages are the bridge's own, and may use it.
	t.Run("allowed host", func(t *testing.T) { usable(t, "http://proxy.test:"+frontPort+"/", "") })
	br.close() // first, so that no connection of the page holds up the bridge's shutdown
	b.stop(t)
}
