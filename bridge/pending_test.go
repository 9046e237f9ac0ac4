package bridge

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// fakeClock is a clock a test moves by hand. Safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// useClock makes p read c. p.now is read under p.mu.
func useClock(p *pendingTurns, c *fakeClock) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = c.now
}

// assistantWith is a client's assistant message calling the given ids.
func assistantWith(ids ...string) json.RawMessage {
	var calls []string
	for _, id := range ids {
		calls = append(calls, `{"id":"`+id+`","type":"function","function":{"name":"ask_user","arguments":"{}"}}`)
	}
	return json.RawMessage(`{"role":"assistant","content":null,"tool_calls":[` + strings.Join(calls, ",") + `]}`)
}

// testOwner and testConv are the caller and the conversation (one user
// message "x") the turns of these tests belong to.
const testOwner = "addr:127.0.0.1"

var testConv = conversationHash([]json.RawMessage{json.RawMessage(`{"role":"user","content":"x"}`)})

// putTurn remembers a turn of testOwner after testConv.
func putTurn(p *pendingTurns, calls []llm.ToolCall, assistant json.RawMessage, tools []json.RawMessage) {
	p.put(testOwner, testConv, calls, assistant, tools)
}

// spliced reports whether splicing a conversation that holds the client's
// assistant message for id restored a remembered turn.
func spliced(p *pendingTurns, id string) bool {
	msgs := []json.RawMessage{json.RawMessage(`{"role":"user","content":"x"}`), assistantWith(id)}
	return !sameSlice(p.splice(testOwner, msgs), msgs)
}

// TestPendingTurnExpiry checks a remembered turn is restored up to its
// expiry and not after, and that an expired turn is dropped from memory by
// the next put.
func TestPendingTurnExpiry(t *testing.T) {
	clock := newFakeClock()
	p := newPendingTurns(time.Minute, 10, 1<<20, 64<<20)
	useClock(p, clock)
	putTurn(p, []llm.ToolCall{{ID: "u1"}, {ID: "u2"}}, json.RawMessage(`{"role":"assistant","full":true}`),
		[]json.RawMessage{json.RawMessage(`{"role":"tool","tool_call_id":"b1"}`)})

	clock.advance(time.Minute)
	if !spliced(p, "u1") || !spliced(p, "u2") {
		t.Fatal("turn not restored at its expiry time")
	}
	clock.advance(time.Nanosecond)
	if spliced(p, "u1") || spliced(p, "u2") {
		t.Fatal("turn restored after it expired")
	}

	putTurn(p, []llm.ToolCall{{ID: "u3"}}, json.RawMessage(`{"role":"assistant"}`), nil)
	p.mu.Lock()
	ids, turns := len(p.byKey), len(p.order)
	p.mu.Unlock()
	if ids != 1 || turns != 1 {
		t.Errorf("after a put past the expiry: %d ids, %d turns remembered, want 1 and 1", ids, turns)
	}
}

// TestPendingTurnEviction checks that at most max turns are kept, the
// oldest going first with every id it was stored under.
func TestPendingTurnEviction(t *testing.T) {
	p := newPendingTurns(time.Hour, 2, 1<<20, 64<<20)
	putTurn(p, []llm.ToolCall{{ID: "a1"}, {ID: "a2"}}, json.RawMessage(`{"role":"assistant","turn":"a"}`), nil)
	putTurn(p, []llm.ToolCall{{ID: "b1"}}, json.RawMessage(`{"role":"assistant","turn":"b"}`), nil)
	if !spliced(p, "a1") || !spliced(p, "a2") || !spliced(p, "b1") {
		t.Fatal("turns within the bound not restored")
	}
	putTurn(p, []llm.ToolCall{{ID: "c1"}}, json.RawMessage(`{"role":"assistant","turn":"c"}`), nil)
	if spliced(p, "a1") || spliced(p, "a2") {
		t.Error("the oldest turn was not evicted")
	}
	if !spliced(p, "b1") || !spliced(p, "c1") {
		t.Error("a newer turn was evicted")
	}
	p.mu.Lock()
	ids, turns := len(p.byKey), len(p.order)
	p.mu.Unlock()
	if ids != 2 || turns != 2 {
		t.Errorf("%d ids, %d turns remembered, want 2 and 2", ids, turns)
	}
}

// TestPendingSpliceRestoresInPlace checks the restored turn replaces the
// client's assistant message where it was, followed by the bridge's tool
// messages, and that a conversation with nothing to restore is returned
// as it is.
func TestPendingSpliceRestoresInPlace(t *testing.T) {
	p := newPendingTurns(time.Hour, 10, 1<<20, 64<<20)
	plain := []json.RawMessage{json.RawMessage(`{"role":"user","content":"x"}`)}
	if got := p.splice(testOwner, plain); !sameSlice(got, plain) {
		t.Errorf("empty memory changed the conversation: %s", got)
	}
	putTurn(p, []llm.ToolCall{{ID: "u1"}}, json.RawMessage(`{"role":"assistant","full":true}`),
		[]json.RawMessage{json.RawMessage(`{"role":"tool","tool_call_id":"b1"}`), json.RawMessage(`{"role":"tool","tool_call_id":"b2"}`)})
	if got := p.splice(testOwner, plain); !sameSlice(got, plain) {
		t.Errorf("a conversation without the turn changed: %s", got)
	}
	msgs := []json.RawMessage{
		json.RawMessage(`{"role":"user","content":"x"}`),
		assistantWith("u1"),
		json.RawMessage(`{"role":"tool","tool_call_id":"u1","content":"yes"}`),
		json.RawMessage(`{"role":"user","content":"more"}`),
	}
	got := p.splice(testOwner, msgs)
	want := []string{
		`{"role":"user","content":"x"}`,
		`{"role":"assistant","full":true}`,
		`{"role":"tool","tool_call_id":"b1"}`,
		`{"role":"tool","tool_call_id":"b2"}`,
		`{"role":"tool","tool_call_id":"u1","content":"yes"}`,
		`{"role":"user","content":"more"}`,
	}
	if len(got) != len(want) {
		t.Fatalf("spliced %d messages, want %d: %s", len(got), len(want), got)
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("message %d = %s, want %s", i, got[i], want[i])
		}
	}
	// The turn stays: the client sends the same history again later.
	if again := p.splice(testOwner, msgs); len(again) != len(want) {
		t.Errorf("second splice gave %d messages, want %d", len(again), len(want))
	}
}

// TestMixedTurnExpiresThroughTheBridge checks Options.PendingTTL end to end:
// a follow-up after the bridge's half of a mixed turn expired goes upstream
// as the client sent it.
func TestMixedTurnExpiresThroughTheBridge(t *testing.T) {
	var log callLog
	clientTool := `{"type":"function","function":{"name":"ask_user","parameters":{"type":"object"}}}`
	h := newHarness(t, Options{PendingTTL: time.Minute}, []mcpclient.ServerConfig{inMemory("calc", recordingServer(&log, "add"))},
		llmtest.ToolCallStream(llmtest.Call{ID: "b1", Name: "calc__add", Arguments: `{}`}, llmtest.Call{ID: "u1", Name: "ask_user", Arguments: `{}`}),
		llmtest.TextStream("late"))
	clock := newFakeClock()
	useClock(h.b.pending, clock)
	a := h.stream(`{"model":"m","stream":true,"tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"}]}`)
	if a.finish != "tool_calls" {
		t.Fatalf("finish %q", a.finish)
	}
	clock.advance(time.Minute + time.Second)
	follow := `{"model":"m","stream":true,"tools":[` + clientTool + `],"messages":[{"role":"user","content":"x"},` +
		`{"role":"assistant","content":null,"tool_calls":[{"id":"u1","type":"function","function":{"name":"ask_user","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"u1","content":"yes"}]}`
	if b := h.stream(follow); b.content != "late" {
		t.Errorf("content %q", b.content)
	}
	msgs := h.up.Requests()[1].Messages()
	if len(msgs) != 3 || len(msgs[1]["tool_calls"].([]any)) != 1 {
		t.Errorf("expired turn was restored: %v", msgs)
	}
}
