package bridge

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
	"github.com/mcp-bridge/mcp-bridge/mcpclient/mcptest"
)

// finishedCalls passes on the tool calls the observers are told of.
type finishedCalls struct {
	observe.Nop
	recs chan observe.ToolCallRecord
}

func (f *finishedCalls) ToolCallFinished(_ context.Context, r *observe.ToolCallRecord) {
	r.Arguments = append([]byte(nil), r.Arguments...)
	f.recs <- *r
}

func (f *finishedCalls) next(t *testing.T) observe.ToolCallRecord {
	t.Helper()
	select {
	case r := <-f.recs:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no tool call was reported")
		return observe.ToolCallRecord{}
	}
}

// TestOpenAPICallRecords checks what the observers learn of a POST
// /tools/{name}: the arguments up to 64 KiB, the outcome of an answer and
// of a tool error, and the first 512 bytes of a failed answer.
func TestOpenAPICallRecords(t *testing.T) {
	obs := &finishedCalls{recs: make(chan observe.ToolCallRecord, 4)}
	h := newHarness(t, Options{Observer: obs}, []mcpclient.ServerConfig{inMemory("test", mcptest.NewServerWithOptions(nil))})

	long := strings.Repeat("a", 70<<10)
	if status, _, _ := do(t, "POST", h.srv.URL+"/tools/test__echo", nil, `{"text":"`+long+`"}`); status != http.StatusOK {
		t.Fatalf("echo: %d", status)
	}
	r := obs.next(t)
	if r.Face != observe.FaceOpenAPI || r.Tool != "test__echo" || r.Outcome != observe.OutcomeOK || r.Error != "" {
		t.Errorf("echo reported as %s %s %q %q", r.Face, r.Tool, r.Outcome, r.Error)
	}
	if len(r.Arguments) != 64<<10 || !strings.HasPrefix(string(r.Arguments), `{"text":"aaa`) {
		t.Errorf("arguments reported: %d bytes, want the first %d", len(r.Arguments), 64<<10)
	}
	if r.ResultBytes <= 70<<10 {
		t.Errorf("result reported as %d bytes", r.ResultBytes)
	}

	status, _, body := do(t, "POST", h.srv.URL+"/tools/test__fail", nil, `{"message":"`+strings.Repeat("m", 1000)+`"}`)
	if status != http.StatusBadGateway {
		t.Fatalf("fail: %d %.200s", status, body)
	}
	r = obs.next(t)
	if r.Outcome != observe.OutcomeToolError {
		t.Errorf("a tool error reported as %q", r.Outcome)
	}
	if r.Error != body[:512] {
		t.Errorf("error reported as %d bytes %.80q, want the answer's first 512", len(r.Error), r.Error)
	}
}

// TestCapturedAnswerKeepsTheFirst512Bytes checks an answer written in
// pieces keeps only its first 512 bytes in memory, and counts them all.
func TestCapturedAnswerKeepsTheFirst512Bytes(t *testing.T) {
	w := &capturedAnswer{ResponseWriter: httptest.NewRecorder()}
	for range 3 {
		if _, err := w.Write([]byte(strings.Repeat("x", 400))); err != nil {
			t.Fatal(err)
		}
	}
	if w.head.Len() != 512 || w.n != 1200 || w.status != http.StatusOK {
		t.Errorf("kept %d bytes, counted %d, status %d", w.head.Len(), w.n, w.status)
	}
}
