package mcpclient

import (
	"context"
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// When earlier output was dropped and the kept bytes start with a line
// end, the text starts at the complete line after it, without the line end;
// and kept bytes that hold no rune start at all (a server writing binary
// noise to stderr) give an empty text rather than a crash.
func TestRingBufferDroppedEdges(t *testing.T) {
	b := newRingBuffer(4)
	b.Write([]byte("xxxx\nabc"))
	if got := b.String(); got != "abc" {
		t.Errorf("kept %q after a line end: String() = %q, want %q", b.buf, got, "abc")
	}
	b = newRingBuffer(4)
	b.Write([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80})
	if got := b.String(); got != "" {
		t.Errorf("kept only continuation bytes: String() = %q, want empty", got)
	}
}

// A propagator that sets a header with no value adds nothing to _meta for
// it, and the other headers still go in.
func TestSetTraceMetaEmptyValue(t *testing.T) {
	params := &mcp.CallToolParams{Name: "t"}
	setTraceMeta(context.Background(), params, func(_ context.Context, h http.Header) {
		h["Traceparent"] = []string{}
		h["Tracestate"] = []string{"k=v"}
	})
	meta := params.GetMeta()
	if _, ok := meta["traceparent"]; ok || meta["tracestate"] != "k=v" || len(meta) != 1 {
		t.Errorf("_meta = %v, want only tracestate", meta)
	}
}
