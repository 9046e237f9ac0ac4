package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

// TestShownArgumentsCutPast2000Bytes checks the question shows arguments
// of 2000 bytes whole and cuts longer ones at 2000, marked.
func TestShownArgumentsCutPast2000Bytes(t *testing.T) {
	whole := `"` + strings.Repeat("a", 1998) + `"`
	if got := shownArguments(whole); got != whole {
		t.Errorf("2000 bytes shown as %d bytes ending %q", len(got), got[len(got)-5:])
	}
	long := whole + "b"
	if got := shownArguments(long); got != whole+"..." {
		t.Errorf("2001 bytes shown as %d bytes ending %q", len(got), got[len(got)-5:])
	}
}

// TestMemTurnsByteBoundHoldsExactlyFull checks entries that together take
// exactly maxTotal bytes are all kept: the bound is how much may be held,
// not one byte less.
func TestMemTurnsByteBoundHoldsExactlyFull(t *testing.T) {
	m := newMemTurns(10, 200)
	v := strings.Repeat("x", 100)
	memPut(t, m, v, time.Hour, "a")
	memPut(t, m, v, time.Hour, "b")
	memHeld(t, m, 2, 200)
	if memGet(t, m, "a") != v || memGet(t, m, "b") != v {
		t.Error("an entry was evicted though the two fit the bound exactly")
	}
}

// TestApprovalAfterAnEarlierMixedTurnExpired: a round paused for approval
// after a mixed turn whose bridge half was spliced in resumes, when that
// half has expired by the time of the reply, on the conversation the
// client sent, without the question and the reply.
func TestApprovalAfterAnEarlierMixedTurnExpired(t *testing.T) {
	g := newTestGuard(t, guard.Options{Approval: []string{"fs__write_*"}})
	var log callLog
	h := guardedHarness(t, g, Options{Approver: g, PendingTTL: time.Minute},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "add", "write_file"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "b1", Name: "fs__add", Arguments: `{}`},
			llmtest.Call{ID: "u1", Name: "ask_user", Arguments: `{}`}),
		llmtest.ToolCallCompletion(llmtest.Call{ID: "w1", Name: "fs__write_file", Arguments: `{"path":"/tmp/e"}`}),
		llmtest.Completion("Written."))
	clock := newFakeClock()
	useClock(h.b.pending.mem, clock) // the approvals' store keeps real time: only the mixed turn expires
	clientTools := []map[string]any{{"type": "function", "function": map[string]any{"name": "ask_user", "parameters": map[string]any{"type": "object"}}}}
	send := func(msgs []map[string]any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"model": "m", "messages": msgs, "tools": clientTools})
		status, v := h.postJSON(string(body))
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, v)
		}
		return v["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	}
	user := map[string]any{"role": "user", "content": "add, ask, write"}
	first := send([]map[string]any{user})
	calls, _ := first["tool_calls"].([]any)
	if len(calls) != 1 {
		t.Fatalf("first answer: %v", first)
	}
	history := []map[string]any{user, {"role": "assistant", "content": "", "tool_calls": calls},
		{"role": "tool", "tool_call_id": "u1", "content": "yes"}}
	question, _ := send(history)["content"].(string)
	if !strings.Contains(question, "Approval needed") {
		t.Fatalf("question = %q", question)
	}
	if up := h.up.Requests()[1].Messages(); len(up) != 4 {
		t.Fatalf("the mixed turn was not spliced in before the pause: %d messages upstream", len(up))
	}

	clock.advance(2 * time.Minute)
	reply := append(history, map[string]any{"role": "assistant", "content": question}, map[string]any{"role": "user", "content": "approve"})
	if got := send(reply)["content"]; got != "Written." {
		t.Fatalf("approved answer = %v", got)
	}
	if n := len(log.all()); n != 2 {
		t.Errorf("%d tool calls ran, want add and write_file", n)
	}
	reqs := h.up.Requests()
	msgs := reqs[len(reqs)-1].Messages()
	var roles []string
	for _, m := range msgs {
		roles = append(roles, fmt.Sprint(m["role"]))
		if c, _ := m["content"].(string); strings.Contains(c, "Approval needed") || c == "approve" {
			t.Errorf("the question or the reply went upstream: %v", m)
		}
	}
	if want := "user assistant tool assistant tool"; strings.Join(roles, " ") != want {
		t.Errorf("upstream roles after approval = %q, want %q", strings.Join(roles, " "), want)
	}
}

// failingTurns is a TurnStore whose Put fails.
type failingTurns struct{ TurnStore }

func (failingTurns) Put(context.Context, []string, []byte, time.Duration) error {
	return errors.New("store down")
}

// TestApprovalsLogOnlyAStoreFailure checks a round the store cannot take
// is logged, the answer still asking, and that one it takes is not.
func TestApprovalsLogOnlyAStoreFailure(t *testing.T) {
	round := &pausedRound{code: "A", owner: "o", assistant: json.RawMessage(`"x"`)}
	var logs bytes.Buffer
	ok := newApprovals(newMemTurns(10, 1000), time.Minute, 100, slog.New(slog.NewTextHandler(&logs, nil))).put(round)
	if !ok || logs.Len() != 0 {
		t.Errorf("a stored round: put = %v, logged %q", ok, logs.String())
	}
	ok = newApprovals(failingTurns{newMemTurns(10, 1000)}, time.Minute, 100, slog.New(slog.NewTextHandler(&logs, nil))).put(round)
	if !ok || !strings.Contains(logs.String(), "could not be stored") || !strings.Contains(logs.String(), "store down") {
		t.Errorf("a round the store refused: put = %v, logged %q", ok, logs.String())
	}
}
