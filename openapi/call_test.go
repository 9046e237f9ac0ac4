package openapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestRequestSerialisation(t *testing.T) {
	base, _ := url.Parse("http://api.test/v1/")
	op := &operation{
		method: "get", path: "/files/{path}/{label}{matrix}", base: base,
		params: []param{
			{name: "path", in: "path", prop: "path", style: "simple", required: true},
			{name: "label", in: "path", prop: "label", style: "label", explode: false, required: true},
			{name: "matrix", in: "path", prop: "matrix", style: "matrix", explode: true, required: true},
			{name: "ids", in: "query", prop: "ids", style: "form", explode: false},
			{name: "tags", in: "query", prop: "tags", style: "form", explode: true},
			{name: "space", in: "query", prop: "space", style: "spaceDelimited"},
			{name: "pipe", in: "query", prop: "pipe", style: "pipeDelimited"},
			{name: "filter", in: "query", prop: "filter", style: "deepObject", explode: true},
			{name: "point", in: "query", prop: "point", style: "form", explode: true},
			{name: "json", in: "query", prop: "json", style: "form", asJSON: true},
			{name: "X-Ids", in: "header", prop: "X-Ids", style: "simple"},
			{name: "X-Obj", in: "header", prop: "X-Obj", style: "simple", explode: true},
		},
	}
	req, err := op.request(context.Background(), json.RawMessage(`{
		"path":"a/b c","label":["x","y"],"matrix":["m","n"],
		"ids":[1,2],"tags":["t1","t2"],"space":["s1","s2"],"pipe":["p1","p2"],
		"filter":{"k":"v","n":1},"point":{"x":1,"y":2},"json":{"q":true},
		"X-Ids":[3,4],"X-Obj":{"a":"1","b":"2"},"ignored":true}`), map[string]string{"X-Key": "secret"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := req.URL.EscapedPath(), "/v1/files/a%2Fb%20c/.x,y;matrix=m;matrix=n"; got != want {
		t.Errorf("path %s, want %s", got, want)
	}
	q := req.URL.Query()
	for k, want := range map[string][]string{
		"ids": {"1,2"}, "tags": {"t1", "t2"}, "space": {"s1 s2"}, "pipe": {"p1|p2"},
		"filter[k]": {"v"}, "filter[n]": {"1"}, "x": {"1"}, "y": {"2"}, "json": {`{"q":true}`},
	} {
		if got := q[k]; strings.Join(got, "&") != strings.Join(want, "&") {
			t.Errorf("query %s = %v, want %v", k, got, want)
		}
	}
	if req.Header.Get("X-Ids") != "3,4" || req.Header.Get("X-Obj") != "a=1,b=2" || req.Header.Get("X-Key") != "secret" {
		t.Errorf("headers %v", req.Header)
	}
	if req.Body != nil {
		t.Error("a GET without a body has a body")
	}

	// A body under a property of its own.
	op = &operation{method: "put", path: "/x", base: base, body: &body{mediaType: "application/merge-patch+json", prop: "body", required: true}}
	req, err = op.request(context.Background(), json.RawMessage(`{"body":[1,2]}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(req.Body)
	if string(b) != `[1,2]` || req.Header.Get("Content-Type") != "application/merge-patch+json" {
		t.Errorf("body %s, type %q", b, req.Header.Get("Content-Type"))
	}
	if _, err := op.request(context.Background(), json.RawMessage(`{}`), nil); err == nil || !strings.Contains(err.Error(), `missing the request body "body"`) {
		t.Errorf("missing body: %v", err)
	}
	if _, err := op.request(context.Background(), json.RawMessage(`[1]`), nil); err == nil {
		t.Error("arguments that are not an object were accepted")
	}
}

func TestCallResult(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = io.WriteString(w, strings.Repeat("é", 100))
		case "/png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write([]byte{0x89, 'P', 'N', 'G', 0, 1, 2})
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/error":
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	text := func(res *mcp.CallToolResult) string { return res.Content[0].(*mcp.TextContent).Text }
	get := func(path string, max int) *mcp.CallToolResult {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		return callResult(srv.Client(), req, max)
	}

	res := get("/big", 51)
	if got := text(res); got != "HTTP 200 OK\n"+strings.Repeat("é", 25)+"\n[response truncated: only the first 50 bytes are shown]" || res.IsError {
		t.Errorf("truncated: %q", got)
	}
	if got := text(get("/png", 100)); got != "HTTP 200 OK\n[binary response: image/png, 7 bytes]" {
		t.Errorf("binary: %q", got)
	}
	if res := get("/empty", 100); text(res) != "HTTP 204 No Content" || res.IsError {
		t.Errorf("empty: %q", text(res))
	}
	if res := get("/error", 100); text(res) != "HTTP 500 Internal Server Error\nboom\n" || !res.IsError {
		t.Errorf("error: %q", text(res))
	}

	req, _ := http.NewRequest(http.MethodGet, "http://user:pw@127.0.0.1:1/x?key=secret", nil)
	res = callResult(http.DefaultClient, req, 100)
	if got := text(res); !res.IsError || !strings.HasPrefix(got, "request failed: GET http://127.0.0.1:1/x: ") || strings.Contains(got, "secret") || strings.Contains(got, "pw") {
		t.Errorf("unreachable: %q", got)
	}
}
