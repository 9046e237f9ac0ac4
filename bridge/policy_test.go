package bridge

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

const (
	readerKey = "reader-key-0123456789"
	adminKey  = "admin-key-0123456789"
)

// policyHarness is a bridge with two servers (fs: read_file, write_file;
// calc: add) and two keys: "reader" may use fs__read_* on models
// llama*, "admin" everything.
func policyHarness(t *testing.T, pc auth.PolicyConfig, log *callLog, replies ...llmtest.Reply) *harness {
	t.Helper()
	if pc.Tools == nil {
		pc.Tools = []string{"fs__read_*"}
	}
	if pc.Models == nil {
		pc.Models = []string{"llama*"}
	}
	a, err := auth.New(auth.Config{
		Policies: map[string]auth.PolicyConfig{"readers": pc},
		Keys: []auth.Key{{Name: "reader", Key: readerKey, Policy: "readers"},
			{Name: "admin", Key: adminKey}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, Options{Auth: a}, []mcpclient.ServerConfig{
		inMemory("fs", recordingServer(log, "read_file", "write_file")),
		inMemory("calc", recordingServer(log, "add")),
	}, replies...)
}

func keyHeader(key string) http.Header {
	return http.Header{"Authorization": {"Bearer " + key}, "Content-Type": {"application/json"}}
}

// injectedTools returns the names of the bridge tools an upstream request
// carried.
func injectedTools(t *testing.T, r llmtest.Request) []string {
	t.Helper()
	var tools []struct {
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if raw, ok := r.Fields["tools"]; ok {
		if err := json.Unmarshal(raw, &tools); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, tl := range tools {
		names = append(names, tl.Function.Name)
	}
	return names
}

// TestPolicyChat checks chat under a policy: only the caller's tools are
// injected, a call to another bridge tool is refused in a tool message
// and does not run, a model outside the policy is 403, and the model list
// shows only permitted models.
func TestPolicyChat(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log,
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "fs__write_file", Arguments: `{"path":"/x"}`},
			llmtest.Call{ID: "c2", Name: "fs__read_file", Arguments: `{"path":"/y"}`}),
		llmtest.TextStream("done"),
		llmtest.TextStream("admin answer"))
	chat := `{"model":"llama3","stream":true,"messages":[{"role":"user","content":"x"}]}`
	status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey), chat)
	if status != http.StatusOK || !strings.Contains(body, "done") {
		t.Fatalf("reader's chat: %d %s", status, body)
	}
	reqs := h.up.Requests()
	if got := injectedTools(t, reqs[0]); !slices.Equal(got, []string{"fs__read_file"}) {
		t.Errorf("tools injected for the reader: %v", got)
	}
	calls := log.all()
	if len(calls) != 1 || calls[0].Tool != "read_file" {
		t.Errorf("tools that ran: %v", calls)
	}
	var refused string
	for _, m := range reqs[1].Messages() {
		if m["tool_call_id"] == "c1" {
			refused, _ = m["content"].(string)
		}
	}
	if !strings.Contains(refused, `"fs__write_file" is not permitted`) {
		t.Errorf("tool message of the refused call: %q", refused)
	}

	status, _, body = rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey),
		`{"model":"gpt-5","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusForbidden || !strings.Contains(body, `"type":"permission_error"`) || !strings.Contains(body, `"code":"model_not_permitted"`) {
		t.Errorf("a model outside the policy: %d %s", status, body)
	}
	if n := len(h.up.Requests()); n != 2 {
		t.Errorf("the refused model reached the upstream: %d requests", n)
	}

	// The admin sees every tool.
	status, _, body = rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(adminKey), `{"model":"gpt-5","messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusOK || !strings.Contains(body, "admin answer") {
		t.Fatalf("admin's chat: %d %s", status, body)
	}
	if got := injectedTools(t, h.up.Requests()[2]); len(got) != 3 {
		t.Errorf("tools injected for the admin: %v", got)
	}

	h.up.SetModels("llama3", "gpt-5")
	_, _, body = rawRequest(t, h.srv.URL, "GET", "/v1/models", "", keyHeader(readerKey), "")
	if !strings.Contains(body, `"llama3"`) || strings.Contains(body, "gpt-5") || strings.Contains(body, BuiltinModel) {
		t.Errorf("reader's models: %s", body)
	}
	_, _, body = rawRequest(t, h.srv.URL, "GET", "/v1/models", "", keyHeader(adminKey), "")
	if !strings.Contains(body, "gpt-5") || !strings.Contains(body, `"llama3"`) {
		t.Errorf("admin's models: %s", body)
	}
}

// TestNarrowingHeaders checks X-MCP-Tools: none and X-MCP-Servers on chat:
// they narrow, never widen.
func TestNarrowingHeaders(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log, llmtest.TextStream("a"), llmtest.TextStream("b"), llmtest.TextStream("c"))
	chat := `{"model":"llama3","messages":[{"role":"user","content":"x"}]}`
	send := func(key, header, value string) []string {
		t.Helper()
		hd := keyHeader(key)
		hd.Set(header, value)
		if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", hd, chat); status != http.StatusOK {
			t.Fatalf("%s: %d %s", value, status, body)
		}
		reqs := h.up.Requests()
		return injectedTools(t, reqs[len(reqs)-1])
	}
	if got := send(adminKey, "X-MCP-Tools", "none"); len(got) != 0 {
		t.Errorf("X-MCP-Tools: none injected %v", got)
	}
	if got := send(adminKey, "X-MCP-Servers", "calc"); !slices.Equal(got, []string{"calc__add"}) {
		t.Errorf("X-MCP-Servers: calc injected %v", got)
	}
	if got := send(readerKey, "X-MCP-Servers", "calc,fs"); !slices.Equal(got, []string{"fs__read_file"}) {
		t.Errorf("a reader naming more servers got %v", got)
	}
}

// faceClient connects an MCP client to the face with a key.
func keyedFaceClient(t *testing.T, h *harness, key string, extra http.Header) *mcp.ClientSession {
	t.Helper()
	hc := &http.Client{Transport: headerTransport{h: http.Header{"Authorization": {"Bearer " + key}}, extra: extra}}
	c := mcp.NewClient(&mcp.Implementation{Name: "t", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp", HTTPClient: hc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

type headerTransport struct{ h, extra http.Header }

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range t.h {
		r.Header[k] = v
	}
	for k, v := range t.extra {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

func toolNames(t *testing.T, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// TestPolicyMCPFace checks the MCP face shows each caller its own tools,
// refuses calls of others, narrows by header, and keeps a session to the
// caller that opened it.
func TestPolicyMCPFace(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log)
	reader := keyedFaceClient(t, h, readerKey, nil)
	if got := toolNames(t, reader); !slices.Equal(got, []string{"fs__read_file"}) {
		t.Errorf("reader's tools: %v", got)
	}
	if got := toolNames(t, keyedFaceClient(t, h, adminKey, nil)); len(got) != 3 {
		t.Errorf("admin's tools: %v", got)
	}
	if got := toolNames(t, keyedFaceClient(t, h, adminKey, http.Header{"X-Mcp-Servers": {"calc"}})); !slices.Equal(got, []string{"calc__add"}) {
		t.Errorf("admin narrowed to calc: %v", got)
	}
	if got := toolNames(t, keyedFaceClient(t, h, adminKey, http.Header{"X-Mcp-Tools": {"none"}})); len(got) != 0 {
		t.Errorf("admin with X-MCP-Tools: none: %v", got)
	}
	res, err := reader.CallTool(context.Background(), &mcp.CallToolParams{Name: "fs__write_file", Arguments: map[string]any{}})
	if err == nil && !res.IsError {
		t.Errorf("the reader called fs__write_file: %+v", res)
	}
	if _, err := reader.CallTool(context.Background(), &mcp.CallToolParams{Name: "fs__read_file", Arguments: map[string]any{"p": 1}}); err != nil {
		t.Fatal(err)
	}
	if calls := log.all(); len(calls) != 1 || calls[0].Tool != "read_file" {
		t.Errorf("tools that ran: %v", calls)
	}

	// The admin's session id is of no use to the reader.
	status, hdr, _ := rawRequest(t, h.srv.URL, "POST", "/mcp", "", http.Header{"Content-Type": {"application/json"},
		"Accept": {"application/json, text/event-stream"}, "Authorization": {"Bearer " + adminKey}}, initializeBody)
	id := hdr.Get("Mcp-Session-Id")
	if status != http.StatusOK || id == "" {
		t.Fatalf("admin's session: %d", status)
	}
	hd := keyHeader(adminKey)
	hd.Set("Accept", "application/json, text/event-stream")
	hd.Set("Mcp-Session-Id", id)
	hd.Set("Mcp-Protocol-Version", "2025-11-25")
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/mcp", "", hd, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); status >= 300 {
		t.Fatalf("admin's own session: %d %s", status, body)
	}
	hd.Set("Authorization", "Bearer "+readerKey)
	status, _, body := rawRequest(t, h.srv.URL, "POST", "/mcp", "", hd, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"fs__write_file","arguments":{}}}`)
	if status != http.StatusForbidden || !strings.Contains(body, "session_not_yours") {
		t.Errorf("the reader using the admin's session: %d %s", status, body)
	}
	if n := len(log.all()); n != 1 {
		t.Errorf("%d tool calls after the refused ones", n)
	}
}

// TestPolicyOpenAPI checks the OpenAPI face: the document lists the
// caller's tools only, and a call of another tool is 403.
func TestPolicyOpenAPI(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log)
	_, _, doc := rawRequest(t, h.srv.URL, "GET", "/openapi.json", "", keyHeader(readerKey), "")
	if !strings.Contains(doc, `"fs__read_file"`) || strings.Contains(doc, "write_file") || strings.Contains(doc, "calc__add") {
		t.Errorf("reader's document lists other tools: %.400s", doc)
	}
	status, _, body := rawRequest(t, h.srv.URL, "POST", "/tools/fs__write_file", "", keyHeader(readerKey), `{}`)
	if status != http.StatusForbidden || !strings.Contains(body, "tool_not_permitted") {
		t.Errorf("reader calling fs__write_file: %d %s", status, body)
	}
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/tools/fs__read_file", "", keyHeader(readerKey), `{}`); status != http.StatusOK {
		t.Errorf("reader calling fs__read_file: %d %s", status, body)
	}
	if status, _, _ := rawRequest(t, h.srv.URL, "POST", "/tools/fs__write_file", "", keyHeader(adminKey), `{}`); status != http.StatusOK {
		t.Errorf("admin calling fs__write_file: %d", status)
	}
	if calls := log.all(); len(calls) != 2 || calls[0].Tool != "read_file" {
		t.Errorf("tools that ran: %v", calls)
	}
}

// TestPolicyLimits checks the request rate (429 with Retry-After and the
// x-ratelimit headers) and the token budget (insufficient_quota).
func TestPolicyLimits(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{Rate: auth.Rate{Requests: 2, Per: time.Hour}, Tokens: auth.Budget{Limit: 1000, Per: time.Hour}}, &log,
		llmtest.TextStream("1"), llmtest.TextStream("2"), llmtest.TextStream("3"))
	chat := `{"model":"llama3","messages":[{"role":"user","content":"x"}]}`
	for i := range 2 {
		status, hdr, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey), chat)
		if status != http.StatusOK || hdr.Get("X-Ratelimit-Limit-Requests") != "2" || hdr.Get("X-Ratelimit-Remaining-Requests") != []string{"1", "0"}[i] {
			t.Errorf("request %d: %d %v %s", i, status, hdr, body)
		}
	}
	status, hdr, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey), chat)
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(body, `"code":"rate_limit_exceeded"`) ||
		!strings.Contains(body, `"type":"rate_limit_error"`) || hdr.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Errorf("over the rate: %d %v %s", status, hdr, body)
	}
	// Another identity is not limited by the reader's use.
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(adminKey), chat); status != http.StatusOK {
		t.Errorf("admin after the reader's limit: %d %s", status, body)
	}

	h2 := policyHarness(t, auth.PolicyConfig{Tokens: auth.Budget{Limit: 10, Per: time.Hour}}, &log, llmtest.TextStream("1"), llmtest.TextStream("2"))
	if status, _, body := rawRequest(t, h2.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey), chat); status != http.StatusOK {
		t.Fatalf("first request: %d %s", status, body)
	}
	status, hdr, body = rawRequest(t, h2.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey), chat)
	if status != http.StatusTooManyRequests || !strings.Contains(body, `"code":"insufficient_quota"`) || hdr.Get("Retry-After") == "" {
		t.Errorf("spent budget: %d %v %s", status, hdr, body)
	}
	if n := len(h2.up.Requests()); n != 1 {
		t.Errorf("the upstream got %d requests, want 1", n)
	}
}

// openFeed subscribes to /v1/events with a key and returns a channel of
// the tool names of its events ("" for events without one).
func openFeed(t *testing.T, base, key string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d", resp.StatusCode)
	}
	out := make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var a struct {
					Tool string `json:"tool"`
				}
				_ = json.Unmarshal([]byte(data), &a)
				out <- a.Tool
			}
		}
	}()
	return out
}

// TestPolicyEvents checks a caller's feed carries the activity of its own
// tools only.
func TestPolicyEvents(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{}, &log,
		llmtest.ToolCallStream(llmtest.Call{ID: "c1", Name: "calc__add", Arguments: `{}`}, llmtest.Call{ID: "c2", Name: "fs__read_file", Arguments: `{}`}),
		llmtest.TextStream("done"))
	readerFeed, adminFeed := openFeed(t, h.srv.URL, readerKey), openFeed(t, h.srv.URL, adminKey)
	time.Sleep(100 * time.Millisecond) // the subscriptions are registered
	if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(adminKey),
		`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`); status != http.StatusOK || !strings.Contains(body, "done") {
		t.Fatalf("admin's chat: %d %s", status, body)
	}
	collect := func(feed <-chan string, n int) []string {
		var got []string
		timeout := time.After(5 * time.Second)
		for len(got) < n {
			select {
			case tool := <-feed:
				if tool != "" {
					got = append(got, tool)
				}
			case <-timeout:
				return got
			}
		}
		return got
	}
	admin := collect(adminFeed, 4)
	if len(admin) != 4 || !slices.Contains(admin, "calc__add") || !slices.Contains(admin, "fs__read_file") {
		t.Errorf("admin's feed: %v", admin)
	}
	reader := collect(readerFeed, 2)
	if len(reader) != 2 || slices.Contains(reader, "calc__add") {
		t.Errorf("reader's feed: %v", reader)
	}
	select {
	case tool := <-readerFeed:
		if tool != "" {
			t.Errorf("reader's feed has more: %q", tool)
		}
	case <-time.After(200 * time.Millisecond):
	}
}

// TestIdentityReachesUpstream checks a key's own upstream key replaces
// the configured one, and the caller's name travels in the configured
// header.
func TestIdentityReachesUpstream(t *testing.T) {
	a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: readerKey, UpstreamAPIKey: "sk-alice"}, {Name: "bob", Key: adminKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Auth: a, ForwardIdentityHeader: "X-Bridge-User"}, nil, llmtest.TextStream("a"), llmtest.TextStream("b"))
	chat := `{"model":"m","messages":[{"role":"user","content":"x"}]}`
	for _, key := range []string{readerKey, adminKey} {
		if status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(key), chat); status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
	}
	reqs := h.up.Requests()
	if got := reqs[0].Header; got.Get("Authorization") != "Bearer sk-alice" || got.Get("X-Bridge-User") != "alice" {
		t.Errorf("alice's upstream request: %v", got)
	}
	if got := reqs[1].Header; got.Get("Authorization") != "" || got.Get("X-Bridge-User") != "bob" {
		t.Errorf("bob's upstream request: %v", got)
	}
}

// TestJWTProtectedResource checks that with JWT configured the bridge
// serves the protected resource metadata without credentials and names
// it in the 401 of /mcp.
func TestJWTProtectedResource(t *testing.T) {
	jwks, _ := writeJWKS(t)
	a, err := auth.New(auth.Config{JWT: &auth.JWTConfig{JWKS: jwks, Issuer: "https://idp.example", Audience: "mcp-bridge"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Options{Auth: a}, nil)
	status, hdr, _ := rawRequest(t, h.srv.URL, "POST", "/mcp", "", http.Header{"Content-Type": {"application/json"}}, initializeBody)
	wa := hdr.Get("Www-Authenticate")
	if status != http.StatusUnauthorized || !strings.Contains(wa, `resource_metadata="`+h.srv.URL+"/.well-known/oauth-protected-resource") {
		t.Fatalf("401 of /mcp: %d %q", status, wa)
	}
	metaURL := wa[strings.Index(wa, `resource_metadata="`)+len(`resource_metadata="`):]
	metaURL = metaURL[:strings.Index(metaURL, `"`)]
	status, _, body := rawRequest(t, metaURL, "GET", "", "", nil, "")
	if status != http.StatusOK || !strings.Contains(body, `"authorization_servers":["https://idp.example"]`) {
		t.Errorf("metadata %s: %d %s", metaURL, status, body)
	}
}

// writeJWKS writes a JWKS with one fresh RSA key, key id "k1", to a file,
// and returns the file and the key.
func writeJWKS(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	n := base64.RawURLEncoding.EncodeToString(k.N.Bytes())
	e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, []byte(`{"keys":[{"kty":"RSA","kid":"k1","alg":"RS256","use":"sig","n":"`+n+`","e":"`+e+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k
}

// TestFaceSessionFollowsReloadedPolicy: a face session opened under a
// policy that allowed a tool ends when a reload changes the policy: its
// next request is answered 404 (MCP's word for a session that is gone)
// saying why, the server never sees the call, and a new session gets the
// narrowed view.
func TestFaceSessionFollowsReloadedPolicy(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{Tools: []string{"fs__*"}}, &log)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := &http.Client{Transport: headerTransport{h: keyHeader(readerKey)}}
	connect := func() *mcp.ClientSession {
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "reload-test", Version: "1"}, nil).Connect(ctx,
			&mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, &mcp.ClientSessionOptions{ProtocolVersion: mcpclient.ProtocolVersion})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	cs := connect()
	write := &mcp.CallToolParams{Name: "fs__write_file", Arguments: map[string]any{}}
	if res, err := cs.CallTool(ctx, write); err != nil || res.IsError {
		t.Fatalf("before the reload: %+v %v", res, err)
	}
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
	status, _, body := postMCP(t, h.srv.URL, `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"fs__write_file","arguments":{}}}`,
		map[string]string{"Mcp-Session-Id": cs.ID(), "Mcp-Protocol-Version": mcpclient.ProtocolVersion, "Authorization": "Bearer " + readerKey})
	if status != http.StatusNotFound || !strings.Contains(body, "policy changed") {
		t.Errorf("the old session after the reload: %d %s", status, body)
	}
	if res, err := cs.CallTool(ctx, write); err == nil {
		t.Errorf("the old session still calls: %+v", res)
	}
	if n := len(log.all()); n != before {
		t.Errorf("the servers ran %d more calls", n-before)
	}
	tools, err := connect().ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	notListed(t, tools, "fs__write_file", "a new session after the policy took it away")
}

// TestReadyzShowsTheKeysServers: /readyz gives a key the details of the
// servers and tools its policy lets it use only; the status is the
// bridge's.
func TestReadyzShowsTheKeysServers(t *testing.T) {
	var log callLog
	h := policyHarness(t, auth.PolicyConfig{Servers: []string{"fs"}, Tools: []string{"fs__read_*"}}, &log)
	get := func(key string) (int, map[string]any) {
		status, _, body := do(t, "GET", h.srv.URL+"/readyz", keyHeader(key), "")
		var out map[string]any
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return status, out
	}
	status, reader := get(readerKey)
	servers, _ := reader["servers"].([]any)
	if status != http.StatusOK || reader["status"] != "ready" || len(servers) != 1 || servers[0].(map[string]any)["name"] != "fs" || reader["tools"] != float64(1) {
		t.Errorf("reader: %d %v", status, reader)
	}
	_, admin := get(adminKey)
	if servers, _ := admin["servers"].([]any); len(servers) != 2 || admin["tools"] != float64(3) {
		t.Errorf("admin: %v", admin)
	}
}

// notListed fails t when tools lists name; where says whose list it is.
func notListed(t *testing.T, tools *mcp.ListToolsResult, name, where string) {
	t.Helper()
	for _, tl := range tools.Tools {
		if tl.Name == name {
			t.Errorf("%s lists %s", where, name)
		}
	}
}
