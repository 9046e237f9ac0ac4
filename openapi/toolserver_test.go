package openapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// geoServer has a tool whose input schema uses $defs, and refers into
// itself with a JSON pointer.
func geoServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "geo", Version: "1"}, nil)
	s.AddTool(&mcp.Tool{Name: "distance", Description: "Distance between two points.\nIn km.",
		InputSchema: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
			"properties":{"from":{"$ref":"#/$defs/Point"},"to":{"$ref":"#/properties/from"},
				"via":{"type":"array","items":{"$ref":"#/$defs/Point"}}},
			"required":["from","to"],
			"$defs":{"Point":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}},"required":["lat","lon"]}}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "42 km"}}}, nil
		})
	return s
}

// toolServer serves a ToolServer of reg the way the bridge routes it.
func toolServer(t *testing.T, reg Tools, opts *ServerOptions) *httptest.Server {
	t.Helper()
	ts := NewToolServer(reg, opts)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", ts.ServeDocument)
	mux.HandleFunc("/tools/{name}", func(w http.ResponseWriter, r *http.Request) { ts.ServeCall(w, r, r.PathValue("name")) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getDocument(t *testing.T, url string, header http.Header) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/openapi.json", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("document is not JSON: %v\n%s", err, body)
		}
	}
	return resp, doc
}

// checkRefs fails on any $ref of doc that does not resolve within it, and
// on any $defs left in it.
func checkRefs(t *testing.T, doc map[string]any) {
	t.Helper()
	resolve := pointerResolver(doc)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["$defs"]; ok {
				t.Errorf("$defs left at %s", path)
			}
			if ref, ok := x["$ref"].(string); ok {
				if _, err := resolve(ref); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, e := range x {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("#", doc)
}

func TestToolServerDocument(t *testing.T) {
	reg := startRegistry(t, mcptest.InMemory("test", mcptest.NewServerWithOptions(nil)), mcptest.InMemory("geo", geoServer()))
	srv := toolServer(t, reg, &ServerOptions{Version: "1.2.3", Auth: true})
	resp, doc := getDocument(t, srv.URL, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if doc["openapi"] != "3.1.0" || doc["info"].(map[string]any)["version"] != "1.2.3" {
		t.Errorf("openapi %v, info %v", doc["openapi"], doc["info"])
	}
	if s := doc["servers"].([]any)[0].(map[string]any)["url"]; s != srv.URL {
		t.Errorf("server url %v, want %s", s, srv.URL)
	}
	if doc["security"] == nil {
		t.Error("no security requirement although keys are required")
	}
	paths := doc["paths"].(map[string]any)
	tools := reg.Tools()
	if len(paths) != len(tools) {
		t.Errorf("%d paths for %d tools", len(paths), len(tools))
	}
	for _, tool := range tools {
		op, ok := paths["/tools/"+tool.Name].(map[string]any)["post"].(map[string]any)
		if !ok {
			t.Errorf("no operation for %s", tool.Name)
			continue
		}
		if op["operationId"] != tool.Name {
			t.Errorf("%s: operationId %v", tool.Name, op["operationId"])
		}
		if tool.Description != "" && op["description"] != tool.Description {
			t.Errorf("%s: description %v", tool.Name, op["description"])
		}
	}
	ops := func(name string) map[string]any {
		return paths["/tools/"+name].(map[string]any)["post"].(map[string]any)
	}
	echo := ops("test__echo")
	body := echo["requestBody"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
	if b, _ := json.Marshal(body); !strings.Contains(string(b), `"text":{"description":"the text to return","type":"string"}`) {
		t.Errorf("echo's body schema %s", b)
	}
	if _, ok := ops("test__pid")["requestBody"]; ok {
		t.Error("a tool without arguments declares a request body")
	}
	add200 := ops("test__add")["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
	if b, _ := json.Marshal(add200); !strings.Contains(string(b), `"sum"`) {
		t.Errorf("add's result schema is not its output schema: %s", b)
	}
	echo200, _ := json.Marshal(echo["responses"].(map[string]any)["200"])
	if !strings.Contains(string(echo200), `#/components/schemas/ToolResult`) {
		t.Errorf("echo's result schema: %s", echo200)
	}
	if ops("geo__distance")["summary"] != "Distance between two points." {
		t.Errorf("summary %v", ops("geo__distance")["summary"])
	}

	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	if _, ok := schemas["geo__distance.Point"]; !ok {
		t.Errorf("$defs not moved to components: %v", sortedKeys(schemas))
	}
	dist, _ := json.Marshal(ops("geo__distance")["requestBody"])
	for _, want := range []string{`"from":{"$ref":"#/components/schemas/geo__distance.Point"}`,
		`"to":{"$ref":"#/components/schemas/geo__distance/properties/from"}`,
		`"items":{"$ref":"#/components/schemas/geo__distance.Point"}`} {
		if !strings.Contains(string(dist), want) {
			t.Errorf("distance's body lacks %s: %s", want, dist)
		}
	}
	if strings.Contains(string(dist), "$schema") {
		t.Errorf("$schema kept: %s", dist)
	}
	checkRefs(t, doc)

	// Behind a proxy.
	_, doc = getDocument(t, srv.URL, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Prefix": {"/bridge/"}})
	if s := doc["servers"].([]any)[0].(map[string]any)["url"]; s != "https://"+strings.TrimPrefix(srv.URL, "http://")+"/bridge" {
		t.Errorf("server url behind a proxy: %v", s)
	}
}

func TestToolServerETag(t *testing.T) {
	events := make(chan mcpclient.Event, 16)
	reg := mcpclient.NewRegistry([]mcpclient.ServerConfig{mcptest.InMemory("test", mcptest.NewServerWithOptions(nil))},
		&mcpclient.Options{OnEvent: func(e mcpclient.Event) { events <- e }})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); _ = reg.Close() }()
	reg.Start(ctx)
	if err := reg.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	srv := toolServer(t, reg, nil)

	resp, doc := getDocument(t, srv.URL, nil)
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, "W/") || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if doc["security"] != nil {
		t.Error("security requirement without keys")
	}
	resp, _ = getDocument(t, srv.URL, http.Header{"If-None-Match": {`"other", ` + etag}})
	if resp.StatusCode != http.StatusNotModified || resp.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match: status %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	resp, _ = getDocument(t, srv.URL, http.Header{"X-Forwarded-Prefix": {"/p"}})
	if resp.Header.Get("ETag") == etag {
		t.Error("documents for different server URLs share an ETag")
	}

	// The tool list changes: the document and its ETag follow.
	if _, err := reg.Call(ctx, "test__add_tool", nil); err != nil {
		t.Fatal(err)
	}
	for e := range events {
		if e.Kind == mcpclient.EventToolsChanged {
			break
		}
	}
	resp, doc = getDocument(t, srv.URL, http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a change: status %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	if _, ok := doc["paths"].(map[string]any)["/tools/test__late"]; !ok {
		t.Error("the new tool is not in the document")
	}
}

// post calls a tool and decodes the answer.
func post(t *testing.T, url, tool, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url+"/tools/"+tool, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", tool, ct)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: answer is not a JSON object (%d): %s", tool, resp.StatusCode, data)
	}
	return resp.StatusCode, v
}

func TestToolServerCalls(t *testing.T) {
	slow := mcptest.InMemory("slow", mcptest.NewServerWithOptions(nil))
	slow.Timeout = 100 * time.Millisecond
	reg := startRegistry(t, mcptest.InMemory("test", mcptest.NewServerWithOptions(nil)), slow)
	srv := toolServer(t, reg, &ServerOptions{MaxBodyBytes: 1000})

	errorOf := func(v map[string]any) map[string]any {
		e, _ := v["error"].(map[string]any)
		return e
	}
	tests := []struct {
		name, tool, body string
		status           int
		check            func(v map[string]any) bool
	}{
		{"text result", "test__echo", `{"text":"hi"}`, 200, func(v map[string]any) bool { return v["result"] == "hi" && len(v) == 1 }},
		{"empty body is {}", "test__pid", ``, 200, func(v map[string]any) bool { r, ok := v["result"].(string); return ok && r != "" && len(v) == 1 }},
		{"structured result", "test__add", `{"a":2,"b":3}`, 200, func(v map[string]any) bool { return v["sum"] == 5.0 && len(v) == 1 }},
		{"wrong type", "test__add", `{"a":"two","b":3}`, 422, func(v map[string]any) bool {
			e := errorOf(v)
			return e["param"] == "a" && e["code"] == "invalid_arguments" && e["type"] == "invalid_request_error" &&
				strings.Contains(e["message"].(string), `the arguments of tool "test__add" do not match its input schema at a: type:`)
		}},
		{"missing property", "test__add", `{"a":2}`, 422, func(v map[string]any) bool {
			return strings.Contains(errorOf(v)["message"].(string), `required: missing properties: ["b"]`) && errorOf(v)["param"] == nil
		}},
		{"not an object", "test__add", `[1]`, 422, func(v map[string]any) bool { return errorOf(v)["code"] == "invalid_arguments" }},
		{"not JSON", "test__add", `{"a":`, 400, func(v map[string]any) bool {
			return strings.HasPrefix(errorOf(v)["message"].(string), "request body is not valid JSON")
		}},
		{"too large", "test__echo", `{"text":"` + strings.Repeat("x", 2000) + `"}`, 413, func(v map[string]any) bool {
			return strings.Contains(errorOf(v)["message"].(string), "larger than the limit of 1000 bytes")
		}},
		{"unknown tool", "nope", `{}`, 404, func(v map[string]any) bool {
			e := errorOf(v)
			return e["type"] == "not_found_error" && e["param"] == "name" && e["code"] == "tool_not_found"
		}},
		{"tool error", "test__fail", `{"message":"it broke"}`, 502, func(v map[string]any) bool {
			e := errorOf(v)
			return e["message"] == "it broke" && e["type"] == "tool_error" && e["code"] == "tool_error" && len(e) == 4
		}},
		{"timeout", "slow__sleep", `{"ms":5000}`, 504, func(v map[string]any) bool { return errorOf(v)["type"] == "timeout_error" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, v := post(t, srv.URL, tt.tool, tt.body)
			if status != tt.status || !tt.check(v) {
				t.Errorf("status %d, answer %v; want %d", status, v, tt.status)
			}
		})
	}

	resp, err := http.Get(srv.URL + "/tools/test__echo")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
		t.Errorf("GET of a tool: %d", resp.StatusCode)
	}
}

func TestToolServerAllow(t *testing.T) {
	reg := startRegistry(t, mcptest.InMemory("test", mcptest.NewServerWithOptions(nil)))
	srv := toolServer(t, reg, &ServerOptions{Allow: func(r *http.Request, tool mcpclient.Tool) bool {
		return tool.Name == "test__echo" || r.Header.Get("X-All") == "1"
	}})
	_, doc := getDocument(t, srv.URL, nil)
	if paths := doc["paths"].(map[string]any); len(paths) != 1 || paths["/tools/test__echo"] == nil {
		t.Errorf("paths %v", sortedKeys(paths))
	}
	_, doc = getDocument(t, srv.URL, http.Header{"X-All": {"1"}})
	if n := len(doc["paths"].(map[string]any)); n != len(reg.Tools()) {
		t.Errorf("%d paths with every tool allowed", n)
	}
	if status, _ := post(t, srv.URL, "test__add", `{"a":1,"b":2}`); status != http.StatusNotFound {
		t.Errorf("a tool the caller may not use: %d", status)
	}
}

func TestCallErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("x: %w", mcpclient.ErrUnknownTool), 404},
		{fmt.Errorf("x: %w", mcpclient.ErrInvalidArguments), 422},
		{fmt.Errorf("x: %w", mcpclient.ErrServerNotConnected), 503},
		{fmt.Errorf("x: %w", mcpclient.ErrClosed), 503},
		{&mcpclient.TimeoutError{Tool: "t", Timeout: time.Second}, 504},
		{errors.New("protocol error"), 502},
	} {
		if got, _, code := callErrorStatus(tc.err); got != tc.status || code == "" {
			t.Errorf("%v: %d, want %d", tc.err, got, tc.status)
		}
	}
}

// owuiToolPayload converts an OpenAPI document into tool payloads the way
// Open WebUI does for its OpenAPI tool servers
// (convert_openapi_to_tool_payload in backend/open_webui/utils/tools.py):
// every operation with an operationId becomes a tool; its parameters are an
// object whose properties are the operation's parameters followed by the
// properties of its resolved JSON request body.
func owuiToolPayload(spec map[string]any) []map[string]any {
	var out []map[string]any
	paths, _ := spec["paths"].(map[string]any)
	components, _ := spec["components"].(map[string]any)
	for _, methods := range paths {
		for _, o := range methods.(map[string]any) {
			op, _ := o.(map[string]any)
			id, _ := op["operationId"].(string)
			if id == "" {
				continue
			}
			desc, ok := op["description"]
			if !ok {
				desc, ok = op["summary"]
				if !ok {
					desc = "No description available."
				}
			}
			props := map[string]any{}
			params := map[string]any{"type": "object", "properties": props, "required": []any{}}
			tool := map[string]any{"name": id, "description": desc, "parameters": params}
			ps, _ := op["parameters"].([]any)
			for _, x := range ps {
				p := x.(map[string]any)
				ps, _ := p["schema"].(map[string]any)
				d, _ := ps["description"].(string)
				if d == "" {
					d, _ = p["description"].(string)
				}
				if e, ok := ps["enum"].([]any); ok && len(e) > 0 {
					var vals []string
					for _, v := range e {
						vals = append(vals, fmt.Sprint(v))
					}
					d += ". Possible values: " + strings.Join(vals, ", ")
				}
				prop := map[string]any{"type": ps["type"], "description": d}
				if ps["type"] == "array" && ps["items"] != nil {
					prop["items"] = ps["items"]
				}
				props[p["name"].(string)] = prop
				if r, _ := p["required"].(bool); r {
					params["required"] = append(params["required"].([]any), p["name"])
				}
			}
			if rb, ok := op["requestBody"].(map[string]any); ok {
				content, _ := rb["content"].(map[string]any)
				mt, _ := content["application/json"].(map[string]any)
				if js, ok := mt["schema"].(map[string]any); ok && len(js) > 0 {
					resolved := owuiResolveSchema(js, components)
					if rp, ok := resolved["properties"].(map[string]any); ok && len(rp) > 0 {
						for k, v := range rp {
							props[k] = v
						}
						if req, ok := resolved["required"].([]any); ok {
							set := map[string]bool{}
							for _, r := range append(params["required"].([]any), req...) {
								set[r.(string)] = true
							}
							var list []any
							for r := range set {
								list = append(list, r)
							}
							params["required"] = list
						}
					} else if resolved["type"] == "array" {
						tool["parameters"] = resolved
					}
				}
			}
			out = append(out, tool)
		}
	}
	return out
}

// owuiResolveSchema is Open WebUI's resolve_schema: a $ref is looked up
// in components (its first segment skipped), and only properties and items
// are resolved further.
func owuiResolveSchema(schema any, components map[string]any) map[string]any {
	s, _ := schema.(map[string]any)
	if len(s) == 0 {
		return map[string]any{}
	}
	if ref, ok := s["$ref"].(string); ok {
		parts := strings.Split(strings.Trim(ref, "#/"), "/")
		var resolved any = components
		for _, part := range parts[1:] {
			m, _ := resolved.(map[string]any)
			if v, ok := m[part]; ok {
				resolved = v
			} else {
				resolved = map[string]any{}
			}
		}
		return owuiResolveSchema(resolved, components)
	}
	out := cloneMap(s)
	if props, ok := out["properties"].(map[string]any); ok {
		rp := map[string]any{}
		for k, v := range props {
			rp[k] = owuiResolveSchema(v, components)
		}
		out["properties"] = rp
	}
	if items, ok := out["items"]; ok {
		out["items"] = owuiResolveSchema(items, components)
	}
	return out
}

// TestOpenWebUIConversion checks that Open WebUI, converting the document
// into its tools, gets the registry's tools: the same names, and
// parameters with the same properties and required lists.
func TestOpenWebUIConversion(t *testing.T) {
	reg := startRegistry(t, mcptest.InMemory("test", mcptest.NewServerWithOptions(nil)), mcptest.InMemory("geo", geoServer()))
	srv := toolServer(t, reg, nil)
	_, doc := getDocument(t, srv.URL, nil)
	payload := owuiToolPayload(doc)

	byName := map[string]map[string]any{}
	for _, p := range payload {
		byName[p["name"].(string)] = p
	}
	tools := reg.Tools()
	if len(payload) != len(tools) || len(byName) != len(tools) {
		t.Fatalf("%d tool payloads for %d tools", len(payload), len(tools))
	}
	for _, tool := range tools {
		p, ok := byName[tool.Name]
		if !ok {
			t.Errorf("no payload for %s", tool.Name)
			continue
		}
		if tool.Description != "" && p["description"] != tool.Description {
			t.Errorf("%s: description %q", tool.Name, p["description"])
		}
		// The registry's schema with its own references resolved the same
		// way: under properties and items.
		var schema map[string]any
		if err := json.Unmarshal(tool.InputSchema, &schema); err != nil {
			t.Fatal(err)
		}
		want := resolveLikeOWUI(t, schema, schema)
		params := p["parameters"].(map[string]any)
		gotProps, _ := json.Marshal(params["properties"])
		wantProps, _ := json.Marshal(want["properties"])
		if string(gotProps) != string(wantProps) {
			t.Errorf("%s: properties\n got  %s\n want %s", tool.Name, gotProps, wantProps)
		}
		if got, want := sortedStrings(params["required"]), sortedStrings(want["required"]); !slices.Equal(got, want) {
			t.Errorf("%s: required %v, want %v", tool.Name, got, want)
		}
	}
}

// resolveLikeOWUI resolves the references of a tool's schema against the
// schema itself, where Open WebUI resolves them: properties and items.
func resolveLikeOWUI(t *testing.T, s, root map[string]any) map[string]any {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		v, err := pointerResolver(root)(ref)
		if err != nil {
			t.Fatal(err)
		}
		return resolveLikeOWUI(t, v.(map[string]any), root)
	}
	out := cloneMap(s)
	if props, ok := out["properties"].(map[string]any); ok {
		rp := map[string]any{}
		for k, v := range props {
			rp[k] = resolveLikeOWUI(t, v.(map[string]any), root)
		}
		out["properties"] = rp
	}
	if items, ok := out["items"].(map[string]any); ok {
		out["items"] = resolveLikeOWUI(t, items, root)
	}
	return out
}

func sortedStrings(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, x := range list {
		out = append(out, x.(string))
	}
	sort.Strings(out)
	return out
}

// TestErrorBodiesHaveFourMembers checks every error answer carries message,
// type, param and code, as the OpenAI shape has them (null when unused).
func TestErrorBodiesHaveFourMembers(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, http.StatusBadRequest, "invalid_request_error", "", "invalid_json", "bad")
	var v map[string]map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	e := v["error"]
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e[k]; !ok {
			t.Errorf("member %q missing: %s", k, rec.Body.String())
		}
	}
	if e["param"] != nil || e["code"] != "invalid_json" {
		t.Errorf("body %s", rec.Body.String())
	}
}
