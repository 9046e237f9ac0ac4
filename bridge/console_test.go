package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/console"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// consoleServers fetches the console's servers with key.
func consoleServers(t *testing.T, base, key string) []console.Server {
	t.Helper()
	status, _, body := rawRequest(t, base, "GET", console.ServersPath, "", keyHeader(key), "")
	if status != http.StatusOK {
		t.Fatalf("servers with %s: %d %s", key, status, body)
	}
	var v struct {
		Servers []console.Server `json:"servers"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v.Servers
}

// TestConsoleRoutes: the console's files are served without a key (a
// browser's navigation carries none, and they hold no data) but under the
// origin and host policy like every route; its data route needs the key,
// and shows the calls made on any face.
func TestConsoleRoutes(t *testing.T) {
	const key = "console-key-0123456789"
	var log callLog
	h := newHarness(t, Options{APIKeys: []string{key}, Loopback: true},
		[]mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))})

	status, hdr, body := rawRequest(t, h.srv.URL, "GET", "/ui/", "", nil, "")
	if status != http.StatusOK || !strings.Contains(body, "mcp-bridge console") || hdr.Get("Content-Security-Policy") != console.ContentSecurityPolicy ||
		hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /ui/: %d %v", status, hdr)
	}
	if status, hdr, _ := rawRequest(t, h.srv.URL, "GET", "/ui/app.js", "", nil, ""); status != http.StatusOK ||
		!strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET /ui/app.js: %d %v", status, hdr)
	}
	req, _ := http.NewRequest("GET", h.srv.URL+"/ui", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "ui/" {
		t.Errorf("GET /ui: %d %v", resp.StatusCode, resp.Header)
	}

	// The policy of every route.
	for name, tc := range map[string]struct {
		host string
		hdr  http.Header
	}{
		"foreign origin":   {"", http.Header{"Origin": {"https://evil.example"}}},
		"cross-site page":  {"", http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		"rebound hostname": {"evil.example", nil},
	} {
		for _, path := range []string{"/ui/", "/ui/app.js", console.ServersPath} {
			if status, _, body := rawRequest(t, h.srv.URL, "GET", path, tc.host, tc.hdr, ""); status != http.StatusForbidden {
				t.Errorf("%s, %s: %d %s, want 403", name, path, status, body)
			}
		}
	}

	// The data needs the key.
	if status, _, body := rawRequest(t, h.srv.URL, "GET", console.ServersPath, "", nil, ""); status != http.StatusUnauthorized {
		t.Errorf("servers without a key: %d %s", status, body)
	}
	if status, _, body := rawRequest(t, h.srv.URL, "GET", console.ServersPath, "", keyHeader("wrong-key-0123456789"), ""); status != http.StatusUnauthorized ||
		!strings.Contains(body, "invalid_api_key") {
		t.Errorf("servers with a wrong key: %d %s", status, body)
	}
	servers := consoleServers(t, h.srv.URL, key)
	if len(servers) != 1 || servers[0].Name != "calc" || servers[0].State != mcpclient.StateReady || servers[0].Tools != 1 || servers[0].Calls != 0 {
		t.Fatalf("servers: %+v", servers)
	}
	// A call on the OpenAPI face shows in the server's latency.
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/tools/calc__add", "", keyHeader(key), `{}`); status != http.StatusOK {
		t.Fatalf("call: %d %s", status, body)
	}
	if s := consoleServers(t, h.srv.URL, key)[0]; s.Calls != 1 || len(s.Latency) != 1 || s.Latency[0].Error {
		t.Errorf("after a call: %+v", s)
	}
}

// TestConsoleServersFollowPolicy: a restricted key sees the servers and
// tools its policy allows, no more.
func TestConsoleServersFollowPolicy(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log)
	admin := consoleServers(t, h.srv.URL, adminKey)
	if len(admin) != 2 || admin[0].Tools+admin[1].Tools != 3 {
		t.Errorf("admin: %+v", admin)
	}
	reader := consoleServers(t, h.srv.URL, readerKey)
	total := 0
	for _, s := range reader {
		total += s.Tools
	}
	if total != 1 {
		t.Errorf("reader sees %d tools, want 1 (fs__read_file): %+v", total, reader)
	}
	h2 := policyHarness(t, auth.PolicyConfig{Servers: []string{"fs"}}, &log)
	if reader := consoleServers(t, h2.srv.URL, readerKey); len(reader) != 1 || reader[0].Name != "fs" || reader[0].Tools != 1 {
		t.Errorf("reader of fs: %+v", reader)
	}
}

// TestFeedIdentityForTheFullViewOnly: the feed says who made a call or a
// chat request to callers of the full view; a caller restricted by a
// policy sees the activity it may see, without the others' names.
func TestFeedIdentityForTheFullViewOnly(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log,
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "fs__read_file", Arguments: `{}`}), llmtest.TextStream("done"))
	feed := func(key string) <-chan map[string]any {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		req, _ := http.NewRequestWithContext(ctx, "GET", h.srv.URL+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("feed: %v %v", err, resp)
		}
		out := make(chan map[string]any, 16)
		go func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					var ev map[string]any
					_ = json.Unmarshal([]byte(data), &ev)
					out <- ev
				}
			}
		}()
		return out
	}
	readerFeed, adminFeed := feed(readerKey), feed(adminKey)
	time.Sleep(100 * time.Millisecond) // the subscriptions are registered
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(adminKey),
		`{"model":"llama3","stream":true,"messages":[{"role":"user","content":"x"}]}`); status != http.StatusOK || !strings.Contains(body, "done") {
		t.Fatalf("admin's chat: %d %s", status, body)
	}
	collect := func(feed <-chan map[string]any) []map[string]any {
		var got []map[string]any
		timeout := time.After(5 * time.Second)
		for len(got) < 4 {
			select {
			case ev := <-feed:
				if ev["type"] != "server_up" {
					got = append(got, ev)
				}
			case <-timeout:
				return got
			}
		}
		return got
	}
	types := func(evs []map[string]any) (s []string) {
		for _, ev := range evs {
			s = append(s, ev["type"].(string))
		}
		return s
	}
	want := "[chat_started tool_call_started tool_call_finished chat_finished]"
	admin, reader := collect(adminFeed), collect(readerFeed)
	if got := strings.Join(types(admin), " "); "["+got+"]" != want {
		t.Fatalf("admin's feed: %v", admin)
	}
	if got := strings.Join(types(reader), " "); "["+got+"]" != want {
		t.Fatalf("reader's feed: %v", reader)
	}
	for i := range admin {
		if admin[i]["identity"] != "admin" {
			t.Errorf("admin's feed: %v has no identity", admin[i])
		}
		if _, ok := reader[i]["identity"]; ok {
			t.Errorf("reader's feed shows who: %v", reader[i])
		}
	}
}
