package bridge

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
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

// useClock makes m read c. m.now is read under m.mu.
func useClock(m *memTurns, c *fakeClock) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = c.now
}

// memPending is pendingTurns in process with the given bounds.
func memPending(ttl time.Duration, max int, maxEntry, maxTotal int64) *pendingTurns {
	return newPendingTurns(newMemTurns(max, maxTotal), ttl, maxEntry, nil)
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
	p := memPending(time.Minute, 10, 1<<20, 64<<20)
	useClock(p.mem, clock)
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
	if turns, _ := p.mem.len(); turns != 1 || !spliced(p, "u3") {
		t.Errorf("after a put past the expiry: %d turns remembered, want the new one alone", turns)
	}
}

// TestPendingTurnEviction checks that at most max turns are kept, the
// oldest going first with every id it was stored under.
func TestPendingTurnEviction(t *testing.T) {
	p := memPending(time.Hour, 2, 1<<20, 64<<20)
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
	if turns, _ := p.mem.len(); turns != 2 {
		t.Errorf("%d turns remembered, want 2", turns)
	}
}

// TestPendingSpliceRestoresInPlace checks the restored turn replaces the
// client's assistant message where it was, followed by the bridge's tool
// messages, and that a conversation with nothing to restore is returned
// as it is.
func TestPendingSpliceRestoresInPlace(t *testing.T) {
	p := memPending(time.Hour, 10, 1<<20, 64<<20)
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
	useClock(h.b.pending.mem, clock)
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

// countingTurns is a TurnStore that counts the Gets it passes on.
type countingTurns struct {
	TurnStore
	gets atomic.Int64
}

func (c *countingTurns) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.TurnStore.Get(ctx, key)
}

// TestPendingSpliceSkipsWhenNothingIsHeld checks a request reads nothing
// from the store while the process holds no turn, and does once it holds
// one.
func TestPendingSpliceSkipsWhenNothingIsHeld(t *testing.T) {
	p := memPending(time.Hour, 10, 1<<20, 64<<20)
	counting := &countingTurns{TurnStore: p.store}
	p.store = counting
	if spliced(p, "u1") || counting.gets.Load() != 0 {
		t.Errorf("with nothing held the store was read %d times", counting.gets.Load())
	}
	putTurn(p, []llm.ToolCall{{ID: "u1"}}, json.RawMessage(`{"role":"assistant"}`), nil)
	if !spliced(p, "u1") || counting.gets.Load() == 0 {
		t.Errorf("the held turn was not looked up (%d reads)", counting.gets.Load())
	}
}
