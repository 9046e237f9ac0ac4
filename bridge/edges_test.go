package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestBuiltinModelListWithoutObject: a model list whose upstream said no
// "object" is still a "list".
func TestBuiltinModelListWithoutObject(t *testing.T) {
	out := withBuiltinModel(&llm.ModelList{Data: []llm.Model{{ID: "a"}}})
	if out.Object != "list" || len(out.Data) != 2 || out.Data[1].ID != BuiltinModel {
		t.Errorf("withBuiltinModel = %+v, want a list of a and %s", out, BuiltinModel)
	}
	if out := withBuiltinModel(&llm.ModelList{Object: "other"}); out.Object != "other" {
		t.Errorf("the upstream's object %q, want other kept", out.Object)
	}
}

func builtinReq(t *testing.T, msgs ...string) *builtinRequest {
	t.Helper()
	r := &builtinRequest{Tools: []json.RawMessage{json.RawMessage(`{"type":"function","function":{"name":"calc__add"}}`)}}
	for _, m := range msgs {
		r.Messages = append(r.Messages, json.RawMessage(m))
	}
	return r
}

// TestBuiltinAnswerEdges: no messages is the help text; the command is
// the last user message, even with an assistant message after it; tool
// results with no assistant message before them are all read.
func TestBuiltinAnswerEdges(t *testing.T) {
	if a := builtinReq(t).answer(); a.call != nil || !strings.Contains(a.text, "calc__add") {
		t.Errorf("no messages: %+v, want the help text", a)
	}
	a := builtinReq(t, `{"role":"user","content":"/calc__add {}"}`, `{"role":"assistant","content":"prefill"}`).answer()
	if a.call == nil || a.call.Name != "calc__add" {
		t.Errorf("a command before an assistant message: %+v, want a call of calc__add", a)
	}
	a = builtinReq(t, `{"role":"user","content":"/calc__add {}"}`, `{"role":"tool","content":"3"}`).answer()
	if a.call != nil || a.text != "3" {
		t.Errorf("a tool result with no assistant message: %+v, want its text", a)
	}
}

// TestMessageTextParts: parts of type text, and untyped parts with text,
// are the text; other typed parts are not, whatever they carry.
func TestMessageTextParts(t *testing.T) {
	got := messageText(json.RawMessage(`[{"text":"a"},{"type":"image_url","text":"b"},{"type":""},{"type":"text","text":"c"}]`))
	if got != "a\nc" {
		t.Errorf("messageText = %q, want a and c", got)
	}
}

// TestHelpBounds: a schema of maxSchemaInHelp bytes is shown, a larger
// one is not; a description of maxDescriptionInHelp characters is shown
// whole, a longer one is cut.
func TestHelpBounds(t *testing.T) {
	schema := func(n int) json.RawMessage {
		s := `{"description":"` + strings.Repeat("x", n-len(`{"description":""}`)) + `"}`
		return json.RawMessage(s)
	}
	tool := &builtinTool{}
	tool.Function.Name = "t"
	tool.Function.Parameters = schema(maxSchemaInHelp)
	if h := argumentsHelp(tool, "x", "why"); !strings.Contains(h, "Its input schema") {
		t.Errorf("a schema of %d bytes not shown", maxSchemaInHelp)
	}
	tool.Function.Parameters = schema(maxSchemaInHelp + 1)
	if h := argumentsHelp(tool, "x", "why"); strings.Contains(h, "Its input schema") {
		t.Errorf("a schema of %d bytes shown", maxSchemaInHelp+1)
	}
	at := strings.Repeat("é", maxDescriptionInHelp)
	if got := firstLine(at, maxDescriptionInHelp); got != at {
		t.Errorf("a description of %d characters = %q, want it whole", maxDescriptionInHelp, got)
	}
	if got := firstLine(at+"x", maxDescriptionInHelp); got != at+"..." {
		t.Errorf("a description of %d characters = %q, want it cut", maxDescriptionInHelp+1, got)
	}
}

// streamCounter is an Observer that sums the ActiveStreams deltas.
type streamCounter struct {
	observe.Nop
	mu           sync.Mutex
	started, sum int
}

func (c *streamCounter) ActiveStreams(_ context.Context, delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if delta > 0 {
		c.started++
	}
	c.sum += delta
}

// TestActiveStreamsBackToZero: a streamed answer counts as active while
// it runs and no longer once it ended.
func TestActiveStreamsBackToZero(t *testing.T) {
	obs := &streamCounter{}
	h := newHarness(t, Options{Observer: obs}, nil, llmtest.TextStream("hi"))
	status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", http.Header{"Content-Type": {"application/json"}},
		`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`)
	if status != http.StatusOK || !strings.Contains(body, "[DONE]") {
		t.Fatalf("%d %s", status, body)
	}
	h.srv.Close() // waits for the handler
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.started != 1 || obs.sum != 0 {
		t.Errorf("%d streams started, %d active after the answer; want 1 and 0", obs.started, obs.sum)
	}
}

// spendFails is a limiter whose token counting cannot reach its store.
type spendFails struct{ *auth.MemoryLimiter }

func (spendFails) Spend(context.Context, string, auth.Budget, int64) (auth.Decision, error) {
	return auth.Decision{}, errors.New("redis: connection refused")
}

// TestSpendFailureLogged: tokens that cannot be counted are logged as
// such, and counted tokens are not.
func TestSpendFailureLogged(t *testing.T) {
	for _, fail := range []bool{true, false} {
		var logs logBuffer
		a, err := auth.New(auth.Config{
			Policies: map[string]auth.PolicyConfig{"budget": {Tokens: auth.Budget{Limit: 1000, Per: time.Hour}}},
			Keys:     []auth.Key{{Name: "reader", Key: readerKey, Policy: "budget"}},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var lim auth.Limiter = auth.NewMemoryLimiter(nil)
		if fail {
			lim = spendFails{auth.NewMemoryLimiter(nil)}
		}
		h := newHarness(t, Options{Auth: a, Limits: &auth.Limits{Limiter: lim}, Logger: logs.logger()},
			[]mcpclient.ServerConfig{}, llmtest.Completion("hi"))
		status, _, body := rawRequest(t, h.srv.URL, "POST", "/v1/chat/completions", "", keyHeader(readerKey),
			`{"model":"m","messages":[{"role":"user","content":"x"}]}`)
		if status != http.StatusOK {
			t.Fatalf("%d %s", status, body)
		}
		h.srv.Close() // waits for the handler
		out := logs.String()
		if got := strings.Contains(out, "counting the tokens of a request"); got != fail {
			t.Errorf("spend failing %v: logged %v, logs:\n%s", fail, got, out)
		}
		if strings.Contains(out, readerKey) {
			t.Errorf("the log shows the key:\n%s", out)
		}
	}
}

// flushFails is a ResponseWriter whose flushes fail once fail is set,
// like a client gone.
type flushFails struct {
	*httptest.ResponseRecorder
	fail bool
}

func (f *flushFails) FlushError() error {
	if f.fail {
		return errors.New("broken pipe")
	}
	return nil
}

// TestFinishReportsFlushError: the last write of a streamed answer that
// cannot reach the client is an error, not a success.
func TestFinishReportsFlushError(t *testing.T) {
	w := &flushFails{ResponseRecorder: httptest.NewRecorder()}
	s := newSSEWriter(w, "chatcmpl-1", 1, "m", false)
	if err := s.content("a"); err != nil {
		t.Fatal(err)
	}
	w.fail = true
	if err := s.finish("stop", nil, llm.Usage{}); err == nil {
		t.Error("finish = nil, want the flush's error")
	}
}

// TestStatelessPeekBound: a stateless discovery of exactly eraPeekBytes
// bytes is read as one; a byte more is left to the stateful handler, and
// its body is passed on whole.
func TestStatelessPeekBound(t *testing.T) {
	body := func(n int) []byte {
		b := []byte(`{"jsonrpc":"2.0","id":1,"method":"server/discover"}`)
		return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
	}
	for _, tc := range []struct {
		n    int
		want bool
	}{{eraPeekBytes, true}, {eraPeekBytes + 1, false}} {
		b := body(tc.n)
		req := httptest.NewRequest(http.MethodPost, "/mcp", bytes.NewReader(b))
		if got := requestIsStateless(req); got != tc.want {
			t.Errorf("a body of %d bytes: stateless %v, want %v", tc.n, got, tc.want)
		}
		if rest, _ := io.ReadAll(req.Body); !bytes.Equal(rest, b) {
			t.Errorf("a body of %d bytes: %d passed on", tc.n, len(rest))
		}
	}
}

// TestEventsListenersCounted: a subscriber that leaves is no longer
// counted, so that with none the feed's events are not even encoded.
func TestEventsListenersCounted(t *testing.T) {
	e := newEvents(slog.New(slog.DiscardHandler), nil)
	e.srv.OnSubscribe(activityStream, nil)
	e.srv.OnSubscribe(activityStream, nil)
	e.srv.OnUnsubscribe(activityStream, nil)
	e.srv.OnUnsubscribe(activityStream, nil)
	if n := e.listeners.Load(); n != 0 {
		t.Errorf("%d listeners after two came and went, want 0", n)
	}
}
