package mcpclient_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-bridge/mcp-bridge/internal/syncbuf"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

func noop(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return &mcp.CallToolResult{}, nil
}

func TestLongDescriptionsAreCapped(t *testing.T) {
	huge := strings.Repeat("€", 700_000) // 2.1 MB of 3-byte runes
	srv := mcp.NewServer(&mcp.Implementation{Name: "wordy", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{
		Name:        "wordy",
		Description: huge[:2<<20],
		InputSchema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string","description":"` + huge[:30000] + `"}}}`),
	}, noop)
	srv.AddTool(&mcp.Tool{Name: "terse", Description: "Short.", InputSchema: json.RawMessage(`{"type":"object"}`)}, noop)
	var logs syncbuf.Buffer
	r, ev := start(t, &mcpclient.Options{Logger: newLogger(&logs), MaxDescriptionBytes: 1000}, mcptest.InMemory("mem", srv))

	tool, ok := r.Lookup("mem__wordy")
	if !ok {
		t.Fatalf("mem__wordy missing: %q", toolNames(r))
	}
	checkCapped := func(what, s string) {
		t.Helper()
		if len(s) > 1000 || len(s) < 990 || !strings.HasSuffix(s, "…") || !utf8.ValidString(s) {
			t.Errorf("%s: %d bytes, valid UTF-8 %v, ends %q; want at most 1000 bytes ending in …",
				what, len(s), utf8.ValidString(s), s[max(0, len(s)-10):])
		}
	}
	checkCapped("Description", tool.Description)
	checkCapped("Def.Description", tool.Def.Description)
	var schema struct {
		Properties struct {
			Q struct{ Description string } `json:"q"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(tool.InputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	checkCapped("InputSchema property description", schema.Properties.Q.Description)
	def, err := json.Marshal(tool.Def)
	if err != nil {
		t.Fatal(err)
	}
	if len(def) > 4000 {
		t.Errorf("Def is %d bytes: its schema's description was not cut", len(def))
	}
	if terse, _ := r.Lookup("mem__terse"); terse.Description != "Short." {
		t.Errorf("terse description = %q", terse.Description)
	}

	// The cut is logged once per tool, even when the list is fetched again.
	srv.AddTool(&mcp.Tool{Name: "late", InputSchema: json.RawMessage(`{"type":"object"}`)}, noop)
	ev.wait(t, "mem", mcpclient.EventToolsChanged)
	if _, ok := r.Lookup("mem__late"); !ok {
		t.Fatalf("tools after the change: %q", toolNames(r))
	}
	out := logs.String()
	if n := strings.Count(out, "tool description cut"); n != 1 {
		t.Errorf("%d warnings about the cut, want 1:\n%.2000s", n, out)
	}
	mustContain(t, "log", out, "level=WARN msg=\"mcp server: tool description cut\" server=mem tool=wordy")
	if strings.Contains(out, "tool=terse") {
		t.Errorf("a short description was reported:\n%.2000s", out)
	}
}

// nestedSchema returns an object schema whose property "a" is an object
// schema whose property "a" is ... levels deep (2 JSON levels per level).
func nestedSchema(levels int) json.RawMessage {
	return json.RawMessage(strings.Repeat(`{"type":"object","properties":{"a":`, levels) +
		`{"type":"string"}` + strings.Repeat(`}}`, levels))
}

func TestUnusableSchemaLeavesOnlyThatToolOut(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "mixed", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{Name: "deep", InputSchema: nestedSchema(40)}, noop) // 81 levels
	var wide strings.Builder
	wide.WriteString(`{"type":"object","properties":{"q":{}`)
	for i := range 300 {
		fmt.Fprintf(&wide, `,"p%d":{"type":"string","enum":["%s"]}`, i, strings.Repeat("v", 1000))
	}
	wide.WriteString(`}}`)
	srv.AddTool(&mcp.Tool{Name: "wide", InputSchema: json.RawMessage(wide.String())}, noop) // 300 KB
	srv.AddTool(&mcp.Tool{Name: "deep_out", InputSchema: json.RawMessage(`{"type":"object"}`), OutputSchema: nestedSchema(40)}, noop)
	srv.AddTool(&mcp.Tool{Name: "fine", InputSchema: nestedSchema(10)}, noop)
	var logs syncbuf.Buffer
	r, _ := start(t, &mcpclient.Options{Logger: newLogger(&logs)}, mcptest.InMemory("mem", srv))

	if got := toolNames(r); len(got) != 1 || got[0] != "mem__fine" {
		t.Fatalf("tools = %q, want only mem__fine", got)
	}
	if st := status(t, r, "mem"); st.State != mcpclient.StateReady {
		t.Errorf("status = %+v", st)
	}
	out := logs.String()
	mustContain(t, "log", out,
		`level=WARN msg="mcp server: tool left out, its schema cannot be used" server=mem tool=deep schema=input reason="schema nests 81 levels, more than the 64 allowed"`,
		`server=mem tool=wide schema=input reason="schema is `,
		`server=mem tool=deep_out schema=output reason="schema nests 81 levels`)
}

// A tool whose schema nests 500 levels (1000 JSON levels) makes the whole
// tools/list response too deep for go-sdk to decode: without the frame
// guard, the server fails to connect again and again with none of its tools.
func TestTooDeepForGoSDKLeavesOnlyThatToolOut(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "hostile", Version: "1"}, nil)
	srv.AddTool(&mcp.Tool{Name: "normal", Description: "Fine.", InputSchema: json.RawMessage(`{"type":"object","properties":{"x":{"type":"string"}}}`)},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "normal ran"}}}, nil
		})
	mcptest.ListRawTools(srv, &mcp.Tool{Name: "deep", InputSchema: nestedSchema(500)})
	var logs syncbuf.Buffer
	r, _ := start(t, &mcpclient.Options{Logger: newLogger(&logs)}, mcptest.InMemoryPipe("mem", srv))

	if got := toolNames(r); len(got) != 1 || got[0] != "mem__normal" {
		t.Fatalf("tools = %q, want [mem__normal]; log:\n%.3000s", got, logs.String())
	}
	st := status(t, r, "mem")
	if st.State != mcpclient.StateReady || st.Restarts != 0 {
		t.Errorf("status = %+v, want ready at the first attempt", st)
	}
	if res := call(t, r, "mem__normal", `{"x":"y"}`); res.Text != "normal ran" {
		t.Errorf("normal = %+v", res)
	}
	mustContain(t, "log", logs.String(),
		`level=WARN msg="mcp server: tool left out, its schema cannot be used" server=mem tool=deep schema=input reason="schema nests 1001 levels, more than the 64 allowed"`)
}
