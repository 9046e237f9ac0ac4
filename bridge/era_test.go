package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// tickServer is a server whose tool "tick" reports progress before it
// answers.
func tickServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "ticker", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "tick", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if tok := req.Params.GetProgressToken(); tok != nil {
				_ = req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: tok, Progress: 1, Total: 2, Message: "tock"})
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ticked"}}}, nil
		})
	return s
}

// TestMCPFaceEras connects go-sdk clients of each revision to /mcp: the
// stateless revision (the client's default) is served without a session,
// 2025-11-25 with one, on the same URL. Both list and call tools, get a
// call's progress, and cancel a call downstream.
func TestMCPFaceEras(t *testing.T) {
	for _, tc := range []struct {
		version   string // asked by the client; "" for its default
		want      string // negotiated
		hasSessID bool
	}{
		{"", statelessRevision, false},
		{statelessRevision, statelessRevision, false},
		{mcpclient.ProtocolVersion, mcpclient.ProtocolVersion, true},
		{"2025-06-18", "2025-06-18", true},
	} {
		t.Run(tc.want+"/"+tc.version, func(t *testing.T) {
			markers := t.TempDir()
			h := newHarness(t, Options{MaxSessions: 4}, []mcpclient.ServerConfig{
				mcptest.StdioServer("proc", mcptest.EnvMarkerDir+"="+markers),
				{Name: "tick", URL: wsServer(t, tickServer())},
			})
			fc := &faceClient{}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "era-test", Version: "1"}, fc.options()).Connect(ctx,
				&mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: tc.version})
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if got := cs.InitializeResult().ProtocolVersion; got != tc.want {
				t.Fatalf("negotiated %q, want %q", got, tc.want)
			}
			if got := cs.ID() != ""; got != tc.hasSessID {
				t.Errorf("session id %q, want one: %v", cs.ID(), tc.hasSessID)
			}
			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			for _, want := range []string{"proc__echo", "proc__sleep", "tick__tick"} {
				if !slices.Contains(names, want) {
					t.Errorf("tools %v lack %s", names, want)
				}
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "proc__echo", Arguments: map[string]any{"text": "either era"}})
			if err != nil || toolText(t, res) != "either era" {
				t.Fatalf("echo: %v %v", res, err)
			}

			params := &mcp.CallToolParams{Name: "tick__tick", Arguments: map[string]any{}}
			params.SetProgressToken("era-token")
			res, err = cs.CallTool(ctx, params)
			if err != nil || toolText(t, res) != "ticked" {
				t.Fatalf("tick: %v %v", res, err)
			}
			// The client hands notifications to its handler apart from
			// results: wait for the one sent before the result.
			for fc.progressCount() == 0 && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			fc.mu.Lock()
			if len(fc.progress) != 1 || fc.progress[0].ProgressToken != "era-token" || fc.progress[0].Message != "tock" {
				t.Errorf("progress %+v", fc.progress)
			}
			fc.mu.Unlock()

			callCtx, cancelCall := context.WithCancel(ctx)
			errc := make(chan error, 1)
			go func() {
				_, err := cs.CallTool(callCtx, &mcp.CallToolParams{Name: "proc__sleep", Arguments: map[string]any{"ms": 60000, "id": "long"}})
				errc <- err
			}()
			if err := mcptest.WaitMarker(ctx, markers, "started-long"); err != nil {
				t.Fatal(err)
			}
			cancelCall()
			if err := mcptest.WaitMarker(ctx, markers, "cancelled-long"); err != nil {
				t.Fatalf("the server never saw the cancellation: %v", err)
			}
			if err := <-errc; err == nil {
				t.Error("cancelled call returned no error")
			}
		})
	}
}

// askServer is a server whose tool "ask" elicits and answers with what
// it heard or the error.
func askServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "name?", RequestedSchema: json.RawMessage(`{"type":"object"}`)})
			text := "elicited: "
			if err != nil {
				text += err.Error()
			} else {
				text += res.Action
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
		})
	return s
}

// TestMCPFaceStatelessSampling: a stateless client's call whose server
// asks for sampling and then elicitation gets input_required results (the
// go-sdk client answers them with its handlers and retries), and the call
// completes with the client's answers; a 2025-11-25 session's call gets
// the same answers through requests sent back to it.
func TestMCPFaceStatelessSampling(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{
		{Name: "doc", URL: wsServer(t, mcptest.NewFeatureServer("doc"))},
		{Name: "ask", URL: wsServer(t, askServer())},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, version := range []string{statelessRevision, mcpclient.ProtocolVersion} {
		fc := &faceClient{}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "era-test", Version: "1"}, fc.options()).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cs.Close() })
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "doc__work", Arguments: map[string]any{}})
		if err != nil {
			t.Fatalf("%s: work: %v", version, err)
		}
		if text := toolText(t, res); res.IsError || text != "sampled by the face client/accept" {
			t.Errorf("%s: work: %+v %q", version, res, text)
		}
		fc.mu.Lock()
		if fc.sampled != 1 {
			t.Errorf("%s: the client sampled %d times, want 1", version, fc.sampled)
		}
		fc.mu.Unlock()
		res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "ask__ask", Arguments: map[string]any{}})
		if err != nil || toolText(t, res) != "elicited: accept" {
			t.Errorf("%s: ask: %v %v", version, res, err)
		}
	}
}

// postMCP posts one JSON-RPC message to /mcp with the Accept and
// Content-Type of streamable HTTP, and hdr.
func postMCP(t *testing.T, url, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestMCPFaceDiscover: server/discover lists both eras the face speaks,
// to a client of the stateless revision, and opens no session.
func TestMCPFaceDiscover(t *testing.T) {
	h := newHarness(t, Options{MaxSessions: 1}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	status, hdr, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{`+meta+`}}`,
		map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "server/discover"})
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if id := hdr.Get("Mcp-Session-Id"); id != "" {
		t.Errorf("discover opened session %q", id)
	}
	for _, v := range []string{statelessRevision, mcpclient.ProtocolVersion, "2025-06-18"} {
		if !strings.Contains(body, `"`+v+`"`) {
			t.Errorf("supported versions lack %s: %s", v, body)
		}
	}
	// A probe without the revision's _meta is of the older era, which has
	// no server/discover: refused, with no session opened either.
	status, hdr, body = postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{}}`, nil)
	if !strings.Contains(body, "-32601") || hdr.Get("Mcp-Session-Id") != "" {
		t.Errorf("bare probe: %d %s %v", status, body, hdr)
	}
	if n := h.b.face.sessions(); n != 0 {
		t.Errorf("%d sessions after discover", n)
	}
}

// TestMCPFaceStatelessHeaders: a stateless request whose _meta names the
// revision but whose header is missing, or whose Mcp-Method header does
// not match its body, is refused as the revision says.
func TestMCPFaceStatelessHeaders(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`
	status, _, body := postMCP(t, h.srv.URL, list, map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/list"})
	if status != http.StatusOK || !strings.Contains(body, "proc__echo") {
		t.Fatalf("tools/list: %d %s", status, body)
	}
	// The list says how long it stays fresh, for this caller only.
	if !strings.Contains(body, `"ttlMs":30000`) || !strings.Contains(body, `"cacheScope":"private"`) {
		t.Errorf("tools/list without ttlMs and a private scope: %s", body)
	}
	status, _, body = postMCP(t, h.srv.URL, list, nil)
	if status != http.StatusBadRequest || !strings.Contains(body, "Mcp-Protocol-Version") || strings.Contains(body, "stateful") {
		t.Errorf("without header: %d %s", status, body)
	}
	status, _, body = postMCP(t, h.srv.URL, list, map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "prompts/list"})
	if status != http.StatusBadRequest || !strings.Contains(strings.ToLower(body), "mcp-method") {
		t.Errorf("mismatched Mcp-Method: %d %s", status, body)
	}
}

// TestMCPFaceStatelessPastCap: stateless requests open no session and
// count as none, so they are served while the sessions are at their cap,
// and a stateless client listening for list changes leaves the cap to
// sessions.
func TestMCPFaceStatelessPastCap(t *testing.T) {
	h := newHarness(t, Options{MaxSessions: 1}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// With a list-changed handler the client holds subscriptions/listen
	// open for as long as it lives.
	listening, err := mcp.NewClient(&mcp.Implementation{Name: "era-test", Version: "1"}, (&faceClient{}).options()).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer listening.Close()
	client := mcp.NewClient(&mcp.Implementation{Name: "era-test", Version: "1"}, nil)
	old, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, &mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion})
	if err != nil {
		t.Fatalf("a session beside a listening stateless client: %v", err)
	}
	defer old.Close()
	cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatalf("a stateless client at the session cap: %v", err)
	}
	defer cs.Close()
	if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "proc__echo", Arguments: map[string]any{"text": "x"}}); err != nil || toolText(t, res) != "x" {
		t.Fatalf("echo: %v %v", res, err)
	}
	if _, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp", MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion}); err == nil {
		t.Error("a second session past the cap was opened")
	}
}

func (fc *faceClient) progressCount() int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return len(fc.progress)
}

// TestMCPFaceStatelessOrigin: the origin policy holds for stateless
// requests as for sessions: a foreign page's call runs nothing.
func TestMCPFaceStatelessOrigin(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Loopback: true, AllowedOrigins: []string{"https://chat.example"}},
		[]mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calc__add","arguments":{},` + meta + `}}`
	hdr := map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/call", "Mcp-Name": "calc__add"}
	hdr["Origin"] = "https://evil.example"
	if status, _, body := postMCP(t, h.srv.URL, call, hdr); status != http.StatusForbidden || !strings.Contains(body, "origin_not_allowed") {
		t.Errorf("foreign origin: %d %s", status, body)
	}
	if n := len(log.all()); n != 0 {
		t.Fatalf("the tool ran %d times for a refused request", n)
	}
	hdr["Origin"] = "https://chat.example"
	if status, _, body := postMCP(t, h.srv.URL, call, hdr); status != http.StatusOK || !strings.Contains(body, "add got") {
		t.Errorf("allowed origin: %d %s", status, body)
	}
}

// TestMCPFaceLegacyTransportsKeepTheirEra: a go-sdk client at its
// defaults (2026-07-28) on /sse and /ws falls back to a 2025-11-25
// session, the newest those transports serve.
func TestMCPFaceLegacyTransportsKeepTheirEra(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")})
	for name, tr := range map[string]mcp.Transport{
		"sse": &mcp.SSEClientTransport{Endpoint: h.srv.URL + "/sse"},
		"ws":  &mcpclient.WebSocketTransport{URL: "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/ws"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "era-test", Version: "1"}, nil).Connect(ctx, tr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			if v := cs.InitializeResult().ProtocolVersion; v != mcpclient.ProtocolVersion {
				t.Errorf("negotiated %q", v)
			}
			if res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "proc__echo", Arguments: map[string]any{"text": "x"}}); err != nil || toolText(t, res) != "x" {
				t.Fatalf("echo: %v %v", res, err)
			}
		})
	}
}

// TestMCPFaceSSECountsTowardCap: an SSE session (which go-sdk gives no
// id) counts toward the cap like any other.
func TestMCPFaceSSECountsTowardCap(t *testing.T) {
	h := newHarness(t, Options{MaxSessions: 1}, []mcpclient.ServerConfig{mcptest.StdioServer("proc")})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "era-test", Version: "1"}, nil)
	sse, err := client.Connect(ctx, &mcp.SSEClientTransport{Endpoint: h.srv.URL + "/sse"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Close()
	if n := h.b.face.sessions(); n != 1 {
		t.Errorf("%d sessions with one SSE session open", n)
	}
	if cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp", MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion}); err == nil {
		_ = cs.Close()
		t.Error("a session past the cap was opened beside an SSE session")
	}
}

// TestMCPFaceInputRequiredWire follows a stateless client's call whose
// server elicits, on the wire: the first request is answered
// input_required with the server's question and a requestState; that state
// is the caller's alone and good once; the retry carrying the answer gets
// the call's result; a question left unanswered past the wait fails on the
// server's side.
func TestMCPFaceInputRequiredWire(t *testing.T) {
	a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: adminKey}, {Name: "bob", Key: readerKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	heard := make(chan string, 4)
	srv := mcp.NewServer(&mcp.Implementation{Name: "asker", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{Name: "ask", InputSchema: json.RawMessage(`{"type":"object"}`)},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: "name?", RequestedSchema: json.RawMessage(`{"type":"object"}`)})
			text := "elicited: "
			if err != nil {
				text += "error"
			} else {
				text += res.Action
			}
			heard <- text
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}, nil
		})
	h := newHarness(t, Options{Auth: a}, []mcpclient.ServerConfig{{Name: "ask", URL: wsServer(t, srv)}})
	h.b.face.inputs.wait = 300 * time.Millisecond
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{"elicitation":{}}}`
	hdr := func(key string) map[string]string {
		return map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/call", "Mcp-Name": "ask__ask",
			"Authorization": "Bearer " + key}
	}
	type answer struct {
		Result struct {
			ResultType    string                     `json:"resultType"`
			InputRequests map[string]json.RawMessage `json:"inputRequests"`
			RequestState  string                     `json:"requestState"`
			Content       []struct{ Text string }    `json:"content"`
		} `json:"result"`
		Error *struct{ Message string } `json:"error"`
	}
	post := func(key, extra string) answer {
		t.Helper()
		status, _, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ask__ask","arguments":{},`+extra+meta+`}}`, hdr(key))
		if status != http.StatusOK && (status != http.StatusBadRequest || !strings.Contains(body, `"error"`)) {
			t.Fatalf("status %d: %s", status, body)
		}
		for line := range strings.SplitSeq(body, "\n") {
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				body = data
			}
		}
		var a answer
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return a
	}
	first := post(adminKey, "")
	if first.Result.ResultType != "input_required" || len(first.Result.InputRequests) != 1 || first.Result.RequestState == "" {
		t.Fatalf("first answer: %+v", first)
	}
	var id string
	for k, v := range first.Result.InputRequests {
		id = k
		if !strings.Contains(string(v), `"elicitation/create"`) || !strings.Contains(string(v), "name?") {
			t.Errorf("input request %s", v)
		}
	}
	retry := func(key, state string) answer {
		return post(key, `"requestState":"`+state+`","inputResponses":{"`+id+`":{"action":"decline"}},`)
	}
	if a := retry(readerKey, first.Result.RequestState); a.Error == nil || !strings.Contains(a.Error.Message, "requestState is unknown") {
		t.Errorf("another caller's retry: %+v", a)
	}
	done := retry(adminKey, first.Result.RequestState)
	if done.Error != nil || len(done.Result.Content) != 1 || done.Result.Content[0].Text != "elicited: decline" {
		t.Errorf("retry: %+v", done)
	}
	if got := <-heard; got != "elicited: decline" {
		t.Errorf("the server heard %q", got)
	}
	if a := retry(adminKey, first.Result.RequestState); a.Error == nil {
		t.Errorf("a used requestState was taken again: %+v", a)
	}
	// Unanswered: the server's question fails once the wait is over.
	if a := post(adminKey, ""); a.Result.ResultType != "input_required" {
		t.Fatalf("second call: %+v", a)
	}
	select {
	case got := <-heard:
		if got != "elicited: error" {
			t.Errorf("the server heard %q after the wait", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the unanswered question never failed")
	}
}

// TestMCPFaceMissingCapability: a stateless client that did not declare
// sampling, calling a tool whose server asks for it, gets the revision's
// MissingRequiredClientCapabilities error (-32021, HTTP 400) naming the
// capability, rather than a result built on the refusal.
func TestMCPFaceMissingCapability(t *testing.T) {
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{{Name: "doc", URL: wsServer(t, mcptest.NewFeatureServer("doc"))}})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`
	status, _, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"doc__work","arguments":{},`+meta+`}}`,
		map[string]string{"Mcp-Protocol-Version": statelessRevision, "Mcp-Method": "tools/call", "Mcp-Name": "doc__work"})
	if status != http.StatusBadRequest || !strings.Contains(body, "-32021") || !strings.Contains(body, `"requiredCapabilities":{`) || !strings.Contains(body, `"sampling":{}`) {
		t.Errorf("%d %s", status, body)
	}
}
