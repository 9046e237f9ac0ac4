package bridge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// rawRequest sends a request with exactly the given Host and headers, the
// way a browser under DNS rebinding or a cross-site page would.
func rawRequest(t *testing.T, base, method, path, host string, header http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`

// TestCrossSiteRequestsRunNothing replays what a page on another site
// could send: with a foreign Origin every route is refused before
// anything runs, CORS is never granted to it, and a text/plain "simple"
// request is refused even from an allowed origin.
func TestCrossSiteRequestsRunNothing(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Loopback: true, AllowedOrigins: []string{"https://chat.example"}},
		[]mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))}, llmtest.TextStream("hello"))
	evil := "https://evil.example"
	chat := `{"model":"m","messages":[{"role":"user","content":"call calc__add"}]}`
	for _, c := range []struct {
		method, path, ct, body string
	}{
		{"POST", "/tools/calc__add", "application/json", `{"a":1}`},
		{"POST", "/tools/calc__add", "text/plain", `{"a":1}`},
		{"POST", "/v1/chat/completions", "application/json", chat},
		{"POST", "/v1/chat/completions", "text/plain", chat},
		{"POST", "/chat/completions", "text/plain;charset=UTF-8", chat},
		{"GET", "/openapi.json", "", ""},
		{"GET", "/v1/models", "", ""},
		{"GET", "/v1/events", "", ""},
		{"POST", "/mcp", "application/json", initializeBody},
		{"GET", "/sse", "", ""},
		{"GET", "/ws", "", ""},
		{"GET", "/readyz", "", ""},
		{"GET", "/no/such/route", "", ""},
		{"OPTIONS", "/tools/calc__add", "", ""},
	} {
		hdr := http.Header{"Origin": {evil}}
		if c.ct != "" {
			hdr.Set("Content-Type", c.ct)
		}
		if c.method == "OPTIONS" {
			hdr.Set("Access-Control-Request-Method", "POST")
		}
		status, rh, body := rawRequest(t, h.srv.URL, c.method, c.path, "", hdr, c.body)
		if status != http.StatusForbidden || !strings.Contains(body, "origin_not_allowed") {
			t.Errorf("%s %s (%s) from %s: %d %.200s", c.method, c.path, c.ct, evil, status, body)
		}
		if got := rh.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s %s: Access-Control-Allow-Origin %q granted to %s", c.method, c.path, got, evil)
		}
	}
	// Navigations and images carry no Origin, but say where they come from.
	if status, _, _ := rawRequest(t, h.srv.URL, "GET", "/v1/models", "", http.Header{"Sec-Fetch-Site": {"cross-site"}}, ""); status != http.StatusForbidden {
		t.Errorf("cross-site request without Origin: %d", status)
	}

	// From the allowed origin, a simple request still runs nothing.
	for _, path := range []string{"/tools/calc__add", "/v1/chat/completions"} {
		status, _, body := rawRequest(t, h.srv.URL, "POST", path, "", http.Header{"Origin": {"https://chat.example"}, "Content-Type": {"text/plain"}}, `{"a":1}`)
		if status != http.StatusUnsupportedMediaType || !strings.Contains(body, "application/json") {
			t.Errorf("text/plain to %s from an allowed origin: %d %s", path, status, body)
		}
	}
	if n := len(log.all()); n != 0 {
		t.Fatalf("the tool ran %d times for refused requests", n)
	}
	if n := len(h.up.Requests()); n != 0 {
		t.Fatalf("the upstream got %d requests for refused requests", n)
	}

	// The allowed origin and loopback pages work, with CORS for the former.
	status, rh, body := rawRequest(t, h.srv.URL, "POST", "/tools/calc__add", "", http.Header{"Origin": {"https://chat.example"}, "Content-Type": {"application/json"}}, `{"a":1}`)
	if status != http.StatusOK || rh.Get("Access-Control-Allow-Origin") != "https://chat.example" || !strings.Contains(body, "add got") {
		t.Errorf("allowed origin: %d %v %s", status, rh, body)
	}
	status, _, body = rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", http.Header{"Origin": {"http://localhost:3000"}, "Content-Type": {"application/json"}}, chat)
	if status != http.StatusOK || !strings.Contains(body, "hello") {
		t.Errorf("loopback page: %d %s", status, body)
	}
	status, rh, _ = rawRequest(t, h.srv.URL, "OPTIONS", "/v1/chat/completions", "", http.Header{"Origin": {"https://chat.example"},
		"Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization,content-type"},
		"Access-Control-Request-Private-Network": {"true"}}, "")
	if status != http.StatusNoContent || rh.Get("Access-Control-Allow-Origin") != "https://chat.example" ||
		!strings.Contains(rh.Get("Access-Control-Allow-Headers"), "Authorization") || rh.Get("Access-Control-Allow-Private-Network") != "true" {
		t.Errorf("preflight of the chat route: %d %v", status, rh)
	}
}

// TestDNSRebinding sends what a page whose own name resolves to 127.0.0.1
// sends: its name as Host and as Origin. Every route refuses it while the
// bridge listens on loopback; the names in AllowedHosts pass.
func TestDNSRebinding(t *testing.T) {
	var log callLog
	h := newHarness(t, Options{Loopback: true, AllowedHosts: []string{"host.docker.internal", "proxy.example:8443"}},
		[]mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.srv.URL, "http://"))
	evil := "evil.com:" + port
	for _, path := range []string{"/v1/models", "/mcp", "/sse", "/ws", "/openapi.json", "/healthz"} {
		for _, origin := range []string{"http://" + evil, ""} {
			hdr := http.Header{}
			if origin != "" {
				hdr.Set("Origin", origin)
			}
			if status, _, body := rawRequest(t, h.srv.URL, "GET", path, evil, hdr, ""); status != http.StatusForbidden || !strings.Contains(body, "host_not_allowed") {
				t.Errorf("GET %s with Host %s, Origin %q: %d %.200s", path, evil, origin, status, body)
			}
		}
	}
	// A WebSocket handshake under the rebinding name gets no session.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, strings.Replace(h.srv.URL, "http", "ws", 1)+"/ws", &websocket.DialOptions{
		Subprotocols: []string{"mcp"}, Host: evil, HTTPHeader: http.Header{"Origin": {"http://" + evil}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("WebSocket under a rebinding name: err %v, response %v", err, resp)
	}
	status, _, body := rawRequest(t, h.srv.URL, "POST", "/tools/calc__add", evil, http.Header{"Content-Type": {"application/json"}}, `{"a":1}`)
	if status != http.StatusForbidden {
		t.Errorf("tool call with Host %s: %d %s", evil, status, body)
	}
	if n := len(log.all()); n != 0 {
		t.Fatalf("the tool ran %d times", n)
	}
	for _, host := range []string{"host.docker.internal:" + port, "proxy.example:8443", "localhost:" + port, "[::1]:" + port} {
		if status, _, body := rawRequest(t, h.srv.URL, "GET", "/v1/models", host, nil, ""); status != http.StatusOK {
			t.Errorf("Host %s: %d %s", host, status, body)
		}
	}
	if status, _, _ := rawRequest(t, h.srv.URL, "GET", "/v1/models", "proxy.example:9999", nil, ""); status != http.StatusForbidden {
		t.Errorf("a listed name on another port: %d", status)
	}
	// The bridge's own pages behind a listed name: same origin passes.
	if status, _, _ := rawRequest(t, h.srv.URL, "GET", "/v1/models", "proxy.example:8443", http.Header{"Origin": {"http://proxy.example:8443"}}, ""); status != http.StatusOK {
		t.Errorf("same-origin page of a listed host: %d", status)
	}
}

// TestOriginPolicyRules checks the policy's decisions one by one.
func TestOriginPolicyRules(t *testing.T) {
	p := newOriginPolicy([]string{"https://Chat.Example:443", "http://app.test:8123"}, []string{"proxy.example"}, true)
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"https://chat.example", "127.0.0.1:9090", true},
		{"http://app.test:8123", "127.0.0.1:9090", true},
		{"http://app.test:8124", "127.0.0.1:9090", false},
		{"http://127.0.0.1:5173", "127.0.0.1:9090", true},
		{"http://localhost", "127.0.0.1:9090", true},
		{"http://[::1]:3000", "127.0.0.1:9090", true},
		{"null", "127.0.0.1:9090", false},
		{"file://", "127.0.0.1:9090", false},
		{"http://evil.com:9090", "evil.com:9090", false}, // rebinding: Origin equals Host
		{"https://proxy.example", "proxy.example", true},
		{"https://proxy.example", "proxy.example:443", true},
		{"http://localhost.evil.com", "127.0.0.1:9090", false},
		{"http://127.0.0.1.nip.io", "127.0.0.1:9090", false},
	} {
		if got := p.originAllowed(c.origin, c.host); got != c.want {
			t.Errorf("originAllowed(%q, %q) = %v, want %v", c.origin, c.host, got, c.want)
		}
	}
	for _, c := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1:9090", true}, {"localhost:9090", true}, {"LOCALHOST", true}, {"[::1]:9090", true},
		{"127.1.2.3", true}, {"proxy.example:80", true}, {"evil.com", false}, {"localhost.evil.com:9090", false}, {"", false},
	} {
		if got := p.hostAllowed(c.host); got != c.want {
			t.Errorf("hostAllowed(%q) = %v, want %v", c.host, got, c.want)
		}
	}
	if open := newOriginPolicy(nil, nil, false); !open.hostAllowed("bridge.internal:9090") {
		t.Error("the Host is checked while listening beyond loopback with no allowed hosts")
	}
	for ct, want := range map[string]bool{"application/json": true, "application/json; charset=utf-8": true, "application/merge-patch+json": true,
		"text/plain": false, "application/x-www-form-urlencoded": false, "multipart/form-data; boundary=x": false, "": false} {
		if got := isJSONContentType(ct); got != want {
			t.Errorf("isJSONContentType(%q) = %v", ct, got)
		}
	}
}

// TestReadyzDetailsNeedAKey checks that /readyz, which needs no key, tells
// a caller without one only whether the bridge is ready.
func TestReadyzDetailsNeedAKey(t *testing.T) {
	h := newHarness(t, Options{APIKeys: []string{"0123456789abcdef"}}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&callLog{}, "add"))})
	status, _, body := rawRequest(t, h.srv.URL, "GET", "/readyz", "", nil, "")
	if status != http.StatusOK || strings.TrimSpace(body) != `{"status":"ready"}` {
		t.Errorf("without a key: %d %s", status, body)
	}
	status, _, body = rawRequest(t, h.srv.URL, "GET", "/readyz", "", http.Header{"Authorization": {"Bearer 0123456789abcdef"}}, "")
	if status != http.StatusOK || !strings.Contains(body, `"name":"calc"`) {
		t.Errorf("with a key: %d %s", status, body)
	}
}

// TestUnauthorizedDoesNotWaitForTheBody sends headers, then a body that
// never comes: the 401 arrives at once and the connection is closed.
func TestUnauthorizedDoesNotWaitForTheBody(t *testing.T) {
	h := newHarness(t, Options{APIKeys: []string{"0123456789abcdef"}}, nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body is pending: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("status %d, close %v", resp.StatusCode, resp.Close)
	}
}
