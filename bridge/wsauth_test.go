package bridge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// closeOf reads from a raw /ws socket until the bridge closes it, and
// returns the close frame's code and reason; it fails the test when the
// socket is still open after wait.
func closeOf(t *testing.T, conn *websocket.Conn, wait time.Duration) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		_, _, err := conn.Read(ctx)
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason
		}
		if err != nil {
			t.Fatalf("the socket was not closed by the bridge: %v", err)
		}
	}
}

// dialRaw opens a /ws socket with the header, without speaking MCP on it.
func dialRaw(t *testing.T, base string, h http.Header) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws", &websocket.DialOptions{
		Subprotocols: []string{mcpclient.WebSocketSubprotocol}, HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial /ws: %v (%v)", err, resp)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// TestWebSocketSessionFollowsReload: a /ws session sends its key once,
// with the handshake, so a reload judges the open sessions again. A
// session whose policy changed ends (close 1008, saying so) and its
// client's next call runs nothing; a session whose key was dropped ends;
// a session of a caller whose view did not change goes on and calls.
func TestWebSocketSessionFollowsReload(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{Tools: []string{"fs__*"}}, &log)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const droppedKey = "dropped-key-0123456789"
	a, err := auth.New(auth.Config{
		Policies: map[string]auth.PolicyConfig{"readers": {Tools: []string{"fs__*"}}},
		Keys: []auth.Key{{Name: "reader", Key: readerKey, Policy: "readers"}, {Name: "admin", Key: adminKey},
			{Name: "dropped", Key: droppedKey}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.b.Apply(Options{Upstream: h.b.opts.Upstream, Auth: a}); err != nil {
		t.Fatal(err)
	}
	connect := func(key string) *mcp.ClientSession {
		tr := &mcpclient.WebSocketTransport{URL: "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/ws",
			Header: http.Header{"Authorization": {"Bearer " + key}}}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "ws-reload", Version: "1"}, nil).Connect(ctx, tr, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	write := &mcp.CallToolParams{Name: "fs__write_file", Arguments: map[string]any{}}
	reader, admin := connect(readerKey), connect(adminKey)
	for name, cs := range map[string]*mcp.ClientSession{"reader": reader, "admin": admin} {
		if res, err := cs.CallTool(ctx, write); err != nil || res.IsError {
			t.Fatalf("%s before the reload: %+v %v", name, res, err)
		}
	}
	readerRaw := dialRaw(t, h.srv.URL, http.Header{"Authorization": {"Bearer " + readerKey}})
	droppedRaw := dialRaw(t, h.srv.URL, http.Header{"Authorization": {"Bearer " + droppedKey}})
	adminRaw := dialRaw(t, h.srv.URL, http.Header{"Authorization": {"Bearer " + adminKey}})

	narrowed, err := auth.New(auth.Config{
		Policies: map[string]auth.PolicyConfig{"readers": {Tools: []string{"fs__read_*"}}},
		Keys:     []auth.Key{{Name: "reader", Key: readerKey, Policy: "readers"}, {Name: "admin", Key: adminKey}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.b.Apply(Options{Upstream: h.b.opts.Upstream, Auth: narrowed}); err != nil {
		t.Fatal(err)
	}
	before := len(log.all())
	if code, reason := closeOf(t, readerRaw, 10*time.Second); code != websocket.StatusPolicyViolation || reason != closePolicyChanged {
		t.Errorf("the reader's socket: %d %q", code, reason)
	}
	if code, reason := closeOf(t, droppedRaw, 10*time.Second); code != websocket.StatusPolicyViolation || reason != closeRevoked {
		t.Errorf("the dropped key's socket: %d %q", code, reason)
	}
	if res, err := reader.CallTool(ctx, write); err == nil {
		t.Errorf("the reader's old session still calls: %+v", res)
	}
	if n := len(log.all()); n != before {
		t.Errorf("the servers ran %d calls for ended sessions", n-before)
	}
	if res, err := admin.CallTool(ctx, write); err != nil || res.IsError {
		t.Errorf("the admin's session, whose view did not change: %+v %v", res, err)
	}
	// The admin's raw socket is still open: a ping gets its pong.
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	go func() { _, _, _ = adminRaw.Read(pctx) }() // pongs are read by a reader
	if err := adminRaw.Ping(pctx); err != nil {
		t.Errorf("the admin's raw socket after the reload: %v", err)
	}
	// A new session of the reader gets the narrowed view.
	tools, err := connect(readerKey).ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	notListed(t, tools, "fs__write_file", "a new session after the policy took it away")
}

// TestWebSocketSessionEndsWhenTokenExpires: a /ws session opened with a
// JWT ends when the token's exp passes, though the socket sends nothing
// that would be judged again.
func TestWebSocketSessionEndsWhenTokenExpires(t *testing.T) {
	jwks, key := writeJWKS(t)
	a, err := auth.New(auth.Config{JWT: &auth.JWTConfig{JWKS: jwks, Issuer: "https://idp.example", Audience: "mcp-bridge"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Auth: a}, nil)
	sign := func(exp time.Time) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": "https://idp.example", "aud": "mcp-bridge", "sub": "carol", "exp": exp.Unix()})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// exp is in whole seconds.
	exp := time.Unix(time.Now().Add(3*time.Second).Unix(), 0)
	short := dialRaw(t, h.srv.URL, http.Header{"Authorization": {"Bearer " + sign(exp)}})
	long := dialRaw(t, h.srv.URL, http.Header{"Authorization": {"Bearer " + sign(time.Now().Add(time.Hour))}})
	code, reason := closeOf(t, short, 15*time.Second)
	if code != websocket.StatusPolicyViolation || reason != closeExpired {
		t.Errorf("the socket of the short token: %d %q", code, reason)
	}
	if early := time.Until(exp); early > 0 {
		t.Errorf("the socket ended %v before its token expired", early)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _, _ = long.Read(ctx) }()
	if err := long.Ping(ctx); err != nil {
		t.Errorf("the socket of the long token: %v", err)
	}
}
