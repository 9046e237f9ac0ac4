package bridge

// Tests of the HTTP side of the MCP face: the count of open /sse streams,
// the owner check of the legacy SSE transport's POSTs, and the revision
// a /ws session is held to.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestSSEStreamCount: a GET of /sse counts as one open stream while it
// runs and no longer once it returned; a POST (a message of a session)
// is no stream.
func TestSSEStreamCount(t *testing.T) {
	h := newHarness(t, Options{}, nil)
	var during int64
	serve := h.b.countSSE(func(echo.Context) error {
		during = h.b.face.sseStreams.Load()
		return nil
	})
	for i, c := range []struct {
		method string
		during int64
	}{{http.MethodGet, 1}, {http.MethodGet, 1}, {http.MethodPost, 0}} {
		req := httptest.NewRequest(c.method, "/sse", nil)
		if err := serve(h.b.echo.NewContext(req, httptest.NewRecorder())); err != nil {
			t.Fatal(err)
		}
		if during != c.during {
			t.Errorf("%d: %s counted %d streams while it ran, want %d", i, c.method, during, c.during)
		}
		if n := h.b.face.sseStreams.Load(); n != 0 {
			t.Errorf("%d: %d streams after %s returned, want 0", i, n, c.method)
		}
	}
}

// TestSSESessionOwner: a POST to a legacy SSE session (its id in
// ?sessionid=) by a caller other than the one who opened it is refused.
func TestSSESessionOwner(t *testing.T) {
	a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: bobKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Auth: a}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+aliceKey)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	endpoint := ""
	for sc := bufio.NewScanner(resp.Body); endpoint == "" && sc.Scan(); {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			endpoint = data
		}
	}
	if !strings.Contains(endpoint, "sessionid=") {
		t.Fatalf("no endpoint event (status %d)", resp.StatusCode)
	}
	post := func(key, body string) (int, string) {
		status, _, answer := rawRequest(t, h.srv.URL, "POST", endpoint, "", keyHeader(key), body)
		return status, answer
	}
	if status, body := post(aliceKey, initializeBody); status >= 300 {
		t.Fatalf("alice's own session: %d %s", status, body)
	}
	if status, body := post(bobKey, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status != http.StatusForbidden || !strings.Contains(body, "session_not_yours") {
		t.Errorf("bob posting to alice's SSE session: %d %s", status, body)
	}
}

// TestWebSocketPinsItsRevision: on /ws, a server/discover is answered
// "method not found" (and nothing else: no error is logged) and the
// session goes on to the client's initialize; an initialize asking for a
// newer revision than mcpclient.ProtocolVersion is answered with that
// version and gets a session of it, in which the face's servers may ask
// the client for elicitation while serving a call.
func TestWebSocketPinsItsRevision(t *testing.T) {
	var logs syncbuf.Buffer
	h := newHarness(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		[]mcpclient.ServerConfig{{Name: "ask", URL: wsServer(t, askServer())}})
	for _, asked := range []string{statelessRevision, "2099-01-01", mcpclient.ProtocolVersion} {
		t.Run(asked, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.srv.URL, "http")+"/ws", &websocket.DialOptions{Subprotocols: []string{"mcp"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			send := func(msg string) {
				t.Helper()
				if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
			}
			type message struct {
				ID     *int
				Method string
				Result json.RawMessage
				Error  *struct{ Code int }
			}
			// answer reads up to the answer to id, declining the
			// elicitations asked meanwhile; it returns the answer and how
			// many were asked.
			answer := func(id int) (message, int) {
				t.Helper()
				asked := 0
				for {
					_, b, err := conn.Read(ctx)
					if err != nil {
						t.Fatalf("no answer to %d: %v", id, err)
					}
					var m message
					if err := json.Unmarshal(b, &m); err != nil {
						t.Fatalf("%v: %s", err, b)
					}
					switch {
					case m.Method == "elicitation/create" && m.ID != nil:
						asked++
						send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"result":{"action":"decline"}}`, *m.ID))
					case m.Method == "" && m.ID != nil && *m.ID == id:
						return m, asked
					}
				}
			}
			send(`{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}`)
			if m, _ := answer(1); m.Error == nil || m.Error.Code != -32601 {
				t.Errorf("server/discover: %+v %s", m.Error, m.Result)
			}
			send(`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"` + asked + `","capabilities":{"elicitation":{}},"clientInfo":{"name":"x","version":"1"}}}`)
			var init struct{ ProtocolVersion string }
			if m, _ := answer(2); json.Unmarshal(m.Result, &init) != nil || init.ProtocolVersion != mcpclient.ProtocolVersion {
				t.Errorf("initialize asking %s: %s", asked, m.Result)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("errors logged:\n%s", logs.String())
			}
			send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
			send(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ask__ask","arguments":{}}}`)
			m, elicited := answer(3)
			if elicited != 1 || !strings.Contains(string(m.Result), "elicited: decline") {
				t.Errorf("a call that elicits: %d elicitations, answer %s", elicited, m.Result)
			}
		})
	}
}
