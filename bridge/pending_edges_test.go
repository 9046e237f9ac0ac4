package bridge

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mcp-bridge/mcp-bridge/llm"
)

// TestPendingTurnsLogOnlyAStoreFailure checks a turn the store cannot
// take is logged, and one it takes is not; both are reported kept.
func TestPendingTurnsLogOnlyAStoreFailure(t *testing.T) {
	calls := []llm.ToolCall{{ID: "u1"}}
	assistant := json.RawMessage(`{"role":"assistant"}`)
	var logs bytes.Buffer
	p := newPendingTurns(newMemTurns(10, 1000), time.Minute, 100, slog.New(slog.NewTextHandler(&logs, nil)))
	if ok := p.put(testOwner, testConv, calls, assistant, nil); !ok || logs.Len() != 0 {
		t.Errorf("a stored turn: put = %v, logged %q", ok, logs.String())
	}
	p = newPendingTurns(failingTurns{newMemTurns(10, 1000)}, time.Minute, 100, slog.New(slog.NewTextHandler(&logs, nil)))
	if ok := p.put(testOwner, testConv, calls, assistant, nil); !ok || !strings.Contains(logs.String(), "could not be stored") {
		t.Errorf("a turn the store refused: put = %v, logged %q", ok, logs.String())
	}
}

// TestConversationHashOfContentParts checks a conversation whose content
// is an array of parts is identified by those parts: other parts make
// another conversation, the same parts encoded otherwise the same one.
func TestConversationHashOfContentParts(t *testing.T) {
	hash := func(content string) [32]byte {
		return conversationHash([]json.RawMessage{json.RawMessage(`{"role":"user","content":` + content + `}`)})
	}
	a := hash(`[{"type":"text","text":"pay Alice"}]`)
	if a == hash(`[{"type":"text","text":"pay Mallory"}]`) {
		t.Error("conversations of other content parts hash the same")
	}
	if a != hash(`[ {"text":"pay Alice", "type":"text"} ]`) {
		t.Error("the same content parts, encoded otherwise, hash differently")
	}
	if hash(`null`) == hash(`{"x":1}`) {
		t.Error("null and an object content hash the same")
	}
}
