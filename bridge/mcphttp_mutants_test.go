package bridge

// Tests of the HTTP side of the MCP face: the count of open /sse streams
// and the owner check of the legacy SSE transport's POSTs.

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
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
