package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
)

// consoleKey is the key the person types into the console.
const consoleKey = "console-key-0123456789abcdef"

// artefactsDir is where the browser tests write their screenshots:
// $ARTIFACTS/NAME, else testdata/out/NAME (git-ignored).
func artefactsDir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join("testdata", "out", name)
	if a := os.Getenv("ARTIFACTS"); a != "" {
		dir = filepath.Join(a, name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	return abs
}

// childOf returns the pid of the process whose parent is ppid and whose
// command line contains what.
func childOf(t *testing.T, ppid int, what string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		i := strings.LastIndexByte(string(stat), ')')
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(ppid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		if strings.Contains(string(cmdline), what) {
			pid, _ := strconv.Atoi(filepath.Base(d))
			return pid
		}
	}
	return 0
}

// consoleStep is one line of browser/console.mjs.
type consoleStep struct {
	Step  string `json:"step"`
	Error string `json:"error"`
	// wrong key
	Message      string `json:"message"`
	LoginVisible bool   `json:"login_visible"`
	Stored       int    `json:"stored"`
	// servers, killed
	Servers []consoleServer `json:"servers"`
	Down    []consoleServer `json:"down"`
	Up      []consoleServer `json:"up"`
	Storage struct {
		Session []string `json:"session"`
		Local   int      `json:"local"`
	} `json:"storage"`
	URL string `json:"url"`
	// keyboard
	Focused string `json:"focused"`
	Hash    string `json:"hash"`
	// tools, content types, hostile
	Total       int             `json:"total"`
	Filtered    int             `json:"filtered"`
	Inputs      []string        `json:"inputs"`
	Result      string          `json:"result"`
	Image       json.RawMessage `json:"image"`
	Structured  string          `json:"structured"`
	Description string          `json:"description"`
	ErrorText   string          `json:"error_text"`
	Elements    struct {
		Scripts  int      `json:"scripts"`
		Images   []string `json:"images"`
		Injected bool     `json:"injected"`
	} `json:"elements"`
	Pwned  any      `json:"pwned"`
	Fanout []string `json:"fanout"`
	// chat
	Models     []string `json:"models"`
	Transcript []struct {
		Role string `json:"role"`
		Text string `json:"text"`
	} `json:"transcript"`
	// activity
	All               int      `json:"all"`
	Types             []string `json:"types"`
	ByTool            []string `json:"by_tool"`
	ByUnknownIdentity int      `json:"by_unknown_identity"`
	ByIdentity        int      `json:"by_identity"`
	// looks
	Dark     string         `json:"dark"`
	Light    string         `json:"light"`
	Overflow map[string]int `json:"overflow"`
	// done
	Requests []struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"requests"`
	Console []string `json:"console"`
}

type consoleServer struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Tools int    `json:"tools"`
	Red   bool   `json:"red"`
	Green bool   `json:"green"`
}

// TestBrowserConsole uses the console in a real browser against the built
// binary, with server-everything, a hostile MCP server whose tool
// description and results are HTML that tries to run script, and a
// scripted upstream: a wrong key is refused with a clear message; the
// servers page shows both servers up with their tool counts; get-sum called
// from the tools page with 2 and 3 shows 5, an image and structured
// content show as such, and the hostile server's markup shows as text and
// runs nothing; a chat shows the tool activity and the final answer; the
// activity page shows the calls and the chat and filters them by tool and
// identity; the page is usable with the keyboard, dark and light, and at a
// phone's width; server-everything killed turns red and comes back. Every
// request the browser made went to the bridge, and none carried the key
// in its URL. Screenshots of each page are written to artefactsDir.
func TestBrowserConsole(t *testing.T) {
	needBrowser(t)
	hostile, _ := filepath.Abs("browser/hostile.mjs")
	const answer = "The answer is 5, as the tool said."
	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "call_1", Name: "everything__get-sum", Arguments: `{"a":2,"b":3}`}),
		llmtest.TextStream("The answer is ", "5, as the tool said."))
	addr := freePort(t)
	config := func(key string) []byte {
		return fmt.Appendf(nil, `listen: %s
upstream:
  base_url: %s
auth:
  keys:
    - {name: console-user, key: %q}
mcpServers:
  everything:
    command: node
    args: [%q, "stdio"]
  hostile:
    command: node
    args: [%q]
`, addr, up.URL, key, npmServer("server-everything"), hostile)
	}
	cfgPath := filepath.Join(t.TempDir(), "mcp-bridge.yaml")
	if err := os.WriteFile(cfgPath, config(consoleKey), 0o600); err != nil {
		t.Fatal(err)
	}
	b := launchBridge(t, exec.Command(buildBinary(t), "serve", "-c", cfgPath), "http://"+addr, consoleKey)

	// The tools each server has, as the bridge counts them.
	want := map[string]int{}
	readyz := readyzServers(t, b.url)
	for _, s := range readyz {
		want[s.Name] = s.Tools
	}
	if want["everything"] < 5 || want["hostile"] != 2 {
		t.Fatalf("readyz: %+v", readyz)
	}

	out := artefactsDir(t, "console")
	steps := driveConsole(t, b.url, out, map[string]func(){
		// A server killed under the page's eyes.
		"kill": func() {
			pid := childOf(t, b.cmd.Process.Pid, "server-everything")
			if pid == 0 {
				t.Fatal("server-everything's process not found")
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		},
		// The key revoked by a reload of the configuration.
		"revoke": func() {
			if err := os.WriteFile(cfgPath, config("another-key-0123456789abcdef"), 0o600); err != nil {
				t.Fatal(err)
			}
			_ = b.cmd.Process.Signal(syscall.SIGHUP)
			for deadline := time.Now().Add(20 * time.Second); ; {
				req, _ := http.NewRequest("GET", b.url+"/v1/models", nil)
				req.Header.Set("Authorization", "Bearer "+consoleKey)
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusUnauthorized {
						return
					}
				}
				if time.Now().After(deadline) {
					t.Fatal("the reload did not revoke the key")
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
	}, "KEY="+consoleKey)

	t.Run("wrong key", func(t *testing.T) {
		s := steps["wrong key"]
		if !strings.Contains(s.Message, "Wrong key") || !strings.Contains(s.Message, "401") || !s.LoginVisible || s.Stored != 0 {
			t.Errorf("%+v", s)
		}
	})
	t.Run("servers", func(t *testing.T) {
		s := steps["servers"]
		if len(s.Servers) != 2 {
			t.Fatalf("servers %+v", s.Servers)
		}
		for _, sv := range s.Servers {
			if sv.State != "ready" || !sv.Green || sv.Red || sv.Tools != want[sv.Name] {
				t.Errorf("%+v, want ready with %d tools", sv, want[sv.Name])
			}
		}
		// The key is kept for the tab only, and never in the address.
		if len(s.Storage.Session) != 1 || s.Storage.Local != 0 || strings.Contains(s.URL, consoleKey) {
			t.Errorf("storage %+v, url %s", s.Storage, s.URL)
		}
	})
	t.Run("keyboard", func(t *testing.T) {
		if s := steps["keyboard"]; s.Focused != "tools" || s.Hash != "#tools" {
			t.Errorf("%+v", s)
		}
	})
	t.Run("tools", func(t *testing.T) {
		s := steps["tools"]
		if s.Total != want["everything"]+want["hostile"] || s.Filtered != 1 {
			t.Errorf("%d tools listed, %d after the search; want %d and 1", s.Total, s.Filtered, want["everything"]+want["hostile"])
		}
		if strings.Join(s.Inputs, " ") != "a:number b:number" {
			t.Errorf("the form of get-sum: %v", s.Inputs)
		}
		if !strings.Contains(s.Result, "The sum of 2 and 3 is 5.") {
			t.Errorf("result %q", s.Result)
		}
		c := steps["content types"]
		var img struct {
			Src    string `json:"src"`
			Loaded bool   `json:"loaded"`
		}
		_ = json.Unmarshal(c.Image, &img)
		if img.Src != "data:image/png;base64," || !img.Loaded {
			t.Errorf("image %s", c.Image)
		}
		if !strings.Contains(c.Structured, "temperature") {
			t.Errorf("structured %q", c.Structured)
		}
	})
	t.Run("hostile server", func(t *testing.T) {
		s := steps["hostile"]
		if s.Pwned != nil {
			t.Errorf("the hostile server's markup ran: window.__pwned = %v", s.Pwned)
		}
		if !strings.Contains(s.Description, `<img src=x onerror="window.__pwned=2">`) {
			t.Errorf("the description is not shown as text: %q", s.Description)
		}
		if !strings.Contains(s.Result, "echo: <b id=injected>bold</b>") || !strings.Contains(s.Result, `window.__pwned=5`) ||
			!strings.Contains(s.Result, `window.__pwned=7`) || !strings.Contains(s.Result, "[image, text/html]") {
			t.Errorf("the result is not shown as text: %q", s.Result)
		}
		if !strings.Contains(s.ErrorText, "failed: <img") {
			t.Errorf("the tool's error is not shown as text: %q", s.ErrorText)
		}
		if s.Elements.Scripts != 0 || len(s.Elements.Images) != 0 || s.Elements.Injected {
			t.Errorf("elements made from the server's strings: %+v", s.Elements)
		}
		// The self-referring schema gave a form, not a frozen page.
		if strings.Join(s.Fanout, " ") != "root" {
			t.Errorf("the fields of hostile__fanout: %v", s.Fanout)
		}
	})
	t.Run("chat", func(t *testing.T) {
		s := steps["chat"]
		if !strings.Contains(strings.Join(s.Models, " "), "test-model") {
			t.Errorf("models %v", s.Models)
		}
		var roles, texts []string
		for _, li := range s.Transcript {
			roles = append(roles, li.Role)
			texts = append(texts, li.Text)
		}
		if strings.Join(roles, "|") != "user|tool done|assistant" || !strings.Contains(texts[1], "everything__get-sum") ||
			texts[2] != answer {
			t.Errorf("transcript %+v", s.Transcript)
		}
		reqs := up.Requests()
		if len(reqs) != 2 || !strings.Contains(fmt.Sprint(reqs[1].ToolMessages()), "The sum of 2 and 3 is 5.") {
			t.Errorf("the upstream got %d requests: %+v", len(reqs), reqs)
		}
	})
	t.Run("activity", func(t *testing.T) {
		s := steps["activity"]
		for _, typ := range []string{"chat_finished", "chat_started", "tool_call_finished", "tool_call_started"} {
			if !strings.Contains(strings.Join(s.Types, " "), typ) {
				t.Errorf("no %s in the timeline: %v", typ, s.Types)
			}
		}
		// get-sum ran twice: from the tools page and in the chat.
		if len(s.ByTool) != 4 {
			t.Errorf("filtered by get-sum: %v", s.ByTool)
		}
		for _, e := range s.ByTool {
			if !strings.Contains(e, "everything__get-sum") || !strings.Contains(e, "console-user") {
				t.Errorf("filtered by get-sum: %q", e)
			}
		}
		if s.ByUnknownIdentity != 0 || s.ByIdentity == 0 || s.ByIdentity > s.All {
			t.Errorf("filtered by identity: %d for nobody, %d for console-user, of %d", s.ByUnknownIdentity, s.ByIdentity, s.All)
		}
	})
	t.Run("looks", func(t *testing.T) {
		s := steps["looks"]
		if s.Dark == s.Light || s.Dark == "" {
			t.Errorf("dark %q, light %q", s.Dark, s.Light)
		}
		for page, px := range s.Overflow {
			if px > 0 {
				t.Errorf("%s is %d px wider than a phone", page, px)
			}
		}
		if len(s.Overflow) != 4 {
			t.Errorf("overflow %v", s.Overflow)
		}
	})
	t.Run("server killed", func(t *testing.T) {
		s := steps["killed"]
		state := func(list []consoleServer) consoleServer {
			for _, sv := range list {
				if sv.Name == "everything" {
					return sv
				}
			}
			return consoleServer{}
		}
		if d := state(s.Down); !d.Red || d.State == "ready" {
			t.Errorf("after the kill: %+v", d)
		}
		if u := state(s.Up); !u.Green || u.State != "ready" || u.Tools != want["everything"] {
			t.Errorf("after the restart: %+v", u)
		}
	})
	t.Run("key revoked", func(t *testing.T) {
		s := steps["revoked"]
		if !s.LoginVisible || s.Stored != 0 || !strings.Contains(s.Message, "no longer accepts the key") {
			t.Errorf("%+v", s)
		}
	})
	t.Run("requests", func(t *testing.T) { onlyTheBridge(t, b.url, steps["done"], consoleKey) })
	for _, name := range []string{"login-wrong-key", "servers", "tools", "tools-hostile", "chat", "chat-dark", "activity", "servers-phone", "servers-down"} {
		if st, err := os.Stat(filepath.Join(out, name+".png")); err != nil || st.Size() == 0 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	b.stop(t)
}

// readyzServers returns the servers /readyz reports to the console's key.
func readyzServers(t *testing.T, base string) []struct {
	Name  string `json:"name"`
	State string `json:"state"`
	Tools int    `json:"tools"`
} {
	t.Helper()
	var v struct {
		Servers []struct {
			Name  string `json:"name"`
			State string `json:"state"`
			Tools int    `json:"tools"`
		} `json:"servers"`
	}
	req, _ := http.NewRequest("GET", base+"/readyz", nil)
	req.Header.Set("Authorization", "Bearer "+consoleKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Servers
}

// driveConsole runs browser/console.mjs on the bridge at url with env,
// its screenshots going to out, and returns its steps by name. At a step
// named in at, the driver waits while at's function runs.
func driveConsole(t *testing.T, url, out string, at map[string]func(), env ...string) map[string]consoleStep {
	t.Helper()
	cmd := exec.Command("node", "browser/console.mjs", t.TempDir())
	cmd.Env = append(os.Environ(), append([]string{"CHROMIUM=" + chromiumPath, "BRIDGE=" + url, "OUT=" + out}, env...)...)
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("console driver stderr:\n%s", stderr.String())
		}
	})

	steps := map[string]consoleStep{}
	for {
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the console driver exited before it was done: %s", stderr.String())
			}
			line = l
		case <-time.After(120 * time.Second):
			t.Fatalf("the console driver was silent for 2 minutes: %s", stderr.String())
		}
		var s consoleStep
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("driver printed %q: %v", line, err)
		}
		if s.Error != "" {
			t.Fatalf("step %q: %s\npage console:\n%s\n(screenshot in %s)", s.Step, s.Error, strings.Join(s.Console, "\n"), out)
		}
		steps[s.Step] = s
		if do, ok := at[s.Step]; ok {
			do()
			_, _ = stdin.Write([]byte("go\n"))
		}
		if s.Step == "done" {
			break
		}
	}
	return steps
}

// onlyTheBridge checks that every request the browser made went to the
// bridge at url, none with key in its URL, and that the page's console shows
// no error of the page's own (a script error, a CSP violation).
func onlyTheBridge(t *testing.T, url string, s consoleStep, key string) {
	t.Helper()
	if len(s.Requests) < 4 { // the page, its style and script, its data
		t.Fatalf("only %d requests recorded", len(s.Requests))
	}
	for _, r := range s.Requests {
		if !strings.HasPrefix(r.URL, url+"/") && !strings.HasPrefix(r.URL, "data:") {
			t.Errorf("a request outside the bridge: %s %s", r.Method, r.URL)
		}
		if key != "" && strings.Contains(r.URL, key) {
			t.Errorf("the key in a URL: %s", r.URL)
		}
	}
	for _, l := range s.Console {
		if strings.Contains(l, "Content Security Policy") || strings.HasPrefix(l, "pageerror") {
			t.Errorf("page console: %s", l)
		}
	}
}

// TestBrowserConsoleWithoutKeys: on a bridge with no keys, behind a
// reverse proxy that serves it under a path, the console opens on the
// servers page without asking for a key, and stores nothing;
// with tools.display "details", the chat shows the tool calls that come
// as blocks in the answer's text as tool activity, not as markup.
func TestBrowserConsoleWithoutKeys(t *testing.T) {
	needBrowser(t)
	up := llmtest.NewServer(t,
		llmtest.ToolCallStream(llmtest.Call{ID: "call_1", Name: "everything__get-sum", Arguments: `{"a":2,"b":3}`}),
		llmtest.TextStream("It is ", "5."))
	b := startBridge(t, buildBinary(t), fmt.Sprintf(`listen: %s
upstream:
  base_url: %s
tools:
  display: details
mcpServers:
  everything:
    command: node
    args: [%q, "stdio"]
`, freePort(t), up.URL, npmServer("server-everything")))
	// Behind a reverse proxy that serves the bridge under /bridge.
	target, _ := url.Parse(b.url)
	proxy := serveLoopback(t, &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.Out.URL.Scheme, r.Out.URL.Host = target.Scheme, target.Host
		r.Out.URL.Path = strings.TrimPrefix(r.In.URL.Path, "/bridge")
		r.Out.URL.RawPath = ""
		r.Out.Host = r.In.Host
	}})
	base := "http://127.0.0.1:" + proxy + "/bridge"
	steps := driveConsole(t, base, artefactsDir(t, "console-open"), nil, "OPEN=1")
	s := steps["open"]
	if s.LoginVisible || s.Stored != 0 || len(s.Servers) != 1 || s.Servers[0].Name != "everything" || s.Servers[0].State != "ready" {
		t.Errorf("%+v", s)
	}
	var got []string
	for _, li := range steps["chat"].Transcript {
		got = append(got, li.Role+": "+li.Text)
	}
	if strings.Join(got, "\n") != "user: What is 2 + 3? Use the tool.\ntool done: Used everything__get-sum\nassistant: It is 5." {
		t.Errorf("transcript:\n%s", strings.Join(got, "\n"))
	}
	onlyTheBridge(t, base, steps["done"], "")
	b.stop(t)
}
