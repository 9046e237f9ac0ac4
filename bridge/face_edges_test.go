package bridge

// Tests of the MCP face and the OpenAPI mount written against mutants
// that survived the suite.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

func TestIsObjectSchema(t *testing.T) {
	for _, c := range []struct {
		schema any
		want   bool
	}{
		{nil, false},
		{map[string]any{"type": "object"}, true},
		{json.RawMessage(`{"type":"object","properties":{}}`), true},
		{json.RawMessage(`{"type":"string"}`), false},
		{json.RawMessage(`{"properties":{}}`), false},
		{map[string]any{"type": []string{"object", "null"}}, false},
		{func() {}, false}, // cannot be encoded
	} {
		if got := isObjectSchema(c.schema); got != c.want {
			t.Errorf("isObjectSchema(%#v) = %v, want %v", c.schema, got, c.want)
		}
	}
}

// TestPublishedTool checks the face lists a server's own schemas when they
// are object schemas, and the normalised ones otherwise.
func TestPublishedTool(t *testing.T) {
	norm := json.RawMessage(`{"type":"object","properties":{}}`)
	own := map[string]any{"type": "object", "$defs": map[string]any{}}
	tool := mcpclient.Tool{Name: "s__t", InputSchema: norm, OutputSchema: norm,
		Def: &mcp.Tool{Name: "t", Description: "d", InputSchema: own, OutputSchema: own}}
	def := publishedTool(tool)
	if def.Name != "s__t" || def.Description != "d" {
		t.Errorf("name %q description %q", def.Name, def.Description)
	}
	if !isObjectSchema(def.InputSchema) || def.InputSchema.(map[string]any)["$defs"] == nil {
		t.Errorf("own input schema replaced: %#v", def.InputSchema)
	}
	if def.OutputSchema.(map[string]any)["$defs"] == nil {
		t.Errorf("own output schema replaced: %#v", def.OutputSchema)
	}
	if tool.Def.Name != "t" {
		t.Error("the registry's definition was changed")
	}

	tool.Def = &mcp.Tool{Name: "t", InputSchema: json.RawMessage(`{"type":"string"}`), OutputSchema: json.RawMessage(`{"type":"array"}`)}
	def = publishedTool(tool)
	if string(def.InputSchema.(json.RawMessage)) != string(norm) || string(def.OutputSchema.(json.RawMessage)) != string(norm) {
		t.Errorf("non-object schemas kept: %s %s", def.InputSchema, def.OutputSchema)
	}
	tool.Def.OutputSchema = nil
	if def = publishedTool(tool); def.OutputSchema != nil {
		t.Errorf("no output schema became %v", def.OutputSchema)
	}
}

// TestOpenAPIDocumentDeclaresKeys checks /openapi.json declares that
// operations need a key exactly when the bridge has keys.
func TestOpenAPIDocumentDeclaresKeys(t *testing.T) {
	for _, keys := range [][]string{nil, {"sekrit-key-0123456789"}} {
		h := newHarness(t, Options{APIKeys: keys}, nil)
		req, _ := http.NewRequest("GET", h.srv.URL+"/openapi.json", nil)
		if keys != nil {
			req.Header.Set("Authorization", "Bearer "+keys[0])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, declared := doc["security"]
		if declared != (keys != nil) {
			t.Errorf("keys %v: security declared %v", keys, declared)
		}
	}
}

// TestFaceCallFailureIsAResult checks a face call that cannot complete
// (the server's call timed out) is a tool result with isError that the
// client can show, not a protocol error.
func TestFaceCallFailureIsAResult(t *testing.T) {
	_, srv := newSlowServer()
	cfg := inMemory("slow", srv)
	cfg.Timeout = 100 * time.Millisecond
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "face-test", Version: "1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "slow__wait", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("a protocol error: %v", err)
	}
	if !res.IsError || !strings.Contains(toolText(t, res), "timed out") {
		t.Errorf("result %+v", res)
	}
}

// TestFaceDropsToolsThatWent checks a tool its server removed leaves the
// face's list.
func TestFaceDropsToolsThatWent(t *testing.T) {
	var log callLog
	srv := recordingServer(&log, "add", "sub")
	h := newHarness(t, Options{}, []mcpclient.ServerConfig{inMemory("calc", srv)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The client listens for list changes: the face's lists carry a ttl,
	// and a client that does not listen may keep one that long.
	changed := make(chan struct{}, 4)
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "face-test", Version: "1"}, &mcp.ClientOptions{
		ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) { changed <- struct{}{} },
	}).Connect(ctx, &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	names := func() []string {
		res, err := cs.ListTools(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tl := range res.Tools {
			out = append(out, tl.Name)
		}
		return out
	}
	if got := names(); len(got) != 2 {
		t.Fatalf("tools %v", got)
	}
	srv.RemoveTools("sub")
	for len(h.reg.Tools()) != 1 {
		select {
		case <-ctx.Done():
			t.Fatalf("the registry kept %v", h.reg.Tools())
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case <-changed:
	case <-ctx.Done():
		t.Fatal("no list_changed reached the client")
	}
	if got := names(); len(got) != 1 || got[0] != "calc__add" {
		t.Errorf("face lists %v after calc__sub went", got)
	}
}
