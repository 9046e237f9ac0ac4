package bridge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// serveReal serves the bridge through its own http.Server (HTTPServer,
// with its timeouts) on a loopback port, and returns the base URL.
func serveReal(t *testing.T, b *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := b.HTTPServer()
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return "http://" + ln.Addr().String()
}

// TestMixedTurnBoundToCaller replays the leak: client B sends an assistant
// message with client A's tool-call id and must not receive A's tool
// result; nor may A's own id in another conversation.
func TestMixedTurnBoundToCaller(t *testing.T) {
	var log callLog
	keyA, keyB := "key-of-client-a-0001", "key-of-client-b-0002"
	clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
	h := newHarness(t, Options{APIKeys: []string{keyA, keyB}}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "b1", Name: "calc__add", Arguments: `{"secret":"A-only"}`}, llmtest.Call{ID: "call_1", Name: "ask_user", Arguments: `{}`}),
		llmtest.TextStream("for B"), llmtest.TextStream("other conversation"), llmtest.TextStream("for A"))
	send := func(key, messages string) {
		t.Helper()
		body := `{"model":"m","tools":[` + clientTool + `],"messages":` + messages + `}`
		status, _, resp := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}, body)
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, resp)
		}
	}
	first := `[{"role":"user","content":"private question of A"}]`
	send(keyA, first)
	followUp := func(history string) string {
		return `[` + history + `,{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"ask_user","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"yes"}]`
	}
	send(keyB, followUp(`{"role":"user","content":"private question of A"}`))
	send(keyA, followUp(`{"role":"user","content":"another conversation"}`))
	send(keyA, followUp(`{"content":"private question of A" , "role":"user"}`))
	reqs := h.up.Requests()
	if len(reqs) != 4 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	for i, who := range []string{"client B", "client A in another conversation"} {
		for _, m := range reqs[i+1].Messages() {
			if b, _ := json.Marshal(m); strings.Contains(string(b), "A-only") {
				t.Errorf("%s received client A's tool result: %s", who, b)
			}
		}
	}
	msgs := reqs[3].Messages()
	if len(msgs) != 4 || msgs[2]["tool_call_id"] != "b1" || !strings.Contains(msgs[2]["content"].(string), "A-only") {
		t.Errorf("client A's own follow-up (re-encoded) lacks its turn: %v", msgs)
	}
}

// TestPendingTurnBounds checks expiry, the count bound, the bytes of one
// entry and of all of them.
func TestPendingTurnBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	conv := conversationHash(nil) // the follow-ups below have no history
	msg := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("x", n-2) + `"`) }
	stored := func(n int) int64 { // the bytes the store holds for a turn of n
		b, _ := json.Marshal(sharedTurn{Conv: conv[:], Assistant: msg(n)})
		return int64(len(b))
	}
	p := newPendingTurns(newMemTurns(3, 2*stored(100)+stored(100)/2), time.Minute, 100, nil)
	p.mem.now = func() time.Time { return now }
	put := func(id string, size int) bool {
		return p.put("o", conv, []llm.ToolCall{{ID: id}}, msg(size), nil)
	}
	follow := func(id string) []json.RawMessage {
		return []json.RawMessage{json.RawMessage(`{"role":"assistant","tool_calls":[{"id":"` + id + `"}]}`)}
	}
	restored := func(id string) bool {
		in := follow(id)
		return !sameSlice(p.splice("o", in), in)
	}
	if put("big", 101) {
		t.Error("an entry over the per-entry bound was kept")
	}
	if !put("a", 100) || !put("b", 100) {
		t.Fatal("entries within bounds refused")
	}
	if !put("c", 100) { // three do not fit: a goes
		t.Fatal("entry refused")
	}
	if n, total := p.mem.len(); n != 2 || total != 2*stored(100) || restored("a") || !restored("b") || !restored("c") {
		t.Errorf("after the bytes bound: %d turns, %d bytes; a %v b %v c %v", n, total, restored("a"), restored("b"), restored("c"))
	}
	p2 := newPendingTurns(newMemTurns(2, 1000), time.Minute, 100, nil)
	p2.mem.now = func() time.Time { return now }
	for _, id := range []string{"x", "y", "z"} {
		p2.put("o", conv, []llm.ToolCall{{ID: id}}, msg(10), nil)
	}
	if n, _ := p2.mem.len(); n != 2 {
		t.Errorf("count bound: %d turns", n)
	}
	now = now.Add(2 * time.Minute)
	if restored("b") || restored("c") {
		t.Error("an expired turn was restored")
	}
	put("d", 10) // a put evicts what expired
	if n, total := p.mem.len(); n != 1 || total != stored(10) {
		t.Errorf("after expiry: %d turns, %d bytes", n, total)
	}
}

// TestSlowBodyFlood opens a bounded number of connections that send their
// headers and then trickle the body. The bridge keeps answering health
// checks and keyed requests within a second throughout, and closes every
// slow connection within the body read timeout.
func TestSlowBodyFlood(t *testing.T) {
	const (
		conns   = 200
		timeout = time.Second
		key     = "0123456789abcdef-key"
	)
	h := newHarness(t, Options{APIKeys: []string{key}, BodyReadTimeout: timeout}, nil)
	base := serveReal(t, h.b)
	addr := strings.TrimPrefix(base, "http://")

	type result struct {
		status int
		after  time.Duration
		err    error
	}
	results := make(chan result, conns)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer c.Close()
			// Half authenticated (they reach the body), half not.
			auth := ""
			if i%2 == 0 {
				auth = "Authorization: Bearer " + key + "\r\n"
			}
			start := time.Now()
			fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: 100000\r\n\r\n", auth)
			go func() { // trickle a byte every 100 ms until closed or stopped
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
					}
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(10 * timeout))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				results <- result{err: err, after: time.Since(start)}
				return
			}
			resp.Body.Close()
			// The server closes the connection after answering.
			buf := make([]byte, 1)
			for {
				if _, err := c.Read(buf); err != nil {
					break
				}
			}
			results <- result{status: resp.StatusCode, after: time.Since(start)}
		}()
	}

	// Probe while the flood lasts.
	probeEnd := time.Now().Add(timeout + 500*time.Millisecond)
	client := &http.Client{Timeout: time.Second}
	probes := 0
	for time.Now().Before(probeEnd) {
		for _, path := range []string{"/healthz", "/v1/models"} {
			req, _ := http.NewRequest("GET", base+path, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s during the flood: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s during the flood: %d", path, resp.StatusCode)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s took %s during the flood", path, d)
			}
			probes++
		}
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(stop)
	close(results)
	counts := map[int]int{}
	for r := range results {
		if r.err != nil {
			t.Errorf("slow connection: %v after %s", r.err, r.after)
			continue
		}
		counts[r.status]++
		// Within the read timeout, with room for a loaded machine.
		if r.after > timeout+2*time.Second {
			t.Errorf("a slow connection (%d) was answered after %s", r.status, r.after)
		}
	}
	if counts[http.StatusRequestTimeout] != conns/2 || counts[http.StatusUnauthorized] != conns/2 {
		t.Errorf("answers to slow connections: %v, want %d of 408 and of 401", counts, conns/2)
	}
	if probes < 4 {
		t.Errorf("only %d probes ran", probes)
	}
}

// TestIdleConnectionsClose checks keep-alive connections are closed once
// idle for the idle timeout.
func TestIdleConnectionsClose(t *testing.T) {
	h := newHarness(t, Options{IdleTimeout: 300 * time.Millisecond}, nil)
	base := serveReal(t, h.b)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("data on an idle connection")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the idle connection was closed after %s", d)
	}
}

// TestMCPSessionCap checks that sessions past MaxSessions are refused and
// that the cap frees up when sessions end.
func TestMCPSessionCap(t *testing.T) {
	h := newHarness(t, Options{MaxSessions: 3}, nil)
	var ids []string
	for i := range 4 {
		status, hdr, body := rawRequest(t, h.srv.URL, "POST", "/mcp", "", http.Header{"Content-Type": {"application/json"},
			"Accept": {"application/json, text/event-stream"}}, initializeBody)
		if i < 3 {
			if status != http.StatusOK || hdr.Get("Mcp-Session-Id") == "" {
				t.Fatalf("session %d: %d %s", i, status, body)
			}
			ids = append(ids, hdr.Get("Mcp-Session-Id"))
			continue
		}
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "mcp.max_sessions") || hdr.Get("Retry-After") == "" {
			t.Errorf("session past the cap: %d %v %s", status, hdr, body)
		}
	}
	// Requests within a session still pass.
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/mcp", "", http.Header{"Content-Type": {"application/json"},
		"Accept": {"application/json, text/event-stream"}, "Mcp-Session-Id": {ids[0]}, "Mcp-Protocol-Version": {"2025-11-25"}},
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`); status >= 300 {
		t.Errorf("request within a session at the cap: %d %s", status, body)
	}
	if status, _, _ := rawRequest(t, h.srv.URL, "DELETE", "/mcp", "", http.Header{"Mcp-Session-Id": {ids[0]}}, ""); status >= 300 {
		t.Fatalf("DELETE: %d", status)
	}
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/mcp", "", http.Header{"Content-Type": {"application/json"},
		"Accept": {"application/json, text/event-stream"}}, initializeBody); status != http.StatusOK {
		t.Errorf("a session after one ended: %d %s", status, body)
	}
}

// rss returns the process's resident set size in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// TestAbandonedMCPSessionsExpire opens 1,500 sessions on /mcp and never
// closes them: once idle for the session timeout they are gone, and the
// goroutines and memory they held are given back.
func TestAbandonedMCPSessionsExpire(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	const sessions = 1500
	// Long enough that creating them all, on a loaded machine, takes less.
	idle := 5 * time.Second
	h := newHarness(t, Options{SessionIdleTimeout: idle, MaxSessions: 2 * sessions}, nil)
	settle := func() {
		runtime.GC()
		debug.FreeOSMemory()
	}
	http.DefaultClient.CloseIdleConnections()
	settle()
	baseG, baseRSS, baseHeap := runtime.NumGoroutine(), rss(t), heapInUse()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for i := range sessions {
		req, _ := http.NewRequest("POST", h.srv.URL+"/mcp", strings.NewReader(initializeBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("session %d: %d", i, resp.StatusCode)
		}
	}
	client.CloseIdleConnections()
	settle()
	peakG, peakRSS, peakHeap := runtime.NumGoroutine(), rss(t), heapInUse()
	// Some may have expired already on a slow machine; most must be open
	// for the measure to mean something.
	if n := h.b.face.sessions(); n < sessions/2 {
		t.Fatalf("%d sessions open, want about %d", n, sessions)
	}
	t.Logf("baseline: %d goroutines, %.1f MB; with %d sessions: %d goroutines, %.1f MB",
		baseG, float64(baseRSS)/1e6, sessions, peakG, float64(peakRSS)/1e6)

	deadline := time.Now().Add(idle + 30*time.Second)
	for h.b.face.sessions() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := h.b.face.sessions(); n != 0 {
		t.Fatalf("%d sessions still open %s after the idle timeout", n, 30*time.Second)
	}
	var endG int
	var endRSS, endHeap int64
	for time.Now().Before(deadline) {
		settle()
		endG, endRSS, endHeap = runtime.NumGoroutine(), rss(t), heapInUse()
		if endG <= baseG+10 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after the idle timeout: %d goroutines, %.1f MB", endG, float64(endRSS)/1e6)
	if endG > baseG+10 {
		t.Errorf("goroutines: %d at baseline, %d after the sessions expired", baseG, endG)
	}
	t.Logf("heap in use: %.1f MB at baseline, %.1f MB with the sessions, %.1f MB after", float64(baseHeap)/1e6, float64(peakHeap)/1e6, float64(endHeap)/1e6)
	if grown := endHeap - baseHeap; grown > (peakHeap-baseHeap)/4 && grown > 2<<20 {
		t.Errorf("heap in use: %.1f MB at baseline, %.1f MB with the sessions, %.1f MB after they expired",
			float64(baseHeap)/1e6, float64(peakHeap)/1e6, float64(endHeap)/1e6)
	}
	if raceEnabled {
		return // the race detector keeps its shadow memory
	}
	if grown := endRSS - baseRSS; grown > (peakRSS-baseRSS)/2 && grown > 4<<20 {
		t.Errorf("RSS: %.1f MB at baseline, %.1f MB with the sessions, %.1f MB after they expired",
			float64(baseRSS)/1e6, float64(peakRSS)/1e6, float64(endRSS)/1e6)
	}
}

// heapInUse returns the bytes of the heap's spans in use.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestLargeToolSetWarns checks that a tool set whose injected definitions
// pass WarnToolsBytes is reported once, when it is built.
func TestLargeToolSetWarns(t *testing.T) {
	var logs syncbuf.Buffer
	h := newHarness(t, Options{WarnToolsBytes: 4096, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		[]mcpclient.ServerConfig{inMemory("many", mcptest.NewServerWithOptions(&mcptest.Options{ExtraTools: 200}))},
		llmtest.TextStream("a"), llmtest.TextStream("b"))
	for range 2 {
		h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	}
	if n := strings.Count(logs.String(), "tools injected into every chat request are large"); n != 1 {
		t.Fatalf("%d warnings, want 1: %s", n, logs.String())
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("tools=%d", 200+len(mcptest.ToolNames()))) {
		t.Errorf("the warning does not count the tools: %s", logs.String())
	}
	if n := len(h.up.Requests()[0].Body); n < 4096 {
		t.Errorf("the upstream request is only %d bytes", n)
	}
}
