package bridge

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/route"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// benchTools returns n registry tools with a realistic schema.
func benchTools(n int) []mcpclient.Tool {
	tools := make([]mcpclient.Tool, n)
	for i := range tools {
		tools[i] = mcpclient.Tool{
			Name: fmt.Sprintf("srv__tool_%04d", i), Server: "srv", Original: fmt.Sprintf("tool_%04d", i),
			Description: "Reads a file from the workspace and returns its contents as text.",
			InputSchema: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string","description":"file path"},"limit":{"type":"integer"}},"required":["path"]}`),
		}
	}
	return tools
}

const benchBody = `{"model":"llama3","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"What is in /tmp/notes.txt?"}],"temperature":0.2,"stream":true}`

// BenchmarkPrepareRequest measures what the bridge does to a request before
// it goes upstream: parse, merge tools, encode.
func BenchmarkPrepareRequest(b *testing.B) {
	for _, n := range []int{0, 10, 100, 1000} {
		b.Run(fmt.Sprintf("tools=%d", n), func(b *testing.B) {
			ts := buildToolset(1, benchTools(n), nil)
			b.ReportAllocs()
			b.SetBytes(int64(len(benchBody)))
			for b.Loop() {
				cr, err := parseChatRequest([]byte(benchBody))
				if err != nil {
					b.Fatal(err)
				}
				r := &run{req: cr, ts: ts, messages: cr.messages}
				r.tools, _ = mergeTools(cr.clientTools, cr.clientToolNames, ts)
				_ = r.upstreamBody(1, route.Attempt{})
			}
		})
	}
}

// BenchmarkBuildToolset measures converting registry tools to OpenAI
// definitions, done once per registry version.
func BenchmarkBuildToolset(b *testing.B) {
	tools := benchTools(100)
	b.ReportAllocs()
	for b.Loop() {
		_ = buildToolset(1, tools, nil)
	}
}

// BenchmarkWriteChunk measures writing one content delta to the client.
func BenchmarkWriteChunk(b *testing.B) {
	w := httptest.NewRecorder()
	s := newSSEWriter(w, "chatcmpl-abc", 1700000000, "llama3", false)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.content("Hello"); err != nil {
			b.Fatal(err)
		}
		w.Body.Reset()
	}
}

// BenchmarkAccumulate measures folding a streamed tool call.
func BenchmarkAccumulate(b *testing.B) {
	frags := []string{`{"pa`, `th": "/tmp/`, `notes.txt"}`}
	b.ReportAllocs()
	for b.Loop() {
		var acc llm.Accumulator
		acc.Add([]llm.ToolCallDelta{{HasIndex: true, ID: "call_1", Name: "fs__read_file"}})
		for _, f := range frags {
			acc.Add([]llm.ToolCallDelta{{HasIndex: true, Arguments: f}})
		}
		_ = acc.Calls()
	}
}

// BenchmarkSearchModeTools measures the tool array of a search-mode
// request with 5000 tools in the view: it must not grow with them.
func BenchmarkSearchModeTools(b *testing.B) {
	for _, n := range []int{10, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := &Server{opts: Options{Exposure: ExposureSearch, AlwaysTools: []string{"srv__tool_0001", "other__*"}}}
			ts := buildToolset(1, benchTools(n), nil)
			ts.searchIndex()
			req, err := parseChatRequest([]byte(benchBody))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				r := &run{s: s, req: req, ts: ts, searching: true}
				_ = r.searchTools(nil)
			}
		})
	}
}
