package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/bridge/auth"
	"github.com/mcp-bridge/mcp-bridge/bridge/guard"
	"github.com/mcp-bridge/mcp-bridge/bridge/observe"
	"github.com/mcp-bridge/mcp-bridge/llm/llmtest"
	"github.com/mcp-bridge/mcp-bridge/mcpclient"
)

const (
	aliceKey = "alice-key-0123456789"
	bobKey   = "bob-key-0123456789ab"
)

// guardEvents records the guard events a bridge reports.
type guardEvents struct {
	observe.Nop
	lockedList[observe.GuardEvent]
}

func (g *guardEvents) Guard(_ context.Context, e *observe.GuardEvent) { g.add(*e) }

func (g *guardEvents) actions() []string {
	var out []string
	for _, e := range g.all() {
		if e.Kind == observe.GuardApproval {
			out = append(out, e.Identity+":"+e.Action+":"+e.Tool)
		}
	}
	return out
}

// chatAs sends a non-streaming chat request with key and returns the
// answer's message content.
func chatAs(t *testing.T, h *harness, key string, msgs []map[string]any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": "m", "messages": msgs})
	req, _ := http.NewRequest("POST", h.srv.URL+"/v1/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	var v struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &v); err != nil || len(v.Choices) != 1 {
		t.Fatalf("answer %s: %v", data, err)
	}
	return v.Choices[0].Message.Content
}

var approvalCodeRE = regexp.MustCompile(`approval code ([A-Z0-9]{6})`)

func TestChatApproval(t *testing.T) {
	a, err := auth.New(auth.Config{Keys: []auth.Key{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: bobKey}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := newTestGuard(t, guard.Options{Approval: []string{"fs__write_*"}})
	obs := &guardEvents{}
	var log callLog
	h := guardedHarness(t, g, Options{Auth: a, Approver: g, Observer: obs},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "write_file", "read_file"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "c1", Name: "fs__write_file", Arguments: `{"path":"/tmp/x"}`}))

	user := map[string]any{"role": "user", "content": "write /tmp/x"}
	question := chatAs(t, h, aliceKey, []map[string]any{user})
	if !strings.Contains(question, "Approval needed") || !strings.Contains(question, "fs__write_file") ||
		!strings.Contains(question, `{"path":"/tmp/x"}`) || !strings.Contains(question, "**approve**") {
		t.Fatalf("question = %q", question)
	}
	code := approvalCodeRE.FindStringSubmatch(question)
	if code == nil {
		t.Fatalf("no approval code in %q", question)
	}
	if n := len(log.all()); n != 0 {
		t.Fatalf("the tool ran %d times before approval", n)
	}
	reply := func(text string) []map[string]any {
		return []map[string]any{user, {"role": "assistant", "content": question}, {"role": "user", "content": text}}
	}

	// Another key's reply approves nothing: the request goes upstream as any other.
	h.up.Add(llmtest.Completion("I cannot do that."))
	if got := chatAs(t, h, bobKey, reply("approve")); got != "I cannot do that." {
		t.Errorf("bob's approve = %q", got)
	}
	if n := len(log.all()); n != 0 {
		t.Fatalf("bob's reply ran the tool")
	}
	// A wrong code approves nothing either.
	h.up.Add(llmtest.Completion("Which code?"))
	if got := chatAs(t, h, aliceKey, reply("approve ZZZZZZ")); got != "Which code?" || len(log.all()) != 0 {
		t.Errorf("wrong code: %q, %d calls", got, len(log.all()))
	}

	// The caller's reply, with the code, runs the call and the loop goes on.
	h.up.Add(llmtest.Completion("Written."))
	if got := chatAs(t, h, aliceKey, reply("Approve "+code[1])); got != "Written." {
		t.Errorf("approved answer = %q", got)
	}
	if calls := log.all(); len(calls) != 1 || calls[0].Tool != "write_file" || calls[0].Args["path"] != "/tmp/x" {
		t.Fatalf("calls = %+v", calls)
	}
	reqs := h.up.Requests()
	last := reqs[len(reqs)-1]
	msgs := last.Messages()
	if len(msgs) != 3 || msgs[0]["content"] != "write /tmp/x" || msgs[1]["role"] != "assistant" || msgs[1]["tool_calls"] == nil {
		t.Errorf("upstream messages after approval = %+v, want the conversation as if it had not paused", msgs)
	}
	if tm := last.ToolMessages(); len(tm) != 1 || !strings.Contains(tm[0]["content"].(string), "write_file got") {
		t.Errorf("tool messages = %+v", tm)
	}
	// The same reply again approves nothing more.
	h.up.Add(llmtest.Completion("Already done."))
	if got := chatAs(t, h, aliceKey, reply("approve "+code[1])); got != "Already done." || len(log.all()) != 1 {
		t.Errorf("second approve: %q, %d calls", got, len(log.all()))
	}

	// Deny: nothing runs, and the model is told.
	h.up.Add(llmtest.ToolCallCompletion(llmtest.Call{ID: "c2", Name: "fs__write_file", Arguments: `{"path":"/tmp/y"}`}))
	user = map[string]any{"role": "user", "content": "write /tmp/y"}
	question = chatAs(t, h, aliceKey, []map[string]any{user})
	h.up.Add(llmtest.Completion("Understood, I did not write it."))
	if got := chatAs(t, h, aliceKey, reply("DENY")); got != "Understood, I did not write it." {
		t.Errorf("denied answer = %q", got)
	}
	if n := len(log.all()); n != 1 {
		t.Errorf("the denied call ran: %d calls", n)
	}
	reqs = h.up.Requests()
	if tm := reqs[len(reqs)-1].ToolMessages(); len(tm) != 1 || !strings.Contains(tm[0]["content"].(string), "the user denied the call to fs__write_file") {
		t.Errorf("tool messages after deny = %+v", tm)
	}

	want := []string{"alice:asked:fs__write_file", "alice:approved:fs__write_file", "alice:asked:fs__write_file", "alice:denied:fs__write_file"}
	if got := obs.actions(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("approval events = %q, want %q", got, want)
	}
}

func TestApprovalReply(t *testing.T) {
	msg := func(role, content string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{"role": role, "content": content})
		return b
	}
	q := msg("assistant", "question")
	for text, want := range map[string][3]string{
		"approve":             {"true", "", "true"},
		"  Approve ABC123.":   {"true", "ABC123", "true"},
		"deny":                {"false", "", "true"},
		"DENIED: abc123":      {"false", "abc123", "true"},
		"approve the rest":    {"", "", "false"},
		"please approve":      {"", "", "false"},
		"I approve of cheese": {"", "", "false"},
	} {
		approve, code, ok := approvalReply([]json.RawMessage{q, msg("user", text)})
		if got := [3]string{map[bool]string{true: "true", false: "false"}[approve], code, map[bool]string{true: "true", false: "false"}[ok]}; ok != (want[2] == "true") || (ok && got != want) {
			t.Errorf("%q: %v", text, got)
		}
	}
	if _, _, ok := approvalReply([]json.RawMessage{q, msg("assistant", "approve")}); ok {
		t.Errorf("an assistant message was taken for a reply")
	}
	parts, _ := json.Marshal(map[string]any{"role": "user", "content": []map[string]any{{"type": "text", "text": "approve"}}})
	if approve, _, ok := approvalReply([]json.RawMessage{q, parts}); !ok || !approve {
		t.Errorf("a reply in content parts was not read")
	}
}

// TestApprovalsExpireAndAreBounded checks a caller holds one round per
// conversation, the newest; that a reply with another round's code takes
// nothing and leaves the round; the bounds of one round, of how many and
// of their bytes together; and expiry.
func TestApprovalsExpireAndAreBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	m := newMemTurns(3, 1000)
	m.now = func() time.Time { return now }
	a := newApprovals(m, time.Minute, 400, nil)
	conv := func(i int) [32]byte {
		return conversationHash([]json.RawMessage{json.RawMessage(fmt.Sprintf(`{"role":"user","content":"%d"}`, i))})
	}
	round := func(code string, c, size int) *pausedRound {
		return &pausedRound{code: code, owner: "o", conv: conv(c), assistant: json.RawMessage(`"` + strings.Repeat("x", size-2) + `"`)}
	}
	taken := func(c int, code string) bool { return a.take("o", conv(c), code) != nil }
	if a.put(round("BIG", 1, 401)) {
		t.Errorf("a round over the entry bound was kept")
	}

	a.put(round("A", 1, 10))
	a.put(round("B", 1, 10)) // the same conversation: B replaces A
	if taken(1, "A") {
		t.Errorf("a replaced round was taken")
	}
	if a.take("p", conv(1), "B") != nil || a.take("o", conv(2), "B") != nil {
		t.Errorf("a round was taken by another caller or conversation")
	}
	if !taken(1, "b") || taken(1, "") {
		t.Errorf("the newest round was not taken once")
	}

	for i, code := range []string{"C", "D", "E", "F"} {
		a.put(round(code, 2+i, 10)) // C goes: at most 3
	}
	if taken(2, "") || !taken(3, "D") || !taken(4, "E") || !taken(5, "F") {
		t.Errorf("bound by count: wrong rounds kept")
	}

	for i, code := range []string{"G", "H", "I"} {
		a.put(round(code, 6+i, 400)) // G goes: three are over 1000 bytes
	}
	if n, total := m.len(); n != 2 || total > 1000 {
		t.Errorf("bound by bytes: %d rounds of %d bytes held", n, total)
	}
	if taken(6, "") || !taken(7, "H") {
		t.Errorf("bound by bytes: wrong rounds kept")
	}

	a.put(round("J", 9, 10))
	now = now.Add(2 * time.Minute)
	if taken(9, "") || taken(8, "") {
		t.Errorf("an expired round was taken")
	}
	if n, total := m.len(); n != 0 || total != 0 {
		t.Errorf("held after expiry: %d rounds, %d bytes", n, total)
	}
}

// TestChatApprovalOfAMixedTurn: a round that also calls a client tool
// pauses whole; once approved, the bridge's call runs and the client's is
// returned to it, and its follow-up gets the bridge's half spliced in.
func TestChatApprovalOfAMixedTurn(t *testing.T) {
	g := newTestGuard(t, guard.Options{Approval: []string{"fs__write_*"}})
	var log callLog
	h := guardedHarness(t, g, Options{Approver: g},
		[]mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "write_file"))},
		llmtest.ToolCallCompletion(llmtest.Call{ID: "b1", Name: "fs__write_file", Arguments: `{"path":"/tmp/m"}`},
			llmtest.Call{ID: "k1", Name: "get_weather", Arguments: `{"city":"Oslo"}`}))
	clientTools := []map[string]any{{"type": "function", "function": map[string]any{"name": "get_weather", "parameters": map[string]any{"type": "object"}}}}
	send := func(msgs []map[string]any) map[string]any {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"model": "m", "messages": msgs, "tools": clientTools})
		status, v := h.postJSON(string(body))
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, v)
		}
		return v["choices"].([]any)[0].(map[string]any)
	}
	user := map[string]any{"role": "user", "content": "note and weather"}
	q := send([]map[string]any{user})
	question := q["message"].(map[string]any)["content"].(string)
	if q["finish_reason"] != "stop" || !strings.Contains(question, "fs__write_file") || len(log.all()) != 0 {
		t.Fatalf("question: %v", q)
	}
	a := send([]map[string]any{user, {"role": "assistant", "content": question}, {"role": "user", "content": "approve"}})
	calls, _ := a["message"].(map[string]any)["tool_calls"].([]any)
	if a["finish_reason"] != "tool_calls" || len(calls) != 1 || !strings.Contains(fmt.Sprint(calls[0]), "get_weather") {
		t.Fatalf("after approve: %v", a)
	}
	if len(log.all()) != 1 {
		t.Fatalf("the bridge's call ran %d times", len(log.all()))
	}
	// The client answers its call; the bridge's result is spliced back in.
	h.up.Add(llmtest.Completion("Noted; it is sunny."))
	f := send([]map[string]any{user, {"role": "assistant", "content": question}, {"role": "user", "content": "approve"},
		{"role": "assistant", "content": "", "tool_calls": calls},
		{"role": "tool", "tool_call_id": "k1", "content": "sunny"}})
	if f["message"].(map[string]any)["content"] != "Noted; it is sunny." {
		t.Errorf("final: %v", f)
	}
	reqs := h.up.Requests()
	tm := reqs[len(reqs)-1].ToolMessages()
	if len(tm) != 2 || !strings.Contains(fmt.Sprint(tm[0]["content"]), "write_file got") || tm[1]["content"] != "sunny" {
		t.Errorf("upstream tool messages = %v", tm)
	}
}

// TestChatApprovalWithTheBuiltinModel: the built-in model's calls pause
// for approval like any model's, and resume to its answer.
func TestChatApprovalWithTheBuiltinModel(t *testing.T) {
	g := newTestGuard(t, guard.Options{Approval: []string{"fs__write_*"}})
	var log callLog
	h := guardedHarness(t, g, Options{Approver: g}, []mcpclient.ServerConfig{inMemory("fs", recordingServer(&log, "write_file"))})
	send := func(msgs []map[string]any) string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"model": BuiltinModel, "messages": msgs})
		status, v := h.postJSON(string(body))
		if status != http.StatusOK {
			t.Fatalf("status %d: %v", status, v)
		}
		return v["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)["content"].(string)
	}
	user := map[string]any{"role": "user", "content": `/fs__write_file {"path":"/tmp/b"}`}
	question := send([]map[string]any{user})
	if !strings.Contains(question, "Approval needed") || len(log.all()) != 0 {
		t.Fatalf("question = %q", question)
	}
	answer := send([]map[string]any{user, {"role": "assistant", "content": question}, {"role": "user", "content": "approve"}})
	if !strings.Contains(answer, `write_file got {"path":"/tmp/b"}`) || len(log.all()) != 1 {
		t.Errorf("answer = %q, %d calls", answer, len(log.all()))
	}
}
