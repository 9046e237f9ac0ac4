package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
	"github.com/mcp-bridge/mcp-bridge/openapi"
)

// petAPI is a REST API with its own OpenAPI 3.1 spec (path, query, header
// and body parameters, $refs, a nullable field and an error response),
// served at /openapi.yaml.
func petAPI(t *testing.T) *httptest.Server {
	t.Helper()
	spec, err := os.ReadFile("../openapi/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(spec) })
	mux.HandleFunc("GET /api/pets/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") == "404" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"no pet 404"}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":`+r.PathValue("id")+`,"name":"Rex","tag":null,"fields":"`+r.URL.Query().Get("fields")+`"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestOpenAPIImportedOperation imports a REST API through its spec: a
// scripted model calls one of its operations and gets the API's real
// answer, and MCP clients of the bridge list and call the same operation.
func TestOpenAPIImportedOperation(t *testing.T) {
	api := petAPI(t)
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{
		openapi.ServerConfig(openapi.SpecConfig{Name: "pets", Spec: api.URL + "/openapi.yaml"}, nil),
	},
		llmtest.ToolCallStream(llmtest.Call{ID: "call_1", Name: "pets__getPet", Arguments: `{"petId":7,"fields":["name"]}`}),
		llmtest.TextStream("Rex it is."))

	a := h.stream(`{"model":"m","stream":true,"messages":[{"role":"user","content":"Which pet is 7?"}]}`)
	if a.content != "Rex it is." || a.finish != "stop" {
		t.Errorf("answer %q, finish %q", a.content, a.finish)
	}
	reqs := h.up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d requests", len(reqs))
	}
	if tools := string(reqs[0].Fields["tools"]); !strings.Contains(tools, `"name":"pets__getPet"`) || !strings.Contains(tools, `"petId":{"description":"The pet's id.","type":"integer"}`) {
		t.Errorf("tools sent upstream: %s", tools)
	}
	msgs := reqs[1].ToolMessages()
	if len(msgs) != 1 || msgs[0]["tool_call_id"] != "call_1" {
		t.Fatalf("tool messages %v", msgs)
	}
	if c := msgs[0]["content"]; c != "HTTP 200 OK\n"+`{"id":7,"name":"Rex","tag":null,"fields":"name"}` {
		t.Errorf("tool message content %q", c)
	}

	// The MCP face serves the same operation.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "face-test", Version: "1"}, nil).
		Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	list, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found *mcp.Tool
	for _, tl := range list.Tools {
		if tl.Name == "pets__getPet" {
			found = tl
		}
	}
	if found == nil || found.Description != "Get a pet\n\nReturns one pet by id." {
		t.Fatalf("the face lists %+v", found)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "pets__getPet", Arguments: map[string]any{"petId": 8}})
	if err != nil || res.IsError || !strings.Contains(toolText(t, res), `"id":8,"name":"Rex"`) {
		t.Fatalf("call through the face: %+v, %v", res, err)
	}
	if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), `"name":"Rex"`) {
		t.Errorf("structured content %s", b)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "pets__getPet", Arguments: map[string]any{"petId": 404}})
	if err != nil || !res.IsError || !strings.Contains(toolText(t, res), "HTTP 404 Not Found") {
		t.Errorf("an API error through the face: %+v, %v", res, err)
	}
}

// do sends a request to the bridge and returns the status, headers and body.
func do(t *testing.T, method, url string, header http.Header, body string) (int, http.Header, string) {
	t.Helper()
	h := http.Header{}
	if body != "" {
		h.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		h[k] = v
	}
	return rawRequest(t, url, method, "", "", h, body)
}

func TestOpenAPIToolServerRoutes(t *testing.T) {
	h := newHarness(t, Options{APIKeys: []string{"key-1234"}, AllowedOrigins: []string{"https://ui.example"}},
		[]mcpclient.ServerConfig{inMemory("test", mcptest.NewServerWithOptions(nil))})
	key := http.Header{"Authorization": {"Bearer key-1234"}}

	if status, _, body := do(t, "GET", h.srv.URL+"/openapi.json", nil, ""); status != http.StatusUnauthorized || !strings.Contains(body, "invalid_api_key") {
		t.Errorf("document without a key: %d %s", status, body)
	}
	status, hdr, body := do(t, "GET", h.srv.URL+"/openapi.json", key, "")
	if status != http.StatusOK || hdr.Get("ETag") == "" || !strings.Contains(body, `"operationId":"test__echo"`) || !strings.Contains(body, `"security"`) {
		t.Fatalf("document: %d %v %.300s", status, hdr, body)
	}
	if status, _, _ := do(t, "GET", h.srv.URL+"/openapi.json", http.Header{"X-Api-Key": {"key-1234"}, "If-None-Match": {hdr.Get("ETag")}}, ""); status != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", status)
	}

	if status, _, body := do(t, "POST", h.srv.URL+"/tools/test__echo", key, `{"text":"hi"}`); status != http.StatusOK || body != `{"result":"hi"}`+"\n" {
		t.Errorf("echo: %d %s", status, body)
	}
	if status, _, body := do(t, "POST", h.srv.URL+"/tools/test__add", key, `{"a":1,"b":"x"}`); status != http.StatusUnprocessableEntity || !strings.Contains(body, `"param":"b"`) {
		t.Errorf("bad arguments: %d %s", status, body)
	}
	if status, _, body := do(t, "POST", h.srv.URL+"/tools/test__fail", key, `{}`); status != http.StatusBadGateway || !strings.Contains(body, `"type":"tool_error"`) {
		t.Errorf("tool error: %d %s", status, body)
	}
	if status, _, _ := do(t, "POST", h.srv.URL+"/tools/test__echo", nil, `{"text":"hi"}`); status != http.StatusUnauthorized {
		t.Errorf("call without a key: %d", status)
	}

	// A browser's preflight carries no key, and is answered.
	pre := http.Header{"Origin": {"https://ui.example"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"authorization,content-type"}}
	for _, path := range []string{"/tools/test__echo", "/openapi.json"} {
		status, hdr, _ := do(t, "OPTIONS", h.srv.URL+path, pre, "")
		if status != http.StatusNoContent || hdr.Get("Access-Control-Allow-Origin") != "https://ui.example" ||
			!strings.Contains(hdr.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight of %s: %d %v", path, status, hdr)
		}
	}
	status, hdr, _ = do(t, "GET", h.srv.URL+"/openapi.json", http.Header{"Origin": {"https://ui.example"}, "Authorization": {"Bearer key-1234"}}, "")
	if status != http.StatusOK || hdr.Get("Access-Control-Allow-Origin") != "https://ui.example" || !strings.Contains(hdr.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("CORS headers of the document: %d %v", status, hdr)
	}
}

func TestOpenAPICORSOrigins(t *testing.T) {
	h := newHarness(t, Options{AllowedOrigins: []string{"https://ui.example"}}, []mcpclient.ServerConfig{inMemory("test", mcptest.NewServerWithOptions(nil))})
	pre := func(origin string) (int, string) {
		status, hdr, _ := do(t, "OPTIONS", h.srv.URL+"/tools/test__echo", http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}}, "")
		return status, hdr.Get("Access-Control-Allow-Origin")
	}
	if status, got := pre("https://ui.example"); status != http.StatusNoContent || got != "https://ui.example" {
		t.Errorf("allowed origin: %d %q", status, got)
	}
	if status, got := pre("https://evil.example"); status != http.StatusForbidden || got != "" {
		t.Errorf("other origin: %d %q", status, got)
	}
}
